"""Read one dimension's labels of a project as the items x raters matrix the metrics need.

Three queries: the raters' names (small), the project's items, and every judge verdict and
human label on the dimension. The label query returns one integer per label, packing item id,
rater and label code (the label's position on the scale, mapped by a ``CASE`` in SQL), read
straight from the driver's cursor: measured on 100k items x 8 raters (800k labels) on SQLite,
SQLAlchemy ``Row`` objects cost ~0.9 s where the packed integers through the DB-API cursor
cost ~0.45 s. Interval labels come as (packed key, label text), and so do ranking labels
(canonical order text ``"2,1,4,3"``), read as order codes (2143,
:func:`core.metrics.batch_ranking.order_code`) once per distinct order.

A judge verdict stored without a label (its output did not parse) comes back as NaN and marked
in ``Ratings.unparseable``: counted, never a label.

A judge that answered several samples per item (``--samples K``) has one vote per item: the
most frequent label among its parsed samples (nominal, ordinal; a tie for the top label
decides nothing, so that item has no label from the judge), the mean of its parsed scores
(interval) or the Borda order of its parsed orders (ranking), as the human consensus treats
each scale. An item none of whose samples parsed is
unparseable. Counting several samples as several raters would give one judge several votes.
:func:`load_ratings_and_samples` also returns each multi-sample judge's samples, for its
self-consistency (:func:`core.metrics.consistency.self_consistency`). Finding the cells with
several samples is one ``bincount`` over the matrix's cells; a project without samples pays
only that. Raters come back as ``human:<annotator>`` (sorted) then
``judge:<judge>`` (sorted); only raters with at least one label on the dimension are included.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np
from sqlmodel import Session

from core.metrics.batch_ranking import order_code
from core.metrics.consensus import borda, majority, mean_score
from core.metrics.ratings import HUMAN, JUDGE, MetricsInputError, Ratings, stored_order
from core.schema import Dimension

_NAMES = (
    "SELECT 0, id, name FROM judge WHERE project_id = :project "
    "UNION ALL "
    "SELECT 1, u.id, u.name FROM user_account u WHERE u.id IN ("
    "SELECT a.user_id FROM annotation a JOIN item i ON i.id = a.item_id "
    "WHERE i.project_id = :project AND a.dimension = :dimension)")

_ITEMS = ("SELECT id, external_id, model, group_name FROM item "
          "WHERE project_id = :project ORDER BY id")

# {judge_value}/{human_value}: one SQL expression per row, built from integers only.
_LABELS = (
    "SELECT {judge_value} FROM verdict v "
    "WHERE v.judge_id IN (SELECT id FROM judge WHERE project_id = :project) "
    "AND v.dimension = :dimension{sample_filter} "
    "UNION ALL "
    "SELECT {human_value} FROM annotation a "
    "WHERE a.item_id IN (SELECT id FROM item WHERE project_id = :project) "
    "AND a.dimension = :dimension")

_KINDS = (JUDGE, HUMAN)  # kind bit: 0 judge, 1 human
_CODE_BITS = 8
_UNKNOWN = (1 << _CODE_BITS) - 1
_UNPARSEABLE = _UNKNOWN - 1  # a verdict whose label is NULL
_PARAMETER = re.compile(r":(\w+)")


def _fetch(session: Session, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows as plain tuples from the DB-API cursor of the session's connection.

    ``:name`` placeholders are rewritten to the driver's named style (psycopg: %(name)s).
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        sql = _PARAMETER.sub(r"%(\1)s", sql)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        cursor.close()


Samples = dict[str, np.ndarray]


def _empty(dimension: Dimension, items: Sequence[tuple[Any, ...]]) -> Ratings:
    return Ratings(dimension, (), np.empty((len(items), 0)),
                   np.array(list(map(itemgetter(1), items)), dtype=object),
                   list(map(itemgetter(2), items)), list(map(itemgetter(3), items)))


def load_ratings(*, session: Session, project_id: int, dimension: Dimension,
                 sample_index: int | None = None) -> Ratings:
    """Return the project's labels on ``dimension`` as :class:`~core.metrics.Ratings`.

    Every item of the project is a row (with its external id, model and group), even one no
    rater labelled. A judge's label on an item is the majority (mean) of its samples, or its
    sample ``sample_index`` only when given. Raises :class:`~core.metrics.MetricsInputError`
    when a stored label is not on the dimension's scale (the schema changed after the import).
    """
    return load_ratings_and_samples(session=session, project_id=project_id, dimension=dimension,
                                    sample_index=sample_index)[0]


def load_ratings_and_samples(*, session: Session, project_id: int, dimension: Dimension,
                             sample_index: int | None = None) -> tuple[Ratings, Samples]:
    """Return :func:`load_ratings`'s ratings and, per judge with two or more samples on some
    item (``judge:<name>``), its samples as an items x K matrix in the ratings' item order
    (label codes or scores, NaN = no sample or unparseable). Raises as :func:`load_ratings`."""
    params: dict[str, Any] = {"project": project_id, "dimension": dimension.name}
    sample_filter = ""
    if sample_index is not None:
        params["sample"] = sample_index
        sample_filter = " AND v.sample_index = :sample"
    names = {(kind, rater_id): name for kind, rater_id, name in _fetch(session, _NAMES, params)}
    items = _fetch(session, _ITEMS, params)
    if not names or not items:
        return _empty(dimension, items), {}
    rater_bits = max(rater_id for _, rater_id in names).bit_length() + 1
    key_bits = rater_bits + max(row[0] for row in items).bit_length()
    if key_bits + _CODE_BITS > 62:
        raise MetricsInputError("item or rater ids too large to pack into 64-bit keys")

    def key(item: str, kind: int, rater: str) -> str:
        return f"(CAST({item} AS BIGINT) * {1 << rater_bits} + {kind << (rater_bits - 1)} + {rater})"

    judge_key, human_key = key("v.item_id", 0, "v.judge_id"), key("a.item_id", 1, "a.user_id")
    if dimension.scale in ("interval", "ranking"):
        sql = _LABELS.format(judge_value=f"{judge_key}, v.label", human_value=f"{human_key}, a.label",
                             sample_filter=sample_filter)
        rows = _fetch(session, sql, params)
        keys = np.fromiter(map(itemgetter(0), rows), dtype=np.int64, count=len(rows))
        labels = np.array(list(map(itemgetter(1), rows)), dtype=object)
        failed = np.equal(labels, None).astype(bool)
        if dimension.is_ranking:
            values = _order_codes(dimension, labels, failed)
        else:
            labels[failed] = "nan"
            try:
                values = labels.astype(float)
            except ValueError as exc:
                raise MetricsInputError(f"dimension {dimension.name!r} is interval but a stored "
                                        f"label is not a number: {exc}") from None
    else:
        if len(dimension.label_values) >= _UNPARSEABLE:
            raise MetricsInputError(f"dimension {dimension.name!r} has more than "
                                    f"{_UNPARSEABLE - 1} labels")
        cases = " ".join(f"WHEN :label{code} THEN {code}"
                         for code in range(len(dimension.label_values)))
        params.update({f"label{code}": value for code, value in enumerate(dimension.label_values)})
        sql = _LABELS.format(
            judge_value=f"{judge_key} * {1 << _CODE_BITS} + CASE WHEN v.label IS NULL THEN "
                        f"{_UNPARSEABLE} ELSE CASE v.label {cases} ELSE {_UNKNOWN} END END",
            human_value=f"{human_key} * {1 << _CODE_BITS} + CASE a.label {cases} ELSE {_UNKNOWN} END",
            sample_filter=sample_filter)
        rows = _fetch(session, sql, params)
        packed = np.fromiter(map(itemgetter(0), rows), dtype=np.int64, count=len(rows))
        codes = packed & _UNKNOWN
        keys = packed >> _CODE_BITS
        if (codes == _UNKNOWN).any():
            _raise_unknown_label(session, dimension, params, sample_filter)
        failed = codes == _UNPARSEABLE
        values = np.where(failed, np.nan, codes.astype(float))
    return _assemble(dimension, items, names, keys, values, failed, rater_bits)


def _order_codes(dimension: Dimension, labels: np.ndarray, failed: np.ndarray) -> np.ndarray:
    """The order code of each stored ranking label (NaN where ``failed``: no label), each
    distinct text parsed once. Raises :class:`MetricsInputError` naming a stored label that
    is not an order."""
    codes: dict[str, float] = {}
    for text in set(labels[~failed].tolist()):
        codes[text] = float(order_code(stored_order(text, dimension.name)))
    return np.array([np.nan if none else codes[text] for text, none
                     in zip(labels.tolist(), failed.tolist(), strict=True)], dtype=float)


def _assemble(dimension: Dimension, items: Sequence[tuple[Any, ...]],
              names: dict[tuple[int, int], str], keys: np.ndarray, values: np.ndarray,
              failed: np.ndarray, rater_bits: int) -> tuple[Ratings, Samples]:
    known = np.array(sorted((kind << (rater_bits - 1)) + rater for kind, rater in names),
                     dtype=np.int64)
    slot = np.searchsorted(known, keys & ((1 << rater_bits) - 1))
    present = np.flatnonzero(np.bincount(slot, minlength=len(known)))
    kinds = known[present] >> (rater_bits - 1)
    labels = [f"{_KINDS[kind]}:{names[(int(kind), int(key & ((1 << (rater_bits - 1)) - 1)))]}"
              for kind, key in zip(kinds, known[present], strict=True)]
    # Humans first, then judges, each by name.
    order = sorted(range(len(labels)), key=lambda i: (kinds[i] != 1, labels[i]))
    column_of_slot = np.full(len(known), -1, dtype=np.int64)
    column_of_slot[present[order]] = np.arange(len(order))
    all_items = np.fromiter(map(itemgetter(0), items), dtype=np.int64, count=len(items))
    matrix = np.full((len(items), len(order)), np.nan)
    raters = tuple(labels[i] for i in order)
    flat = np.searchsorted(all_items, keys >> rater_bits) * len(order) + column_of_slot[slot]
    counts = np.bincount(flat, minlength=matrix.size)
    samples: Samples = {}
    if len(counts) and counts.max() > 1:  # a judge with several samples on some item
        flat, values, failed, samples = _combine_samples(dimension, raters, matrix.shape, flat,
                                                          values, failed, counts)
    matrix.flat[flat] = values
    unparseable = np.zeros(matrix.shape, dtype=bool)
    unparseable.flat[flat] = failed
    return Ratings(dimension, raters, matrix,
                   np.array(list(map(itemgetter(1), items)), dtype=object),
                   list(map(itemgetter(2), items)), list(map(itemgetter(3), items)),
                   unparseable), samples


def _combine_samples(dimension: Dimension, raters: tuple[str, ...], shape: tuple[int, int],
                     flat: np.ndarray, values: np.ndarray, failed: np.ndarray, counts: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Samples]:
    """One value per matrix cell (flat index) from cells holding several samples: majority
    (mean for interval, Borda for ranking) of the parsed samples, NaN on a tie; unparseable
    when none parsed.
    Also returns each such judge's samples (items x K, NaN = none or unparseable)."""
    multi = counts[flat] > 1
    rows = np.flatnonzero(multi)
    rows = rows[np.argsort(flat[rows], kind="stable")]
    cells = flat[rows]
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(cells)]))
    per_cell = np.full((len(starts), int(counts.max())), np.nan)
    per_cell[group, np.arange(len(cells)) - starts[group]] = values[rows]
    if dimension.is_ranking:
        combined = borda(per_cell).values
    elif dimension.scale == "interval":
        combined = mean_score(per_cell).values
    else:
        combined = majority(per_cell, len(dimension.labels)).values
    none_parsed = np.isnan(per_cell).all(axis=1)
    cell_ids = cells[starts]
    single = ~multi
    samples: Samples = {}
    n_items, n_raters = shape
    for column in np.unique(cell_ids % n_raters).tolist():
        matrix = np.full((n_items, per_cell.shape[1]), np.nan)
        mine = cell_ids % n_raters == column
        matrix[cell_ids[mine] // n_raters] = per_cell[mine]
        alone = single & (flat % n_raters == column)
        matrix[flat[alone] // n_raters, 0] = values[alone]
        samples[raters[column]] = matrix
    return (np.concatenate([flat[single], cell_ids]), np.concatenate([values[single], combined]),
            np.concatenate([failed[single], none_parsed]), samples)


def _raise_unknown_label(session: Session, dimension: Dimension, params: dict[str, Any],
                         sample_filter: str) -> None:
    known = tuple(dimension.label_values)
    marks = ", ".join(f":label{code}" for code in range(len(known)))
    sql = (f"SELECT 'judge ' || j.name, v.label FROM verdict v JOIN judge j ON j.id = v.judge_id "
           f"WHERE j.project_id = :project AND v.dimension = :dimension{sample_filter} "
           f"AND v.label NOT IN ({marks}) "
           f"UNION ALL SELECT 'annotator ' || u.name, a.label FROM annotation a "
           f"JOIN item i ON i.id = a.item_id JOIN user_account u ON u.id = a.user_id "
           f"WHERE i.project_id = :project AND a.dimension = :dimension AND a.label NOT IN ({marks})")
    rater, label = _fetch(session, sql, params)[0]
    raise MetricsInputError(f"{rater}: stored label {label!r} is not on the scale of dimension "
                            f"{dimension.name!r} (labels: {', '.join(known)})")
