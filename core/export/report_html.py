"""The agreement report as one standalone HTML page (no Streamlit): the dashboard's numbers
for every dimension of a project, readable offline and archivable as a single file.

plotly.js is embedded once, inline in ``<head>``; the figures are the dashboard's own builders
(:mod:`core.charts.figures`) serialised with ``include_plotlyjs=False``, so the page
loads nothing from anywhere. A Content-Security-Policy with ``default-src 'none'`` makes that a
guarantee rather than a habit: even a plotly feature that would fetch a URL (map topologies,
MathJax) is blocked by the browser. Every piece of user text (project, rater and label names,
metadata) is HTML-escaped; the figures' JSON is escaped by plotly (``<`` as ``\\u003c``). An
undefined metric is shown as "undefined" with its reason, never as NaN or 0.

Every figure is drawn with :data:`REPORT_TEMPLATE`, never plotly's default template: importing
Streamlit replaces that default with its own (without automargin), so a page that depended on
it would differ between the Export page and ``python cli.py export report``. The template is
small too: plotly's default one is 7 KB of JSON repeated in every figure.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline

from core.audit import AuditReport
from core.charts import figures, model
from core.estimate.report import estimates_not_applicable
from core.export.report_audit import audit_html
from core.export.report_tables import (
    GROUP_METRICS,
    bias_rows,
    check_documents,
    group_rows,
    group_undefined,
    pair_rows,
)
from core.metrics.comparison import Comparison
from core.metrics.ratings import CONSENSUS
from core.schema import TaskSchema, dimension_values_text, schema_from_dict

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
GRID = "#e5e9ef"
_AXIS = {"gridcolor": GRID, "linecolor": "#c9d3df", "zerolinecolor": "#c9d3df", "automargin": True}
REPORT_TEMPLATE = go.layout.Template(layout={
    "paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"color": "#222"},
    "colorway": list(figures.LABEL_COLORS), "xaxis": _AXIS, "yaxis": _AXIS,
    "hoverlabel": {"align": "left"}})
# Inline scripts and styles only; plotly draws with inline styles, data/blob images (download
# as PNG) and, for a few traces, eval. Nothing may be fetched: default-src 'none'.
CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
       "style-src 'unsafe-inline'; img-src data: blob:; font-src data:")
CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .5rem; }
h2 { border-bottom: 2px solid #dde3ea; padding-bottom: .2rem; margin-top: 2.5rem; }
h3 { margin-top: 1.6rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .86rem; }
th, td { border: 1px solid #dde3ea; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f6f9; }
td.number { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.undefined { color: #a33; }
.note, figcaption { color: #555; font-size: .88rem; }
figure.chart { margin: .5rem 0 1.2rem; }
.row { display: flex; flex-wrap: wrap; gap: 0 1.5rem; }
.wide { overflow-x: auto; }
table.metadata th { width: 12rem; }
nav ul { columns: 2; }
"""
RATER_SEPARATOR = ", "
SCHEMA_KEY = "schema"


