"""The audit as readable text (``python cli.py audit`` without ``--json``)."""

from __future__ import annotations

from core.audit.figures import Figure
from core.audit.report import AuditReport
from core.audit.strata import Stratified


def show(figure: Figure, digits: int = 3) -> str:
    """``0.412 [0.38, 0.45] n=120``, or ``— (reason)`` when undefined."""
    if figure.value is None:
        return f"— ({figure.undefined})"
    interval = (f" [{figure.ci95[0]:.{digits}f}, {figure.ci95[1]:.{digits}f}]"
                if figure.ci95 else "")
    return f"{figure.value:.{digits}f}{interval} n={figure.n}"


def format_audit(project: str, report: AuditReport, stratified: Stratified | None = None) -> str:
    """Every figure of ``report`` as labelled lines, judge by judge, then the win rates,
    the ranking agreement and the strata (or why the audit does not apply)."""
    lines = [f"audit of {project} / {report.dimension} ({report.scale}, {report.items} items)"]
    if report.not_applicable is not None:
        lines.append(report.not_applicable.sentence())
    for card in report.judges:
        lines.append("")
        lines.append(card.rater)
        family = card.self_preference.family
        groups = [("position", card.position), ("length", card.length),
                  (f"self-preference (family {family or 'none'})", card.self_preference),
                  ("leniency", card.leniency), ("error rates", card.error_rates),
                  (f"could it answer? ({card.answerable_split.metric})", card.answerable_split),
                  (f"reference effect (with {card.reference_effect.with_reference or 'none'})",
                   card.reference_effect),
                  (f"consistency probes ({card.consistency_probes.items} items)",
                   card.consistency_probes)]
        for title, group in groups:
            lines.append(f"  {title}")
            for name, value in vars(group).items():
                if isinstance(value, Figure):
                    lines.append(f"    {name.replace('_', ' ')}: {show(value)}")
    if report.win_rates:
        for rater, rows in report.win_rates.by_rater.items():
            lines.append("")
            lines.append(f"win rates by {rater} (tie = half a win)")
            for row in sorted(rows, key=lambda r: -(r.win_rate.value or -1)):
                lines.append(f"  {row.model}: win rate {show(row.win_rate)}; "
                             f"Bradley–Terry {show(row.bt_strength)}")
    if report.ranking:
        lines.append("")
        lines.append("ranking agreement with the humans (Kendall τ-b)")
        for entry in report.ranking:
            lines.append(f"  {entry.rater}: {show(entry.kendall_tau_b)}")
    if stratified is not None:
        lines.append("")
        lines.append(f"agreement with the human consensus by {stratified.by}")
        for stratum in stratified.strata:
            shown = list(stratum.metrics.items())[:2]
            text = "; ".join(f"{name} {show(f)}" for name, f in shown) or "no metric"
            lines.append(f"  {stratum.value} · {stratum.rater}: {text}")
    return "\n".join(lines)
