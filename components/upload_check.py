"""Validate an uploaded import file without writing anything (no Streamlit here).

The upload is streamed to a private temporary file, parsed from that path and validated; the
file is deleted before this returns, so only the small result stays in memory (and the images
zip, open, which the write reads the images from again).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from components.frames import preview_frame
from core.importing import (
    ImageSource,
    ImportBatch,
    ImportFileError,
    ImportLimits,
    ImportProblem,
    RawTable,
    detect_format,
    read_import_file,
    validate_table,
)
from core.schema import TaskSchema, schema_to_dict

COPY_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class UploadCheck:
    """The outcome of validating one upload against one schema.

    ``batch`` is None when the file cannot be imported at all; ``file_problems`` then says
    why. ``preview`` is None when not even the records could be read.
    """

    file_name: str
    total_records: int
    preview: pd.DataFrame | None
    batch: ImportBatch | None
    file_problems: tuple[ImportProblem, ...] = ()


def schema_fingerprint(schema: TaskSchema) -> str:
    """Return a short hash that changes whenever anything in ``schema`` changes."""
    text = json.dumps(schema_to_dict(schema), sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def check_upload(stream: BinaryIO, *, name: str, schema: TaskSchema,
                 limits: ImportLimits | None = None, images: BinaryIO | None = None,
                 images_name: str = "images.zip") -> UploadCheck:
    """Read ``stream`` (an uploaded file called ``name``) and validate it against ``schema``.

    The format comes from the extension of ``name``, which is used only for that and for
    problem locations, never as a path. ``limits`` are those of ``cli.py import`` (the same
    reader and validator run). Never raises for bad content: whole-file problems (unknown
    extension, unreadable file, missing ``id`` column, a limit passed, ...) come back in
    ``file_problems``.

    ``images`` is a zip uploaded beside the file (``images_name``): image fields' paths are
    looked up in it (an upload has no folder of its own). The images the valid rows reference
    are checked here; the batch keeps the zip open, not their bytes, and writing it reads
    them from the zip again (``images`` must stay readable until then).
    """
    raw: RawTable | None = None
    limits = limits or ImportLimits()
    try:
        fmt = detect_format(name)
        raw = _read_via_temporary_file(stream, fmt=fmt, name=name, limits=limits)
        # Left open: the batch's path images hold no bytes, the write reads them from the
        # zip again (it wraps the upload, already in memory; closing it frees no file).
        archive = _open_archive(images, images_name)
        batch = validate_table(raw, schema, limits=limits, images=ImageSource(archive=archive))
    except ImportFileError as exc:
        return UploadCheck(name, raw.total_records if raw else 0,
                           preview_frame(raw) if raw else None, None, tuple(exc.problems))
    return UploadCheck(name, batch.total_records, preview_frame(raw), batch)


def _open_archive(images: BinaryIO | None, name: str) -> zipfile.ZipFile | None:
    """The uploaded zip of images, or None; raises :class:`ImportFileError` for a file that is
    not a zip."""
    if images is None:
        return None
    try:
        images.seek(0)
        return zipfile.ZipFile(images)
    except zipfile.BadZipFile as exc:
        raise ImportFileError([ImportProblem(name, "file", "", f"not a zip file ({exc})")]
                              ) from None


def _read_via_temporary_file(stream: BinaryIO, *, fmt: str, name: str, limits: ImportLimits
                             ) -> RawTable:
    with tempfile.TemporaryDirectory(prefix="docket-import-") as folder:
        path = Path(folder) / f"upload.{fmt}"
        stream.seek(0)
        with path.open("wb") as out:
            shutil.copyfileobj(stream, out, COPY_CHUNK_BYTES)
        return read_import_file(path, fmt=fmt, name=name, limits=limits)
