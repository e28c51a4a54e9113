"""Export page: pick a project, what to export and how, write the file, download it.

The page runs the same :func:`storage.export.export_project` as ``python cli.py export``.
The file is written to a private temporary folder of this browser session (replaced by the
next export of the session) and offered with its metadata sidecar; the download button reads
the file only when clicked, so a 100k-item export is not held in the session's memory.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import streamlit as st

from components.auth import refused
from components.dashboard_filters import stored_juries
from components.review_project import choose_project
from core.charts.model import DEFAULT_MIN_PAIR_ITEMS, MIN_PAIR_ITEMS_HELP
from core.export.gold import DEFAULT_MIN_LABELS, POLICIES, GoldPolicy
from core.export.preferences import PAIRS, preference_source
from core.export.registry import KINDS, default_file_name
from core.export.writers import ExportError, sweep_temporary_files
from core.metrics import MetricsInputError
from core.metrics.consensus import Jury
from core.safe_text import escape_markdown
from storage.authz import NotAllowed
from storage.database import Database
from storage.export import ExportRequest, ExportSummary, export_project
from storage.export_images import bundle_export
from storage.projects import ProjectError, ProjectInfo
from storage.users import UserInfo

log = logging.getLogger(__name__)

STATE = "export.last"
# A session's export is replaced by its next one; one left behind by a closed browser tab is
# removed by the first export started a day later.
STALE_EXPORT_S = 24 * 3600
PREVIEW_ROWS = 5
MIME = {"jsonl": "application/jsonl", "csv": "text/csv", "parquet": "application/vnd.apache.parquet",
        "html": "text/html", "json": "application/json"}
POLICY_HELP = {
    "adjudicated": "Only labels an admin set on the Disagreements page.",
    "unanimous": "Adjudicated, else every human label agrees (with at least K labels).",
    "majority": "Adjudicated, else the most frequent human label, if no other label ties "
                "with it (with at least K labels).",
}
RANKING_POLICY_HELP = ("Rankings: the adjudicated order, else (unanimous and majority alike) the "
                       "Borda consensus of at least K human orders whose mean pairwise Kendall "
                       "τ-b reaches this floor (empty: no floor; 1: every order the same).")
PAIRS_HELP = {"all": "every pair the order implies: n(n−1)/2 per item",
              "adjacent": "each response with the next one down: n−1 per item"}


def render_export(db: Database, user: UserInfo) -> None:
    """Draw the Export page for ``user`` (an admin: the export re-checks it)."""
    st.title("Export", anchor=False)
    st.caption("Gold labels and reference answers, all labels, preference pairs for DPO "
               "training, or the agreement report. The same exports as "
               "`python cli.py export`.")
    project = choose_project(db, key="export.project")
    if project is None:
        return
    kind = st.segmented_control("What to export", list(KINDS), default="gold", key="export.kind",
                                format_func=str.capitalize, required=True)
    description = KINDS[kind].description
    st.caption(description[:1].upper() + description[1:] + ".")
    request = _request_form(project, kind, stored_juries(db, project.id))
    if request is not None:
        _run(db, user, project, request)
    last = st.session_state.get(STATE)
    if last is not None and last["project"] == project.name:
        _show_result(last)


def _request_form(project: ProjectInfo, kind: str, juries: tuple[tuple[str, Jury], ...]
                  ) -> ExportRequest | None:
    """The options of ``kind`` in a form; the request once the form is submitted."""
    with st.form(f"export.form.{kind}"):
        fmt = st.radio("Format", KINDS[kind].formats, horizontal=True, key=f"export.format.{kind}")
        policy, min_labels, dimension, margin = "majority", DEFAULT_MIN_LABELS, None, 1.0
        min_tau, pairs = None, "all"
        n_resamples, seed, min_pair_items = 1000, 0, DEFAULT_MIN_PAIR_ITEMS
        if kind in ("gold", "preferences"):
            left, right = st.columns([3, 1])
            policy = left.radio("Gold policy", POLICIES, index=POLICIES.index("majority"),
                                horizontal=True, key="export.policy",
                                help=" ".join(f"**{p}**: {POLICY_HELP[p]}" for p in POLICIES))
            min_labels = right.number_input("K (least human labels)", 1, 50, DEFAULT_MIN_LABELS,
                                            key="export.min_labels")
            if any(d.is_ranking for d in project.schema.dimensions):
                min_tau = st.number_input("Least mean τ-b of the human orders (rankings)", -1.0,
                                          1.0, value=None, step=0.1, key="export.min_tau",
                                          placeholder="no floor", help=RANKING_POLICY_HELP)
        if kind == "preferences":
            dimension, margin, pairs = _preference_options(project)
        if kind in ("labels", "report"):
            st.caption("The project's juries are included: " + "; ".join(
                f"**{escape_markdown(name)}** ({jury.rule} of "
                f"{escape_markdown(', '.join(jury.members))})" for name, jury in juries)
                if juries else "Juries stored with the project (added on the Dashboard or with "
                "`python cli.py jury add`) are included here (their verdicts as rows, or "
                "scored in the report).")
        if kind == "report":
            left, middle, right = st.columns(3)
            n_resamples = left.number_input("Bootstrap resamples", 0, 10_000, 1000, step=100,
                                            key="export.resamples")
            seed = middle.number_input("Seed", 0, 2**31 - 1, 0, key="export.seed")
            min_pair_items = right.number_input(
                "Human pairs: shared items", 1, 1_000_000, DEFAULT_MIN_PAIR_ITEMS,
                key="export.min_pair_items", help=MIN_PAIR_ITEMS_HELP)
        if not st.form_submit_button("Prepare export", type="primary", icon=":material/download:"):
            return None
    try:
        return ExportRequest(kind=kind, fmt=fmt,
                             policy=GoldPolicy(policy, int(min_labels),
                                               None if min_tau is None else float(min_tau)),
                             dimension=dimension, margin=float(margin), pairs=pairs,
                             n_resamples=int(n_resamples), seed=int(seed),
                             min_pair_items=int(min_pair_items))
    except ExportError as exc:
        st.error(str(exc))
        return None


def _preference_options(project: ProjectInfo) -> tuple[str | None, float, str]:
    """The preference options the task's pairing rule takes: ``(dimension, margin, pairs)``."""
    try:
        source, default = preference_source(project.schema)
    except ExportError as exc:
        st.warning(str(exc))
        return None, 1.0, "all"
    if source == "ranking":
        ranked = [d.name for d in project.schema.dimensions if d.is_ranking]
        dimension = (st.selectbox("Pairs from the ranking", ranked, key="export.dimension")
                     if len(ranked) > 1 else default)
        pairs = st.radio("Pairs from each gold ranking", PAIRS, horizontal=True,
                         key="export.pairs", help=" ".join(f"**{p}**: {PAIRS_HELP[p]}."
                                                           for p in PAIRS))
        st.caption("From each item's gold order the better-ranked response is chosen. Text "
                   "responses only: ranked images have no text for DPO (export gold instead).")
        return dimension, 1.0, pairs
    if source != "rating":
        st.caption(f"Pairs from **{source}**: " + (
            "the gold preference is chosen, ties are left out." if source == "pairwise" else
            "the gold (or item) reference answer is chosen over a response the gold label "
            "rejects."))
        return None, 1.0, "all"
    rated = [d.name for d in project.schema.dimensions if d.scale in ("ordinal", "interval")]
    left, right = st.columns(2)
    dimension = left.selectbox("Rank responses by", rated, index=rated.index(default),
                               key="export.dimension")
    margin = right.number_input("Smallest score gap", 0.5, 100.0, 1.0, step=0.5,
                                key="export.margin")
    st.caption("Responses to the same prompt are paired; the higher-rated one is chosen.")
    return dimension, margin, "all"


