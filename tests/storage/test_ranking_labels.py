"""Ranking labels read back from the database (SQLite and PostgreSQL): each stored order
"2,1,3" is its order code in the ratings matrix, a judge's several samples count as their
Borda order, a stored text that is no order is refused by name, and the metrics document, the
estimates and the label budget of a ranking project say what applies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from core.metrics import MetricsInputError
from core.metrics.batch_ranking import code_order
from core.metrics.ratings import NotApplicableError
from storage.authz import OPERATOR
from storage.estimates import estimate, project_budget
from storage.importer import import_file
from storage.labels import load_ratings, load_ratings_and_samples
from storage.metrics_document import MetricsRequest, metrics_document
from storage.models import Annotation
from storage.projects import get_project
from tests.ranking_data import HAND_EXPECTED, HAND_RECORDS, METRICS, RANKING, record, write_jsonl

DIMENSION = RANKING.dimension("ranking")


def load(db, name="rk"):
    with db.read() as session:
        project = get_project(session=session, name=name)
        return load_ratings_and_samples(session=session, project_id=project.id,
                                        dimension=DIMENSION)


def test_stored_orders_read_back_as_order_codes(db, tmp_path: Path):
    import_file(db, write_jsonl(HAND_RECORDS, tmp_path / "rk.jsonl"), project_name="rk",
                schema=RANKING, actor=OPERATOR)
    ratings, samples = load(db)

    assert samples == {}
    assert ratings.raters == ("human:ann", "human:bob", "judge:gpt")
    assert list(ratings.item_ids) == ["i1", "i2", "i3", "i4"]
    shown = [[None if np.isnan(v) else code_order(v) for v in row] for row in ratings.values]
    assert shown == [[(1, 2, 3), (1, 2, 3), (1, 2, 3)], [(2, 1, 3), (1, 2, 3), (3, 2, 1)],
                     [(3, 1, 2), (3, 2, 1), (3, 1, 2)], [(1, 3, 2), None, (2, 1, 3)]]
    document = metrics_document(db, project_name="rk", actor=OPERATOR,
                                request=MetricsRequest(n_resamples=100)).to_dict()
    for (a, b), expected in HAND_EXPECTED.items():
        pair = next(p for p in document["pairs"] if (p["a"], p["b"]) == (a, b))
        assert pair["n"] == expected["n"]
        for metric in METRICS:
            assert pair[metric] == pytest.approx(expected[metric]), (a, b, metric)
            assert len(pair["ci95"][metric]) == 2


def test_a_judges_samples_count_as_their_borda_order(db, tmp_path: Path):
    # Three samples on x: (1,2,3), (2,1,3), (2,1,3) -> Borda (2,1,3); on y one sample only.
    rows = [record("x", 3, {"ann": (1, 2, 3)}, {}), record("y", 3, {"ann": (3, 2, 1)}, {})]
    rows[0]["judges"] = {"gpt": [{"ranking": [1, 2, 3]}, {"ranking": "2,1,3"},
                                 {"ranking": [2, 1, 3]}]}
    rows[1]["judges"] = {"gpt": [{"ranking": [3, 1, 2]}]}
    import_file(db, write_jsonl(rows, tmp_path / "s.jsonl"), project_name="rk",
                schema=RANKING, actor=OPERATOR)
    ratings, samples = load(db)

    assert code_order(ratings.column("judge:gpt")[0]) == (2, 1, 3)
    assert code_order(ratings.column("judge:gpt")[1]) == (3, 1, 2)
    assert [code_order(v) for v in samples["judge:gpt"][0]] == [(1, 2, 3), (2, 1, 3), (2, 1, 3)]


def test_a_stored_text_that_is_no_order_is_refused_by_name(db, tmp_path: Path):
    import_file(db, write_jsonl(HAND_RECORDS, tmp_path / "rk.jsonl"), project_name="rk",
                schema=RANKING, actor=OPERATOR)
    with db.write() as session:
        session.execute(update(Annotation).values(label="1,1,2"))
    with pytest.raises(MetricsInputError, match=r"stored label '1,1,2' of ranking dimension "
                                                r"'ranking' is not an order: '1,1,2' must order"):
        load(db)


def test_estimates_and_budgets_do_not_apply_to_a_ranking(db, tmp_path: Path):
    import_file(db, write_jsonl(HAND_RECORDS, tmp_path / "rk.jsonl"), project_name="rk",
                schema=RANKING, actor=OPERATOR)
    with db.read() as session:
        project = get_project(session=session, name="rk")
        assert load_ratings(session=session, project_id=project.id, dimension=DIMENSION).raters
        with pytest.raises(NotApplicableError, match=r"The PPI\+\+ estimate does not apply to "
                                                     r"'ranking'") as caught:
            estimate(session=session, project=project, judge="gpt")
        assert caught.value.not_applicable.scale == "ranking"
        assert project_budget(session=session, project_id=project.id)[0] is None
