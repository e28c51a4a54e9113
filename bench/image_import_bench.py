"""Image import benchmark (issue 18): N items with one ~200 KB image each, from JSONL with
paths relative to the file, into SQLite.

Generates N distinct images (default 10,000; random RGB noise saved as PNG without
compression, so each is ``--kb`` KB and none is stored twice) and a JSONL file of
``image_scoring`` items naming them, then times:

* ``docket``: ``storage.importer.import_file`` end to end, split into read + validate (each
  image read, hashed and decoded in full with Pillow, its bytes then dropped) and write (one
  transaction: the images, read again from their files and re-hashed, into the ``image``
  table, then the items);
* ``reimport``: the same file again (every row unchanged, no image written again);
* ``text only``: the same items without the image field (``correctness`` template), the
  baseline the images add to;
* ``floor``: read every image file and hash it (SHA-256), nothing else: what no import of
  these files can beat; and ``decode``: the same plus Pillow's full decode (what the check
  adds).

Also printed: the process's peak resident memory (``ru_maxrss``) before the import and after
it, the import's share being what validation and the write held at most (the images of a
10k x 200 KB file are 2 GB: an import must not hold them all).

Goal on the 2-core reference machine: docket <= 20 s for 10,000 items of 200 KB. Nothing is
asserted; compare the figures with the baselines of the same run.

    python bench/image_import_bench.py [--items 10000] [--kb 200]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import resource
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.importing import ImageSource, read_import_file, validate_table
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.database import Database
from storage.images import image_count
from storage.importer import import_file, write_import
from storage.migrations import migrate

GOAL_S = 20.0
GOAL_ITEMS = 10_000


def noise_png(rng: np.random.Generator, side: int) -> bytes:
    """A side x side RGB PNG of random noise, zlib level 0 (each image distinct, its size
    fixed): written by hand because Pillow's encoder took ~47 ms per image here."""
    rows = rng.integers(0, 256, (side, side * 3 + 1), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None on every scanline

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 0)) + chunk(b"IEND", b""))


def make_files(folder: Path, n_items: int, kb: int) -> tuple[Path, Path, int]:
    """Write the images and two JSONL files (with and without images); return the paths and
    the total image bytes."""
    side = int((kb * 1024 / 3) ** 0.5)
    rng = np.random.default_rng(18)
    (folder / "images").mkdir()
    total = 0
    with (folder / "items.jsonl").open("w") as with_images, \
            (folder / "text.jsonl").open("w") as text_only:
        for n in range(n_items):
            data = noise_png(rng, side)
            (folder / "images" / f"{n}.png").write_bytes(data)
            total += len(data)
            record = {"id": f"i{n}", "prompt": f"What is in picture {n}?",
                      "response": "Coloured noise, nothing else."}
            text_only.write(json.dumps(record) + "\n")
            with_images.write(json.dumps({**record, "image": f"images/{n}.png"}) + "\n")
    return folder / "items.jsonl", folder / "text.jsonl", total


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_database(folder: Path, name: str) -> Database:
    db = Database(f"sqlite:///{folder / name}")
    migrate(db)
    return db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=GOAL_ITEMS)
    parser.add_argument("--kb", type=int, default=200, help="size of each image (default 200)")
    args = parser.parse_args(argv)
    # The WAL checkpoints of the bulk writes run on a background thread: files may still be
    # open when the folder goes.
    with tempfile.TemporaryDirectory(prefix="docket-image-bench-",
                                     ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        items, text, total = make_files(folder, args.items, args.kb)
        print(f"file: {args.items:,} items, {args.items:,} distinct images, "
              f"{total / 2**20:,.0f} MB of images ({total / args.items / 1024:.0f} KB each); "
              f"generated in {time.perf_counter() - started:.1f} s")

        start = time.perf_counter()
        for path in sorted((folder / "images").iterdir()):
            hashlib.sha256(path.read_bytes()).hexdigest()
        floor = time.perf_counter() - start
        start = time.perf_counter()
        for path in sorted((folder / "images").iterdir()):
            data = path.read_bytes()
            hashlib.sha256(data).hexdigest()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
        decode = time.perf_counter() - start

        db = fresh_database(folder, "images.db")
        peak_before = peak_rss_mb()
        schema = TEMPLATES["image_scoring"]
        start = time.perf_counter()
        batch = validate_table(read_import_file(items), schema,
                               images=ImageSource(base=folder))
        validated = time.perf_counter() - start
        summary = write_import(db, project_name="pics", schema=schema, batch=batch,
                               actor=OPERATOR)
        docket = time.perf_counter() - start
        peak_after = peak_rss_mb()
        assert summary.added == args.items and image_count(db) == args.items
        del batch

        start = time.perf_counter()
        _, again = import_file(db, items, project_name="pics", schema=None, actor=OPERATOR)
        reimport = time.perf_counter() - start
        if db.last_checkpoint is not None:
            db.last_checkpoint.result()
        db.dispose()

        text_db = fresh_database(folder, "text.db")
        start = time.perf_counter()
        import_file(text_db, text, project_name="text", schema=TEMPLATES["correctness"],
                    actor=OPERATOR)
        text_only = time.perf_counter() - start
        if text_db.last_checkpoint is not None:
            text_db.last_checkpoint.result()
        text_db.dispose()

    print(f"docket: {docket:.2f} s ({args.items / docket:,.0f} items/s, "
          f"{total / 2**20 / docket:,.0f} MB/s): read + validate {validated:.2f} s, "
          f"write {docket - validated:.2f} s")
    print(f"peak memory: {peak_before:,.0f} MB before the import, {peak_after:,.0f} MB after "
          f"it (the import held at most {peak_after - peak_before:,.0f} MB more)")
    print(f"reimport: {reimport:.2f} s, {again.unchanged:,} rows unchanged, "
          f"{again.new_images} images new")
    print(f"text only: {text_only:.2f} s for the same items without images "
          f"(images add {docket - text_only:.2f} s)")
    print(f"floor: {floor:.2f} s to read and hash the files; decode: {decode:.2f} s with "
          f"Pillow's full decode; docket / decode = {docket / decode:.1f}x")
    scaled = docket * GOAL_ITEMS / args.items
    verdict = "met" if scaled <= GOAL_S else "NOT met"
    print(f"goal: {GOAL_ITEMS:,} items of {args.kb} KB <= {GOAL_S:.0f} s -> {scaled:.2f} s "
          f"(scaled from {args.items:,} items) {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