def export_root() -> Path:
    """The folder under which each browser session's export lives (created if missing)."""
    root = Path(tempfile.gettempdir()) / "docket-exports"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def remove_stale_exports(root: Path, *, older_than_s: float = STALE_EXPORT_S,
                         now: float | None = None) -> int:
    """Delete export folders under ``root`` last changed more than ``older_than_s`` ago (their
    browser sessions ended without a new export replacing them); return how many went."""
    now = time.time() if now is None else now
    removed = 0
    for folder in root.iterdir():
        try:
            stale = folder.is_dir() and now - folder.stat().st_mtime > older_than_s
        except OSError:  # removed by another session meanwhile
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def sweep_export_leftovers(root: Path) -> int:
    """Remove the temporary files that killed exports left in the session folders under
    ``root`` (each export's own folder is swept when it runs; a session that never exports
    again would keep its leftover until its folder is a day old); return how many went."""
    if not root.is_dir():
        return 0
    return sum(sweep_temporary_files(folder) for folder in root.iterdir() if folder.is_dir())


@st.cache_resource(show_spinner=False)
def sweep_at_start_up() -> int:
    """Once per server process (the first page run): :func:`sweep_export_leftovers` of
    :func:`export_root`; return how many files went."""
    removed = sweep_export_leftovers(export_root())
    if removed:
        log.info("start-up: removed %d temporary file(s) of killed exports", removed)
    return removed


