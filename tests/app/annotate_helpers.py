"""Helpers for the annotation tests (AppTest and browser): a project with queues, page text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from core.schema import TaskSchema
from core.templates import TEMPLATES
from storage.annotation_settings import ProjectSettings, set_members, update_settings
from storage.authz import OPERATOR
from storage.database import Database
from storage.importer import import_file
from storage.projects import get_project
from storage.queues import rebuild_queues
from storage.users import UserInfo
from tests.app.apptest_helpers import APP_TIMEOUT_S, signed_in_entries
from tests.conftest import REPO_ROOT
from tests.converters import write_jsonl

ANNOTATE_PAGE = "pages/3_Annotate.py"
PROJECTS_PAGE = "pages/4_Projects.py"
# Judge names and rationales are unique strings, so a search of the page finds only them.
JUDGES = ("judge-zeta", "judge-omega")


def rationale(judge: str, item: str) -> str:
    """The rationale the test data gives ``judge`` on ``item``."""
    return f"{judge.upper()}-RATIONALE-{item}"


def quiz_records(n_items: int, *, prefix: str = "q") -> list[dict[str, Any]]:
    """Correctness items ``q0..``; judge-zeta says correct, judge-omega incorrect."""
    return [{"id": f"{prefix}{i}", "prompt": f"Question {i}?", "response": f"Answer {i}",
             "reference": f"Reference {i}",
             "judges": {"judge-zeta": {"correct": "correct",
                                       "rationale": rationale("judge-zeta", f"{prefix}{i}")},
                        "judge-omega": {"correct": "incorrect",
                                        "rationale": rationale("judge-omega", f"{prefix}{i}")}}}
            for i in range(n_items)]


def make_annotation_project(db: Database, folder: Path, members: list[UserInfo], *,
                            records: list[dict[str, Any]] | None = None,
                            template: str = "correctness", name: str = "quiz",
                            settings: ProjectSettings | None = None,
                            schema: TaskSchema | None = None) -> int:
    """Import ``records`` (default: 4 quiz items) into a new project, make ``members`` its
    annotators with ``settings`` and build the queues; return the project id. ``schema``
    (default: the ``template``'s) is the task, e.g. one not registered as a template."""
    records = quiz_records(4) if records is None else records
    path = write_jsonl(records, folder / f"{name}.jsonl")
    import_file(db, path, project_name=name, schema=schema or TEMPLATES[template], actor=OPERATOR)
    with db.write() as session:
        project_id = get_project(session=session, name=name).id
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=settings or ProjectSettings())
        set_members(session=session, project_id=project_id, user_ids=[m.id for m in members],
                    actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    return project_id


def open_annotate(user: UserInfo | None, *, project_id: int | None = None,
                  item: str | None = None, page: str = ANNOTATE_PAGE) -> AppTest:
    """Open ``page`` (default Annotate) signed in as ``user`` with the URL's query parameters."""
    at = AppTest.from_file(REPO_ROOT / "app.py", default_timeout=APP_TIMEOUT_S)
    for key, value in (signed_in_entries(user) if user is not None else {}).items():
        at.session_state[key] = value
    if project_id is not None:
        at.query_params["project"] = str(project_id)
    if item is not None:
        at.query_params["item"] = item
    at.switch_page(page)
    return at.run()


def page_text(at: AppTest) -> str:
    """Everything the server sent for the page (every element's and block's protobuf as text).

    What is not in here never reached the browser: not hidden, absent.
    """
    parts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def texts(at: AppTest) -> list[str]:
    """The values of the ``st.text`` elements (item fields, rationales), in page order."""
    return [element.value for element in at.text]
