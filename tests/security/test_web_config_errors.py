"""Issue item 6: a broken setting never shows a visitor its value, least of all a password.

A malformed ``DOCKET_DATABASE_URL`` used to be quoted on every page, password included, to
visitors nobody had signed in. Now every page shows only that Docket is unavailable, with an
error id; the reason goes to the server log, with the URL's password masked.
"""

from __future__ import annotations

import re

import pytest

from components.layout import PAGES
from storage.database import DatabaseConfigError, masked_url, normalize_url
from tests.app import conftest as app_conftest
from tests.app.apptest_helpers import open_page, rendered

clear_streamlit_caches = app_conftest.clear_streamlit_caches
password_sign_in = app_conftest.password_sign_in
browser_on_this_computer = app_conftest.browser_on_this_computer

SECRET = "s3cret-Pa55"
# Each fails to parse, so nothing tries to reach db.example (a test never leaves 127.0.0.1).
BROKEN_URLS = [
    f"postgresql://docket:{SECRET}@db.example:54x2/docket",  # a typo in the port
    f"postgres://docket:{SECRET}@db.example:5432x/docket",  # a stray letter
    f"docket:{SECRET}@db.example/docket",  # the scheme left out
    f"postgresql://docket:{SECRET}:more@db.example:5432:1/docket",  # a ":" in the password
    f"postgresql://docket@db.example:x/docket?password={SECRET}",  # password as a parameter
]


@pytest.mark.parametrize("url", BROKEN_URLS)
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.label)
def test_a_broken_database_url_shows_visitors_nothing_of_it(monkeypatch, caplog, url, page):
    monkeypatch.setenv("DOCKET_DATABASE_URL", url)
    at = open_page(page.path)
    assert not at.exception
    ((kind, _, message),) = rendered(at)  # nothing else is drawn, the sidebar stays empty
    assert kind == "error" and rendered(at, "sidebar") == []
    assert message.startswith("Docket is not available")
    assert SECRET not in message and "db.example" not in message and "docket:" not in message
    # The server log has the reason, with the id shown to the visitor, without the password.
    (error_id,) = re.findall(r"error id `([0-9a-f]{8})`", message)
    (record,) = [r for r in caplog.records if error_id in r.getMessage()]
    assert "cannot parse" in record.getMessage() and "db.example" in record.getMessage()
    assert SECRET not in caplog.text


@pytest.mark.parametrize("url", BROKEN_URLS)
def test_the_error_names_the_url_without_its_password(url):
    with pytest.raises(DatabaseConfigError) as caught:
        normalize_url(url)
    assert SECRET not in str(caught.value)
    assert "***" in str(caught.value) and "db.example" in str(caught.value)


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql://docket:pw@db/x", "postgresql://docket:***@db/x"),
    ("postgresql://docket:p@ss:w@db:5432/x", "postgresql://docket:***@db:5432/x"),
    ("docket:pw@db/x", "docket:***@db/x"),
    ("postgresql://docket@db/x?sslmode=require&password=pw", "postgresql://docket@db/x?sslmode=require&password=***"),
    ("postgresql://docket@db/x", "postgresql://docket@db/x"),
    ("sqlite:////srv/docket/docket.db", "sqlite:////srv/docket/docket.db"),
    ("not a url", "not a url"),
])
def test_masked_url(url, masked):
    assert masked_url(url) == masked


def test_a_bad_trusted_proxy_setting_is_for_the_log_only(app_db, admin, monkeypatch, caplog):
    monkeypatch.setenv("DOCKET_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")
    at = open_page()
    ((kind, _, message),) = rendered(at)
    assert kind == "error" and message.startswith("Docket is not available")
    assert "proxy.internal" not in message
    assert ("DOCKET_TRUSTED_PROXIES: 'proxy.internal' is not an IP address or a network"
            in caplog.text)


app_db, admin = app_conftest.app_db, app_conftest.admin