def _run(db: Database, user: UserInfo, project: ProjectInfo, request: ExportRequest) -> None:
    _forget_last()
    root = export_root()
    remove_stale_exports(root)
    folder = Path(tempfile.mkdtemp(prefix="export-", dir=root))
    path = folder / default_file_name(project.name, request.kind, request.fmt)
    try:
        with st.spinner("Writing the export…"):
            summary = export_project(db, project_name=project.name, request=request, path=path,
                                     actor=user)
    except NotAllowed as exc:
        shutil.rmtree(folder, ignore_errors=True)
        refused(exc)
        st.rerun()
    except (ExportError, MetricsInputError, ProjectError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        st.error(f"The export failed: {exc}")
        return
    log.info("export %s/%s of project %r: %d rows", request.kind, request.fmt, project.name,
             summary.written.rows)
    state = _state(project, request, summary, folder)
    if summary.images:
        # The rows name images/<hash>.<ext> beside the file: one zip holds them all, so the
        # download is complete (the file inside it is byte for byte the CLI's).
        state["bundle"] = str(bundle_export(summary.written.path, summary.written.meta_path,
                                            summary.images,
                                            bundle=folder / f"{path.stem}-{request.fmt}.zip"))
    st.session_state[STATE] = state


def _state(project: ProjectInfo, request: ExportRequest, summary: ExportSummary,
           folder: Path) -> dict[str, Any]:
    return {"project": project.name, "kind": request.kind, "fmt": request.fmt,
            "folder": str(folder), "path": str(summary.written.path),
            "meta_path": str(summary.written.meta_path), "line": summary.line(),
            "metadata": summary.written.metadata, "skipped": summary.skipped,
            "images": list(summary.images)}


def _forget_last() -> None:
    last = st.session_state.pop(STATE, None)
    if last is not None:
        shutil.rmtree(last["folder"], ignore_errors=True)


def _reader(path: Path):
    return lambda: path.read_bytes()


def _show_result(last: Mapping[str, Any]) -> None:
    path, meta_path = Path(last["path"]), Path(last["meta_path"])
    if not path.is_file():
        st.session_state.pop(STATE, None)
        return
    metadata = last["metadata"]
    rows = metadata.get("rows")
    st.success(f"{'' if rows is None else f'{rows:,} rows, '}{metadata['bytes']:,} bytes. "
               f"SHA-256 `{metadata['sha256']}`", icon=":material/task_alt:")
    if last["skipped"]:
        st.caption("Left out: " + ", ".join(f"{count:,} {escape_markdown(reason)}"
                                            for reason, count in sorted(last["skipped"].items())))
    left, right = st.columns(2)
    bundle = last.get("bundle")
    if bundle is not None:
        bundle_path = Path(bundle)
        st.caption(f"The rows name {len(last['images']):,} image file(s) in images/ beside the "
                   "file: the zip holds the file, its metadata and the images.")
        left.download_button(f"Download {bundle_path.name}", _reader(bundle_path),
                             file_name=bundle_path.name, mime="application/zip", type="primary",
                             icon=":material/download:", key="export.download_bundle",
                             on_click="ignore")
    left.download_button(f"Download {path.name}", _reader(path), file_name=path.name,
                         mime=MIME[last["fmt"]], type="secondary" if bundle else "primary",
                         icon=":material/download:", key="export.download", on_click="ignore")
    right.download_button(f"Download {meta_path.name}", _reader(meta_path),
                          file_name=meta_path.name, mime="application/json",
                          key="export.download_meta", on_click="ignore")
    preview = _preview(path, last["fmt"])
    if preview is not None:
        st.subheader("First rows", divider="gray")
        st.dataframe(preview, hide_index=True)
    with st.expander("Metadata"):
        st.json({k: v for k, v in metadata.items() if k != "schema"}, expanded=False)


def _preview(path: Path, fmt: str) -> pd.DataFrame | None:
    """The first rows of a table export, read back from the file (long text clipped)."""
    if fmt == "jsonl":
        with path.open(encoding="utf-8") as source:
            rows = [json.loads(line) for _, line in zip(range(PREVIEW_ROWS), source, strict=False)]
        frame = pd.DataFrame(rows)
    elif fmt == "csv":
        frame = pd.read_csv(path, nrows=PREVIEW_ROWS, dtype=str, keep_default_na=False)
    elif fmt == "parquet":
        source = pq.ParquetFile(path)
        frame = (next(source.iter_batches(batch_size=PREVIEW_ROWS)).to_pandas()
                 if source.metadata.num_rows else pd.DataFrame())
    else:
        return None
    return frame.map(_preview_cell)


def _preview_json(value: Any) -> Any:
    """What the preview shows of a value JSON has no type for: embedded image bytes as their
    size, nested Parquet lists as lists."""
    if isinstance(value, bytes):
        return f"<{len(value):,} bytes>"
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _preview_cell(value: Any) -> Any:
    if isinstance(value, np.ndarray):  # a Parquet list column (an order, texts) in pandas
        value = value.tolist()
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, default=_preview_json)
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    return value
