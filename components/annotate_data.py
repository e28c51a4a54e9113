"""What one run of the annotation panel needs from the database, read in one short session:
two statements (settings and progress; the item with its queue entry, saved labels and
verdicts), because this runs on every "save & next" (issue 3).

Blind first is decided here: in a blind project the judges' verdicts of an item the
annotator has not labelled are only counted on the server; ``PanelData.verdicts`` is None,
so no label, rationale or judge name of them can reach the browser.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.annotation import reveal_verdicts
from storage.annotation_settings import AnnotationError, ProjectSettings
from storage.annotator_view import ItemView, VerdictView, annotator_state, current_item
from storage.authz import NotAllowed
from storage.database import Database
from storage.drafts import Draft, get_draft
from storage.queues import AssignmentView
from storage.users import UserInfo


@dataclass(frozen=True)
class PanelData:
    """The current item of one annotator and everything drawn about it.

    ``assignment`` is None when the queue has nothing left to label. ``verdicts`` is None
    while the judges must stay hidden; ``n_verdicts`` is known either way (server side only).
    ``refused`` is an item id that was asked for but is not in the user's queue. ``draft``
    is the user's unsaved work on the item (storage.drafts), if any.
    """

    settings: ProjectSettings
    assignment: AssignmentView | None
    item: ItemView | None
    saved: dict[str, str]
    verdicts: tuple[VerdictView, ...] | None
    n_verdicts: int
    finished: dict[str, int]
    refused: str | None
    draft: Draft | None = None


def verdicts_allowed(settings: ProjectSettings, assignment: AssignmentView) -> bool:
    """True if the judges' verdicts may be shown to the annotator on this item now.

    Not blind: always. Blind: only once the annotator's label is saved and they chose to see
    the judges (``verdicts_seen``).
    """
    return not settings.blind or (assignment.status == "done" and assignment.verdicts_seen)


def load_panel(db: Database, *, project_id: int, user: UserInfo, requested: str | None
               ) -> PanelData:
    """Return ``user``'s panel data for ``requested`` (an item id) or else the next item.

    In a project that is not blind, showing the verdicts is recorded (``reveal_verdicts``)
    the first time they are shown for the item. Raises nothing for an unknown ``requested``:
    it comes back in ``refused`` and the next item is shown instead.
    """
    refused, user_id = None, user.id
    with db.read() as session:
        state = annotator_state(session=session, project_id=project_id, user_id=user_id)
        settings, finished = state.settings, state.finished
        current = None
        if requested is not None:
            current = current_item(session=session, project_id=project_id, user_id=user_id,
                                   external_id=requested)
            refused = None if current is not None else requested
        if current is None:
            current = current_item(session=session, project_id=project_id, user_id=user_id)
        draft = (get_draft(session=session, user_id=user_id, item_id=current.assignment.item_id)
                 if current is not None else None)
    if current is None:
        return PanelData(settings, None, None, {}, None, 0, finished, refused)
    assignment, verdicts = current.assignment, current.verdicts
    shown = verdicts_allowed(settings, assignment)
    if shown and verdicts and not assignment.verdicts_seen:
        try:
            reveal_verdicts(db, project_id=project_id, user_id=user_id, item_id=assignment.item_id,
                            actor=user)
        except (AnnotationError, NotAllowed):  # turned blind, or the account just changed
            shown = False
    return PanelData(settings, assignment, current.item, current.saved,
                     verdicts if shown else None, len(verdicts), finished, refused, draft)
