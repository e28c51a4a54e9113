"""The annotation benchmark's image scenario runs end to end at a tiny size against a real
``streamlit run`` (so it cannot rot unnoticed). Its timings are printed, not asserted; what is
asserted is what the bench checks beside them: every save moved to an item showing its own
``/_docket/image/<sha256>`` URL, the image route answered with the image's bytes as
immutable, and the server read no image bytes while saving (its file reads, counted from
/proc, compared with the text items' saves and with the route's own reads)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT

SAVES = 6


def test_the_image_scenario_saves_without_reading_image_bytes():
    result = subprocess.run([sys.executable, "bench/annotate_bench.py", "--scenario", "image",
                             "--image-items", "12", "--saves", str(SAVES), "--image-kb", "512"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "built bench 12 image items" in out
    assert "1 annotator, 1,000 items" in out and "1 annotator, image items (0.5 MB)" in out
    assert "save & next p50" in out and "(goal <= 15: " in out and "image / text p50" in out
    assert f"{SAVES} of {SAVES} saves, {SAVES} distinct" in out
    assert "the image's bytes during save & next: not read" in out, out
    assert "512 KB each" in out and "Cache-Control: private, max-age=31536000, immutable" in out
