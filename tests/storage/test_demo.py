"""The demo projects: one per built-in template, complete, with real disagreements, idempotent.

Expectations are computed from the demo files themselves (read with the json module, not the
importer) or, for the PandaLM-derived pairwise file, from the upstream dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table in SQLModel.metadata)
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.database import Database
from storage.demo import DEMO_DIR, demo_files, load_demo
from storage.projects import ProjectInfo, get_project, project_summaries
from storage.readback import human_labels_frame, items_frame, verdicts_frame


def read_demo_records(template: str) -> list[dict]:
    """The records of one demo file, parsed independently of the importer."""
    lines = demo_files()[template].read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def project_frames(db: Database, template: str
                   ) -> tuple[ProjectInfo, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The demo project for ``template`` with its items, verdicts and human labels."""
    with db.read() as session:
        project = get_project(session=session, name=template)
        return (project,
                items_frame(session=session, project_id=project.id),
                verdicts_frame(session=session, project_id=project.id),
                human_labels_frame(session=session, project_id=project.id))


def row_counts(db: Database) -> dict[str, int]:
    """Rows in every table of the schema."""
    with db.read() as session:
        return {table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
                for table in SQLModel.metadata.sorted_tables}


@pytest.fixture
def demo_db(db: Database) -> Database:
    """A database (SQLite file or PostgreSQL) with the demo loaded once."""
    load_demo(db, actor=OPERATOR)
    return db


def test_there_is_a_demo_file_for_every_template_and_nothing_else():
    assert {path.name for path in DEMO_DIR.glob("*.jsonl")} == {f"{name}.jsonl" for name in TEMPLATES}


def test_load_demo_creates_one_project_per_template(demo_db):
    with demo_db.read() as session:
        summaries = {s.name: s for s in project_summaries(session=session)}
    assert set(summaries) == set(TEMPLATES)
    for template in TEMPLATES:
        project, items, verdicts, humans = project_frames(demo_db, template)
        assert project.template == template
        assert project.schema == TEMPLATES[template]
        expected_ids = [record["id"] for record in read_demo_records(template)]
        assert sorted(items["id"]) == sorted(expected_ids), template
        if TEMPLATES[template].dimensions[0].is_ranking:
            # Each ranked item holds four responses by different models: no single `model`.
            assert 12 <= len(items) <= 40 and items["model"].isna().all(), template
        else:
            assert 20 <= len(items) <= 40, f"{template}: {len(items)} items"
            assert 2 <= items["model"].nunique() <= 4, template
        assert summaries[template].items == len(items)
        assert verdicts["judge"].nunique() >= 2, template
        assert summaries[template].judges == verdicts["judge"].nunique()
        assert humans["annotator"].nunique() >= 2, template
        assert 2 <= items["group"].nunique() <= 4, template


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_every_judge_labels_every_dimension_of_every_item(demo_db, template):
    _, items, verdicts, _ = project_frames(demo_db, template)
    dimensions = TEMPLATES[template].dimension_names
    expected = {(item_id, dimension) for item_id in items["id"] for dimension in dimensions}
    for judge, own in verdicts.groupby("judge"):
        pairs = list(zip(own["id"], own["dimension"], strict=True))
        assert len(pairs) == len(set(pairs)), f"{template}/{judge}: duplicate verdicts"
        assert set(pairs) == expected, f"{template}/{judge}: missing or extra verdicts"
    assert len(verdicts) == len(expected) * verdicts["judge"].nunique()
    empty = verdicts[verdicts["rationale"].fillna("").str.strip() == ""]
    assert empty.empty, f"{template}: verdicts without rationale: {empty[['id', 'judge']].values.tolist()}"


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_demo_has_judge_human_and_human_human_disagreements(demo_db, template):
    _, items, verdicts, humans = project_frames(demo_db, template)
    pairs = verdicts.merge(humans, on=["id", "dimension"], suffixes=("_judge", "_human"))
    judge_vs_human = pairs[pairs["label_judge"] != pairs["label_human"]]
    assert not judge_vs_human.empty, f"{template}: judges always agree with the humans"
    labels_per_cell = humans.groupby(["id", "dimension"])["label"].nunique()
    assert (labels_per_cell > 1).any(), f"{template}: the humans never disagree"
    judges_per_cell = verdicts.groupby(["id", "dimension"])["label"].nunique()
    assert (judges_per_cell > 1).any(), f"{template}: the judges never disagree with each other"
    labelled = set(humans["id"])
    assert set(items["id"]) - labelled, f"{template}: no unlabelled item left for the queue"
    assert len(labelled) > len(items) / 2, f"{template}: humans labelled only {len(labelled)} items"


