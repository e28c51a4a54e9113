"""The Import page: upload a file, pick project and task, validate, then write.

Nothing is written until the user has seen the validation report and pressed Import. Only the
validated batch is kept in session state (keyed on the upload, project and schema, so a
different choice asks for a new validation); the uploaded bytes are parsed from a temporary
file that is deleted at once (:mod:`components.upload_check`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import streamlit as st

from components.auth import refused
from components.frames import MAX_PROBLEM_ROWS, PREVIEW_ROWS, plural, problems_frame, summary_counts
from components.import_target import ImportTarget, choose_import_target
from components.upload_check import UploadCheck, check_upload, schema_fingerprint
from core.importing import (
    ON_ERROR_POLICIES,
    ImportBatch,
    ImportFileError,
    ImportLimits,
    ImportProblem,
    ImportRejected,
    check_policy,
    detect_format,
    problems_jsonl,
    report_file_name,
)
from core.importing.limits import MiB
from core.safe_text import escape_markdown
from storage.authz import NotAllowed
from storage.database import Database
from storage.importer import ImportSummary, write_import
from storage.projects import ProjectError
from storage.users import UserInfo

POLICY_LABELS = {
    "strict": "Strict: import nothing if any record has a problem",
    "skip": "Skip: import the valid records, leave out the others",
}
_STATE = "import.validated"

FORMAT_HELP = """\
One record per item. **JSONL**: one JSON object per line. **CSV / Parquet**: one row per item.

- `id` (required, unique) and the task's text fields, e.g. `prompt`, `response`, `reference`
- optional `model` and `group`; any other column is kept as item metadata
- judge verdicts: JSONL `"judges": {"<judge>": {"<dimension>": "<label>", "rationale": "..."}}`,
  CSV/Parquet columns `judge.<judge>.<dimension>`, `judge.<judge>.rationale`
- earlier human labels: JSONL `"humans": {"<annotator>": {"<dimension>": "<label>"}}`,
  CSV/Parquet columns `human.<annotator>.<dimension>`, `human.<annotator>.comment`
- image fields: a path inside the **images zip** uploaded below, `{"bytes": "<base64>"}` or a
  `data:image/png;base64,...` URI; Parquet: the Hugging Face `datasets` Image struct
  `{bytes, path}`. PNG, JPEG, WebP or GIF only, at most 20 MB and 50 megapixels each
