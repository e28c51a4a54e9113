"""One judge call against the fake OpenAI-compatible server: what is sent, retries honouring
Retry-After, timeouts, malformed answers, the response_format fallback, and the API key never
leaving the Authorization header."""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from core.judges.client import NO_KEY, JudgeClient
from core.judges.endpoints import Endpoint
from core.judges.prompting import Message
from core.judges.retry import RetryPolicy
from core.judges.verdicts import verdict_response_format
from tests.event_loops import run_async
from tests.judges.helpers import CORRECT, SECRET, FakeSleep, endpoint, request, with_client


def call(server, req=None, **options):
    req = req or request()
    return with_client(server, lambda client: client.call(req), **options)


def words(text: str) -> int:
    return len(text.split())


def test_a_call_sends_the_rendered_prompt_and_reads_the_verdict(fake_openai):
    req = request(3, "incorrect")
    result = call(fake_openai, req)
    assert (result.key, result.verdict.label, result.output, result.attempts, result.error) == (
        ("item", 3), "incorrect", "json", 1, None)
    assert result.verdict.rationale == "The response was checked against the question."
    assert result.model == "judge-model" and result.latency > 0
    [sent] = fake_openai.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.body["messages"] == [m.as_dict() for m in req.messages("json")]
    assert "Reference 3" in sent.body["messages"][1]["content"]
    assert sent.body["model"] == "judge-model"
    assert (sent.body["temperature"], sent.body["max_tokens"]) == (0.0, 1024)
    assert "seed" not in sent.body
    assert sent.body["response_format"] == verdict_response_format(CORRECT, rationale=True)
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    # the fake counts words: every message's content in, the answer's content out
    assert result.input_tokens == sum(words(m["content"]) for m in sent.body["messages"])
    assert result.output_tokens == words(result.raw_text)


def test_seed_is_offset_by_the_sample_and_unset_settings_are_not_sent(fake_openai):
    call(fake_openai, request(sample=2), seed=7, temperature=None, max_tokens=None)
    body = fake_openai.requests[0].body
    assert body["seed"] == 9
    assert "temperature" not in body and "max_tokens" not in body


def test_an_endpoint_without_a_key_sends_a_placeholder(fake_openai):
    call(fake_openai, key=None)
    assert fake_openai.requests[0].headers["authorization"] == f"Bearer {NO_KEY}"


def test_429_waits_exactly_as_long_as_retry_after_says(fake_openai):
    fake_openai.add_fault("429", times=2, retry_after="3")
    sleep = FakeSleep()
    result = call(fake_openai, clocks={"sleep": sleep})
    assert (result.verdict.label, result.attempts) == ("correct", 3)
    assert sleep.total == pytest.approx(6.0)
    assert max(sleep.waits) <= 0.1  # waited in short slices, to notice a cancel


def test_retry_after_as_an_http_date_is_honoured(fake_openai):
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    fake_openai.add_fault("429", retry_after=format_datetime(
        datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC), usegmt=True))
    sleep = FakeSleep()
    result = with_client(fake_openai, lambda client: client.call(request()),
                         clocks={"sleep": sleep, "wall_clock": now.timestamp})
    assert result.attempts == 2 and sleep.total == pytest.approx(5.0)


def test_a_real_retry_after_wait_shows_at_the_server(fake_openai):
    fake_openai.add_fault("429", retry_after="1")
    result = call(fake_openai)
    first, second = fake_openai.requests
    assert result.attempts == 2
    assert 1.0 <= second.at - first.at < 3.0


def test_5xx_is_retried_with_exponential_backoff(fake_openai):
    fake_openai.add_fault("500", times=3)
    sleep = FakeSleep()
    # random() = 0: the jitter's lower end, each wait is half its step
    result = with_client(fake_openai, lambda client: client.call(request()),
                         clocks={"sleep": sleep, "random": lambda: 0.0}, retry=RetryPolicy(base_delay=0.5))
    assert (result.verdict.label, result.attempts) == ("correct", 4)
    assert sleep.total == pytest.approx(0.25 + 0.5 + 1.0)


