"""Issue item 7: ``/_stcore/metrics`` gives anonymous visitors nothing (real server).

Streamlit 1.67 serves the endpoint to anyone, with cache and session activity, and has no
setting to switch it off; ``components/web_middleware.py`` closes it.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.e2e import conftest as e2e

pytestmark = pytest.mark.browser  # needs the real server

chromium_path, docket_server = e2e.chromium_path, e2e.docket_server


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None
          ) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


@pytest.mark.parametrize(("path", "method", "headers"), [
    ("/_stcore/metrics", "GET", None),
    ("/_stcore/metrics", "GET", {"Accept": "application/x-protobuf"}),
    ("/_stcore/metrics?families=cache_memory_bytes", "GET", None),
    ("/_stcore/metrics/", "GET", None),
    ("/_stcore/metrics", "OPTIONS", None),
], ids=["text", "protobuf", "one-family", "trailing-slash", "options"])
def test_anonymous_requests_get_no_metrics(docket_server, path, method, headers):
    fetch(docket_server.url + "/")  # some activity to report, had the endpoint been open
    status, body = fetch(docket_server.url + path, method, headers)
    assert status == 404
    assert "cache" not in body and "session" not in body and "# TYPE" not in body


def test_the_rest_of_the_server_still_answers(docket_server):
    assert fetch(docket_server.url + "/_stcore/health") == (200, "ok")
    status, body = fetch(docket_server.url + "/")
    assert status == 200 and "<html" in body.lower()
