"""Images of item fields, stored in the database by the SHA-256 of their bytes (issue 18).

An import writes the images its rows reference (:func:`store_images`, in the import's own
transaction) and links them to its project (:func:`link_project_images`); the app serves one by
its hash to those who may see one of its projects (:func:`read_image`) and exports read them
back (:func:`read_images`). The same bytes imported twice, by any project, are one row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.importing.images import CheckedImage
from storage.authz import ADMIN
from storage.database import Database
from storage.models import ProjectImage, ProjectMember, StoredImage, utcnow
from storage.users import UserInfo

SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
# Hashes per "which of these exist" query (well under every driver's parameter limit).
_LOOKUP_CHUNK = 500
# Bytes of image data bound per executemany call, so the driver never holds a whole import.
_INSERT_CHUNK_BYTES = 64 << 20


@dataclass(frozen=True)
class ImageBlob:
    """A stored image: its hash, MIME type, size in pixels and bytes, and the bytes."""

    sha256: str
    mime: str
    width: int
    height: int
    size: int
    data: bytes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (without the bytes)."""
        return {"sha256": self.sha256, "mime": self.mime, "width": self.width,
                "height": self.height, "size": self.size}


def is_image_hash(text: object) -> bool:
    """True when ``text`` is a lowercase hex SHA-256 (64 characters), the name of an image."""
    return isinstance(text, str) and SHA256_PATTERN.match(text) is not None


def store_images(connection: Connection, images: Iterable[CheckedImage]) -> int:
    """Insert the ``images`` not stored yet, in the caller's transaction; return how many
    were new. Idempotent under concurrency (``ON CONFLICT DO NOTHING``).

    The bytes of an image named by path are read again here (:meth:`CheckedImage.read`), a
    chunk at a time; raises :class:`~core.importing.images.ImageError` when one is gone or
    changed since it was checked (the caller's transaction then writes nothing)."""
    pending = {image.sha256: image for image in images}
    if not pending:
        return 0
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    hashes = list(pending)
    for start in range(0, len(hashes), _LOOKUP_CHUNK):
        chunk = hashes[start:start + _LOOKUP_CHUNK]
        found = connection.exec_driver_sql(
            f"SELECT sha256 FROM image WHERE sha256 IN ({', '.join([mark] * len(chunk))})",
            tuple(chunk))
        for (digest,) in found:
            pending.pop(digest, None)
    now: Any = utcnow()
    if connection.dialect.name == "sqlite":
        # What SQLAlchemy writes for a datetime on SQLite (raw driver calls must match it).
        now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    sql = (f"INSERT INTO image (sha256, mime, width, height, size, data, created_at) VALUES "
           f"({', '.join([mark] * 7)}) ON CONFLICT (sha256) DO NOTHING")
    batch: list[tuple[Any, ...]] = []
    held = 0
    for image in pending.values():
        data = image.read()
        batch.append((image.sha256, image.mime, image.width, image.height, len(data), data, now))
        held += len(data)
        if held >= _INSERT_CHUNK_BYTES:
            connection.exec_driver_sql(sql, batch)
            batch, held = [], 0
    if batch:
        connection.exec_driver_sql(sql, batch)
    return len(pending)


def link_project_images(connection: Connection, project_id: int, hashes: Iterable[str]) -> None:
    """Record, in the caller's transaction, that items of project ``project_id`` reference the
    stored images ``hashes`` (already linked ones are left as they are)."""
    rows = [{"project_id": project_id, "sha256": digest} for digest in sorted(set(hashes))]
    if rows:
        insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(insert(ProjectImage.__table__).on_conflict_do_nothing(), rows)


def read_image(db: Database, *, sha256: str, viewer: UserInfo | None = None
               ) -> ImageBlob | None:
    """The stored image named ``sha256`` if ``viewer`` may see it, else None (also when there
    is none, or the text is not a SHA-256: a refusal does not tell that the image exists).

    An admin sees every image; anyone else those of the projects they are a member of.
    ``viewer`` None reads without a check (single-user mode, exports, the command line).
    """
    if not is_image_hash(sha256):
        return None
    query = select(StoredImage).where(StoredImage.sha256 == sha256)
    if viewer is not None and viewer.role != ADMIN:
        query = query.where(exists().where(
            ProjectImage.sha256 == StoredImage.sha256,
            ProjectImage.project_id == ProjectMember.project_id,
            ProjectMember.user_id == viewer.id))
    with db.read() as session:
        row = session.execute(query).scalars().first()
        if row is None:
            return None
        return ImageBlob(row.sha256, row.mime, row.width, row.height, row.size, bytes(row.data))


def read_images(db: Database, *, hashes: Sequence[str]) -> Iterator[ImageBlob]:
    """The stored images among ``hashes`` (each once, unknown ones left out), a few hundred
    per query so that an export never holds every image at once."""
    wanted = sorted({h for h in hashes if is_image_hash(h)})
    for start in range(0, len(wanted), _LOOKUP_CHUNK // 5):
        chunk = wanted[start:start + _LOOKUP_CHUNK // 5]
        with db.read() as session:
            rows = session.execute(select(StoredImage).where(StoredImage.sha256.in_(chunk)))
            blobs = [ImageBlob(r.sha256, r.mime, r.width, r.height, r.size, bytes(r.data))
                     for (r,) in rows]
        yield from blobs


def stored_image_hashes(db: Database) -> frozenset[str]:
    """The SHA-256 of every stored image (64 bytes of text each: 10k images, ~1 MB), for an
    import to skip decoding what was checked when first imported."""
    with db.read() as session:
        return frozenset(session.execute(select(StoredImage.sha256)).scalars())


def image_count(db: Database) -> int:
    """How many images the database holds (all projects)."""
    with db.read() as session:
        return int(session.execute(select(func.count()).select_from(StoredImage)).scalar_one())
