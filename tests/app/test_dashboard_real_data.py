"""The dashboard on a labels-only project (TriviaQA "Judging the Judges" V1: questions,
accepted answers, no response text, one human): the numbers of ../shared/data/README.md.

The data has no licence: it is read in place and converted into tmp_path, never copied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.safe_text import escape_markdown
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from tests.app.review_helpers import DASHBOARD, DISAGREEMENTS, open_with, table_with
from tests.converters import triviaqa_v1_records, write_csv

pytestmark = pytest.mark.shared_data

# README, independently computed on V1 pairs where both labels are present: kappa, % agreement.
TRIVIAQA_V1 = {"GPT-4": (0.7876, 91.15), "Llama3-70B": (0.8179, 92.66),
               "Contains": (0.6832, 84.78), "EM": (0.4578, 70.88)}


@pytest.fixture
def triviaqa(app_db, tmp_path: Path, shared_data: Path):
    path = write_csv(triviaqa_v1_records(shared_data), tmp_path / "triviaqa_v1.csv")
    import_file(app_db, path, project_name="triviaqa", schema=TEMPLATES["correctness"], actor=OPERATOR)
    return app_db


def test_dashboard_shows_the_published_kappas(triviaqa, admin):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "triviaqa"})

    assert not at.exception
    table = table_with(at, "Cohen's κ").set_index("rater")
    for judge, (kappa, agreement) in TRIVIAQA_V1.items():
        assert round(table.loc[judge, "Cohen's κ"], 4) == kappa, judge
        assert round(table.loc[judge, "Percent agreement"], 2) == agreement, judge
        assert table.loc[judge, "n"] == 3595, judge
    (sentence,) = [m.value for m in at.markdown if "agrees best" in m.value]
    best = table["Cohen's κ"].idxmax()
    assert round(table.loc[best, "Cohen's κ"], 4) >= 0.8179  # at least Llama3-70B's
    assert sentence.startswith(f"**{escape_markdown(best)}** agrees best")
    assert "No human–human range: only one annotator labelled this dimension" in sentence

    at.segmented_control(key="dashboard.view").set_value("Model ranking").run()
    assert not at.exception


def test_disagreements_open_an_item_without_a_response(triviaqa, admin):
    at = open_with(DISAGREEMENTS, user=admin, params={"disagreements.project": "triviaqa"})
    table = table_with(at, "judges_against")
    at.selectbox(key="disagreements.item").set_value(table["item"][0]).run()

    assert not at.exception
    assert "(not provided)" in [c.value for c in at.caption]  # no response text in V1