def _text(value: Any) -> str:
    """``value`` as escaped HTML text (quotes too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


@functools.cache
def _plotly_js() -> str:
    # The bundle has no "</script" today; escaping it keeps a future one from ending our tag.
    return plotly.offline.get_plotlyjs().replace("</script", "<\\/script")


def _metadata_value(value: Any) -> str:
    """A metadata value as text for people: ``key: value; ...`` for a mapping, a
    comma-separated list for a sequence, "none" for None."""
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {_metadata_value(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_metadata_value(item) for item in value)
    return "none" if value is None else str(value)


def _project(documents: Sequence[Mapping[str, Any]], metadata: Mapping[str, Any]) -> str:
    """The report's project: ``metadata["project"]``, else the documents' one."""
    names = {document["project"] for document in documents if "project" in document}
    if "project" in metadata:
        return str(metadata["project"])
    if len(names) == 1:
        return str(names.pop())
    raise ValueError("render_report_html needs the project: give metadata['project'] or "
                     f"documents of one project (got {sorted(map(str, names)) or 'none'})")


def _figure(fig: go.Figure, kind: str, div_id: str, caption: str | None = None) -> str:
    """One plotly figure, drawn with :data:`REPORT_TEMPLATE`, as an HTML fragment (no
    plotly.js: it is in <head> once)."""
    fig.update_layout(template=REPORT_TEMPLATE)
    body = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                       config=PLOTLY_CONFIG)
    note = f"<figcaption>{_text(caption)}</figcaption>" if caption else ""
    return f'<figure class="chart" data-figure="{kind}">{body}{note}</figure>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], css_class: str) -> str:
    """An HTML table; ``header`` is plain text, ``rows`` cells are HTML already."""
    head = "".join(f"<th>{_text(title)}</th>" for title in header)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return (f'<div class="wide"><table class="{css_class}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _cell(text: Any) -> str:
    return f"<td>{_text(text)}</td>"


def _number(text: Any) -> str:
    return f'<td class="number">{_text(text)}</td>'


def _value_cell(metric: str, value: float | None, interval: tuple[Any, Any],
                reason: str | None) -> str:
    """A metric's value with its CI, or "undefined: reason"."""
    if value is None:
        return f'<td class="undefined">undefined: {_text(reason or "no value")}</td>'
    low, high = interval
    ci = model.format_interval(metric, (low, high)) if low is not None and high is not None else ""
    return _number(f"{model.format_value(metric, value)} {ci}".strip())


def _metadata_block(metadata: Mapping[str, Any]) -> str:
    """Every metadata key and value but the task schema, which :func:`_task_block` shows."""
    rows = [[f"<th>{_text(key)}</th>", _cell(_metadata_value(value))]
            for key, value in metadata.items() if key != SCHEMA_KEY]
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return (f'<section class="metadata"><h2>About this report</h2>'
            f'<table class="metadata"><tbody>{body}</tbody></table></section>')


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _task_block(schema: TaskSchema) -> str:
    """The task the project was labelled with: its item fields, its dimensions with their
    values, and each label's meaning, as tables (the sidecar keeps the schema's JSON)."""
    fields = [[_cell(f.name), _cell(f.title), _cell(f.kind), _cell(_yes(f.required))]
              for f in schema.fields]
    dimensions = [[_cell(d.name), _cell(d.title), _cell(d.scale),
                   _cell(dimension_values_text(d)), _cell(_yes(d.required)),
                   _cell(d.description)] for d in schema.dimensions]
    labels = [[_cell(d.name), _cell(label.value), _cell(label.display), _cell(label.key),
               _cell(label.description)] for d in schema.dimensions for label in d.labels]
    parts = [f'<section class="task"><h2>Task: {_text(schema.title)}</h2>',
             f'<p class="note">{_text(schema.description)}</p>' if schema.description else "",
             "<h3>Item fields</h3>",
             _table(["field", "title", "kind", "required"], fields, "fields"),
             "<h3>Dimensions</h3>",
             _table(["dimension", "title", "scale", "values", "required", "question"],
                    dimensions, "dimensions")]
    if labels:
        parts += ["<h3>Labels</h3>",
                  _table(["dimension", "label", "shown as", "key", "meaning"], labels, "labels")]
    return "".join(parts) + "</section>"


def _pairs_table(document: Mapping[str, Any]) -> str:
    """Every rater pair (rows) and metric (columns) of one dimension."""
    rows = pair_rows([document])
    if not rows:
        return '<p class="note">No rater pairs.</p>'
    metrics = list(dict.fromkeys(row["metric"] for row in rows))
    by_pair: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        by_pair.setdefault((row["a"], row["b"]), {"n": row["n"]})[row["metric"]] = row
    cells = []
    for (a, b), entry in by_pair.items():
        line = [_cell(a), _cell(b), _number(f"{entry['n']:,}")]
        for metric in metrics:
            row = entry.get(metric)
            line.append(_cell("") if row is None else _value_cell(
                metric, row["value"], (row["ci_low"], row["ci_high"]), row["undefined_reason"]))
        cells.append(line)
    header = ["rater a", "rater b", "n", *(model.metric_title(m) for m in metrics)]
    return _table(header, cells, "pairs")


