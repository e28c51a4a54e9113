"""Helpers shared by the AppTest modules (fixtures are in conftest.py)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT

APP_TIMEOUT_S = 30


def open_page(path: str = "app.py") -> AppTest:
    """Run ``path`` (relative to the repo root) cold, as a deep link, and return the AppTest."""
    at = AppTest.from_file(REPO_ROOT / "app.py", default_timeout=APP_TIMEOUT_S)
    if path != "app.py":
        at.switch_page(path)
    return at.run()


# One tiny record per template, written by hand from each template's fields and labels.
TINY_DEMO_RECORDS = {
    "correctness": [
        {"id": "c1", "prompt": "Capital of France?", "response": "Paris",
         "judges": {"judge_a": {"correct": "correct"}}},
        {"id": "c2", "prompt": "2 + 2?", "response": "5", "judges": {"judge_a": {"correct": "no"}}},
    ],
    "thematic_alignment": [
        {"id": "t1", "source": ["a text"], "response": "a summary",
         "judges": {"judge_a": {"alignment": 4, "missing_themes": "no", "unsupported_claims": "no"}}},
    ],
    "exam_question": [
        {"id": "e1", "prompt": "Write a question", "response": "What is 2 + 2?",
         "humans": {"expert": {"correctness": 5, "evidence_based": 4, "professionalism": 5,
                               "relevance": 5, "difficulty": 1}}},
    ],
    "pairwise": [
        {"id": "p1", "prompt": "Say hi", "response_a": "hi", "response_b": "hello",
         "judges": {"judge_a": {"preference": "tie"}, "judge_b": {"preference": "A"}}},
    ],
}
