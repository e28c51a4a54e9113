"""Where and how a judge is called: an OpenAI-compatible endpoint and its sampling settings.

The API key is never part of an :class:`Endpoint`: the endpoint holds only the *name* of the
environment variable (or secret) that holds it; the caller reads the key at call time
(:func:`api_key_from_env`) and hands it to :class:`core.judges.client.JudgeClient`.

Images are sent only to an endpoint marked ``vision`` (off by default: a text-only model would
fail or, worse, answer without seeing the image); :func:`vision_problem` says why not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EndpointError(ValueError):
    """An endpoint setting is invalid; the message names the setting and the problem."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible chat-completions endpoint and the sampling settings of a judge.

    ``seed`` (where the server supports it) is offset by the sample index, so samples differ
    but each is reproducible. Prices are in the currency of the user's choice per million
    tokens; without them no cost is estimated.
    """

    base_url: str
    model: str
    api_key_env: str | None = None
    temperature: float | None = 0.0
    max_tokens: int | None = 1024
    seed: int | None = None
    timeout: float = 60.0
    price_input_per_million: float | None = None
    price_output_per_million: float | None = None
    # Ask for a JSON-schema verdict (response_format) first; the client falls back to the
    # "Verdict:" line by itself if the endpoint rejects it.
    structured_output: bool = True
    # The model reads images (image_url parts): only then are items with image fields sent.
    vision: bool = False

    def __post_init__(self) -> None:
        _check_base_url(self.base_url)
        if not isinstance(self.vision, bool):
            raise EndpointError("vision", f"expected true or false, got {self.vision!r}")
        if not isinstance(self.model, str) or not self.model.strip():
            raise EndpointError("model", "is required")
        if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
            # Not echoed: what lands in this box by mistake is usually the key itself.
            raise EndpointError("api_key_env", "is not an environment variable name (letters, "
                                "digits and _, not starting with a digit): give the name of the "
                                "variable that holds the key, never the key")
        _check_number("temperature", self.temperature, low=0.0, high=2.0)
        if self.max_tokens is not None and (isinstance(self.max_tokens, bool)
                                            or not isinstance(self.max_tokens, int)
                                            or self.max_tokens < 1):
            raise EndpointError("max_tokens", f"expected a positive whole number, got {self.max_tokens!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise EndpointError("seed", f"expected a whole number, got {self.seed!r}")
        _check_number("timeout", self.timeout, low=0.0, high=None, open_low=True)
        _check_number("price_input_per_million", self.price_input_per_million, low=0.0, high=None)
        _check_number("price_output_per_million", self.price_output_per_million, low=0.0, high=None)

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        """Estimated cost of the tokens at this endpoint's prices; None when a price is unset."""
        if self.price_input_per_million is None or self.price_output_per_million is None:
            return None
        return (input_tokens * self.price_input_per_million
                + output_tokens * self.price_output_per_million) / 1_000_000


def _check_base_url(url: object) -> None:
    if not isinstance(url, str) or not url.strip():
        raise EndpointError("base_url", "is required")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise EndpointError("base_url", "is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        # The URL is never echoed: a key pasted into the wrong box must not end up in a message.
        raise EndpointError("base_url", "must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise EndpointError("base_url", "must not contain a user name or password; put the API key "
                            "in an environment variable and give its name as api_key_env")
    if not host:
        raise EndpointError("base_url", "has no host name")
    if parts.query or parts.fragment:
        raise EndpointError("base_url", "must not contain a query (?...) or fragment (#...)")


def _check_number(setting: str, value: object, *, low: float, high: float | None,
                  open_low: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EndpointError(setting, f"expected a number, got {value!r}")
    if value < low or (open_low and value == low) or (high is not None and value > high):
        bounds = f"{'above' if open_low else 'at least'} {low:g}" + (f" and at most {high:g}" if high else "")
        raise EndpointError(setting, f"must be {bounds}, got {value!r}")


def api_key_from_env(endpoint: Endpoint, environ: Mapping[str, str]) -> str | None:
    """Return the API key from ``environ[endpoint.api_key_env]``; None if the endpoint needs none.

    Raises :class:`EndpointError` naming the variable (never a value) when it is unset or empty.
    """
    if endpoint.api_key_env is None:
        return None
    key = environ.get(endpoint.api_key_env, "")
    if not key.strip():
        raise EndpointError("api_key_env", f"the environment variable {endpoint.api_key_env} is not set")
    return key


def vision_problem(endpoint: Endpoint, image_fields: Sequence[str], *, holder: str = "project"
                   ) -> str | None:
    """Why ``endpoint`` must not be sent the images of ``image_fields`` (those of the project,
    or of an item: ``holder``): a message naming the endpoint and the fields when there are
    image fields and the endpoint is not marked vision-capable; None when it may be called."""
    if endpoint.vision or not image_fields:
        return None
    return (f"endpoint {endpoint.model} at {endpoint.base_url} is not marked vision-capable; "
            f"the {holder} has image fields {', '.join(image_fields)}")
