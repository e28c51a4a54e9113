"""Helpers of the Dashboard and Disagreements page tests: open a page with query parameters,
read its tables, and independent oracles computed straight from the demo files (plain Python
and scikit-learn, not Docket's metrics)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sklearn.metrics import cohen_kappa_score
from streamlit.testing.v1 import AppTest

from core.schema import Dimension
from core.templates import TEMPLATES
from storage.demo import demo_files
from storage.users import UserInfo
from tests.app.apptest_helpers import APP_TIMEOUT_S, signed_in_entries
from tests.conftest import REPO_ROOT
from tests.ranking_data import CONSENSUS, oracle, oracle_disagreement_items, orders_by_rater

DASHBOARD = "pages/5_Dashboard.py"
DISAGREEMENTS = "pages/6_Disagreements.py"


def open_with(path: str, *, user: UserInfo | None, params: Mapping[str, str]) -> AppTest:
    """Run ``path`` as a deep link with query ``params``, signed in as ``user`` (or cold)."""
    at = AppTest.from_file(REPO_ROOT / "app.py", default_timeout=APP_TIMEOUT_S)
    for key, value in (signed_in_entries(user) if user is not None else {}).items():
        at.session_state[key] = value
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(path)
    return at.run()


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The one table on the page that has ``column``."""
    frames = [df.value for df in at.dataframe if column in df.value.columns]
    assert len(frames) == 1, f"expected one table with a {column!r} column, found {len(frames)}"
    return frames[0]


def plotly_figures(at: AppTest) -> list[dict[str, Any]]:
    """The plotly figures of the page, as their JSON specs."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def demo_records(template: str) -> list[dict[str, Any]]:
    """The records of a shipped demo file."""
    lines = demo_files()[template].read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def majority(labels: list[str]) -> str | None:
    """The most frequent label, or None on a tie for the top (or no labels)."""
    counts = Counter(labels).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def _first_sample(verdict: Any) -> dict[str, Any]:
    return verdict[0] if isinstance(verdict, list) else verdict


def human_and_judge_labels(records: list[dict[str, Any]], dimension: Dimension
                           ) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """Per item id: the human labels; per judge: item id -> label (first sample)."""
    humans: dict[str, list[str]] = {}
    judges: dict[str, dict[str, str]] = {}
    for record in records:
        labels = [dimension.normalize(h[dimension.name]) for h in record.get("humans", {}).values()
                  if h.get(dimension.name) not in (None, "")]
        humans[str(record["id"])] = labels
        for judge, verdict in record.get("judges", {}).items():
            label = _first_sample(verdict).get(dimension.name)
            if label not in (None, ""):
                judges.setdefault(judge, {})[str(record["id"])] = dimension.normalize(label)
    return humans, judges


def oracle_against_consensus(template: str, dimension_name: str) -> dict[str, tuple[float, float, int]]:
    """Per judge: (main metric, percent agreement, n) against the humans' majority label,
    computed with scikit-learn from the demo file (Cohen's κ, quadratically weighted over the
    whole scale for an ordinal dimension); on a ranking dimension (mean Kendall τ, top-1
    agreement, n) against the humans' Borda order, from scipy (tests/ranking_data.py)."""
    dimension = TEMPLATES[template].dimension(dimension_name)
    if dimension.is_ranking:
        raters = orders_by_rater(demo_records(template))
        found = {name.split(":", 1)[1]: oracle(raters[CONSENSUS], orders)
                 for name, orders in raters.items() if name.startswith("judge:")}
        return {judge: (values["kendall_tau_b"], values["top1_agreement"], int(values["n"]))
                for judge, values in found.items()}
    humans, judges = human_and_judge_labels(demo_records(template), dimension)
    consensus = {item: majority(labels) for item, labels in humans.items()}
    result = {}
    for judge, labels in judges.items():
        items = [i for i in labels if consensus.get(i) is not None]
        a = [consensus[i] for i in items]
        b = [labels[i] for i in items]
        weights = "quadratic" if dimension.scale == "ordinal" else None
        kappa = cohen_kappa_score(a, b, labels=list(dimension.label_values), weights=weights)
        agreement = sum(x == y for x, y in zip(a, b, strict=True)) / len(items)
        result[judge] = (float(kappa), agreement, len(items))
    return result


def oracle_disagreement_count(template: str) -> int:
    """Item x dimension pairs where a judge differs from the humans' majority, or the humans
    differ among themselves (a ranking dimension: orders that disagree, see
    tests/ranking_data.py)."""
    schema = TEMPLATES[template]
    count = 0
    for dimension in schema.dimensions:
        if dimension.is_ranking:
            count += len(oracle_disagreement_items(demo_records(template)))
            continue
        humans, judges = human_and_judge_labels(demo_records(template), dimension)
        for item, labels in humans.items():
            if not labels:
                continue
            consensus = majority(labels)
            split = len(set(labels)) > 1
            against = consensus is not None and any(
                verdicts.get(item) not in (None, consensus) for verdicts in judges.values())
            count += split or against
    return count
