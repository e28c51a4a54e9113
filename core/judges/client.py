"""One judge call against an OpenAI-compatible endpoint, with retries, timeout and fallback.

Built on the official ``openai`` package (``AsyncOpenAI`` with its own retries off: this module
retries, see :mod:`core.judges.retry`). The API key is handed to :class:`JudgeClient` at call
time and goes only to ``AsyncOpenAI``; it is not kept in our objects, their reprs, our log
records or the error messages (which are scrubbed of it, since servers may echo a key back).

Answer format: a client starts with ``response_format`` (a JSON schema whose ``label`` is an
enum of the labels; for a ranking, an array of the item's response numbers) when the
endpoint's ``structured_output`` is on. If the server answers that request with HTTP 400, the
same call is sent again in the ``Verdict: LABEL`` form; when that one is not refused, the
client remembers it and asks every later call in that form.

Messages with images (:class:`~core.judges.prompting.ImagePart`) are sent only to an endpoint
marked ``vision``; to any other the call fails before a request is made
(:func:`~core.judges.endpoints.vision_problem`). Error messages never carry an image's
``data:`` URI (a server may echo the request).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from random import random as _uniform
from typing import Any, Protocol

import openai

from core.judges.endpoints import Endpoint, vision_problem
from core.judges.prompting import CompiledPrompt, Message, OutputMode, PromptError
from core.judges.retry import RetryPolicy, is_retryable_status, parse_retry_after
from core.judges.verdicts import ParsedVerdict, parse_verdict, verdict_response_format
from core.schema import Dimension

log = logging.getLogger(__name__)

# Sent as the bearer token to endpoints that need no key (local servers ignore it); the openai
# client refuses to start without one.
NO_KEY = "no-key"
CHAT_PATH = "/chat/completions"
_ERROR_CHARS = 500
_WAIT_SLICE = 0.1  # seconds between checks of the cancel signal while waiting to retry
_DATA_URI = re.compile(r"(data:[\w.+/-]+;base64,)[A-Za-z0-9+/=]+")


class CancelSignal(Protocol):
    """Anything with ``is_set()``: a ``threading.Event`` or an ``asyncio.Event``."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class JudgeRequest:
    """One call to make: an item judged on one dimension with a compiled prompt.

    ``key`` is the caller's identifier (e.g. item, dimension, sample), handed back unchanged in
    the result. ``reference`` is the reference answer for a reference-guided prompt.
    """

    key: Hashable
    prompt: CompiledPrompt
    item: Mapping[str, object]
    dimension: Dimension
    reference: str | Sequence[str] | None = None
    sample: int = 0

    def messages(self, output: OutputMode) -> list[Message]:
        """The chat messages in answer format ``output``; raises PromptError (see render)."""
        return self.prompt.render(self.item, self.dimension, reference=self.reference, output=output)

    @property
    def n_responses(self) -> int | None:
        """For a ranking dimension, how many responses the item has (the answer must order
        exactly these); None otherwise."""
        return self.dimension.responses_in(self.item)


@dataclass(frozen=True)
class Completion:
    """The outcome of one request to the endpoint, retries included."""

    text: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    latency: float | None  # seconds of the request that succeeded
    attempts: int
    error: str | None = None
    status: int | None = None  # HTTP status of the last failed request, if any
    cancelled: bool = False  # stopped while waiting to retry


@dataclass(frozen=True)
class CallResult:
    """The outcome of a :class:`JudgeRequest`.

    Exactly one of: a ``verdict`` (parsed, or unparseable with its problem: both are stored with
    the raw text), an ``error`` (the call failed; nothing to store, a rerun retries it), or
    ``cancelled`` (the run was cancelled while this call waited to retry).
    """

    key: Hashable
    sample: int
    raw_text: str | None
    verdict: ParsedVerdict | None
    model: str | None
    output: OutputMode | None
    input_tokens: int | None
    output_tokens: int | None
    latency: float | None
    attempts: int
    error: str | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        """True when the call produced a verdict (labelled or unparseable)."""
        return self.verdict is not None


