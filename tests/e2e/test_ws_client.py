"""The benchmark's websocket client against the real server: sign in, label, save & next.

The client speaks Streamlit's protocol without a browser (bench/st_client.py); this checks
that what it sends is what the app understands, and that the label reaches the database.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.st_client import StreamlitClient
from storage.annotation_settings import ProjectSettings
from storage.annotator_view import user_labels
from storage.authz import OPERATOR
from storage.database import Database
from storage.queues import find_assignment
from storage.users import create_user
from tests.app.annotate_helpers import make_annotation_project

pytestmark = pytest.mark.browser  # needs the real server (and its fixtures)

PASSWORD = "e2e ws client password"


async def _annotate(url: str, name: str, project_id: int) -> tuple[list[str], str]:
    client = StreamlitClient(url, "Annotate", f"project={project_id}")
    try:
        await client.connect()
        await client.press("auth.sign_in.submit",
                           {"auth.sign_in.name": name, "auth.sign_in.password": PASSWORD})
        if "next item" not in client.state.widget("annotate.after_save").label:
            await client.press("annotate.after_save")
        cursors = [client.state.query_string]
        for _ in range(2):
            await client.press("annotate.label.correct.0")
            await client.press("annotate.submit")
            cursors.append(client.state.query_string)
        return cursors, client.state.widget("annotate.submit").label
    finally:
        await client.close()


def test_the_ws_client_signs_in_labels_and_goes_on(own_docket_server, tmp_path):
    db = Database(own_docket_server.database_url)
    try:
        with db.write() as session:
            user = create_user(session=session, name="e2e-ws-ann", role="annotator",
                               password=PASSWORD, actor=OPERATOR)
        project_id = make_annotation_project(db, tmp_path, [user], name="ws quiz",
                                             settings=ProjectSettings(blind=True))
        # In a thread of its own: Playwright's sync API (the other browser tests) may already
        # run an event loop in this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            cursors, submit_label = pool.submit(
                asyncio.run, _annotate(own_docket_server.url, user.name, project_id)).result()
        assert cursors == [f"project={project_id}&item={item}" for item in ("q0", "q1", "q2")]
        assert submit_label == "Save"  # blind, with judges: the choice next to it says what follows
        with db.read() as session:
            for item in ("q0", "q1"):
                entry = find_assignment(session=session, project_id=project_id, user_id=user.id,
                                        external_id=item)
                assert entry.status == "done"
                assert user_labels(session=session, item_id=entry.item_id, user_id=user.id) == {
                    "correct": "correct"}
    finally:
        db.dispose()
