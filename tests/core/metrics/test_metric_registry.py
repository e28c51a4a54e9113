"""The registry is complete and self-consistent, and the README documents every metric."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.metrics import REGISTRY, group_metrics_for, pair_metrics_for

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
SCALES = ("nominal", "ordinal", "interval")


@pytest.mark.parametrize("name", REGISTRY)
def test_definition_is_complete(name):
    definition = REGISTRY[name]
    assert definition.name == name
    assert definition.scales and set(definition.scales) <= set(SCALES)
    assert definition.pair is not None or definition.group is not None
    low, high = definition.bounds
    assert low < high and low <= definition.perfect <= high
    text = definition.definition
    assert len(text) > 150 and "Undefined" in text, "formula, use and undefined cases"
    assert re.search(r"[=Σ]", text), "the definition shows its formula"


@pytest.mark.parametrize("name", REGISTRY)
def test_readme_documents_every_metric(name):
    row = next((line for line in README.splitlines() if f"`{name}`" in line and line.startswith("|")),
               None)
    assert row is not None, f"README metrics table lacks {name}"
    for scale in REGISTRY[name].scales:
        assert scale in row or "all" in row, (name, scale)


def test_issue_4_metrics_per_scale():
    pairs = {scale: {d.name for d in pair_metrics_for(scale)} for scale in SCALES}
    assert pairs["nominal"] == {"percent_agreement", "cohen_kappa", "scott_pi", "gwet_ac1",
                                "krippendorff_alpha"}
    assert pairs["ordinal"] == pairs["nominal"] | {"kappa_linear", "kappa_quadratic", "spearman",
                                                   "kendall_tau_b", "mae"}
    assert pairs["interval"] == {"pearson", "spearman", "mae", "mean_signed_difference",
                                 "krippendorff_alpha"}
    groups = {scale: [d.name for d in group_metrics_for(scale)] for scale in SCALES}
    assert groups == {"nominal": ["fleiss_kappa", "krippendorff_alpha"],
                      "ordinal": ["fleiss_kappa", "krippendorff_alpha"],
                      "interval": ["krippendorff_alpha"]}
