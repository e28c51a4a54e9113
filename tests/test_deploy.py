"""The deployment files in deploy/ say what the code does: the options and commands they run
exist, the settings they name are read, and the README documents each file.

The nginx site itself runs in tests/e2e/test_several_processes.py (two app processes behind
it); here only what needs no nginx.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from streamlit import config

import cli
from tests.test_docs import README, environment_names, section

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
FILES = ("nginx.conf", "docket@.service", "docket-worker.service")


def exec_start(unit: str) -> list[str]:
    (line,) = [line for line in (DEPLOY / unit).read_text().splitlines()
               if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


@pytest.mark.parametrize("name", FILES)
def test_the_readme_documents_every_deployment_file(name):
    assert (DEPLOY / name).is_file()
    assert f"deploy/{name}" in section("Running several processes")


def test_the_app_unit_runs_the_readme_command_with_options_streamlit_knows():
    command = exec_start("docket@.service")
    assert command[1:3] == ["run", "app.py"] and command[0].endswith("/streamlit")
    options = [arg.removeprefix("--") for arg in command if arg.startswith("--")]
    assert {"server.port", "server.address"} <= set(options)
    known = config.get_config_options()
    assert all(option in known for option in options), options
    assert command[command.index("--server.port") + 1] == "%i"  # the instance name is the port
    assert command[command.index("--server.address") + 1] == "127.0.0.1"  # only nginx reaches it


def test_the_worker_unit_runs_the_cli_worker():
    command = exec_start("docket-worker.service")
    assert command[1:] == ["cli.py", "worker"]
    assert "worker" in cli.command_names()


def test_the_units_name_only_settings_the_code_reads():
    named = {name for unit in FILES[1:] for name in re.findall(r"DOCKET_[A-Z_]+",
                                                               (DEPLOY / unit).read_text())}
    assert named and named <= environment_names("app.py", "cli.py", "components", "storage")
    assert "Environment=DOCKET_WORKER=off" in (DEPLOY / "docket@.service").read_text()


def test_the_nginx_site_upgrades_websockets_and_routes_by_the_browser_cookie():
    site = (DEPLOY / "nginx.conf").read_text()
    from components.browser import BROWSER_COOKIE

    assert f"map $cookie_{BROWSER_COOKIE} $docket_route" in site
    assert "hash $docket_route consistent;" in site
    assert "proxy_set_header Upgrade $http_upgrade;" in site
    assert "proxy_set_header Connection $docket_connection;" in site
    assert "proxy_http_version 1.1;" in site
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in site
    # The upload limit is Streamlit's server.maxUploadSize (MB), so nginx does not refuse first.
    limit = int(re.search(r"client_max_body_size (\d+)m;", site).group(1))
    config_text = (ROOT / ".streamlit" / "config.toml").read_text()
    assert limit == int(re.search(r"maxUploadSize = (\d+)", config_text).group(1))


def test_the_readme_lists_what_stays_per_process():
    text = section("Running several processes")
    for shared in ("Sign-in throttling", "Sign-in sessions", "st.cache_data", "Judge runs",
                   "Streamlit session", "Setup token", "connection pool"):
        assert shared in text, shared
    assert "DOCKET_TRUSTED_PROXIES" in README


def test_the_test_proxy_substitutes_only_ports_and_adds_one_header():
    from bench.nginx_proxy import UPSTREAM_HEADER, ProxyError, site_config

    site = (DEPLOY / "nginx.conf").read_text()
    config = site_config(site, ports=[9001, 9002, 9003], listen=9100)
    assert re.findall(r"server 127\.0\.0\.1:(\d+);", config) == ["9001", "9002", "9003"]
    assert "listen 127.0.0.1:9100;" in config and "listen 80;" not in config
    removed = {line.strip() for line in site.splitlines()} - {
        line.strip() for line in config.splitlines()}
    assert removed == {"server 127.0.0.1:8501;", "server 127.0.0.1:8502;", "listen 80;"}
    assert f"add_header {UPSTREAM_HEADER} $upstream_addr always;" in config
    with pytest.raises(ProxyError, match="changed its shape"):
        site_config(site.replace("listen 80;", "listen 8080;"), ports=[1], listen=2)
