"""Dashboard → Estimates and the annotators' label budget on Home (AppTest): the forest plot
of classical vs PPI++ intervals with numbers equal to ``ppi_py`` on the test's own arrays, the
one-sentence refusal of labels without a known design, the budget lines."""

from __future__ import annotations

import numpy as np
import pytest

from core.estimate.ppi import ppi_mean
from core.templates import TEMPLATES
from storage.annotation import submit_labels
from storage.annotation_settings import ProjectSettings, update_settings
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.projects import get_project
from storage.queues import find_assignment
from storage.review import find_item_id
from tests.app.annotate_helpers import make_annotation_project
from tests.app.apptest_helpers import open_page
from tests.app.review_helpers import DASHBOARD, open_with, plotly_figures, table_with
from tests.converters import write_jsonl

ppi_py = pytest.importorskip("ppi_py")


def truth(i: int) -> bool:
    return i % 3 != 0


def judge(i: int) -> bool:
    return truth(i) if i % 7 else not truth(i)


def records(n: int = 120, human_every: int = 4):
    return [{"id": f"q{i}", "prompt": f"Q{i}?", "response": f"A{i}", "model": f"m{i % 2}",
             "judges": {"gpt": {"correct": "correct" if judge(i) else "incorrect"},
                        "llama": {"correct": "correct" if i % 2 else "incorrect"}},
             **({"humans": {"ann": {"correct": "correct" if truth(i) else "incorrect"}}}
                if i % human_every == 0 else {})} for i in range(n)]


def import_project(db, tmp_path, sampled):
    import_file(db, write_jsonl(records(), tmp_path / "est.jsonl"), project_name="est",
                schema=TEMPLATES["correctness"], actor=OPERATOR, sampled=sampled)


def open_estimates(user):
    at = open_with(DASHBOARD, user=user, params={"dashboard.project": "est"})
    at.segmented_control(key="dashboard.view").set_value("Estimates").run()
    assert not at.exception
    return at


def test_estimates_view_shows_both_intervals_equal_to_ppi_py(app_db, admin, tmp_path):
    import_project(app_db, tmp_path, "uniform")
    at = open_estimates(admin)
    assert not at.error and not at.warning
    table = table_with(at, "PPI++").set_index("slice")
    assert list(table.index) == ["all", "m0", "m1"]
    # Oracle on the test's own truth table.
    labelled = np.array([i % 4 == 0 for i in range(120)])
    y = np.array([float(truth(i)) for i in range(120)])
    f = np.array([float(judge(i)) for i in range(120)])
    low, high = ppi_py.ppi_mean_ci(y[labelled], f[labelled], f[~labelled], alpha=0.05)
    point = float(np.ravel(ppi_py.ppi_mean_pointestimate(y[labelled], f[labelled],
                                                         f[~labelled]))[0])
    # Docket reports the small-sample interval (core.estimate.ppi, checked by hand there): the
    # same point as ppi_py, an interval holding ppi_py's textbook one.
    reported = ppi_mean(y[labelled], f[labelled], f[~labelled])
    assert reported.estimate == pytest.approx(point, abs=1e-12)
    assert reported.ci[0] <= float(low[0]) and reported.ci[1] >= float(high[0])
    assert table.loc["all", "PPI++"] == (f"{point:.3f} [{reported.ci[0]:.3f}, "
                                         f"{reported.ci[1]:.3f}]")
    assert table.loc["all", "labelled"] == 30 and table.loc["all", "items"] == 120
    forest = next(fig for fig in plotly_figures(at)
                  if any(t.get("name", "").startswith("Experts + judge") for t in fig["data"]))
    names = [trace["name"] for trace in forest["data"]]
    assert names == ["Expert labels alone (classical)", "Experts + judge (PPI++)"]
    ppi_trace = forest["data"][1]
    assert ppi_trace["x"][-1] == pytest.approx(point)  # "all" is drawn at the top
    sentences = [m.value for m in at.markdown if "95 of 100" in m.value]
    assert len(sentences) == 1 and "assumes" in sentences[0]
    budgets = table_with(at, "95 % half-width")
    assert list(budgets["judge"]) == ["gpt", "llama"]
    assert budgets["budget"][0].startswith(("≈", "enough labels"))


