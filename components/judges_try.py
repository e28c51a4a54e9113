"""Try a prompt on one item now: one call to the judge's endpoint, nothing stored.

The call runs in a thread of its own with a fresh event loop (the script thread must not run
one), with the API key looked up by the judge's variable name (components/judge_keys.py) and
handed to the client only. The outcome holds what the judge answered, never the key.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from core.judges.client import CallResult, JudgeClient, JudgeRequest
from core.judges.endpoints import Endpoint, EndpointError, api_key_from_env
from core.judges.prompting import PromptTemplate, compile_prompt
from core.judges.retry import RetryPolicy
from core.schema import Dimension, TaskSchema
from storage.judge_lab import LabItem
from storage.judges import JudgeInfo, require_vision

# Someone is waiting at the page: one retry, and no waiting out a long Retry-After.
TRY_RETRY = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=2.0, max_retry_after=10.0)


@dataclass(frozen=True)
class TryOutcome:
    """What one try gave: the raw output and its strict reading, or why there is none.

    ``error`` is set when the call could not be made or failed (no verdict); otherwise
    ``label`` is the parsed label, or None with ``problem`` saying why it is unparseable.
    """

    judge: str
    item: str
    dimension: str
    raw_text: str | None = None
    label: str | None = None
    problem: str | None = None
    model: str | None = None
    output: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency: float | None = None
    error: str | None = None


def _call(endpoint: Endpoint, api_key: str | None, request: JudgeRequest) -> CallResult:
    async def once() -> CallResult:
        async with JudgeClient(endpoint, api_key=api_key, retry=TRY_RETRY) as client:
            return await client.call(request)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="docket-try") as pool:
        return pool.submit(asyncio.run, once()).result()


def try_once(judge: JudgeInfo, template: PromptTemplate, schema: TaskSchema, item: LabItem,
             dimension: Dimension, environ: dict[str, str]) -> TryOutcome:
    """Call ``judge`` with ``template`` on ``item`` and ``dimension`` and return what it said.

    ``environ`` maps the judge's key variable name to the key; ``item``'s image fields hold
    the images (:class:`~storage.judge_images.JudgeImageLoader`), not their hashes. Never
    raises for a failed call, a missing key, a judge not marked vision-capable on a task with
    image fields or a prompt that does not render for this item: the outcome's ``error``
    says which (naming the variable, never its value).
    """
    base = TryOutcome(judge.name, item.external_id, dimension.name)
    try:
        endpoint = judge.spec.endpoint()
        api_key = api_key_from_env(endpoint, environ)
        require_vision(judge, schema)
        prompt = compile_prompt(template, schema)
    except EndpointError as exc:
        if exc.setting == "api_key_env":
            return replace(base, error=f"the API key variable {endpoint.api_key_env} is not set "
                                       "in the server's environment or Streamlit secrets")
        return replace(base, error=str(exc))
    except ValueError as exc:  # JudgeError, PromptError
        return replace(base, error=str(exc))
    request = JudgeRequest(item.id, prompt, item.fields, dimension, reference=item.reference)
    result = _call(endpoint, api_key, request)
    if result.verdict is None:
        return replace(base, error=result.error or "cancelled", output=result.output)
    return replace(base, raw_text=result.raw_text, label=result.verdict.label,
                 problem=result.verdict.problem, model=result.model, output=result.output,
                 input_tokens=result.input_tokens, output_tokens=result.output_tokens,
                 latency=result.latency)
