"""Fixtures of the judge tests: the fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.judges.fake_openai import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fresh fake server per test (random port, 127.0.0.1 only)."""
    with FakeOpenAI() as server:
        yield server