def test_loading_the_demo_twice_changes_nothing(demo_db):
    before = row_counts(demo_db)
    assert before["item"] == sum(len(read_demo_records(t)) for t in TEMPLATES)
    summaries = load_demo(demo_db, actor=OPERATOR)
    assert [s.project for s in summaries] == list(TEMPLATES)
    for summary in summaries:
        assert summary.unchanged == summary.total_records == len(read_demo_records(summary.project))
        assert (summary.added, summary.updated, summary.skipped) == (0, 0, 0)
        assert (summary.verdicts, summary.human_labels) == (0, 0)
        assert not summary.created_project
    assert row_counts(demo_db) == before


def test_thematic_alignment_sources_are_lists_of_survey_answers(demo_db):
    _, items, _, _ = project_frames(demo_db, "thematic_alignment")
    for item_id, fields in zip(items["id"], items["fields"], strict=True):
        source = fields["source"]
        assert isinstance(source, list) and len(source) >= 5, item_id
        assert all(isinstance(text, str) and text.strip() for text in source), item_id


def test_correctness_has_a_reference_on_most_items(demo_db):
    _, items, _, _ = project_frames(demo_db, "correctness")
    references = [fields.get("reference") for fields in items["fields"]]
    with_reference = [ref for ref in references if isinstance(ref, str) and ref.strip()]
    assert len(with_reference) > len(items) / 2


@pytest.mark.shared_data
def test_pairwise_demo_is_faithful_to_pandalm(shared_data: Path):
    """Every pairwise demo item carries PandaLM's texts, judge results and human labels."""
    data = shared_data / "PandaLM" / "data"

    def by_idx(name: str) -> dict[int, dict]:
        return {row["idx"]: row for row in json.loads((data / name).read_text(encoding="utf-8"))}

    tests = by_idx("testset-v1.json")
    gpt = by_idx("gpt-3.5-turbo-testset-v1.json")
    panda = by_idx("pandalm-7b-testset-v1.json")
    int_label = {0: "tie", 1: "A", 2: "B"}
    gpt_label = {"1": "A", "2": "B", "Tie": "tie"}
    renamed = {"anna.k": "annotator1", "jonas": "annotator2", "priya": "annotator3"}
    for record in read_demo_records("pairwise"):
        idx = int(record["id"].removeprefix("pandalm-"))
        source = tests[idx]
        assert record["prompt"].startswith(source["instruction"])
        if source["input"].strip():
            assert record["prompt"] == f"{source['instruction']}\n\n{source['input']}"
        assert (record["response_a"], record["response_b"]) == (source["response1"], source["response2"])
        assert record["group"] == source["motivation_app"]
        assert record["model"] == source["cmp_key"].replace("_", " vs ")
        assert record["judges"]["gpt-3.5-turbo"]["preference"] == gpt_label[gpt[idx]["gpt_result"]]
        assert record["judges"]["pandalm-7b"]["preference"] == int_label[panda[idx]["pandalm_result"]]
        for name, labels in record.get("humans", {}).items():
            assert labels["preference"] == int_label[source[renamed[name]]], (idx, name)


def test_image_scoring_images_are_drawn_and_stored_once(demo_db):
    """Every image_scoring item holds the SHA-256 of the picture its demo path names, drawn
    with Pillow at load time (no image file in the repository); each distinct picture is one
    stored image."""
    import hashlib
    import io

    from PIL import Image

    from storage.demo_images import draw_demo_image
    from storage.images import image_count, read_image

    _, items, _, _ = project_frames(demo_db, "image_scoring")
    paths = {record["id"]: record["image"] for record in read_demo_records("image_scoring")}
    for item_id, fields in zip(items["id"], items["fields"], strict=True):
        assert fields["image"] == hashlib.sha256(draw_demo_image(paths[item_id])).hexdigest()
    assert image_count(demo_db) == len(set(paths.values())) < len(paths)
    stored = read_image(demo_db, sha256=items["fields"][0]["image"])
    assert (stored.mime, stored.width, stored.height) == ("image/png", 480, 320)
    assert Image.open(io.BytesIO(stored.data)).size == (480, 320)
    assert not list(DEMO_DIR.glob("**/*.png"))
