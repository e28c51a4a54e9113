"""Prediction-powered estimates of a mean, their sampling designs, and label budgets.

Pure numpy/scipy: :mod:`core.estimate.ppi` (PPI++ and its inverse-probability-weighted form),
:mod:`core.estimate.design` (which items to label, with known probabilities),
:mod:`core.estimate.budget` (how many more labels until an interval is tight enough) and
:mod:`core.estimate.slices` (the estimate per model or group from one judge's predictions).

Nothing is imported here: the queue orders need only :mod:`core.estimate.design` (numpy), and
the annotation page should not pay for scipy.
"""
