"""Shared pieces of the judge tests: a correctness request the fake server answers knowingly,
a recording fake sleep, and a way to run a coroutine with a client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core.judges.client import JudgeClient, JudgeRequest
from core.judges.endpoints import Endpoint
from core.judges.prompting import builtin_prompt, compile_prompt
from core.judges.retry import RetryPolicy
from core.templates import TEMPLATES
from tests.event_loops import run_async
from tests.judges.fake_openai import FakeOpenAI

T = TypeVar("T")
SECRET = "sk-test-9c4e0b7a5d1f2e3c8b6a"
CORRECTNESS = TEMPLATES["correctness"]
CORRECT = CORRECTNESS.dimension("correct")
PROMPT = compile_prompt(builtin_prompt(CORRECTNESS, "rationale", reference=True), CORRECTNESS)


def request(number: int = 0, label: str = "correct", *, sample: int = 0) -> JudgeRequest:
    """Item ``number``, for which the fake server answers ``label``."""
    item = {"prompt": f"Question {number}?", "response": f"Answer {number} <<expect:{label}>>"}
    return JudgeRequest(("item", number), PROMPT, item, CORRECT, reference=f"Reference {number}",
                        sample=sample)


def endpoint(server: FakeOpenAI, **settings: Any) -> Endpoint:
    """An endpoint on the fake server whose key is in JUDGE_KEY."""
    return Endpoint(server.base_url, "judge-model", api_key_env="JUDGE_KEY", **settings)



class FakeSleep:
    """Records the waits asked for instead of waiting (``then`` runs after each)."""

    def __init__(self, then: Callable[[], None] | None = None) -> None:
        self.waits: list[float] = []
        self.then = then

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.then:
            self.then()
        await asyncio.sleep(0)

    @property
    def total(self) -> float:
        return sum(self.waits)


def with_client(server: FakeOpenAI, use: Callable[[JudgeClient], Awaitable[T]], *,
                retry: RetryPolicy | None = None, key: str | None = SECRET,
                clocks: dict[str, Any] | None = None, **settings: Any) -> T:
    """Run ``use(client)`` with a client on the fake server, in a fresh event loop; ``clocks``
    are the client's ``sleep``/``random``/``wall_clock`` replacements."""
    async def main() -> T:
        async with JudgeClient(endpoint(server, **settings), api_key=key, retry=retry,
                               **(clocks or {})) as client:
            return await use(client)
    return run_async(main())