def test_5xx_until_the_attempts_run_out_is_a_failed_call(fake_openai):
    fake_openai.add_fault("500", times=None)
    result = call(fake_openai, clocks={"sleep": FakeSleep()}, retry=RetryPolicy(max_attempts=3))
    assert result.verdict is None and not result.ok and not result.cancelled
    assert result.attempts == 3 and len(fake_openai.requests) == 3
    assert result.error.startswith("HTTP 500: ")


def test_a_retry_after_beyond_the_limit_ends_the_call(fake_openai):
    fake_openai.add_fault("429", retry_after="3600")
    sleep = FakeSleep()
    result = call(fake_openai, clocks={"sleep": sleep}, retry=RetryPolicy(max_retry_after=120))
    assert result.attempts == 1 and sleep.waits == []
    assert "the server asks to retry after 3600 s, more than the 120 s limit" in result.error


def test_a_slow_answer_times_out_and_is_retried(fake_openai):
    fake_openai.add_fault("slow", times=None, delay=5)
    started = time.monotonic()
    result = call(fake_openai, timeout=0.3, retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    assert result.error == "timed out after 0.3 s" and result.attempts == 2
    assert time.monotonic() - started < 3


def test_a_slow_answer_within_the_timeout_is_fine(fake_openai):
    fake_openai.add_fault("slow", delay=0.2)
    assert call(fake_openai, timeout=5).verdict.label == "correct"


def test_a_dropped_connection_is_retried(fake_openai):
    fake_openai.add_fault("drop")
    result = call(fake_openai, clocks={"sleep": FakeSleep()})
    assert (result.verdict.label, result.attempts) == ("correct", 2)


def test_a_connection_that_keeps_dropping_is_a_failed_call(fake_openai):
    fake_openai.add_fault("drop", times=None)
    result = call(fake_openai, clocks={"sleep": FakeSleep()}, retry=RetryPolicy(max_attempts=2))
    assert result.attempts == 2 and result.error.startswith("connection error: ")


def test_nothing_listening_is_a_connection_error():
    with socket.socket() as probe:  # a port on 127.0.0.1 that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main():
        ep = Endpoint(f"http://127.0.0.1:{port}/v1", "m")
        async with JudgeClient(ep, api_key=SECRET, retry=RetryPolicy(max_attempts=2),
                               sleep=FakeSleep()) as client:
            return await client.call(request())

    result = run_async(main())
    assert result.attempts == 2 and result.error.startswith("connection error: ")


def test_a_malformed_answer_is_a_failed_call_not_retried(fake_openai):
    fake_openai.add_fault("malformed", times=None)
    result = call(fake_openai, clocks={"sleep": FakeSleep()})
    assert result.attempts == 1 and result.error.startswith("invalid response: JSONDecodeError")


def test_an_answer_without_a_message_is_a_failed_call(fake_openai):
    fake_openai.add_fault("no_choices")
    result = call(fake_openai)
    assert result.attempts == 1 and result.error == "invalid response: no choices[0].message"


def test_an_unparseable_verdict_is_a_verdict_without_a_label_with_its_raw_text(fake_openai):
    fake_openai.add_fault("unparseable")
    result = call(fake_openai)
    assert result.ok and result.error is None
    assert result.raw_text == "I cannot decide about this one."
    assert result.verdict.label is None and "not a JSON verdict" in result.verdict.problem


def test_other_4xx_are_not_retried(fake_openai):
    fake_openai.add_fault("400", times=None)
    # no response_format asked for: nothing to fall back from
    result = call(fake_openai, clocks={"sleep": FakeSleep()}, structured_output=False)
    assert result.attempts == 1 and result.error == "HTTP 400: Invalid request"


def test_a_refused_response_format_falls_back_to_the_verdict_line_and_is_remembered(fake_openai, caplog):
    fake_openai.add_fault("reject_format", times=None)

    async def use(client):
        first = await client.call(request(1, "incorrect"))
        mode = client.output_mode
        second = await client.call(request(2, "correct"))
        return first, mode, second

    with caplog.at_level(logging.INFO, logger="core.judges.client"):
        first, mode, second = with_client(fake_openai, use)
    assert (first.verdict.label, first.output, first.attempts) == ("incorrect", "verdict", 2)
    assert first.raw_text.endswith("\nVerdict: incorrect")
    assert mode == "verdict"
    assert (second.verdict.label, second.output, second.attempts) == ("correct", "verdict", 1)
    bodies = [r.body for r in fake_openai.requests]
    assert ["response_format" in body for body in bodies] == [True, False, False]
    assert bodies[1]["messages"] == [m.as_dict() for m in request(1, "incorrect").messages("verdict")]
    assert "Verdict: <label>" in bodies[1]["messages"][-1]["content"]
    assert any("refused response_format" in r.getMessage() for r in caplog.records)


def test_a_400_that_is_not_about_the_format_is_not_remembered_as_one(fake_openai):
    fake_openai.add_fault("400", times=2)

    async def use(client):
        return await client.call(request()), client.output_mode

    result, mode = with_client(fake_openai, use)
    assert result.attempts == 2 and result.error == "HTTP 400: Invalid request"
    assert mode == "json"


def test_a_prompt_that_cannot_be_rendered_fails_without_a_request(fake_openai):
    req = request()
    no_reference = type(req)(req.key, req.prompt, req.item, req.dimension, reference=None)
    result = call(fake_openai, no_reference)
    assert result.attempts == 0 and "no reference answer was given" in result.error
    assert fake_openai.requests == []


def test_cancel_while_waiting_to_retry_stops_the_call(fake_openai):
    fake_openai.add_fault("429", retry_after="30")
    cancel = threading.Event()
    sleep = FakeSleep(then=cancel.set)

    async def use(client):
        return await client.call(request(), cancel)

    result = with_client(fake_openai, use, clocks={"sleep": sleep})
    assert result.cancelled and result.verdict is None and result.error is None
    assert result.attempts == 1 and sleep.total <= 0.1


def test_complete_returns_the_raw_text(fake_openai):
    messages = [Message("user", "Say something. <<expect:tie>>")]
    done = with_client(fake_openai, lambda client: client.complete(messages))
    assert done.text.endswith("Verdict: tie") and done.error is None and done.attempts == 1
    assert "response_format" not in fake_openai.requests[0].body


def test_the_api_key_never_leaves_the_authorization_header(fake_openai, caplog):
    """Every failure path, with every logger at DEBUG: the key is in no log record, repr or
    error message, although the server does echo it back in one error body."""
    fake_openai.add_fault("429", retry_after="0")
    fake_openai.add_fault("500")
    fake_openai.add_fault("drop")
    fake_openai.add_fault("echo_key", when="Question 2?")
    fake_openai.add_fault("malformed", when="Question 3?")
    fake_openai.add_fault("slow", when="Question 4?", delay=2)
    fake_openai.add_fault("reject_format", when="Question 5?")

    async def use(client):
        results = [await client.call(request(number)) for number in range(1, 6)]
        return results, repr(client)

    with caplog.at_level(logging.DEBUG):
        results, client_repr = with_client(fake_openai, use, timeout=0.5,
                                           retry=RetryPolicy(max_attempts=4, base_delay=0.01))
    assert [r.error is None for r in results] == [True, False, False, True, True]
    assert [r.attempts for r in results] == [4, 1, 1, 2, 2]  # 429, 500, drop; 401; bad JSON; timeout; 400
    assert "[API key]" in results[1].error  # the server echoed it; the message is scrubbed
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in fake_openai.requests)
    assert caplog.records, "the test must see the log records it checks"
    for record in caplog.records:
        assert SECRET not in record.getMessage(), record.getMessage()
        assert SECRET not in repr(record.args)
    shown = [client_repr, *map(repr, results), *(r.error or "" for r in results),
             repr(endpoint(fake_openai))]
    assert all(SECRET not in text for text in shown)
