"""Helpers shared by the AppTest modules (fixtures are in conftest.py)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from components.auth import session_entries
from components.browser import browser_binding
from storage.authz import NotAllowed
from storage.database import Database, database_url_from_env
from storage.users import UserInfo
from storage.web_sessions import start_session
from tests.conftest import REPO_ROOT

APP_TIMEOUT_S = 30


def open_page(path: str = "app.py", *, user: UserInfo | None = None) -> AppTest:
    """Run ``path`` (relative to the repo root) as a deep link and return the AppTest.

    With ``user``, the browser session is signed in as that user (as the sign-in form leaves
    it); without, it is a cold session that nobody has signed in to.
    """
    at = AppTest.from_file(REPO_ROOT / "app.py", default_timeout=APP_TIMEOUT_S)
    for key, value in (signed_in_entries(user) if user is not None else {}).items():
        at.session_state[key] = value
    if path != "app.py":
        at.switch_page(path)
    return at.run()


def signed_in_entries(user: UserInfo) -> dict[str, object]:
    """The session state the sign-in form leaves for ``user``: a server-side session in the
    app's database (``$DOCKET_DATABASE_URL``) bound to the stand-in browser's cookie.

    A ``user`` whose account changed since it was read gets a session id that does not
    exist, as a browser session that signed in before the change would hold.
    """
    db = Database(database_url_from_env())
    try:
        session_id = start_session(db, actor=user, browser=browser_binding() or "").session_id
    except NotAllowed:
        session_id = -1
    finally:
        db.dispose()
    return session_entries(user, session_id)


def rendered(at: AppTest, area: str = "main") -> list[tuple[str, str | None, object]]:
    """Every element drawn in ``area`` ("main" or "sidebar"): (type, key, value), in order.

    Containers (forms, columns) are walked into, not listed, so the result is exactly what
    the user can see and use. A button's value (was it just clicked) is left out.
    """
    found: list[tuple[str, str | None, object]] = []

    def walk(node) -> None:
        if hasattr(node, "children"):  # a container
            for child in node.children.values():
                walk(child)
            return
        value = None if node.type == "button" else getattr(node, "value", None)  # clicked or not
        found.append((node.type, getattr(node, "key", None), value))

    walk(getattr(at, area))
    return found


def sign_in_through_the_form(at: AppTest, name: str, password: str) -> AppTest:
    """Type ``name`` and ``password`` into the sign-in form, submit, and return the AppTest."""
    at.text_input(key="auth.sign_in.name").input(name)
    at.text_input(key="auth.sign_in.password").input(password)
    at.button(key="auth.sign_in.submit").click()
    return at.run()


# One tiny record per template, written by hand from each template's fields and labels.
TINY_DEMO_RECORDS = {
    "correctness": [
        {"id": "c1", "prompt": "Capital of France?", "response": "Paris",
         "judges": {"judge_a": {"correct": "correct"}}},
        {"id": "c2", "prompt": "2 + 2?", "response": "5", "judges": {"judge_a": {"correct": "no"}}},
    ],
    "thematic_alignment": [
        {"id": "t1", "source": ["a text"], "response": "a summary",
         "judges": {"judge_a": {"alignment": 4, "missing_themes": "no", "unsupported_claims": "no"}}},
    ],
    "exam_question": [
        {"id": "e1", "prompt": "Write a question", "response": "What is 2 + 2?",
         "humans": {"expert": {"correctness": 5, "evidence_based": 4, "professionalism": 5,
                               "relevance": 5, "difficulty": 1}}},
    ],
    "pairwise": [
        {"id": "p1", "prompt": "Say hi", "response_a": "hi", "response_b": "hello",
         "judges": {"judge_a": {"preference": "tie"}, "judge_b": {"preference": "A"}}},
    ],
    "image_scoring": [  # the picture is drawn at load time (storage.demo_images)
        {"id": "s1", "image": "shapes/2-red-circle.png", "prompt": "How many red circles?",
         "response": "Two.", "judges": {"judge_a": {"score": 5}}},
    ],
    "batch_ranking": [
        {"id": "r1", "prompt": "Best pet?", "responses": ["A cat.", "A rock.", "A dog."],
         "judges": {"judge_a": {"ranking": [3, 1, 2]}}, "humans": {"ann": {"ranking": "1,3,2"}}},
    ],
}
