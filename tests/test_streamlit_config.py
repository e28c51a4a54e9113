"""The Streamlit settings Docket depends on (DESIGN.md §2) stay in .streamlit/config.toml."""

import tomllib

from tests.conftest import REPO_ROOT

CONFIG = REPO_ROOT / ".streamlit" / "config.toml"


def _config() -> dict:
    with CONFIG.open("rb") as handle:
        return tomllib.load(handle)


def test_post_script_gc_is_off():
    # Measured: the default GC after every run costs ~100 ms per click.
    assert _config()["runner"]["postScriptGC"] is False


def test_usage_stats_are_off():
    assert _config()["browser"]["gatherUsageStats"] is False


def test_default_sidebar_navigation_is_hidden():
    # Pages draw their own navigation; the default one would list pages a role may not use.
    assert _config()["client"]["showSidebarNavigation"] is False


def test_the_server_listens_on_loopback_by_default():
    # Only this computer can connect until an admin chooses an address (README, Configuration);
    # on another address the first admin needs the setup token (components/setup_token.py).
    assert _config()["server"]["address"] == "127.0.0.1"


def test_the_browser_never_gets_error_details():
    # No traceback, file path or exception text in the browser, should the page boundary
    # (components/error_boundary.py) ever miss an error.
    assert _config()["client"]["showErrorDetails"] == "none"
