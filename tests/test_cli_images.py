"""``cli.py import --images ZIP`` (issue 18): image paths looked up in a zip, then beside the
file; a file that is not a zip is one clear error."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from PIL import Image

from tests.test_cli import run

SCHEMA = """
name = "pictures"
[[fields]]
name = "image"
kind = "image"
[[fields]]
name = "prompt"
[[dimensions]]
name = "ok"
scale = "nominal"
[[dimensions.labels]]
value = "yes"
[[dimensions.labels]]
value = "no"
"""


def png(color) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_import_with_an_images_zip(capsys, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    (tmp_path / "task.toml").write_text(SCHEMA)
    (tmp_path / "beside.png").write_bytes(png((0, 0, 255)))
    with zipfile.ZipFile(tmp_path / "images.zip", "w") as archive:
        archive.writestr("z/red.png", png((255, 0, 0)))
    data = tmp_path / "items.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [
        {"id": "1", "image": "z/red.png", "prompt": "p"},
        {"id": "2", "image": "beside.png", "prompt": "p"}]) + "\n")
    code, out, err = run(capsys, "--database", database, "import", str(data), "--project", "p",
                         "--task", str(tmp_path / "task.toml"), "--images",
                         str(tmp_path / "images.zip"))
    assert (code, err) == (0, [])
    assert out[-1].endswith("2 images (2 new)")

    # Without the zip the first path is not found: named with its line and field.
    code, out, err = run(capsys, "--database", database, "import", str(data), "--project", "q",
                         "--task", str(tmp_path / "task.toml"))
    assert code == 1
    assert any(":line 1: image: 'z/red.png': image file 'z/red.png' not found" in line
               for line in err)

    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    code, out, err = run(capsys, "--database", database, "import", str(data), "--project", "p",
                         "--images", str(tmp_path / "broken.zip"))
    assert code == 1
    assert err[-1].startswith(f"error: --images {tmp_path / 'broken.zip'}: not a zip file")
