"""Exports: gold labels and reference answers, all labels, preference pairs, reports."""
