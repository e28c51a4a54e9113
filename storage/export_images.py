"""Images in exports (issue 18): the image columns of a gold export as files or embedded bytes.

In the database an image field holds the SHA-256 of its image. An export of JSONL or CSV gets
``images/<sha256>.<ext>`` in those columns and the files themselves in an ``images`` folder
beside the export (:meth:`ImageExport.write_files`); Parquet embeds each image as the Hugging
Face ``datasets`` Image struct ``{bytes, path}`` (see :mod:`core.export.writers`), so the file
stands alone and ``datasets.load_dataset("parquet", ...)`` gives the pictures back.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.export.writers import Column
from core.importing.images import EXTENSION_OF_MIME
from storage.images import is_image_hash
from storage.models import StoredImage

IMAGE_FOLDER = "images"
# Images read per query while writing files (bounded memory, whatever the export's size).
_READ_CHUNK = 100


class ImageExport:
    """Rewrites the image columns of export batches for ``fmt``; remembers the images that
    JSONL/CSV rows name, for :meth:`write_files`."""

    def __init__(self, session: Session, columns: Sequence[Column], fmt: str) -> None:
        self.session = session
        self.fmt = fmt
        self.positions = [i for i, c in enumerate(columns) if c.type in ("image", "images")]
        self.named: dict[str, str] = {}  # sha256 -> extension, of every image a row names

    def batches(self, batches: Iterable[Sequence[Sequence[Any]]]) -> Iterator[list[list[Any]]]:
        """Each batch with its image hashes replaced: ``images/<sha256>.<ext>`` (JSONL, CSV) or
        ``{"bytes": ..., "path": "<sha256>.<ext>"}`` (Parquet). A hash with no stored image
        (it cannot happen through imports) becomes None."""
        for batch in batches:
            columns = [list(values) for values in batch]
            wanted = {h for p in self.positions for value in columns[p]
                      for h in (value if isinstance(value, list) else [value]) if is_image_hash(h)}
            found = self._lookup(wanted, with_data=self.fmt == "parquet")
            for position in self.positions:
                columns[position] = [self._value(value, found) for value in columns[position]]
            yield columns

    def _lookup(self, hashes: set[str], *, with_data: bool) -> dict[str, tuple[str, bytes | None]]:
        found: dict[str, tuple[str, bytes | None]] = {}
        ordered = sorted(hashes)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start:start + 500]
            wanted = [StoredImage.sha256, StoredImage.mime]
            if with_data:
                wanted.append(StoredImage.data)
            for row in self.session.execute(select(*wanted).where(StoredImage.sha256.in_(chunk))):
                found[row[0]] = (EXTENSION_OF_MIME.get(row[1], "bin"),
                                 bytes(row[2]) if with_data else None)
        return found

    def _value(self, value: Any, found: dict[str, tuple[str, bytes | None]]) -> Any:
        if isinstance(value, list):
            return [self._one(h, found) for h in value]
        return None if value is None else self._one(value, found)

    def _one(self, digest: Any, found: dict[str, tuple[str, bytes | None]]) -> Any:
        if digest not in found:
            return None
        extension, data = found[digest]
        name = f"{digest}.{extension}"
        if self.fmt == "parquet":
            return {"bytes": data, "path": name}
        self.named[digest] = extension
        return f"{IMAGE_FOLDER}/{name}"

    def write_files(self, folder: Path) -> int:
        """Write every image the rows named to ``folder/images/<sha256>.<ext>``; return how
        many. A file already there under its hash (an earlier export) is kept: its name is
        its content."""
        target = folder / IMAGE_FOLDER
        if self.named:
            target.mkdir(exist_ok=True)
        hashes = sorted(self.named)
        for start in range(0, len(hashes), _READ_CHUNK):
            chunk = hashes[start:start + _READ_CHUNK]
            rows = self.session.execute(select(StoredImage.sha256, StoredImage.data)
                                        .where(StoredImage.sha256.in_(chunk)))
            for digest, data in rows:
                path = target / f"{digest}.{self.named[digest]}"
                if path.is_file() and path.stat().st_size == len(data):
                    continue
                # Under a temporary name first: a half-written file never has an image's name.
                handle, temporary = tempfile.mkstemp(dir=target, prefix=".docket-")
                with os.fdopen(handle, "wb") as out:
                    out.write(bytes(data))
                os.replace(temporary, path)
        return len(hashes)


def bundle_export(path: Path, meta_path: Path, image_names: Iterable[str], *,
                  bundle: Path) -> Path:
    """Zip the export ``path``, its sidecar and ``images/<name>`` for each of ``image_names``
    (beside ``path``) into ``bundle``: one download for the Export page. Returns ``bundle``."""
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.write(path, path.name)
        archive.write(meta_path, meta_path.name)
        for name in sorted(image_names):
            archive.write(path.parent / IMAGE_FOLDER / name, f"{IMAGE_FOLDER}/{name}")
    return bundle
