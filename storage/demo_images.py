"""Pictures of the ``image_scoring`` demo, drawn by Docket with Pillow when the demo is loaded
(nothing is downloaded, no image file is kept in the repository).

A demo image's path says what it shows: ``shapes/<count>-<colour>-<shape>.png`` is ``count``
shapes of that colour on a light background, placed by a generator seeded with the path, so
the same path always draws the same bytes (re-loading the demo stores nothing new).
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import zipfile
from collections.abc import Iterable

from PIL import Image, ImageDraw

COLOURS = {"red": (214, 39, 40), "green": (44, 160, 44), "blue": (31, 119, 180),
           "yellow": (230, 190, 20)}
SHAPES = ("circle", "square", "triangle")
SIZE = (480, 320)
_NAME = re.compile(r"^shapes/(?P<count>[1-9])-(?P<colour>[a-z]+)-(?P<shape>[a-z]+)\.png$")


def draw_demo_image(path: str) -> bytes:
    """The PNG bytes of the demo image ``path``; raises ValueError for a path that does not
    name one (wrong pattern, unknown colour or shape)."""
    match = _NAME.match(path)
    if match is None or match["colour"] not in COLOURS or match["shape"] not in SHAPES:
        raise ValueError(f"{path!r} is not a demo image (shapes/<1-9>-<colour>-<shape>.png with "
                         f"colour in {', '.join(COLOURS)} and shape in {', '.join(SHAPES)})")
    rng = random.Random(hashlib.sha256(path.encode()).digest())
    image = Image.new("RGB", SIZE, (246, 244, 238))
    pen = ImageDraw.Draw(image)
    for x in range(0, SIZE[0], 40):  # a faint grid, so the picture is not a flat colour
        pen.line([(x, 0), (x, SIZE[1])], fill=(232, 229, 220))
    for y in range(0, SIZE[1], 40):
        pen.line([(0, y), (SIZE[0], y)], fill=(232, 229, 220))
    count, fill = int(match["count"]), COLOURS[match["colour"]]
    cells = rng.sample(range(12), count)  # a 4 x 3 grid of cells: shapes never overlap
    for cell in cells:
        left, top = (cell % 4) * 120 + rng.randint(10, 30), (cell // 4) * 106 + rng.randint(8, 20)
        size = rng.randint(60, 76)
        box = (left, top, left + size, top + size)
        if match["shape"] == "circle":
            pen.ellipse(box, fill=fill, outline=(40, 40, 40), width=2)
        elif match["shape"] == "square":
            pen.rectangle(box, fill=fill, outline=(40, 40, 40), width=2)
        else:
            pen.polygon([(left + size // 2, top), (left, top + size), (left + size, top + size)],
                        fill=fill, outline=(40, 40, 40), width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def demo_archive(paths: Iterable[object]) -> zipfile.ZipFile:
    """An in-memory zip holding the drawn image of every demo path among ``paths`` (other
    values are left out: the import then reports them as not found)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted({p for p in paths if isinstance(p, str) and _NAME.match(p)}):
            try:
                archive.writestr(path, draw_demo_image(path))
            except ValueError:
                continue
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
