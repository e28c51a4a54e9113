"""The dashboard's filters (one ``st.form``, so nothing recomputes until Apply) and juries.

Widget keys carry the project id (and the dimension for rater and threshold choices), so
switching project or dimension starts from that project's or dimension's own choices instead
of carrying over options that no longer exist. Juries are stored with the project
(:mod:`storage.juries`): admins add and remove them here.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from sqlmodel import Session

from components.auth import admin_change
from components.flash import flash, show_flash
from components.review_data import Facets
from core.dashboard import DashboardRequest
from core.metrics.compare import JURY_NAME_CHARS
from core.metrics.consensus import RULE_SCALES, Jury
from core.metrics.ratings import HUMAN, JUDGE
from core.safe_text import escape_markdown
from storage.database import Database
from storage.juries import JuryError, create_jury, delete_jury, list_juries
from storage.projects import ProjectInfo
from storage.users import UserInfo


def filter_key(project_id: int, name: str, *parts: str) -> str:
    """Session key of one dashboard filter widget."""
    return ".".join(("dashboard", "filter", str(project_id), name, *parts))


def juries_key(project_id: int) -> str:
    """Prefix of the session keys of the project's jury form."""
    return f"dashboard.juries.{project_id}"


def _bare(names: tuple[str, ...]) -> list[str]:
    return [name.split(":", 1)[1] for name in names]


def render_filters(project: ProjectInfo, facets_for: Callable[[str], Facets],
                   juries: tuple[tuple[str, Jury], ...] = ()) -> DashboardRequest:
    """Draw the filter form; return the request of the applied (submitted) filters, with the
    project's stored ``juries``."""
    pid = project.id
    schema = project.schema
    dimension_key = filter_key(pid, "dimension")
    if st.session_state.get(dimension_key) not in schema.dimension_names:
        st.session_state.pop(dimension_key, None)
    name = st.session_state.get(dimension_key, schema.dimension_names[0])
    dimension = schema.dimension(name)
    facets = facets_for(name)
    humans, judges = _bare(facets.humans), _bare(facets.judges)
    with st.form(f"dashboard.filters.{pid}", border=True):
        top = st.columns([2, 3, 3])
        top[0].selectbox("Dimension", schema.dimension_names, key=dimension_key,
                         format_func=lambda n: f"{schema.dimension(n).title} ({n})")
        # Raters are chosen by leaving them out, so one who appears later takes part.
        left_out_humans = top[1].multiselect(
            "Leave out annotators", humans, key=filter_key(pid, "humans", name),
            placeholder="none: every annotator takes part",
            help="Left-out annotators are left out of the human consensus too.")
        left_out_judges = top[2].multiselect("Leave out judges", judges,
                                             key=filter_key(pid, "judges", name),
                                             placeholder="none: every judge takes part")
        bottom = st.columns([3, 3, 2, 2])
        groups = bottom[0].multiselect("Groups", facets.groups, key=filter_key(pid, "groups"),
                                       placeholder="all groups")
        models = bottom[1].multiselect("Models", facets.models, key=filter_key(pid, "models"),
                                       placeholder="all models")
        minimum = bottom[2].number_input(
            "Items with ≥ k human labels", min_value=0, max_value=max(facets.max_human_labels, 0),
            step=1, key=filter_key(pid, "min_humans"),
            help="Only items labelled by at least this many annotators (0: every item).")
        with bottom[3]:
            threshold = _binarize_widget(pid, dimension.scale, dimension.label_values, name)
        st.form_submit_button("Apply", type="primary", icon=":material/filter_alt:",
                              key=f"dashboard.apply.{pid}")
    raters = ([f"{HUMAN}:{h}" for h in humans if h not in left_out_humans]
              + [f"{JUDGE}:{j}" for j in judges if j not in left_out_judges])
    everyone = not left_out_humans and not left_out_judges
    return DashboardRequest(
        dimension=name, raters=None if everyone else tuple(raters),
        groups=tuple(groups) or None, models=tuple(models) or None,
        min_human_labels=int(minimum), binarize_at=threshold,
        juries=juries)