"""


@dataclass(frozen=True)
class ValidatedUpload:
    """A validation result kept across reruns, valid only for the same ``key``."""

    key: tuple[str, str, str, ImportLimits, str]
    check: UploadCheck
    summary: ImportSummary | None = None


def render_import(db: Database, user: UserInfo) -> None:
    """Draw the Import page: choices, validation report, import button and summary."""
    st.title("Import", anchor=False)
    st.markdown("Add items, LLM judge verdicts and earlier human labels to a project. "
                "The file is checked first; nothing is written until you press **Import**.")
    with st.expander("File format"):
        st.markdown(FORMAT_HELP)
    # No ``type=`` filter: the browser then refused a wrong file but kept it listed (with its
    # error) beside the next one. The name is checked here instead, and the box holds one file.
    upload = st.file_uploader("Data file", key="import.uploader",
                              help="JSONL (.jsonl, .ndjson, .json), CSV or Parquet (.parquet, .pq)")
    if upload is not None and not _known_format(upload.name):
        upload = None
    images = st.file_uploader("Images (zip, optional)", key="import.images", type=["zip"],
                              help="The images that image fields name by path, in one zip "
                                   "(paths inside it as in the file)")
    left, right = st.columns(2, gap="large")
    with left:
        target = choose_import_target(db)
    with right:
        policy = st.radio("When some records have problems", ON_ERROR_POLICIES,
                          format_func=POLICY_LABELS.__getitem__, key="import.policy")
        limits = _choose_limits()

    key = None
    if upload is not None and target is not None:
        key = (upload.file_id, target.project, schema_fingerprint(target.schema), limits,
               images.file_id if images is not None else "")
    stored: ValidatedUpload | None = st.session_state.get(_STATE)
    if stored is not None and stored.key != key:
        del st.session_state[_STATE]  # stale: another file, project or task
        stored = None

    if st.button("Validate", key="import.validate", type="primary" if stored is None else "secondary",
                 disabled=key is None, icon=":material/fact_check:"):
        assert upload is not None and target is not None and key is not None
        with st.spinner("Reading and checking the file…"):
            check = check_upload(upload, name=upload.name, schema=target.schema, limits=limits,
                                 images=images,
                                 images_name=images.name if images is not None else "")
        stored = ValidatedUpload(key, check)
        st.session_state[_STATE] = stored
    if key is None:
        st.caption("Upload a file and choose the project to validate it.")
    if stored is not None and target is not None:
        _render_report(db, user, stored, target, policy)


def _known_format(name: str) -> bool:
    """True if ``name`` is a file type Import reads; otherwise say so on the page."""
    try:
        detect_format(name)
    except ImportFileError as exc:
        st.error(f"{escape_markdown(name)}: {escape_markdown(exc.problems[0].reason)}. Nothing "
                 "was read; upload another file in its place.", icon=":material/error:")
        return False
    return True


def _choose_limits() -> ImportLimits:
    """The limits of ``cli.py import`` (same defaults), under an expander."""
    defaults = ImportLimits()
    with st.expander("Limits"):
        text = st.number_input("Longest text, characters (--max-text-chars)", min_value=1,
                               value=defaults.max_text_chars, step=10_000,
                               key="import.max_text_chars")
        total = st.number_input("Most data, MiB (--max-total-bytes): the file, and what a "
                                "Parquet file decodes to", min_value=1,
                                value=defaults.max_total_bytes // MiB, step=64,
                                key="import.max_total_mib")
        rows = st.number_input("Most records (--max-rows)", min_value=1, value=defaults.max_rows,
                               step=10_000, key="import.max_rows")
    return ImportLimits(max_text_chars=int(text), max_total_bytes=int(total) * MiB,
                        max_rows=int(rows))


# --- validation report and import ------------------------------------------------------------

def _render_report(db: Database, user: UserInfo, stored: ValidatedUpload, target: ImportTarget,
                   policy: str) -> None:
    check = stored.check
    st.divider()
    st.subheader("Validation report", anchor=False)
    batch = check.batch
    columns = st.columns(4)
    columns[0].metric("Records", check.total_records)
    columns[1].metric("Valid", len(batch.items) if batch else 0)
    columns[2].metric("With problems", batch.rejected_rows if batch else check.total_records)
    columns[3].metric("Problems", len(batch.problems) if batch else len(check.file_problems))

    if check.preview is not None:
        shown = plural(min(PREVIEW_ROWS, len(check.preview)), "record")
        st.markdown(f"**Preview** — the first {shown} as read from the file (long text cut)")
        st.dataframe(check.preview, width="stretch")
    if batch is None:
        st.error("The file cannot be imported as it is. Nothing will be written.",
                 icon=":material/error:")
        _render_problem_table(check.file_problems, check.file_name)
        return
    _render_raters(batch)
    _render_problems(batch, policy, check.file_name)
    if stored.summary is not None:
        _render_summary(stored.summary)
        return
    _render_import_button(db, user, stored, target, policy)


def _render_raters(batch: ImportBatch) -> None:
    # st.text, not markdown: names come from the file, and GFM would still turn an escaped
    # bare URL into a link.
    judges, annotators = st.columns(2)
    judges.markdown(f"**Judges found: {len(batch.judges)}**")
    judges.text(", ".join(batch.judges) or "none")
    annotators.markdown(f"**Annotators found: {len(batch.annotators)}**")
    annotators.text(", ".join(batch.annotators) or "none")


def _render_problems(batch: ImportBatch, policy: str, file_name: str) -> None:
    if batch.is_clean:
        st.success(f"No problems: {plural(batch.total_records, 'record')}, all valid.",
                   icon=":material/check_circle:")
        return
    st.warning(f"{plural(len(batch.problems), 'problem')} in {batch.rejected_rows} of "
               f"{plural(batch.total_records, 'record')}.", icon=":material/warning:")
    _render_problem_table(batch.problems, file_name)
    if policy == "strict":
        valid = plural(len(batch.items), "valid record")
        st.error("Strict: Nothing will be written unless the file is clean. Fix the records "
                 f"listed above, or choose Skip to import only the {valid}.", icon=":material/block:")
    else:
        st.info(f"Skip: {plural(len(batch.items), 'valid record')} will be imported; "
                f"{plural(batch.rejected_rows, 'record')} with problems will be left out.",
                icon=":material/info:")


def _render_problem_table(problems: Sequence[ImportProblem], file_name: str) -> None:
    """The problems as a table (the first :data:`MAX_PROBLEM_ROWS`) and the full report as the
    CLI writes it, one JSON object per problem, to download."""
    st.dataframe(problems_frame(problems), hide_index=True, width="stretch")
    if len(problems) > MAX_PROBLEM_ROWS:
        st.caption(f"Showing the first {MAX_PROBLEM_ROWS:,} of {len(problems):,} problems; the "
                   "report below has all of them.")
    report = report_file_name(file_name)
    st.download_button(f"Download {report}", partial(problems_jsonl, problems), file_name=report,
                       mime="application/jsonl", icon=":material/download:",
                       key="import.problem_report", on_click="ignore")


def _render_import_button(db: Database, user: UserInfo, stored: ValidatedUpload, target: ImportTarget,
                          policy: str) -> None:
    batch = stored.check.batch
    assert batch is not None
    if policy == "strict" and not batch.is_clean:
        return  # the page already says that nothing will be written, and how to go on
    if not batch.items:
        st.caption("There are no valid records to import.")
        return
    action = "create project" if target.is_new else "add to project"
    slot = st.empty()  # the button and its caption, replaced by the summary once imported
    with slot.container():
        st.caption(f"{action.capitalize()} “{escape_markdown(target.project)}”: "
                   f"{plural(len(batch.items), 'record')}.")
        sampled = batch.annotators and st.checkbox(
            "The human-labelled items are a uniform random sample of the project",
            key="import.sampled_uniform",
            help="Tick only if the labelled items were drawn at random, each equally likely "
                 "(`--sampled uniform` on the command line): estimates may then use their "
                 "labels. Otherwise the labels count for agreement metrics only.")
        clicked = st.button("Import", key="import.run", type="primary", icon=":material/upload:")
    if not clicked:
        return
    bar = st.progress(0.0, text="Starting the import…")

    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    try:
        check_policy(batch, policy)
        summary = write_import(db, project_name=target.project,
                               schema=target.schema if target.is_new else None, batch=batch,
                               actor=user, progress=report,
                               sampled="uniform" if sampled else None)
    except NotAllowed as exc:
        refused(exc)
        st.rerun()
    except (ImportFileError, ImportRejected, ProjectError) as exc:
        bar.empty()
        st.error(escape_markdown(exc), icon=":material/error:")
        return
    st.session_state[_STATE] = replace(stored, summary=summary)
    slot.empty()
    bar.empty()
    _render_summary(summary)


def _render_summary(summary: ImportSummary) -> None:
    created = " (new project)" if summary.created_project else ""
    st.success(f"Imported into “{escape_markdown(summary.project)}”{created}.",
               icon=":material/check_circle:")
    columns = st.columns(6)
    for column, (label, count) in zip(columns, summary_counts(summary).items(), strict=True):
        column.metric(label.capitalize(), count)
    st.page_link("app.py", label="Back to the projects", icon=":material/home:")
