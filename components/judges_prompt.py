"""The prompt lab's editor: a judge's prompt for one task, the live preview of the exact
messages for a chosen item, saving as a new prompt version, every version, and trying the
prompt on one item.

The editor starts from the judge's newest prompt version for the project's task (before the
first save or run: the shipped strategy, which becomes version 1). The preview and a try use
the text as it stands in the editor; a run uses the newest *saved* version, and the editor
says when the two differ. Item and model text is shown as plain text (``st.code``), never as
markdown or HTML; an image sent to the judge is named in the text where it is sent
(``[image FIELD: mime, size, sha256]``) and shown below from Docket's own image route.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from components.auth import acting_user, refused
from components.flash import flash, show_flash
from components.image_view import render_image_field
from components.judge_keys import judge_key_environ
from components.judges_try import TryOutcome, try_once
from core.judges.prompting import (
    OUTPUT_MODES,
    STRATEGIES,
    Message,
    PromptError,
    PromptTemplate,
    allowed_fields,
    builtin_prompt,
    compile_prompt,
    render_messages,
)
from core.safe_text import escape_markdown
from core.schema import Dimension
from storage.authz import NotAllowed
from storage.database import Database
from storage.judge_images import JudgeImageLoader
from storage.judge_lab import LabItem, lab_item, lab_item_choices
from storage.judges import (
    JudgeError,
    JudgeInfo,
    PromptInfo,
    add_prompt_version,
    current_prompt,
    prompt_versions,
)
from storage.projects import ProjectInfo

FLASH = "judges.flash.prompt"
OUTPUT_TITLES = {"json": "JSON object", "verdict": "Verdict: line"}


def editor_key(judge: JudgeInfo, project: ProjectInfo, part: str) -> str:
    """Session key of one editor widget (``system``, ``user``, ``strategy``, ``note``) of a
    judge's prompt for a project's task."""
    return f"judges.prompt.{part}.{judge.id}.{project.schema.name}"


def newest_template(versions: list[PromptInfo], judge: JudgeInfo, project: ProjectInfo
                    ) -> PromptTemplate:
    """The newest saved version's template, or the shipped strategy the first save makes v1."""
    if versions:
        return versions[-1].template
    return builtin_prompt(project.schema, judge.spec.strategy,
                          reference=judge.spec.reference_guided)


def _load(judge: JudgeInfo, project: ProjectInfo, template: PromptTemplate) -> None:
    """Put ``template`` into the editor (a callback: before the widgets are drawn)."""
    for part in ("system", "user", "strategy"):
        st.session_state[editor_key(judge, project, part)] = getattr(template, part)


def _load_shipped(judge: JudgeInfo, project: ProjectInfo) -> None:
    strategy = st.session_state[editor_key(judge, project, "shipped")]
    reference = st.session_state[editor_key(judge, project, "shipped_reference")]
    _load(judge, project, builtin_prompt(project.schema, strategy, reference=reference))


def render_prompt_lab(db: Database, project: ProjectInfo, judge: JudgeInfo) -> None:
    """Draw the editor (left) and the preview and try (right), then the prompt versions."""
    with db.read() as session:
        versions = prompt_versions(session=session, judge_id=judge.id, task=project.schema.name)
        choices = lab_item_choices(session=session, project_id=project.id)
    saved = newest_template(versions, judge, project)
    for part in ("system", "user", "strategy"):
        st.session_state.setdefault(editor_key(judge, project, part), getattr(saved, part))
    show_flash(FLASH)
    left, right = st.columns(2, gap="medium")
    with left:
        template, problem = _editor(db, project, judge, versions, saved)
    with right:
        _preview_and_try(db, project, judge, choices, template, problem)
    _versions(project, judge, versions)