def test_estimates_view_states_why_labels_without_a_design_are_refused(app_db, admin, tmp_path):
    import_project(app_db, tmp_path, None)
    at = open_estimates(admin)
    assert not at.error
    [warning] = at.warning
    assert warning.value.startswith("No label on dimension")
    assert "none of its 30 labelled items was drawn with a known probability" in warning.value


def test_home_tells_the_annotator_the_label_budget(app_db, admin, annotator, tmp_path):
    project_id = make_annotation_project(
        app_db, tmp_path, [annotator], records=records(human_every=10**6),
        settings=ProjectSettings(queue_order="estimation", target_halfwidth=0.5))
    at = open_page(user=annotator)
    assert not at.exception
    assert not [c for c in at.caption if "Label budget" in c.value]  # no human label yet
    for i in range(40):
        item = f"q{i}"
        with app_db.read() as session:
            item_id = find_item_id(session=session, project_id=project_id, external_id=item)
            if find_assignment(session=session, project_id=project_id, user_id=annotator.id,
                               item_id=item_id) is None:
                continue
        submit_labels(app_db, project_id=project_id, user_id=annotator.id, item_id=item_id,
                      labels={"correct": "correct" if truth(i) else "incorrect"}, actor=OPERATOR)
    at = open_page(user=annotator)
    [line] = [c.value for c in at.caption if "Label budget" in c.value]
    assert "**quiz**: enough labels for ±0.5" in line
    with app_db.write() as session:
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(queue_order="estimation", target_halfwidth=0.05))
    at = open_page(user=annotator)
    [line] = [c.value for c in at.caption if "Label budget" in c.value]
    assert "**quiz**: ≈ " in line and " labels to go for ±0.05" in line


def test_a_stored_jury_can_power_the_estimate(app_db, admin, tmp_path):
    from storage.authz import OPERATOR
    from storage.juries import create_jury

    import_project(app_db, tmp_path, "uniform")
    with app_db.write() as session:
        pid = get_project(session=session, name="est").id
        create_jury(session=session, project_id=pid, name="pair", members=["gpt", "llama"],
                    rule="majority", actor=OPERATOR)
    at = open_estimates(admin)
    at.selectbox(key="estimates.judge").set_value("jury:pair").run()
    assert not at.exception and not at.warning
    assert list(table_with(at, "95 % half-width")["judge"]) == ["gpt", "llama", "jury:pair"]
    assert any("pair" in m.value and "95 of 100" in m.value for m in at.markdown)


def test_the_dashboard_filters_apply_to_the_estimates(app_db, admin, tmp_path):
    import_project(app_db, tmp_path, "uniform")
    with app_db.read() as session:
        pid = get_project(session=session, name="est").id
    at = open_estimates(admin)
    at.multiselect(key=f"dashboard.filter.{pid}.models").set_value(["m0"])
    at.multiselect(key=f"dashboard.filter.{pid}.judges.correct").set_value(["gpt"])  # left out
    at.button(key=f"dashboard.apply.{pid}").click().run()
    assert not at.exception and not at.warning
    assert at.selectbox(key="estimates.judge").options == ["llama"]
    table = table_with(at, "PPI++").set_index("slice")
    assert list(table.index) == ["all", "m0"]
    assert table.loc["all", "labelled"] == 30 and table.loc["all", "items"] == 60
    m0 = np.array([i % 2 == 0 for i in range(120)])
    labelled = np.array([i % 4 == 0 for i in range(120)])
    y = np.array([float(truth(i)) for i in range(120)])
    f = np.array([float(i % 2 == 1) for i in range(120)])  # llama's verdicts
    expected = ppi_mean(y[labelled], f[labelled], f[m0 & ~labelled])
    assert table.loc["all", "PPI++"] == (f"{expected.estimate:.3f} [{expected.ci[0]:.3f}, "
                                         f"{expected.ci[1]:.3f}]")
    assert list(table_with(at, "95 % half-width")["judge"]) == ["llama"]
    assert any("Only the items of model m0" in c.value for c in at.caption)