def _groups_table(document: Mapping[str, Any], comparison: Comparison) -> str:
    rows = group_rows([document])
    if not rows and comparison.scale == "ranking":
        return ('<p class="note">No rater groups: Fleiss\' κ and Krippendorff\'s α are defined '
                "on labels, not on orders; the humans' agreement among themselves is their "
                "pairs' in the table above.</p>")
    if not rows:
        return '<p class="note">No rater groups: they need two or more annotators.</p>'
    cells = []
    for row, group in zip(rows, comparison.groups, strict=True):
        reasons = group_undefined(group, comparison.scale)
        line = [_cell(row["group"]), _cell(RATER_SEPARATOR.join(group.raters)),
                _number(f"{row['n']:,}")]
        for metric in GROUP_METRICS:
            line.append(_value_cell(metric, row[metric],
                                    (row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]),
                                    reasons.get(metric)))
        line.append(_cell(row["alpha_level"] or ""))
        cells.append(line)
    header = ["group", "raters", "n", *(model.metric_title(m) for m in GROUP_METRICS), "α level"]
    return _table(header, cells, "groups")


def _bias_value(measure: str, value: float | None) -> str:
    """Rates in percent, leniency in percentage points, the mean difference as it is."""
    if value is None:
        return ""
    if measure == "leniency":
        return f"{100 * value:+.1f} pp"
    if measure == "mean_difference":
        return f"{value:+.3f}"
    return f"{100 * value:.1f} %"


def _bias_table(document: Mapping[str, Any], comparison: Comparison) -> str:
    """Each judge's and jury's leniency and error rates against the consensus ("" if none)."""
    entries = comparison.bias.raters if comparison.bias else ()
    measures = [m for m in model.BIAS_COLUMNS if any(m in entry.measures for entry in entries)]
    if not measures:
        return ""
    cells = []
    for row in bias_rows([document]):
        if row["reference"] is None:  # annotators and the pooled humans: distribution only
            continue
        line = [_cell(row["rater"]), _number(f"{row['n']:,}")]
        line += [_number(_bias_value(m, row[m])) for m in measures]
        line.append(f'<td class="undefined">{_text(row["undefined_reason"] or "")}</td>')
        cells.append(line)
    positive = comparison.bias.positive_label if comparison.bias else None
    note = (f'<p class="note">Leniency: a rater\'s rate of {_text(repr(positive))} minus the '
            "consensus's rate on the same items (positive: it says it more often).</p>"
            if positive is not None else "")
    header = ["rater", "n", *(model.BIAS_COLUMNS[m] for m in measures), "undefined because"]
    return "<h3>Leniency and error rates</h3>" + note + _table(header, cells, "bias")


def _error_taxonomy_table(document: Mapping[str, Any]) -> str:
    """Each tagged judge's error counts per category ("" when no verdict is tagged)."""
    taxonomy = document.get("error_taxonomy") or {}
    judges = taxonomy.get("judges", [])
    if not judges:
        return ""
    categories = taxonomy["categories"]
    cells = [[_cell(model.short_name(judge["rater"])), _number(f"{judge['tagged_verdicts']:,}"),
              *(_number(f"{judge['counts'].get(category, 0):,}") for category in categories)]
             for judge in judges]
    return ("<h3>Why judges were wrong (error taxonomy)</h3><p class=\"note\">Verdicts an admin "
            "tagged on Disagreements, counted per category (a verdict may have several).</p>"
            + _table(["judge", "tagged verdicts", *categories], cells, "errors"))


def _consistency_table(document: Comparison) -> str:
    consistency = document.preference.position_consistency if document.preference else {}
    if not consistency:
        return ""
    cells = []
    for judge, entry in consistency.items():
        result = entry.result
        interval = result.ci95 if result.ci95 else (None, None)
        cells.append([_cell(judge), _cell(entry.swapped), _number(f"{result.n:,}"),
                      _value_cell("percent_agreement", result.value, interval,
                                  result.undefined_reason)])
    return ("<h3>Position consistency</h3><p class=\"note\">How often a judge gives the same "
            "verdict when the two responses are shown in the other order.</p>"
            + _table(["judge", "swapped run", "n", "consistency"], cells, "consistency"))


