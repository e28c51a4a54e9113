"""The metrics document of one dimension: what ``cli.py metrics --json`` prints and
``GET /api/v1/projects/{name}/metrics`` answers (one way to build it for both).

The document is :func:`core.metrics.compare_dimension` of the dimension's ratings with the
project's stored juries (and any given for this request) and the project's name in front.
A caller that serves it repeatedly (the HTTP API) may pass a ``cache``: documents are keyed
by the project's :func:`~storage.versioning.data_version`, the juries and the options, so a
write to the project's labels, verdicts, items or gold makes the next request recompute.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.metrics import Comparison, MetricsInputError, compare_dimension
from core.metrics.ratings import JUDGE
from storage.authz import ADMIN, Actor, authorize
from storage.database import Database
from storage.juries import jury_map, usable_juries
from storage.labels import load_ratings_and_samples
from storage.projects import get_project
from storage.versioning import data_version

DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class MetricsRequest:
    """What to compare: ``dimension`` (None: the schema's first), an optional binarisation,
    extra juries (name -> member judges), bootstrap resamples and seed."""

    dimension: str | None = None
    binarize_at: str | None = None
    juries: Mapping[str, Sequence[str]] = field(default_factory=dict)
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = 0


@dataclass(frozen=True)
class MetricsDocument:
    """The comparison of one dimension of project ``project``, and the stored juries left out
    of it because a member judge has no verdict on that dimension."""

    project: str
    comparison: Comparison
    dropped_juries: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (``project`` first, then the comparison's keys)."""
        return {"project": self.project, **self.comparison.to_dict()}


class MetricsCache:
    """A small per-process memory of computed documents (least recently used go first)."""

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], MetricsDocument] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> MetricsDocument | None:
        """Return the document stored under ``key``, or None."""
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple[Any, ...], document: MetricsDocument) -> None:
        """Remember ``document`` under ``key``, forgetting the oldest beyond ``max_entries``."""
        self._entries[key] = document
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def metrics_document(db: Database, *, project_name: str, request: MetricsRequest, actor: Actor,
                     cache: MetricsCache | None = None) -> MetricsDocument:
    """Return the metrics document of ``request`` on project ``project_name``.

    Reading the metrics is for admins (as the Dashboard): ``actor`` is checked in the read
    transaction. Raises :class:`~storage.authz.NotAllowed` for anyone else,
    :class:`storage.projects.ProjectError` for an unknown project,
    :class:`core.metrics.MetricsInputError` for an unknown dimension or a bad request, and
    :class:`storage.juries.JuryError` when an extra jury's name is taken.
    """
    given = dict(request.juries)
    with db.read() as session:
        authorize(session, actor, role=ADMIN, action="read the metrics")
        project = get_project(session=session, name=project_name)
        name = request.dimension or project.schema.dimension_names[0]
        if name not in project.schema.dimension_names:
            raise MetricsInputError(f"project {project.name!r} has no dimension {name!r} "
                                    f"(dimensions: {', '.join(project.schema.dimension_names)})")
        juries = jury_map(session=session, project_id=project.id, extra=given)
        key = None
        if cache is not None:
            key = (db.url, project.id, data_version(session=session, project_id=project.id),
                   name, request.binarize_at, repr(sorted(juries.items())), request.n_resamples,
                   request.seed)
            found = cache.get(key)
            if found is not None:
                return found
        ratings, samples = load_ratings_and_samples(session=session, project_id=project.id,
                                                    dimension=project.schema.dimension(name))
    # A stored jury is left out of a dimension its members gave no verdict on; a jury given
    # with the request is an explicit ask, so an unknown member stays an error.
    stored, dropped = usable_juries({n: j for n, j in juries.items() if n not in given},
                                    ratings.of_kind(JUDGE))
    juries = {**stored, **{n: j for n, j in juries.items() if n in given}}
    result = MetricsDocument(
        project.name,
        compare_dimension(ratings, juries=juries, binarize_at=request.binarize_at,
                          n_resamples=request.n_resamples, seed=request.seed, samples=samples),
        tuple(dropped))
    if cache is not None and key is not None:
        cache.put(key, result)
    return result
