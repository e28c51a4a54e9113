"""Image values of an import (issue 18): where an image comes from, and whether it is one.

An image field's value in JSONL/JSON is a path relative to the imported file (or inside a zip
uploaded with it), ``{"path": ...}``, ``{"bytes": "<base64>"}`` or a ``data:image/...;base64,``
URI; in Parquet the Hugging Face ``datasets`` Image layout ``{"bytes": b"...", "path": ...}``;
in CSV a relative path. :func:`image_bytes` turns any of them into bytes, and
:func:`check_image` accepts only what Docket will show an annotator:

* PNG, JPEG, WebP or GIF, decoded in full with Pillow (a truncated or corrupt file fails);
* at most :data:`MAX_IMAGE_BYTES` and :data:`MAX_IMAGE_PIXELS` (checked from the header before
  any pixel is decoded, so a decompression bomb never expands);
* never SVG (it can carry scripts and remote references) and never a remote ``http(s)`` URL:
  the server does not fetch them and the browser must not load them.

Images are stored by content (SHA-256), so the same image imported twice is stored once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 20 * (1 << 20)
MAX_IMAGE_PIXELS = 50_000_000
FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"),
           "WEBP": ("image/webp", "webp"), "GIF": ("image/gif", "gif")}


EXTENSION_OF_MIME = {mime: extension for mime, extension in FORMATS.values()}


class ImageError(ValueError):
    """A value that is not an image Docket accepts; the message says why. ``field``: the
    image field it was read for, when the message does not come with its row and field
    (:meth:`CheckedImage.read` at write time)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CheckedImage:
    """An accepted image: its bytes, Pillow format, MIME type, file extension, size in pixels
    and the SHA-256 of its bytes (hex), which names it in storage and exports.

    An image named by path (:meth:`ImageSource.checked`) holds no bytes (``data`` None) but
    the ``file`` they are read from again when written, so that an import holds one image at
    a time, not all of them; :meth:`read` returns the bytes either way."""

    data: bytes | None
    format: str
    mime: str
    extension: str
    width: int
    height: int
    sha256: str
    file: ImageFile | None = None

    def read(self) -> bytes:
        """The image's bytes: those held, or its file read again. Raises :class:`ImageError`
        when the file is gone or its bytes are no longer those checked (another SHA-256)."""
        if self.data is not None:
            return self.data
        if self.file is None:
            raise ImageError(f"image {self.sha256}: neither bytes nor a file to read them from")
        file = self.file
        try:
            data = file.source.read(file.path, source=file.label)
        except ImageError as exc:
            raise ImageError(f"{exc} (it was there when the file was checked); nothing was "
                             "imported: validate the file again", field=file.field_name) from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != self.sha256:
            raise ImageError(f"{file.label}: the image file changed after it was checked "
                             f"(SHA-256 {self.sha256[:12]}... then, {digest[:12]}... now); "
                             "nothing was imported: validate the file again",
                             field=file.field_name)
        return data


@dataclass(frozen=True)
class ImageFile:
    """Where a checked image named by path is read again when written: ``path`` as the
    import file gives it, looked up through ``source``; ``field_name`` (the image field that
    named it first) and ``label`` (how problems name the value) are for errors."""

    path: str
    source: ImageSource = field(compare=False, repr=False)
    field_name: str = ""
    label: str = ""


@dataclass(frozen=True)
class ImageSource:
    """Where an import's image paths are looked up: ``archive`` (a zip uploaded with the file)
    first, then ``base`` (the imported file's folder); neither set means only inline images
    (base64, ``data:`` URIs, Parquet bytes) can be read. ``known``: hashes already stored."""

    base: Path | None = None
    archive: zipfile.ZipFile | None = None
    # SHA-256s of images already stored (checked when they were first imported): an image
    # with one of these hashes is read and hashed but not decoded again.
    known: frozenset[str] = frozenset()

    def read(self, value: object, *, source: str) -> bytes:
        """The bytes of image ``value`` (see :func:`image_bytes`, which raises :class:`ImageError`)."""
        return image_bytes(value, source=source, base=self.base, archive=self.archive)

    def checked(self, image: CheckedImage, value: object, *, field_name: str, label: str
                ) -> CheckedImage:
        """``image`` (checked from the bytes of ``value``) as a batch keeps it: without its
        bytes but with the file to read them from again when ``value`` names a path (a file
        under ``base`` or a member of ``archive``); as it is for an inline image (its bytes
        came in the import file, and are no larger decoded than the base64 was).
        ``field_name`` and ``label`` name it in errors."""
        path = image_path(value)
        if path is None:
            return image
        return replace(image, data=None, file=ImageFile(path, self, field_name, label))


def describe_image_value(value: object) -> str:
    """A short name for an image value in problem messages: its path, or what kind of inline
    image it is (never the base64 itself)."""
    if isinstance(value, dict):
        if value.get("bytes") is not None:
            return "inline image bytes"
        return describe_image_value(value.get("path"))
    if isinstance(value, str):
        if value.startswith("data:"):
            return "data: URI"
        return repr(value if len(value) <= 80 else value[:77] + "...")
    return "image value"