def _headline(document: Comparison, metric: str, second: str, prefix: str,
              min_pair_items: int) -> str:
    rows = model.headline_rows(document, metric, second)
    if not rows:
        reason = ("this dimension has no human labels" if CONSENSUS not in document.raters
                  else "this dimension has no judge")
        return f'<p class="note">No judge can be compared with the humans: {reason}.</p>'
    ceiling = model.human_ceiling(document, metric, min_items=min_pair_items)
    title = model.metric_title(metric)
    if ceiling.mean is None:
        range_note = f"No human–human range: {ceiling.reason}."
    else:
        range_note = (f"Green band: {title} between pairs of annotators sharing at least "
                      f"{ceiling.min_items:,} items (grey squares, with their CIs; range "
                      f"{model.format_value(metric, ceiling.low)} to "
                      f"{model.format_value(metric, ceiling.high)}), dashed line their mean. A "
                      "judge is within or below the human range only when its whole CI says so.")
    left_out = model.left_out_note(ceiling)
    failed = "; ".join(f"{model.short_name(row.rater)} {row.unparseable:,} of {row.verdicts:,}"
                       for row in rows if row.unparseable)
    caption = (f"Each judge and jury against the human consensus on {title}, with its 95 % "
               f"bootstrap CI where one was computed. {range_note}"
               + (f" {left_out}" if left_out else "")
               + (f" Unparseable verdicts, left out of every figure: {failed}." if failed else ""))
    return _figure(figures.headline_figure(rows, metric, second, ceiling), "headline",
                   f"{prefix}-headline", caption)


def _confusions(document: Comparison, metric: str, prefix: str) -> str:
    """A confusion matrix of each judge and jury against the consensus (label scales)."""
    if document.scale == "interval":
        return ""
    parts = []
    for index, row in enumerate(model.headline_rows(document, metric, None)):
        pair = model.find_pair(document, CONSENSUS, row.rater)
        if pair is None or pair.confusion_matrix is None:
            continue
        parts.append(_figure(figures.confusion_figure(pair.confusion_matrix, pair.a, pair.b),
                             "confusion", f"{prefix}-confusion-{index}",
                             f"{pair.b} against {pair.a} (n = {pair.n:,})"))
    return f'<h3>Confusion matrices</h3><div class="row">{"".join(parts)}</div>' if parts else ""


def _distribution(document: Comparison, prefix: str) -> str:
    bias = document.bias
    if not bias:
        return ""
    humans = model.human_raters(document)
    interval = document.scale == "interval"
    # The pooled "humans" row: distribution_figure labels it only on label scales (its
    # interval branch expects prefixed rater names and raises on "humans").
    pooled = ["humans"] if len(humans) > 1 and not interval else []
    raters = [CONSENSUS, *pooled, *humans, *model.scored_raters(document)]
    labels = [] if interval else list(document.labels)
    fig = figures.distribution_figure(bias.distributions, labels, raters,
                                      ordered=document.scale == "ordinal")
    return "<h3>Label distribution</h3>" + _figure(fig, "distribution", f"{prefix}-distribution")


def _ranking(document: Comparison, prefix: str) -> str:
    ranking = document.ranking
    if not ranking:
        return ""
    caption = (f"Models ranked by {ranking.score} per rater (1 = best), with each judge's "
               "Kendall τ-b against the human consensus's ranking.")
    return "<h3>Model ranking</h3>" + _figure(figures.ranking_figure(ranking), "ranking",
                                              f"{prefix}-ranking", caption)


RANKING_NOTE = ("A ranking: each rater orders the item's responses from best to worst. Every pair "
                "of raters is compared item by item and averaged over the items both ranked: "
                "Kendall's τ-b (the headline: it counts every pair of responses), Spearman's "
                "ρ, top-1 agreement (same best response) and the normalised Levenshtein "
                "distance of the orders (lower is better), each with its bootstrap 95 % CI. "
                "The human consensus is the Borda count of the annotators' orders.")


def _not_applicable(comparison: Comparison) -> str:
    """Why the estimates do not apply to this dimension ("" when they do); the audit says
    its own reason in its section."""
    found = estimates_not_applicable(comparison.dimension, comparison.scale)
    return ("" if found is None else
            f'<h3>Estimates</h3><p class="note not-applicable">{_text(found.sentence())}</p>')


