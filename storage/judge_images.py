"""The images of an item's image fields as a judge is sent them (issue 18).

Items hold their images by SHA-256 (:mod:`storage.images`); a judge's prompt needs the bytes
(:class:`core.judges.prompting.JudgeImage`). :class:`JudgeImageLoader` swaps the hashes of an
item's image fields for the images, read from the database where a run, a probe or the prompt
lab takes its items, so ``core`` never touches the database. It keeps the images it read last
(up to :data:`CACHE_BYTES`): the dimensions, samples and orders of one item come one after the
other in a run and read its images once. Nothing of an image but its hash is ever stored with
a verdict: the verdict names its prompt version and item, whose fields name the images.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from core.judges.client import CallResult, CancelSignal, JudgeRequest
from core.judges.prompting import JudgeImage
from core.schema import TaskSchema
from storage.database import Database
from storage.images import read_images

log = logging.getLogger(__name__)

CACHE_BYTES = 64 << 20  # images kept in memory between calls (a few items' worth)

JudgeCall = Callable[[JudgeRequest, CancelSignal | None], Awaitable[CallResult]]


class JudgeImageLoader:
    """Puts the images of ``schema``'s image fields in place of their hashes (thread-safe)."""

    def __init__(self, db: Database, schema: TaskSchema, *, max_bytes: int = CACHE_BYTES) -> None:
        self.db = db
        self.image_fields: tuple[str, ...] = tuple(f.name for f in schema.image_fields)
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, JudgeImage] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()
        self.reads = 0  # images read from the database (the rest came from the cache)

    def fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``fields`` with each image field's hash (or list of hashes) replaced by its
        :class:`JudgeImage` (or a list of them). A hash with no stored image is left as it
        is (and logged): rendering the prompt then refuses it, so that call fails, not the run."""
        out = dict(fields)
        hashes = [digest for name in self.image_fields for digest in _hashes(fields.get(name))]
        if not hashes:
            return out
        found = self._images(hashes)
        for name in self.image_fields:
            value = fields.get(name)
            if isinstance(value, str):
                out[name] = found.get(value, value)
            elif isinstance(value, list):
                out[name] = [found.get(digest, digest) for digest in value]
        missing = sorted(set(hashes) - set(found))
        if missing:
            log.warning("images not in the database: %s", ", ".join(missing))
        return out

    def wrap(self, call: JudgeCall) -> JudgeCall:
        """``call`` (e.g. ``JudgeClient.call``) with the request's images loaded first, in a
        thread (the database read must not hold up the event loop); ``call`` itself when the
        schema has no image fields."""
        if not self.image_fields:
            return call

        async def with_images(request: JudgeRequest, cancel: CancelSignal | None = None
                              ) -> CallResult:
            item = await asyncio.to_thread(self.fields, request.item)
            return await call(dataclasses.replace(request, item=item), cancel)

        return with_images

    def _images(self, hashes: Sequence[str]) -> dict[str, JudgeImage]:
        found: dict[str, JudgeImage] = {}
        with self._lock:
            for digest in hashes:
                image = self._cache.get(digest)
                if image is not None:
                    self._cache.move_to_end(digest)
                    found[digest] = image
        wanted = [digest for digest in dict.fromkeys(hashes) if digest not in found]
        if not wanted:
            return found
        read = {blob.sha256: JudgeImage(blob.sha256, blob.mime, blob.data)
                for blob in read_images(self.db, hashes=wanted)}
        with self._lock:
            self.reads += len(read)
            for digest, image in read.items():
                if digest not in self._cache:
                    self._cache[digest] = image
                    self._held += len(image.data)
            while self._held > self.max_bytes and len(self._cache) > 1:
                _, dropped = self._cache.popitem(last=False)
                self._held -= len(dropped.data)
        return found | read


def _hashes(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [digest for digest in value if isinstance(digest, str)]
    return []
