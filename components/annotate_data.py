"""What one run of the annotation panel needs from the database, read in one short session.

Blind first is decided here: in a blind project the judges' verdicts of an item the
annotator has not labelled are only counted on the server; ``PanelData.verdicts`` is None,
so no label, rationale or judge name of them can reach the browser.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.annotation import (
    AnnotationError,
    AssignmentView,
    ItemView,
    ProjectSettings,
    VerdictView,
    find_assignment,
    get_settings,
    item_verdicts,
    item_view,
    next_assignment,
    queue_counts,
    reveal_verdicts,
    user_labels,
)
from storage.database import Database

FINISHED = ("done", "skipped")


@dataclass(frozen=True)
class PanelData:
    """The current item of one annotator and everything drawn about it.

    ``assignment`` is None when the queue has nothing left to label. ``verdicts`` is None
    while the judges must stay hidden; ``n_verdicts`` is known either way (server side only).
    ``refused`` is an item id that was asked for but is not in the user's queue.
    """

    settings: ProjectSettings
    assignment: AssignmentView | None
    item: ItemView | None
    saved: dict[str, str]
    verdicts: tuple[VerdictView, ...] | None
    n_verdicts: int
    finished: dict[str, int]
    refused: str | None


def verdicts_allowed(settings: ProjectSettings, assignment: AssignmentView) -> bool:
    """True if the judges' verdicts may be shown to the annotator on this item now.

    Not blind: always. Blind: only once the annotator's label is saved and they chose to see
    the judges (``verdicts_seen``).
    """
    return not settings.blind or (assignment.status == "done" and assignment.verdicts_seen)


def load_panel(db: Database, *, project_id: int, user_id: int, requested: str | None
               ) -> PanelData:
    """Return the panel's data for ``requested`` (an item id) or else the next item to label.

    In a project that is not blind, showing the verdicts is recorded (``reveal_verdicts``)
    the first time they are shown for the item. Raises nothing for an unknown ``requested``:
    it comes back in ``refused`` and the next item is shown instead.
    """
    refused = None
    with db.read() as session:
        settings = get_settings(session=session, project_id=project_id)
        assignment = None
        if requested is not None:
            assignment = find_assignment(session=session, project_id=project_id,
                                         user_id=user_id, external_id=requested)
            refused = None if assignment is not None else requested
        if assignment is None:
            assignment = next_assignment(session=session, project_id=project_id, user_id=user_id)
        finished = queue_counts(session=session, project_id=project_id, user_id=user_id,
                                statuses=FINISHED)
        if assignment is None:
            return PanelData(settings, None, None, {}, None, 0, finished, refused)
        item = item_view(session=session, item_id=assignment.item_id)
        saved = user_labels(session=session, item_id=assignment.item_id, user_id=user_id)
        verdicts = tuple(item_verdicts(session=session, item_id=assignment.item_id))
    shown = verdicts_allowed(settings, assignment)
    if shown and verdicts and not assignment.verdicts_seen:
        try:
            reveal_verdicts(db, project_id=project_id, user_id=user_id, item_id=assignment.item_id)
        except AnnotationError:  # the project turned blind, or the account was just deactivated
            shown = False
    return PanelData(settings, assignment, item, saved, verdicts if shown else None,
                     len(verdicts), finished, refused)