def _editor(db: Database, project: ProjectInfo, judge: JudgeInfo, versions: list[PromptInfo],
            saved: PromptTemplate) -> tuple[PromptTemplate | None, str | None]:
    """The text areas and the save button; returns the edited template (None and the
    problem when it is not a valid template)."""
    st.subheader("Prompt", anchor=False)
    st.selectbox("Strategy", list(STRATEGIES), key=editor_key(judge, project, "strategy"),
                 format_func=lambda name: STRATEGIES[name].title,
                 help="Whether the judge writes a rationale before its label (this shapes the "
                      "answer format in {output_format}): " + "; ".join(
                         f"{s.title}: {s.description}" for s in STRATEGIES.values()))
    st.text_area("System message", key=editor_key(judge, project, "system"), height=140)
    st.text_area("User message", key=editor_key(judge, project, "user"), height=380,
                 help="Fields in braces are filled for each item; {output_format} (required) is "
                      "where Docket puts the answer format. Write {{ and }} for literal braces.")
    fields = ", ".join("{" + name + "}" for name in sorted(allowed_fields(project.schema)))
    st.caption("Fields: " + escape_markdown(fields))
    template, problem = None, None
    try:
        template = PromptTemplate(system=st.session_state[editor_key(judge, project, "system")],
                                  user=st.session_state[editor_key(judge, project, "user")],
                                  strategy=st.session_state[editor_key(judge, project, "strategy")])
        compile_prompt(template, project.schema)
    except PromptError as exc:
        problem = str(exc)
    newest = f"v{versions[-1].version}" if versions else "v1 (the shipped strategy)"
    if template is not None and template == saved:
        st.caption(f"Saved as {newest}: a run uses this prompt.")
    else:
        st.caption(f"Unsaved changes: a run uses {newest} until you save.")
    note_column, button_column = st.columns([3, 2], vertical_alignment="bottom")
    note_column.text_input("Note (optional)", key=editor_key(judge, project, "note"),
                           placeholder="what changed and why", max_chars=500)
    button_column.button("Save as new version", key=f"judges.prompt.save.{judge.id}",
                         type="primary", icon=":material/save:", disabled=problem is not None,
                         on_click=_on_save, args=(db, project, judge))
    with st.popover("Start from a shipped prompt", icon=":material/restart_alt:"):
        st.selectbox("Strategy", list(STRATEGIES), key=editor_key(judge, project, "shipped"),
                     format_func=lambda name: STRATEGIES[name].title,
                     index=list(STRATEGIES).index(judge.spec.strategy))
        st.checkbox("Reference-guided", value=judge.spec.reference_guided,
                    key=editor_key(judge, project, "shipped_reference"))
        st.button("Load into the editor", key=f"judges.prompt.shipped.load.{judge.id}",
                  on_click=_load_shipped, args=(judge, project),
                  help="Replaces the editor's text (nothing is saved until you save)")
    return template, problem


def _on_save(db: Database, project: ProjectInfo, judge: JudgeInfo) -> None:
    actor = acting_user(db, role="admin")
    if actor is None:
        return
    state = st.session_state
    note = (state.get(editor_key(judge, project, "note")) or "").strip() or None
    try:
        template = PromptTemplate(system=state[editor_key(judge, project, "system")],
                                  user=state[editor_key(judge, project, "user")],
                                  strategy=state[editor_key(judge, project, "strategy")])
        with db.write() as session:
            existed = prompt_versions(session=session, judge_id=judge.id, task=project.schema.name)
            current_prompt(session=session, judge=judge, schema=project.schema, actor=actor)
            info = add_prompt_version(session=session, judge=judge, schema=project.schema,
                                      template=template, actor=actor, note=note)
    except NotAllowed as exc:
        refused(exc)
        return
    except (JudgeError, PromptError) as exc:
        flash(FLASH, "error", f"Not saved: {escape_markdown(exc)}")
        return
    if existed and info.version == existed[-1].version:
        flash(FLASH, "success", f"No change: the prompt is v{info.version} as saved.")
    else:
        flash(FLASH, "success", f"Saved as v{info.version}.")
    state[editor_key(judge, project, "note")] = ""


def _preview_and_try(db: Database, project: ProjectInfo, judge: JudgeInfo,
                     choices: list[tuple[int, str]], template: PromptTemplate | None,
                     problem: str | None) -> None:
    st.subheader("Preview", anchor=False)
    if not choices:
        st.info("The project has no items to preview.", icon=":material/info:")
        return
    names = dict(choices)
    item_id = st.selectbox("Item", list(names), format_func=names.get,
                           key=f"judges.preview.item.{project.id}",
                           help="Items with human labels (those a run covers)")
    dimensions = {d.name: d for d in project.schema.dimensions}
    dimension_pick, output_pick = st.columns(2)
    dimension = dimensions[dimension_pick.selectbox(
        "Dimension", list(dimensions), format_func=lambda name: dimensions[name].title,
        key=f"judges.preview.dimension.{project.id}")]
    output = output_pick.selectbox(
        "Answer format", OUTPUT_MODES, format_func=OUTPUT_TITLES.get,
        index=0 if judge.spec.structured_output else 1, key=f"judges.preview.output.{judge.id}",
        help="A JSON object (sent with response_format) when the endpoint accepts it; a judge "
             "whose endpoint refuses it is asked for a last line 'Verdict: LABEL'")
    with db.read() as session:
        item = lab_item(session=session, project=project, item_id=item_id)
    # The judge is sent the images themselves, not the hashes the item holds.
    item = replace(item, fields=JudgeImageLoader(db, project.schema).fields(item.fields))
    if problem is not None:
        st.error(f"Prompt error: {escape_markdown(problem)}", icon=":material/error:")
        return
    assert template is not None
    try:
        messages = render_messages(template, project.schema, item.fields, dimension,
                                   reference=item.reference, output=output)
    except PromptError as exc:
        st.error(f"Prompt error for item {escape_markdown(item.external_id)}: "
                 f"{escape_markdown(exc)}", icon=":material/error:")
        return
    _messages(messages)
    _try(db, project, judge, template, item, dimension)


