"""Agreement metrics between human experts and LLM judges (pure: numpy, scipy).

Start with :func:`compare_dimension` (everything for one dimension, a typed
:class:`Comparison` whose ``to_dict()`` is the JSON document) or
:func:`agreement` (two label vectors). :data:`REGISTRY` lists every metric with its
definition, scales and properties. Labels enter as :class:`Ratings` (items x raters, encoded
over the schema's label order; see :mod:`core.metrics.ratings`). A ranking dimension's labels
are orders of each item's responses: its pairs carry the four metrics of
:mod:`core.metrics.batch_ranking` (``RANKING_REGISTRY``) and its consensus is the Borda order.

Krippendorff's alpha is computed here from coincidence matrices (nominal/ordinal) or pooled
sums of squares (interval), exactly Krippendorff's (2011) formulas, and tested against the
``krippendorff`` package. We do not call that package at run time: it builds an items x values
count matrix, so interval data with many distinct scores needs items x values^2 memory (2,000
continuous scores asked for 536 GiB), and it took 20-140 ms per call on 100k items where the
coincidence form takes well under 1 ms per rater pair.
"""

from core.metrics.agreement import agreement, confusion_matrix, group_agreement, pair_agreement
from core.metrics.bootstrap import bootstrap_values, percentile_intervals, resample_weights
from core.metrics.compare import compare_dimension
from core.metrics.comparison import Comparison, DashboardReport, PairComparison
from core.metrics.consensus import Aggregate, human_consensus, jury_verdict
from core.metrics.ratings import (
    CONSENSUS,
    MetricsInputError,
    Ratings,
    encode_labels,
    ratings_from_columns,
)
from core.metrics.registry import REGISTRY, MetricDefinition, group_metrics_for, pair_metrics_for
from core.metrics.results import ConfusionMatrix, MetricResult
from core.metrics.samples import GroupSample, PairSample, group_sample, pair_sample, pair_sample_from_table
from core.metrics.views import binarize, positive_label

__all__ = [
    "CONSENSUS",
    "REGISTRY",
    "Aggregate",
    "Comparison",
    "ConfusionMatrix",
    "DashboardReport",
    "GroupSample",
    "MetricDefinition",
    "MetricResult",
    "MetricsInputError",
    "PairComparison",
    "PairSample",
    "Ratings",
    "agreement",
    "binarize",
    "bootstrap_values",
    "compare_dimension",
    "confusion_matrix",
    "encode_labels",
    "group_agreement",
    "group_metrics_for",
    "group_sample",
    "human_consensus",
    "jury_verdict",
    "pair_agreement",
    "pair_metrics_for",
    "pair_sample",
    "pair_sample_from_table",
    "percentile_intervals",
    "positive_label",
    "ratings_from_columns",
    "resample_weights",
]