def _dimension_section(document: Mapping[str, Any], index: int, min_pair_items: int,
                       audit: AuditReport | None = None) -> str:
    # The tables' flat rows come from the JSON document (report_tables parses it too); the
    # figures, the summary and the table details read the typed comparison.
    comparison = Comparison.from_dict(document)
    scale = comparison.scale
    metric = model.main_metric(scale)
    second = model.SECOND_METRIC[scale]
    prefix = f"dimension-{index}"
    binarized = (f", binarised at ≥ {comparison.binarized_at}"
                 if comparison.binarized_at is not None else "")
    consensus = comparison.consensus
    summary = (f"{len(comparison.raters)} raters. Human consensus ({consensus.method}) on "
               f"{consensus.items:,} items; tied items without one: {consensus.ties:,}."
               if consensus else f"{len(comparison.raters)} raters; no human labels.")
    parts = [f'<section class="dimension" id="{prefix}">',
             f"<h2>{_text(comparison.dimension)} ({_text(scale + binarized)})</h2>",
             f'<p class="note">{_text(summary)}</p>',
             f'<p class="note">{_text(RANKING_NOTE)}</p>' if scale == "ranking" else "",
             f"<h3>Judges against the human consensus: {_text(model.metric_title(metric))}</h3>",
             _headline(comparison, metric, second, prefix, min_pair_items)]
    if len(comparison.raters) > 1:
        parts += ["<h3>Agreement matrix</h3>",
                  _figure(figures.rater_heatmap(comparison, metric), "heatmap",
                          f"{prefix}-heatmap",
                          f"{model.metric_title(metric)} of every pair of raters.")]
    parts += [_confusions(comparison, metric, prefix), _distribution(comparison, prefix),
              _ranking(comparison, prefix), "<h3>Every pair of raters</h3>",
              _pairs_table(document), "<h3>Rater groups</h3>",
              _groups_table(document, comparison), _bias_table(document, comparison),
              _consistency_table(comparison),
              audit_html(audit, prefix, _figure) if audit is not None else "",
              _not_applicable(comparison), _error_taxonomy_table(document), "</section>"]
    return "\n".join(part for part in parts if part)


def render_report_html(documents: Iterable[Mapping[str, Any]], metadata: Mapping[str, Any], *,
                       min_pair_items: int = model.DEFAULT_MIN_PAIR_ITEMS,
                       audits: Sequence[AuditReport | None] = ()) -> str:
    """The agreement report of one project as a standalone HTML page (plotly.js inline, no
    external URL): the title, every ``metadata`` key and value (its ``schema``, a
    :func:`core.schema.schema_to_dict`, as tables of fields, dimensions and labels), then per
    dimension the
    headline figure, the rater heatmap, confusion matrices, label distribution, model ranking
    and the tables of pairs, groups and leniency. ``documents`` are
    :func:`core.metrics.compare_dimension` outputs with ``project`` added, in display order.
    Annotator pairs sharing fewer than ``min_pair_items`` items stay out of the human range.
    ``audits`` (one per document, None to leave one out) add each dimension's judge audit.

    Raises ValueError when the project is neither in ``metadata`` nor the one project of the
    documents, or when a document lacks a key of the comparison contract;
    :class:`core.schema.SchemaError` for a ``schema`` that is not one.
    """
    documents = check_documents(documents)
    project = _project(documents, metadata)
    title = f"Docket agreement report — {project}"
    contents = "".join(f'<li><a href="#dimension-{index}">{_text(document["dimension"])}</a></li>'
                       for index, document in enumerate(documents))
    audit_of = list(audits) + [None] * (len(documents) - len(audits))
    sections = [_dimension_section(document, index, min_pair_items, audit_of[index])
                for index, document in enumerate(documents)]
    if not sections:
        sections = ['<p class="note">This project has no dimensions to report.</p>']
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(title)}</title>",
        f"<style>{CSS}</style>",
        f'<script type="text/javascript">{_plotly_js()}</script>',
        "</head><body>",
        f"<h1>{_text(title)}</h1>",
        _metadata_block(metadata),
        _task_block(schema_from_dict(metadata[SCHEMA_KEY])) if SCHEMA_KEY in metadata else "",
        f"<nav><h2>Dimensions</h2><ul>{contents}</ul></nav>" if contents else "",
        *sections,
        "</body></html>",
    ])