def _messages(messages: list[Message]) -> None:
    for message in messages:
        images = message.images
        shown = f" · {len(images)} image{'s' * (len(images) != 1)}" if images else ""
        st.caption(f"**{message.role}** · {len(message.text):,} characters{shown}")
        st.code(message.describe(), language=None, wrap_lines=True, height=None if
                message.role == "system" else 420)
        for index, part in enumerate(images):
            render_image_field(part.field, part.image.sha256,
                               key_prefix=f"judges.preview.image.{index}")


def try_key(judge: JudgeInfo) -> str:
    """Session key of the outcome of the last try of a judge."""
    return f"judges.try.outcome.{judge.id}"


def _try(db: Database, project: ProjectInfo, judge: JudgeInfo, template: PromptTemplate,
         item: LabItem, dimension: Dimension) -> None:
    if st.button("Try on this item", key=f"judges.try.{judge.id}", icon=":material/play_arrow:",
                 help="Calls the endpoint once now with the prompt as it stands in the editor; "
                      "nothing is stored"):
        if acting_user(db, role="admin") is None:
            st.rerun()
        with st.spinner(f"Asking {judge.name}…"):
            st.session_state[try_key(judge)] = try_once(
                judge, template, project.schema, item, dimension,
                judge_key_environ([judge.spec.api_key_env]))
    outcome = st.session_state.get(try_key(judge))
    if isinstance(outcome, TryOutcome):
        show_try(outcome)


def show_try(outcome: TryOutcome) -> None:
    """The answer of the last try: the label (or unparseable, or the error), tokens, latency,
    and the raw output as plain text."""
    where = f"{outcome.judge} on item {outcome.item}, {outcome.dimension}"
    if outcome.error is not None:
        st.error(f"The call failed ({escape_markdown(where)}): {escape_markdown(outcome.error)}",
                 icon=":material/error:")
        return
    if outcome.label is not None:
        st.success(f"Label: **{escape_markdown(outcome.label)}** ({escape_markdown(where)})",
                   icon=":material/check_circle:")
    else:
        st.warning(f"Unparseable ({escape_markdown(where)}): {escape_markdown(outcome.problem)}",
                   icon=":material/warning:")
    latency = "—" if outcome.latency is None else f"{outcome.latency * 1000:,.0f} ms"
    tokens = " + ".join("?" if count is None else f"{count:,}"
                        for count in (outcome.input_tokens, outcome.output_tokens))
    st.caption(f"Tokens in + out: {tokens} · latency {latency} · model "
               f"{escape_markdown(outcome.model or '?')} · answer format {outcome.output}")
    st.code(outcome.raw_text or "(empty output)", language=None, wrap_lines=True)


def _versions(project: ProjectInfo, judge: JudgeInfo, versions: list[PromptInfo]) -> None:
    with st.expander(f"Prompt versions ({len(versions)})", icon=":material/history:"):
        if not versions:
            st.caption("None saved yet: the first save or run stores the shipped strategy as v1.")
        for info in reversed(versions):
            title = (f"v{info.version} · {STRATEGIES[info.template.strategy].title}"
                     + (" · reference-guided" if info.reference_guided else ""))
            st.markdown(f"**{escape_markdown(title)}**"
                        + (f" — {escape_markdown(info.note)}" if info.note else ""))
            st.code(f"[system]\n{info.template.system}\n\n[user]\n{info.template.user}",
                    language=None, wrap_lines=True, height=200)
            st.button(f"Load v{info.version} into the editor",
                      key=f"judges.prompt.load.{judge.id}.{info.version}",
                      on_click=_load, args=(judge, project, info.template))
