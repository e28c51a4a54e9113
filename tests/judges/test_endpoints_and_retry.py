"""Endpoint settings are validated with messages that name the setting (and never echo a key);
the retry policy's waits and Retry-After parsing, checked against hand-computed values."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from core.judges.endpoints import Endpoint, EndpointError, api_key_from_env
from core.judges.retry import RetryPolicy, is_retryable_status, parse_retry_after

SECRET = "sk-test-3f9a1c77e2b04d5e"


def test_a_valid_endpoint_and_its_cost_estimate():
    endpoint = Endpoint("https://api.example.test/v1", "gpt-x", api_key_env="OPENAI_API_KEY",
                        price_input_per_million=2.5, price_output_per_million=10)
    # 1,200 input tokens at 2.5 per million + 300 output at 10 per million
    assert endpoint.cost(1_200, 300) == pytest.approx(0.003 + 0.003)
    assert Endpoint("http://127.0.0.1:8000/v1", "m").cost(10, 10) is None


@pytest.mark.parametrize(("settings", "message"), [
    ({"base_url": "ftp://host/v1"}, "base_url: must start with http:// or https://"),
    ({"base_url": "127.0.0.1:8000"}, "base_url: must start with http:// or https://"),
    ({"base_url": "http:///v1"}, "base_url: has no host name"),
    ({"base_url": "http://host:port/v1"}, "base_url: is not a valid URL"),
    ({"base_url": "http://host/v1?key=1"}, "base_url: must not contain a query"),
    ({"base_url": ""}, "base_url: is required"),
    ({"model": " "}, "model: is required"),
    ({"api_key_env": "MY KEY"}, "api_key_env: is not an environment variable name"),
    ({"temperature": 2.5}, "temperature: must be at least 0 and at most 2, got 2.5"),
    ({"temperature": math.nan}, "temperature: expected a number, got nan"),
    ({"max_tokens": 0}, "max_tokens: expected a positive whole number, got 0"),
    ({"max_tokens": 1.5}, "max_tokens: expected a positive whole number, got 1.5"),
    ({"seed": "7"}, "seed: expected a whole number, got '7'"),
    ({"timeout": 0}, "timeout: must be above 0, got 0"),
    ({"price_output_per_million": -1}, "price_output_per_million: must be at least 0, got -1"),
])
def test_bad_settings_name_the_setting(settings, message):
    arguments = {"base_url": "http://127.0.0.1:8000/v1", "model": "m", **settings}
    with pytest.raises(EndpointError) as raised:
        Endpoint(**arguments)
    assert str(raised.value) == message or str(raised.value).startswith(message)


@pytest.mark.parametrize("url", [f"https://user:{SECRET}@api.example.test/v1", f"{SECRET}:x@host/v1",
                                 f"https://{SECRET}@api.example.test/v1"])
def test_a_key_pasted_into_the_base_url_is_refused_without_being_echoed(url):
    with pytest.raises(EndpointError) as raised:
        Endpoint(url, "m")
    assert SECRET not in str(raised.value)
    assert str(raised.value).startswith("base_url: ")


def test_a_key_pasted_as_the_variable_name_is_refused_without_being_echoed():
    with pytest.raises(EndpointError) as raised:
        Endpoint("https://api.example.test/v1", "m", api_key_env=SECRET)
    assert SECRET not in str(raised.value)
    assert str(raised.value).startswith("api_key_env: is not an environment variable name")


def test_the_key_comes_from_the_named_variable_and_only_the_name_is_ever_shown():
    endpoint = Endpoint("https://api.example.test/v1", "m", api_key_env="JUDGE_KEY")
    assert SECRET not in repr(endpoint)
    assert api_key_from_env(endpoint, {"JUDGE_KEY": SECRET}) == SECRET
    with pytest.raises(EndpointError, match="api_key_env: the environment variable JUDGE_KEY is not set"):
        api_key_from_env(endpoint, {"OTHER": SECRET})
    assert api_key_from_env(Endpoint("http://127.0.0.1/v1", "m"), {"JUDGE_KEY": SECRET}) is None


@pytest.mark.parametrize(("status", "retry"), [(408, True), (429, True), (500, True), (502, True),
                                               (503, True), (599, True), (400, False), (401, False),
                                               (403, False), (404, False), (422, False)])
def test_which_statuses_are_retried(status, retry):
    assert is_retryable_status(status) is retry


def test_backoff_doubles_up_to_the_cap_with_half_of_each_step_random():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    # steps 0.5, 1, 2, 4, 4: the wait is step/2 + step/2 * random()
    assert [policy.backoff(n, lambda: 0.0) for n in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert [policy.backoff(n, lambda: 1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.backoff(3, lambda: 0.5) == 1.5
    assert RetryPolicy(max_delay=30).backoff(10_000, lambda: 1.0) == 30.0  # no overflow


@pytest.mark.parametrize(("value", "seconds"), [
    ("2", 2.0), (" 0.5 ", 0.5), ("0", 0.0), (None, None), ("", None), ("soon", None), ("-3", None),
    ("inf", None), ("nan", None),
])
def test_retry_after_in_seconds(value, seconds):
    assert parse_retry_after(value, now=0.0) == seconds


def test_retry_after_as_an_http_date():
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 3, 1, 12, 0, 7, tzinfo=UTC), usegmt=True)
    assert later == "Sun, 01 Mar 2026 12:00:07 GMT"
    assert parse_retry_after(later, now=now.timestamp()) == 7.0
    assert parse_retry_after("Sun, 01 Mar 2026 11:59:00 GMT", now=now.timestamp()) == 0.0  # past
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:07 -0000", now=now.timestamp()) == 7.0


@pytest.mark.parametrize(("settings", "message"), [
    ({"max_attempts": 0}, "max_attempts: expected a whole number >= 1, got 0"),
    ({"base_delay": -1}, "base_delay: expected a number >= 0, got -1"),
    ({"max_delay": math.inf}, "max_delay: expected a number >= 0, got inf"),
])
def test_bad_retry_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**settings)
