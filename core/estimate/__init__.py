"""Prediction-powered estimates of a mean, their sampling designs, and label budgets.

Pure numpy/scipy: :mod:`core.estimate.ppi` (PPI++ and its inverse-probability-weighted form),
:mod:`core.estimate.design` (which items to label, with known probabilities),
:mod:`core.estimate.budget` (how many more labels until an interval is tight enough) and
:mod:`core.estimate.slices` (the estimate per model or group from one judge's predictions).
"""

from core.estimate.budget import budget_sentence, effective_labels, labels_needed
from core.estimate.ppi import EstimateError, MeanEstimate, classical_mean, ppi_mean, ppi_mean_weighted

__all__ = ["EstimateError", "MeanEstimate", "budget_sentence", "classical_mean",
           "effective_labels", "labels_needed", "ppi_mean", "ppi_mean_weighted"]
