"""Helpers of the web security tests (tests/security/test_web_*.py).

- :func:`as_browser`: AppTest sends no headers or cookies; this stands in for what a browser
  sent (its address, ``X-Forwarded-For``, Docket's cookie).
- :func:`ws_session`: a websocket client (bench/st_client.py) signed in on a real server.
- :func:`in_chromium`: a scenario in a Chromium of its own, on a thread of its own, since
  Playwright's sync API (the session's ``browser`` fixture of tests/e2e) may already run an
  event loop on this one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

import components.browser
from bench.st_client import ClientError, StreamlitClient
from components.browser import BrowserRequest
from tests.e2e.conftest import CHROMIUM_ARGS

T = TypeVar("T")


def as_browser(monkeypatch: pytest.MonkeyPatch, *, peer: str | None = None,
               forwarded_for: tuple[str, ...] = (), cookie: str | None = "apptest") -> None:
    """Make every AppTest run see a browser at ``peer`` (None: this computer) that sent
    ``forwarded_for`` and Docket's cookie ``cookie``."""
    monkeypatch.setattr(components.browser, "browser_request", lambda: BrowserRequest(
        peer=peer, forwarded_for=forwarded_for, cookie=cookie))



def in_chromium(chromium: Path, scenario: Callable[[Any], T]) -> T:
    """Run ``scenario(page)`` in a fresh headless Chromium tab and return its result."""
    from playwright.sync_api import sync_playwright

    def run() -> T:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.set_default_timeout(20_000)
                return scenario(context.new_page())
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


async def ws_session(url: str, name: str, password: str, *, page: str = "",
                     headers: Mapping[str, str] | None = None) -> StreamlitClient:
    """Open ``page`` of the server at ``url`` like a browser and submit the sign-in form with
    ``name`` and ``password``; return the connected client (the caller closes it).

    A failed sign-in is not an error here: the page shows its message in ``state.errors``.
    """
    client = StreamlitClient(url, page, headers=headers)
    await client.connect()
    await press_allowing_errors(client, "auth.sign_in.submit",
                                {"auth.sign_in.name": name, "auth.sign_in.password": password})
    return client


async def press_allowing_errors(client: StreamlitClient, key: str,
                                extra: Mapping[str, str] | None = None) -> list[str]:
    """Press ``key`` and return the error messages the run drew (none is fine)."""
    try:
        await client.press(key, extra)
    except ClientError:
        if not client.state.errors:
            raise
    return list(client.state.errors)


def signed_in(client: StreamlitClient) -> bool:
    """True if the client's last run drew the sign-out button and no sign-in form."""
    return "auth.sign_out" in client.state.drawn and "auth.sign_in.submit" not in client.state.drawn