def check_image(data: bytes, *, source: str, sha256: str | None = None) -> CheckedImage:
    """``data`` as a :class:`CheckedImage`; ``source`` names it in errors (a path, a field);
    ``sha256``, when the caller has hashed ``data`` already, is taken as its hash.

    Raises :class:`ImageError` for an empty or oversized file, SVG, a format outside
    :data:`FORMATS`, more than :data:`MAX_IMAGE_PIXELS` pixels, or a file Pillow cannot decode
    in full (truncated, corrupt).
    """
    if not data:
        raise ImageError(f"{source}: the image is empty")
    _within_limit(len(data), source)
    head = data[:512].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head:
        raise ImageError(f"{source}: SVG images are not accepted (they can run scripts and "
                         "load remote content); convert it to PNG")
    with warnings.catch_warnings():
        # Pillow warns (and past twice its limit raises) on huge images; our own check below
        # runs first and names the limit.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
                if kind not in FORMATS:
                    raise ImageError(f"{source}: {kind} images are not accepted (accepted: "
                                     f"{', '.join(sorted(FORMATS))})")
                if width * height > MAX_IMAGE_PIXELS:
                    raise ImageError(f"{source}: the image has {width} x {height} = "
                                     f"{width * height / 1e6:.1f} megapixels, more than the "
                                     f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixel limit")
                image.load()  # decode every pixel: a truncated file fails here
        except ImageError:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageError(f"{source}: the image is too large to decode safely ({exc})") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"{source}: not a readable PNG, JPEG, WebP or GIF image "
                             f"({exc})") from exc
    mime, extension = FORMATS[kind]
    return CheckedImage(data, kind, mime, extension, width, height,
                        sha256 or hashlib.sha256(data).hexdigest())


def _within_limit(size: int, source: str) -> None:
    if size > MAX_IMAGE_BYTES:
        raise ImageError(f"{source}: the image has {size / (1 << 20):.1f} MB, more than the "
                         f"{MAX_IMAGE_BYTES >> 20} MB limit")


def _decode_base64(text: str, source: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"{source}: the image's base64 is not valid ({exc})") from exc


def _relative(path: str, source: str) -> PurePosixPath:
    lowered = path.strip().lower()
    if lowered.startswith(("http://", "https://", "//", "ftp://", "file:")):
        raise ImageError(f"{source}: remote images ({path!r}) are not accepted: the server never "
                         "fetches them; import the file itself")
    relative = PurePosixPath(path.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ImageError(f"{source}: the image path {path!r} must be relative to the imported "
                         "file, without '..'")
    return relative


def image_path(value: object) -> str | None:
    """The path ``value`` names an image by (a string, or an object's ``path`` without
    ``bytes``), or None for an inline image (``bytes``, a ``data:`` URI) or another value."""
    if isinstance(value, dict):
        return image_path(value.get("path")) if value.get("bytes") is None else None
    if isinstance(value, str) and value.strip() and not value.startswith("data:"):
        return value
    return None


def image_bytes(value: object, *, source: str, base: Path | None = None,
                archive: zipfile.ZipFile | None = None) -> bytes:
    """The bytes of the image ``value`` names (any of the forms in the module doc).

    A path is looked up in ``archive`` first (a zip uploaded with the file), then under
    ``base`` (the imported file's folder). Raises :class:`ImageError` for a remote URL, an
    absolute path or one with ``..``, a missing file, bad base64, or a value of another shape.
    """
    if isinstance(value, dict):
        if value.get("bytes") is not None:
            raw = value["bytes"]
            if isinstance(raw, bytes | bytearray):
                return bytes(raw)
            if isinstance(raw, str):
                return _decode_base64(raw, source)
            raise ImageError(f"{source}: 'bytes' must be base64 text or bytes")
        if value.get("path") is not None:
            return image_bytes(value["path"], source=source, base=base, archive=archive)
        raise ImageError(f"{source}: an image object needs 'path' or 'bytes'")
    if not isinstance(value, str) or not value.strip():
        raise ImageError(f"{source}: an image is a path, a data: URI or an object with 'path' "
                         f"or 'bytes', got {type(value).__name__}")
    if value.startswith("data:"):
        header, _, payload = value.partition(",")
        if not header.startswith("data:image/") or not header.endswith(";base64"):
            raise ImageError(f"{source}: a data: URI must be data:image/...;base64,...")
        return _decode_base64(payload, source)
    relative = _relative(value, source)
    if archive is not None:
        try:
            member = archive.getinfo(str(relative))
        except KeyError:
            member = None
        if member is not None:
            _within_limit(member.file_size, source)  # before inflating it
            return archive.read(member)
    if base is not None:
        candidate = base.joinpath(*relative.parts)
        if candidate.is_file():
            _within_limit(candidate.stat().st_size, source)
            return candidate.read_bytes()
    where = " or ".join(w for w in ("the uploaded zip" if archive is not None else "",
                                    f"{base}" if base is not None else "") if w)
    raise ImageError(f"{source}: image file {value!r} not found"
                     + (f" in {where}" if where else ""))
