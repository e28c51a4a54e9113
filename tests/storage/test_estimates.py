"""Estimates from stored labels on SQLite and PostgreSQL: the sampling design recorded at
queue building, the refusal of labels without one, imports declared a uniform sample."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import select

from core.estimate.ppi import classical_mean, ppi_mean
from core.estimate.report import NoDesignError
from core.metrics import MetricsInputError
from core.templates import TEMPLATES
from storage.annotation import skip_item, submit_labels
from storage.annotation_settings import (
    AnnotationError,
    ProjectSettings,
    get_settings,
    set_members,
    update_settings,
)
from storage.authz import OPERATOR
from storage.estimates import estimate, queue_design
from storage.importer import import_file
from storage.models import Annotation, Assignment
from storage.projects import get_project
from storage.queues import next_assignment, rebuild_queues
from storage.users import create_user
from tests.converters import write_jsonl

N = 40


def truth(i: int) -> str:
    return "correct" if i % 3 else "incorrect"


def make_project(db, tmp_path, *, humans: dict[int, str] | None = None, sampled=None,
                 name="quiz") -> int:
    records = []
    for i in range(N):
        judges = {"gpt": {"correct": truth(i) if i % 5 else "correct"},
                  "llama": {"correct": "correct" if i % 2 else truth(i)}}
        record = {"id": f"q{i:02d}", "prompt": f"Q{i}?", "response": f"A{i}", "model": f"m{i % 2}",
                  "judges": judges}
        if humans and i in humans:
            record["humans"] = {"expert": {"correct": humans[i]}}
        records.append(record)
    import_file(db, write_jsonl(records, tmp_path / f"{name}.jsonl"), project_name=name,
                schema=TEMPLATES["correctness"], actor=OPERATOR, sampled=sampled)
    with db.read() as session:
        return get_project(session=session, name=name).id


def start_queue(db, project_id, order, **more):
    with db.write() as session:
        user = create_user(session=session, name="ann", role="annotator", password=None,
                           actor=OPERATOR).id
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(queue_order=order, queue_seed=7, **more))
        set_members(session=session, project_id=project_id, user_ids=[user], actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    return user


def label_next(db, project_id, user, count):
    """Label the next ``count`` items of the queue with the truth; return their external ids."""
    done = []
    for _ in range(count):
        with db.read() as session:
            slot = next_assignment(session=session, project_id=project_id, user_id=user)
        index = int(slot.external_id[1:])
        submit_labels(db, project_id=project_id, user_id=user, item_id=slot.item_id,
                      labels={"correct": truth(index)}, actor=OPERATOR)
        done.append(slot.external_id)
    return done


def report(db, project_id, **options):
    with db.read() as session:
        project = get_project(session=session, name="quiz")
        assert project.id == project_id
        return estimate(session=session, project=project, judge="gpt", n_resamples=200, **options)


def gpt(i: int) -> float:
    return 1.0 if (truth(i) if i % 5 else "correct") == "correct" else 0.0


def test_labels_from_a_sequential_queue_are_refused_in_one_sentence(db, tmp_path):
    project_id = make_project(db, tmp_path)
    user = start_queue(db, project_id, "sequential")
    label_next(db, project_id, user, 10)
    with pytest.raises(NoDesignError) as refused:
        report(db, project_id)
    message = str(refused.value)
    assert message.count(". ") == 0 and message.endswith(").")
    assert "none of its 10 labelled items was drawn with a known probability" in message
    assert "--sampled uniform" in message and "estimation or active" in message


def test_estimation_order_records_shares_and_estimates_from_the_labelled_prefix(db, tmp_path):
    project_id = make_project(db, tmp_path)
    user = start_queue(db, project_id, "estimation")
    with db.read() as session:
        shares = session.execute(select(Assignment.draw_share)
                                 .where(Assignment.project_id == project_id)).scalars().all()
    assert len(shares) == N and all(s == pytest.approx(1 / N) for s in shares)
    labelled = label_next(db, project_id, user, 12)
    result = report(db, project_id, target=0.05)
    assert (result.design_kind, result.design_source, result.refused) == ("uniform", "queue", 0)
    [overall] = result.estimates
    assert (overall.n_labelled, overall.n_total) == (12, N)
    # Oracle: PPI++ on the same arrays computed here from the test's own truth table.
    ids = [int(e[1:]) for e in labelled]
    rest = [i for i in range(N) if i not in ids]
    y = np.array([1.0 if truth(i) == "correct" else 0.0 for i in ids])
    expected = ppi_mean(y, [gpt(i) for i in ids], [gpt(i) for i in rest])
    assert overall.ppi.ci == pytest.approx(expected.ci, abs=1e-12)
    assert overall.classical.ci == pytest.approx(classical_mean(y).ci, abs=1e-12)
    assert overall.labels_needed == math.ceil(12 * (expected.halfwidth / 0.05) ** 2 - 1e-9) - 12
    by_model = report(db, project_id, by="model")
    assert [s.slice for s in by_model.estimates] == ["all", "m0", "m1"]
    assert sum(s.n_labelled for s in by_model.estimates[1:]) == 12
    document = result.to_dict()
    assert list(document) == ["project", "dimension", "judge", "target", "design", "estimates",
                              "judges"]
    assert list(document["estimates"][0]) == ["slice", "n_labelled", "n_total", "classical",
                                              "ppi", "effective_labels", "labels_needed"]
    assert [j["rater"] for j in document["judges"]] == ["judge:gpt", "judge:llama"]


def test_a_skipped_item_is_passed_over_and_labels_after_a_gap_wait(db, tmp_path):
    project_id = make_project(db, tmp_path)
    user = start_queue(db, project_id, "estimation")
    label_next(db, project_id, user, 5)
    with db.read() as session:
        slot = next_assignment(session=session, project_id=project_id, user_id=user)
    skip_item(db, project_id=project_id, user_id=user, item_id=slot.item_id, reason="unclear",
              actor=OPERATOR)
    label_next(db, project_id, user, 3)
    result = report(db, project_id)
    assert result.estimates[0].n_labelled == 8 and "1 skipped item left out" in result.design_note
    # A label far down the order, given out of turn (as after a switch to another order),
    # waits for the items before it.
    with db.read() as session:
        design = queue_design(session=session, project_id=project_id)
    last = max(design, key=lambda e: design[e].position)
    with db.write() as session:
        item_id = session.execute(select(Assignment.item_id).where(Assignment.project_id == project_id,
                                         Assignment.position == design[last].position)).scalar()
        session.add(Annotation(item_id=item_id, user_id=user, dimension="correct",
                               label="correct", source="ui"))
    later = report(db, project_id)
    assert later.estimates[0].n_labelled == 8 and later.refused == 1
    assert "1 labelled item wait" in later.design_note


def test_active_order_favours_items_the_judges_disagree_on(db, tmp_path):
    project_id = make_project(db, tmp_path)
    user = start_queue(db, project_id, "active")
    with db.read() as session:
        design = queue_design(session=session, project_id=project_id)
    assert sum(slot.share for slot in design.values()) == pytest.approx(1.0)
    gpt_labels = {f"q{i:02d}": gpt(i) for i in range(N)}
    llama = {f"q{i:02d}": 1.0 if (i % 2 or truth(i) == "correct") else 0.0 for i in range(N)}
    agree = [e for e in design if gpt_labels[e] == llama[e]]
    differ = [e for e in design if gpt_labels[e] != llama[e]]
    assert agree and differ
    # A fifth uniform, the rest on the disagreements: √(share of differing pairs) = √1 each.
    assert all(design[e].share == pytest.approx(0.2 / N) for e in agree)
    assert all(design[e].share == pytest.approx(0.2 / N + 0.8 / len(differ)) for e in differ)
    label_next(db, project_id, user, 15)
    result = report(db, project_id)
    assert result.design_kind == "active" and result.estimates[0].n_labelled == 15
    # Switching to a non-design order clears the shares: those labels have no known design.
    with db.write() as session:
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(queue_order="sequential"))
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    with pytest.raises(NoDesignError):
        report(db, project_id)


def test_imported_labels_count_only_when_declared_a_uniform_sample(db, tmp_path):
    humans = {i: truth(i) for i in range(0, N, 4)}
    project_id = make_project(db, tmp_path, humans=humans)
    with pytest.raises(NoDesignError):
        report(db, project_id)
    make_project(db, tmp_path, humans=humans, sampled="uniform")  # same file, declared now
    with db.read() as session:
        marked = session.execute(select(Annotation.sampled)).scalars().all()
    assert marked == ["uniform"] * len(humans)
    result = report(db, project_id)
    assert (result.design_kind, result.design_source) == ("uniform", "import")
    assert result.estimates[0].n_labelled == len(humans)


def test_target_halfwidth_is_a_project_setting(db, tmp_path):
    project_id = make_project(db, tmp_path)
    with db.write() as session:
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(target_halfwidth=0.1))
    with db.read() as session:
        assert get_settings(session=session, project_id=project_id).target_halfwidth == 0.1
    with pytest.raises(AnnotationError, match="target half-width"), db.write() as session:
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(target_halfwidth=0))
    user = start_queue(db, project_id, "estimation", target_halfwidth=0.1)
    label_next(db, project_id, user, 6)
    assert report(db, project_id).target == 0.1


def _slots(db, project_id):
    """item external id -> (position, draw share) of the queue's slots."""
    from storage.models import Item
    with db.read() as session:
        rows = session.execute(select(Item.external_id, Assignment.position, Assignment.draw_share)
                               .join(Item, Item.id == Assignment.item_id)
                               .where(Assignment.project_id == project_id)).all()
    return {external: (position, share) for external, position, share in rows}


