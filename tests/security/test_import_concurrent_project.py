"""Simultaneous imports into the same new project all succeed and make one project.

Before the fix, three imports started together into a new project on PostgreSQL: one created
it, the two others died with an IntegrityError traceback (each had looked the name up, found
nothing, and inserted it). Creating a project is now an upsert. The imports here run on real
threads, each with its own engine and connections, as separate processes would; a barrier
releases them into the write at the same moment, and several rounds (a new project each) make
the race near certain.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from core.templates import TEMPLATES
from storage import importer
from storage.authz import OPERATOR
from storage.database import Database
from storage.models import Item, Project
from storage.projects import ProjectError, ensure_project
from tests.converters import write_jsonl

CORRECTNESS = TEMPLATES["correctness"]
THREADS = 3
ROUNDS = 4


def records(thread: int) -> list[dict]:
    # Shared items and one of each thread's own: every import adds something.
    shared = [{"id": f"s{i}", "prompt": f"Q{i}?", "response": "A"} for i in range(5)]
    return [*shared, {"id": f"t{thread}", "prompt": "Mine?", "response": "Yes"}]


@pytest.fixture
def url(db) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def run_together(url: str, work) -> list:
    """Run ``work(db, index)`` on THREADS threads, each with its own Database, started together."""
    barrier = threading.Barrier(THREADS)
    databases = [Database(url) for _ in range(THREADS)]

    def start(index: int):
        barrier.wait(timeout=30)
        return work(databases[index], index)

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            futures = [pool.submit(start, index) for index in range(THREADS)]
            return [future.result(timeout=120) for future in futures]
    finally:
        for database in databases:
            database.dispose()


def test_simultaneous_imports_into_a_new_project_all_succeed(db, url, tmp_path, monkeypatch):
    files = [write_jsonl(records(t), tmp_path / f"t{t}.jsonl") for t in range(THREADS)]
    batches = {t: importer.validate_table(importer.read_import_file(files[t]), CORRECTNESS)
               for t in range(THREADS)}
    for round_ in range(ROUNDS):
        name = f"new-{round_}"

        def work(database, index, name=name):
            return importer.write_import(database, project_name=name, schema=CORRECTNESS,
                                         batch=batches[index], actor=OPERATOR)

        summaries = run_together(url, work)
        assert sorted(s.created_project for s in summaries) == [False] * (THREADS - 1) + [True]
        assert sum(s.added for s in summaries) == 5 + THREADS
        with db.read() as session:
            project_ids = session.execute(select(Project.id).where(Project.name == name)).all()
            assert len(project_ids) == 1
            items = session.execute(select(func.count()).select_from(Item)
                                    .where(Item.project_id == project_ids[0][0])).scalar()
            assert items == 5 + THREADS


def test_simultaneous_import_file_calls(db, url, tmp_path):
    files = [write_jsonl(records(t), tmp_path / f"t{t}.jsonl") for t in range(THREADS)]

    def work(database, index):
        return importer.import_file(database, files[index], project_name="together",
                                    schema=CORRECTNESS, actor=OPERATOR)[1]

    summaries = run_together(url, work)
    assert sum(s.created_project for s in summaries) == 1
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(Project)).scalar() == 1
        assert session.execute(select(func.count()).select_from(Item)).scalar() == 5 + THREADS


def test_simultaneous_creation_with_different_schemas_refuses_all_but_one(db, url):
    schemas = [TEMPLATES["correctness"], TEMPLATES["pairwise"], TEMPLATES["correctness"]]

    def work(database, index):
        try:
            with database.write() as session:
                return ensure_project(session=session, name="contested", schema=schemas[index])[1]
        except ProjectError as exc:
            return str(exc)

    outcomes = run_together(url, work)
    with db.read() as session:
        [(template,)] = session.execute(select(Project.template)).all()
    winners = [index for index, schema in enumerate(schemas) if schema.name == template]
    for index, outcome in enumerate(outcomes):
        if index in winners:
            assert outcome in (True, False)
        else:
            assert outcome == ("project 'contested' uses task "
                               f"{template!r} with a different schema; import into a new "
                               "project, or import without choosing a task")