class JudgeClient:
    """Calls one endpoint. Use ``async with JudgeClient(endpoint, api_key=key) as client:``.

    ``sleep``, ``random`` (the jitter) and ``wall_clock`` (for HTTP-date ``Retry-After``) are
    injectable so tests can check the waits without waiting. Failed calls are results, never
    exceptions.
    """

    def __init__(self, endpoint: Endpoint, *, api_key: str | None, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 random: Callable[[], float] = _uniform,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.endpoint = endpoint
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._random = random
        self._wall_clock = wall_clock
        self._structured = endpoint.structured_output
        self._openai = openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=api_key or NO_KEY,
                                          max_retries=0, timeout=endpoint.timeout)

    def __repr__(self) -> str:
        return f"JudgeClient({self.endpoint!r}, output_mode={self.output_mode!r})"

    @property
    def output_mode(self) -> OutputMode:
        """The answer format asked for now: ``"json"`` until the endpoint refuses it."""
        return "json" if self._structured else "verdict"

    async def __aenter__(self) -> JudgeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._openai.close()

    async def call(self, request: JudgeRequest, cancel: CancelSignal | None = None) -> CallResult:
        """Make one judge call (retries and the answer-format fallback included) and parse it.

        Never raises for a failed call (that is a result with ``error``); a prompt that cannot
        be rendered for this item (e.g. no reference for a reference-guided prompt) is one too.
        """
        mode = self.output_mode
        try:
            messages = request.messages(mode)
        except PromptError as error:
            return _failed(request, mode, 0, str(error))
        response_format = (verdict_response_format(request.dimension, rationale=request.prompt.rationale,
                                                   n_responses=request.n_responses)
                           if mode == "json" else None)
        done = await self.complete(messages, response_format=response_format, sample=request.sample,
                                   cancel=cancel)
        attempts = done.attempts
        if done.status == 400 and mode == "json":
            mode = "verdict"
            done = await self.complete(request.messages(mode), sample=request.sample, cancel=cancel)
            attempts += done.attempts
            if done.error is None and self._structured:
                self._structured = False
                log.info("endpoint %s (model %s) refused response_format; asking for a "
                         "'Verdict:' line from now on", self.endpoint.base_url, self.endpoint.model)
        if done.error is not None or done.cancelled:
            return _failed(request, mode, attempts, done.error, cancelled=done.cancelled)
        verdict = parse_verdict(done.text, request.dimension, n_responses=request.n_responses)
        return CallResult(request.key, request.sample, done.text, verdict, done.model, mode,
                          done.input_tokens, done.output_tokens, done.latency, attempts)

    async def complete(self, messages: Sequence[Message], *, response_format: dict[str, Any] | None = None,
                       sample: int = 0, cancel: CancelSignal | None = None) -> Completion:
        """Send ``messages`` (retrying as :attr:`retry` says) and return the raw completion.

        Never raises for a failed request: the :class:`Completion` carries the error (also,
        without any request made, for images sent to an endpoint not marked vision-capable).
        """
        if not self.endpoint.vision:
            fields = list(dict.fromkeys(part.field for message in messages
                                        for part in message.images))
            refused = vision_problem(self.endpoint, fields, holder="item")
            if refused is not None:
                return Completion(None, None, None, None, None, 0, refused)
        arguments = self._arguments(messages, response_format, sample)
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            retry_after: float | None = None
            status: int | None = None
            try:
                async with asyncio.timeout(self.endpoint.timeout):
                    # client.post is openai's documented way to send a body as given: it skips
                    # create()'s recursive parameter transform and the pydantic model of the
                    # answer, about 1 ms of CPU per call (bench/judge_bench.py). Errors are
                    # raised as by create() (APIStatusError, APIConnectionError, ...).
                    body = await self._openai.post(CHAT_PATH, body=arguments, cast_to=bytes)
                    data = json.loads(body)
            except openai.APIStatusError as error:
                status = error.status_code
                retryable = is_retryable_status(status)
                detail = error.message.removeprefix(f"Error code: {status} - ")
                message = f"HTTP {status}: {detail}"
                retry_after = parse_retry_after(error.response.headers.get("retry-after"),
                                                now=self._wall_clock())
            except (openai.APITimeoutError, TimeoutError):
                retryable, message = True, f"timed out after {self.endpoint.timeout:g} s"
            except openai.APIConnectionError as error:
                cause = error.__cause__
                retryable, message = True, f"connection error: {cause or error}"
            except (openai.OpenAIError, ValueError) as error:
                retryable, message = False, f"invalid response: {type(error).__name__}: {error}"
            else:
                return self._completion(data, time.monotonic() - started, attempt)
            message = self._scrub(message)
            if not retryable or attempt >= self.retry.max_attempts:
                return Completion(None, None, None, None, None, attempt, message, status)
            if retry_after is not None and retry_after > self.retry.max_retry_after:
                return Completion(None, None, None, None, None, attempt,
                                  f"{message} (the server asks to retry after {retry_after:g} s, "
                                  f"more than the {self.retry.max_retry_after:g} s limit)", status)
            delay = retry_after if retry_after is not None else self.retry.backoff(attempt, self._random)
            log.debug("judge call attempt %d failed (%s); retrying in %.3f s", attempt, message, delay)
            if await self._wait(delay, cancel):
                return Completion(None, None, None, None, None, attempt, None, status, cancelled=True)

    def _arguments(self, messages: Sequence[Message], response_format: dict[str, Any] | None,
                   sample: int) -> dict[str, Any]:
        endpoint = self.endpoint
        arguments: dict[str, Any] = {"model": endpoint.model,
                                     "messages": [message.as_dict() for message in messages]}
        if endpoint.temperature is not None:
            arguments["temperature"] = endpoint.temperature
        if endpoint.max_tokens is not None:
            arguments["max_tokens"] = endpoint.max_tokens
        if endpoint.seed is not None:
            arguments["seed"] = endpoint.seed + sample
        if response_format is not None:
            arguments["response_format"] = response_format
        return arguments

    def _completion(self, data: Any, latency: float, attempts: int) -> Completion:
        """The completion in a chat-completions answer, or an error if it has none."""
        choices = data.get("choices") if isinstance(data, dict) else None
        message = choices[0].get("message") if isinstance(choices, list) and choices \
            and isinstance(choices[0], dict) else None
        if not isinstance(message, dict):
            return Completion(None, None, None, None, None, attempts,
                              "invalid response: no choices[0].message")
        text = message.get("content")
        if text is None:  # a refusal is the model's answer too: kept as raw text, unparseable
            text = message.get("refusal")
        if text is not None and not isinstance(text, str):
            return Completion(None, None, None, None, None, attempts,
                              f"invalid response: the message content is a {type(text).__name__}")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        model = data.get("model")
        return Completion(text, model if isinstance(model, str) and model else self.endpoint.model,
                          _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")),
                          latency, attempts)

    def _scrub(self, message: str) -> str:
        """The error message without the API key or an image's base64 (a server may echo
        them) and not too long."""
        key = self._openai.api_key
        if isinstance(key, str) and key and key != NO_KEY:
            message = message.replace(key, "[API key]")
        message = _DATA_URI.sub(r"\1…", message)
        return message if len(message) <= _ERROR_CHARS else message[:_ERROR_CHARS] + "…"

    async def _wait(self, seconds: float, cancel: CancelSignal | None) -> bool:
        """Wait ``seconds`` in short slices; True (and stop early) if ``cancel`` gets set."""
        remaining = seconds
        while remaining > 0:
            if cancel is not None and cancel.is_set():
                return True
            step = min(remaining, _WAIT_SLICE)
            await self._sleep(step)
            remaining -= step
        return cancel is not None and cancel.is_set()


def _count(value: object) -> int | None:
    """A token count from the answer's usage, or None when absent or not a count."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _failed(request: JudgeRequest, mode: OutputMode, attempts: int, error: str | None, *,
            cancelled: bool = False) -> CallResult:
    return CallResult(request.key, request.sample, None, None, None, mode, None, None, None, attempts,
                      error, cancelled)