def _binarize_widget(pid: int, scale: str, labels: tuple[str, ...], name: str) -> str | None:
    key = filter_key(pid, "binarize", name)
    helptext = ("Compare the scale as two labels, '≥ threshold' (positive) and '< threshold', "
                "e.g. '≥ 4 is good enough'.")
    if scale == "ordinal":
        return st.selectbox("Binarise at", [None, *labels[1:]], key=key, help=helptext,
                            format_func=lambda v: "no" if v is None else f"≥ {v}")
    if scale == "interval":
        text = st.text_input("Binarise at score", key=key, help=helptext, placeholder="no")
        return text.strip() or None
    st.caption("Binarising applies to ordinal and interval scales.")
    return None


def stored_juries(db: Database, project_id: int) -> tuple[tuple[str, Jury], ...]:
    """The project's stored juries as the request takes them (one small query, uncached: a
    change writes the audit log, so cached results keyed on the data version follow)."""
    with db.read() as session:
        return tuple((info.name, info.jury) for info in list_juries(session=session,
                                                                    project_id=project_id))


def render_juries(db: Database, project: ProjectInfo, judges: tuple[str, ...],
                  juries: tuple[tuple[str, Jury], ...]) -> None:
    """The project's stored ``juries`` (:func:`stored_juries`), each with a remove button,
    and a form to add one."""
    key = juries_key(project.id)
    st.caption("A jury is a group of judges whose majority (nominal, ordinal), median (ordinal, "
               "interval) or mean (interval) label per item is scored like any other rater, "
               "as `jury:NAME`. Juries are stored with the project: the CLI's metrics and the "
               "exports use them too.")
    show_flash(f"{key}.flash")
    for name, jury in juries:
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.markdown(f"**{escape_markdown(name)}**: {jury.rule} of "
                      f"{escape_markdown(', '.join(jury.members))}")
        right.button("Remove", key=f"dashboard.jury.remove.{project.id}.{name}",
                     on_click=_remove_jury, args=(db, project.id, name),
                     icon=":material/delete:")
    rules = [rule for rule, scales in RULE_SCALES.items()
             if all(d.scale in scales for d in project.schema.dimensions)]
    if not rules:
        st.caption("No jury rule fits every dimension of this project.")
        return
    with st.form(f"dashboard.jury_form.{project.id}", clear_on_submit=True, border=False):
        left, middle, rule, right = st.columns([2, 4, 2, 1], vertical_alignment="bottom")
        left.text_input("Jury name", key=f"{key}.name", max_chars=JURY_NAME_CHARS)
        middle.multiselect("Judges", _bare(judges), key=f"{key}.members")
        rule.selectbox("Rule", rules, key=f"{key}.rule")
        right.form_submit_button("Add jury", on_click=_add_jury, args=(db, project.id),
                                 key=f"dashboard.jury.add.{project.id}")


def _add_jury(db: Database, project_id: int) -> None:
    key = juries_key(project_id)
    info = admin_change(db, lambda session, actor: create_jury(
        session=session, project_id=project_id, name=st.session_state.get(f"{key}.name", ""),
        members=st.session_state.get(f"{key}.members", []),
        rule=st.session_state.get(f"{key}.rule") or "", actor=actor),
        errors=JuryError, flash_key=f"{key}.flash", failure="Not added")
    if info is not None:
        flash(f"{key}.flash", "success", f"Jury {escape_markdown(info.name)} added.")


def _remove_jury(db: Database, project_id: int, name: str) -> None:
    key = juries_key(project_id)

    def remove(session: Session, actor: UserInfo) -> bool:
        delete_jury(session=session, project_id=project_id, name=name, actor=actor)
        return True

    if admin_change(db, remove, errors=JuryError, flash_key=f"{key}.flash",
                    failure="Not removed"):
        flash(f"{key}.flash", "success", f"Jury {escape_markdown(name)} removed.")


def filter_summary(request: DashboardRequest) -> str:
    """The applied filters in one line of plain text."""
    parts = []
    if request.raters is None:
        parts.append("all annotators and judges")
    else:
        humans = sum(1 for r in request.raters if r.startswith(f"{HUMAN}:"))
        parts.append(f"{humans} annotator(s), {len(request.raters) - humans} judge(s)")
    parts.append("all groups" if request.groups is None else "groups: " + ", ".join(request.groups))
    parts.append("all models" if request.models is None else "models: " + ", ".join(request.models))
    if request.min_human_labels:
        parts.append(f"items with ≥ {request.min_human_labels} human labels")
    if request.juries:
        parts.append(f"{len(request.juries)} jury(ies)")
    return "Filters: " + " · ".join(parts)
