"""Cached read models of the Dashboard and Disagreements pages.

Every cached function is keyed on ``(database URL, project id, data version, options)``
(DESIGN.md §2): :func:`current_version` is one cheap query per rerun, and any write to the
project's labels, verdicts or gold changes it, so the next rerun of every open dashboard
recomputes while a rerun without a write is a cache hit. Cached values are plain data
(Ratings, dicts, DataFrames), never ORM objects or sessions. The database itself is passed as
``_db`` (not hashed; its URL is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core.dashboard import DashboardRequest, dashboard_report
from core.disagreements import find_disagreements
from core.metrics import Ratings, compare_dimension
from core.metrics.comparison import Comparison, DashboardReport
from core.metrics.ratings import HUMAN, JUDGE
from storage.database import Database
from storage.labels import load_ratings_and_samples
from storage.projects import ProjectInfo, find_project, project_by_id, project_names
from storage.versioning import data_version

CACHE_TTL_S = 15 * 60
# Ratings of a 100k-item dimension take ~7 MB; a handful per server is plenty.
RATINGS_ENTRIES = 8
RESULT_ENTRIES = 64


@dataclass(frozen=True)
class Facets:
    """What the filters of one dimension can offer."""

    humans: tuple[str, ...]
    judges: tuple[str, ...]
    groups: tuple[str, ...]
    models: tuple[str, ...]
    items: int
    max_human_labels: int


def project_choices(db: Database) -> list[str]:
    """Names of all projects, sorted (uncached: one small query)."""
    with db.read() as session:
        return project_names(session=session)


def project_named(db: Database, name: str) -> ProjectInfo | None:
    """The project called ``name``, or None."""
    with db.read() as session:
        return find_project(session=session, name=name)


def current_version(db: Database, project_id: int) -> str:
    """The project's data version now (see :mod:`storage.versioning`)."""
    with db.read() as session:
        return data_version(session=session, project_id=project_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=RATINGS_ENTRIES, show_spinner="Reading the labels…")
def dimension_labels(_db: Database, db_url: str, project_id: int, version: str,
                     dimension: str) -> tuple[Ratings, dict[str, np.ndarray]]:
    """All labels of one dimension as Ratings (a judge's samples: their per-item majority),
    and the multi-sample judges' samples (see :func:`storage.labels.load_ratings_and_samples`)."""
    with _db.read() as session:
        schema = project_by_id(session=session, project_id=project_id).schema
        return load_ratings_and_samples(session=session, project_id=project_id,
                                        dimension=schema.dimension(dimension))


def dimension_ratings(_db: Database, db_url: str, project_id: int, version: str,
                      dimension: str) -> Ratings:
    """All labels of one dimension as Ratings (cached with :func:`dimension_labels`)."""
    return dimension_labels(_db, db_url, project_id, version, dimension)[0]


@st.cache_data(ttl=CACHE_TTL_S, max_entries=RESULT_ENTRIES, show_spinner=False)
def dimension_facets(_db: Database, db_url: str, project_id: int, version: str,
                     dimension: str) -> Facets:
    """The raters, groups and models of one dimension, for the filter widgets."""
    ratings = dimension_ratings(_db, db_url, project_id, version, dimension)
    humans = ratings.of_kind(HUMAN)
    columns = [ratings.raters.index(h) for h in humans]
    per_item = (~np.isnan(ratings.values[:, columns])).sum(axis=1) if columns else np.zeros(1)
    return Facets(humans, ratings.of_kind(JUDGE), ratings.groups.names, ratings.models.names,
                  len(ratings.item_ids), int(per_item.max(initial=0)))


@st.cache_data(ttl=CACHE_TTL_S, max_entries=RESULT_ENTRIES, show_spinner="Computing agreement…")
def dashboard_data(_db: Database, db_url: str, project_id: int, version: str,
                   request: DashboardRequest) -> DashboardReport:
    """:func:`core.dashboard.dashboard_report` for the request."""
    ratings, samples = dimension_labels(_db, db_url, project_id, version, request.dimension)
    return dashboard_report(ratings, request, samples)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=RESULT_ENTRIES, show_spinner="Comparing every dimension…")
def overview_data(_db: Database, db_url: str, project_id: int, version: str,
                  dimensions: tuple[str, ...]) -> list[Comparison]:
    """The comparison of every dimension, without CIs (for the overview)."""
    return [compare_dimension(dimension_ratings(_db, db_url, project_id, version, name))
            for name in dimensions]


@st.cache_data(ttl=CACHE_TTL_S, max_entries=RESULT_ENTRIES, show_spinner="Finding disagreements…")
def disagreements_data(_db: Database, db_url: str, project_id: int, version: str,
                       dimensions: tuple[str, ...], judges: tuple[str, ...] | None,
                       groups: tuple[str, ...] | None) -> pd.DataFrame:
    """The disagreements of ``dimensions`` (rows of all of them, unsorted), counting only
    ``judges`` (None: all) and keeping ``groups`` (None: all)."""
    frames = []
    for name in dimensions:
        ratings, samples = dimension_labels(_db, db_url, project_id, version, name)
        present = [j for j in judges if f"{JUDGE}:{j}" in ratings.raters] if judges else None
        frames.append(find_disagreements(ratings, judges=present, groups=groups,
                                         samples=samples))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