@pytest.mark.parametrize("order", ["estimation", "active"])
def test_items_added_later_join_the_sample_without_breaking_the_labels_already_given(
        db, tmp_path, order):
    project_id = make_project(db, tmp_path)
    user = start_queue(db, project_id, order)
    before = _slots(db, project_id)
    labelled = label_next(db, project_id, user, 10)
    assert report(db, project_id).estimates[0].n_labelled == 10

    more = [{"id": f"q{i:02d}", "prompt": f"Q{i}?", "response": f"A{i}", "model": f"m{i % 2}",
             "judges": {"gpt": {"correct": truth(i) if i % 5 else "correct"},
                        "llama": {"correct": "correct" if i % 2 else truth(i)}}}
            for i in range(N, N + 20)]
    import_file(db, write_jsonl(more, tmp_path / "more.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    waiting = report(db, project_id)
    assert waiting.estimates[0].n_total == N  # the estimate's population is still the sample's
    assert "20 items added after the queues were built are not in the sample" in \
        waiting.design_note

    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    after = _slots(db, project_id)
    assert len(after) == N + 20 and sum(share for _, share in after.values()) == \
        pytest.approx(1.0)
    # The items drawn before keep their order and (up to one factor) their shares ...
    old = sorted(before, key=lambda e: before[e][0])
    assert sorted(old, key=lambda e: after[e][0]) == old
    ratios = [after[e][1] / before[e][1] for e in old]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-9)
    if order == "active":
        assert len({round(share, 12) for _, share in before.values()}) > 1
    # ... so once the added items that drew a place before the last label are labelled,
    # every earlier label counts again, and the population is all 60 items.
    cutoff = max(after[e][0] for e in labelled)
    early_new = [e for e in after if e not in before and after[e][0] < cutoff]
    result = report(db, project_id)
    assert result.estimates[0].n_total == N + 20
    assert "added after the queues" not in result.design_note
    if early_new:
        assert result.estimates[0].n_labelled < 10
    label_next(db, project_id, user, len(early_new))
    assert report(db, project_id).estimates[0].n_labelled == 10 + len(early_new)


@pytest.mark.parametrize("order", ["estimation", "active"])
def test_a_filtered_estimate_is_the_slice_of_the_whole_design(db, tmp_path, order):
    # Restricting to model m0 keeps the whole queue's design (inclusion probabilities from
    # every drawn item), so it equals the m0 row of the per-model estimate exactly.
    project_id = make_project(db, tmp_path)
    user = start_queue(db, project_id, order)
    label_next(db, project_id, user, 14)
    per_model = {s.slice: s for s in report(db, project_id, by="model").estimates}
    [only] = report(db, project_id, models=["m0"]).estimates
    assert only.slice == "all" and (only.n_labelled, only.n_total) == (
        per_model["m0"].n_labelled, N // 2)
    assert only.ppi.ci == per_model["m0"].ppi.ci
    assert only.classical.ci == per_model["m0"].classical.ci
    with pytest.raises(MetricsInputError, match="no item is in the chosen groups and models"):
        report(db, project_id, models=["m9"])
    # The rater filter: only the chosen judges get budgets; the powering judge stays.
    budgets = report(db, project_id, raters=["human:ann", "judge:llama"]).judges
    assert [b.rater for b in budgets] == ["judge:gpt", "judge:llama"]
    assert [b.rater for b in report(db, project_id, raters=["human:ann"]).judges] == \
        ["judge:gpt"]
