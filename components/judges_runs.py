"""Running a judge over a project from the Judges page, and the project's runs with progress.

Starting a run stores a job (storage.judge_runs.enqueue_run); a worker carries it out, so it
goes on when the browser is closed. The run list redraws itself every few seconds while a run
is queued or running (a fragment), and once none is left it reruns the whole page so the
prompt versions' agreement includes the new verdicts.
"""

from __future__ import annotations

import streamlit as st

from components.auth import acting_user, admin_change, refused
from components.flash import flash, show_flash
from core.safe_text import escape_markdown
from storage.authz import NotAllowed
from storage.database import Database
from storage.judge_lab import human_labelled_items
from storage.judge_runs import (
    MAX_CONCURRENCY,
    MAX_SAMPLES,
    PAIRWISE_FIELDS,
    RunError,
    RunInfo,
    RunOptions,
    enqueue_run,
    project_runs,
    request_cancel,
)
from storage.judges import JudgeError, JudgeInfo
from storage.projects import ProjectInfo

FLASH = "judges.flash.run"
RUNS_FLASH = "judges.flash.runs"  # drawn inside the run list: its buttons rerun only the list
PREFIX = "judges.run."
REFRESH_S = 2.0
SHOWN_RUNS = 10
ACTIVE = ("queued", "running")
SCOPES = {"all": "All items with human labels", "sample": "A random sample of them"}


def render_run_form(db: Database, project: ProjectInfo, judge: JudgeInfo) -> None:
    """The form that starts a run of ``judge`` on the project's human-labelled items."""
    show_flash(FLASH)
    with db.read() as session:
        labelled = human_labelled_items(session=session, project_id=project.id)
    if not labelled:
        st.info("No item of this project has a human label yet: a run covers the items with "
                "human labels, to compare the judge with the experts.", icon=":material/info:")
        return
    pairwise = set(PAIRWISE_FIELDS) <= set(project.schema.field_names)
    lexical = judge.spec.kind == "lexical"
    with st.form(f"judges.run.{judge.id}", enter_to_submit=False):
        scope_column, size_column = st.columns(2)
        scope_column.radio("Items", list(SCOPES), key=PREFIX + "scope",
                           format_func=lambda scope: SCOPES[scope] + (
                               f" ({labelled:,})" if scope == "all" else ""))
        size_column.number_input("Sample size", min_value=1, max_value=labelled,
                                 value=min(50, labelled), step=1, key=PREFIX + "limit",
                                 help="For a random sample: how many of the items with human labels (the "
                                      "same sample on every rerun)")
        samples, concurrency, swap = st.columns(3, vertical_alignment="bottom")
        samples.number_input("Samples per item", min_value=1, max_value=MAX_SAMPLES, value=1,
                             step=1, key=PREFIX + "samples", disabled=lexical,
                             help="Ask K times; the metrics use the first sample, the others "
                                  "measure the judge's self-consistency")
        concurrency.number_input("Concurrent calls", min_value=1, max_value=MAX_CONCURRENCY,
                                 value=8, step=1, key=PREFIX + "concurrency", disabled=lexical)
        swap.checkbox("Also in swapped order", key=PREFIX + "swap",
                      disabled=lexical or not pairwise,
                      help="Pairwise tasks: run again with response A and B exchanged, stored "
                           "as NAME@swapped (position consistency)")
        st.form_submit_button(f"Run {judge.name}", key=PREFIX + "submit", type="primary",
                              icon=":material/rocket_launch:", on_click=_on_run,
                              args=(db, project, judge))
    st.caption("A worker carries the run out (the app's own, or `python cli.py worker`): it goes "
               "on when you close the browser, and a rerun does only what is missing.")


def options_from_form() -> RunOptions:
    """The :class:`RunOptions` the run form's fields describe."""
    state = st.session_state
    sample = state.get(PREFIX + "scope") == "sample"
    return RunOptions(samples=int(state.get(PREFIX + "samples") or 1),
                      swap=bool(state.get(PREFIX + "swap")),
                      limit=int(state[PREFIX + "limit"]) if sample else None,
                      only_with_humans=True,
                      concurrency=int(state.get(PREFIX + "concurrency") or 8))


def _on_run(db: Database, project: ProjectInfo, judge: JudgeInfo) -> None:
    actor = acting_user(db, role="admin")
    if actor is None:
        return
    try:
        with db.write() as session:
            run = enqueue_run(session=session, project_id=project.id, judge_name=judge.name,
                              options=options_from_form(), actor=actor)
    except NotAllowed as exc:
        refused(exc)
        return
    except (RunError, JudgeError) as exc:
        flash(FLASH, "error", f"Not started: {escape_markdown(exc)}")
        return
    version = f" with prompt v{run.prompt_version}" if run.prompt_version else ""
    flash(FLASH, "success", f"Run {run.id} of {escape_markdown(judge.name)}{version} queued.")


def render_runs(db: Database, project: ProjectInfo) -> None:
    """The project's latest runs, refreshing every few seconds while one is active."""
    with db.read() as session:
        runs = project_runs(session=session, project_id=project.id, limit=SHOWN_RUNS)
    active = any(run.status in ACTIVE for run in runs)
    st.fragment(_runs_panel, run_every=REFRESH_S if active else None)(db, project.id, active)


def _runs_panel(db: Database, project_id: int, was_active: bool) -> None:
    with db.read() as session:
        runs = project_runs(session=session, project_id=project_id, limit=SHOWN_RUNS)
    if was_active and not any(run.status in ACTIVE for run in runs):
        st.rerun()  # the last run ended: redraw the page (versions table) and stop polling
    show_flash(RUNS_FLASH)
    if not runs:
        st.caption("No runs of this project yet.")
        return
    for run in runs:
        _run_row(db, run)


def _run_row(db: Database, run: RunInfo) -> None:
    fraction = run.done / run.total if run.total else (1.0 if run.status == "done" else 0.0)
    text_column, button_column = st.columns([6, 1], vertical_alignment="center")
    with text_column:
        version = f"prompt v{run.prompt_version} · " if run.prompt_version else ""
        st.progress(min(max(fraction, 0.0), 1.0), text=escape_markdown(version + run.line()))
    if run.status in ACTIVE and not run.cancel_requested:
        button_column.button("Cancel", key=f"judges.run.cancel.{run.id}", icon=":material/stop:",
                             on_click=_on_cancel, args=(db, run.id))
    elif run.cancel_requested and run.status in ACTIVE:
        button_column.caption("cancelling…")


def _on_cancel(db: Database, run_id: int) -> None:
    run = admin_change(db, lambda session, actor: request_cancel(
        session=session, run_id=run_id, actor=actor), errors=RunError, flash_key=RUNS_FLASH,
        failure="Not cancelled")
    if run is None:
        return
    state = "cancelled" if run.status == "cancelled" else "cancelling after the calls in flight"
    flash(RUNS_FLASH, "success", f"Run {run.id}: {state}.")
