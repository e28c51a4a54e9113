"""Debian's nginx in front of several ``streamlit run app.py`` processes, from the repository's
own site file (``deploy/nginx.conf``), for the several-processes test and benchmark.

The site is used as written, with three changes: the upstream lists the given ports, nginx
listens on 127.0.0.1 at a port of the caller's, and each answer carries a header naming the
process that answered (:data:`UPSTREAM_HEADER`), so a test knows where each browser went. A
main configuration of its own runs nginx in the foreground with its pid, logs and temporary
files in one folder (no root paths, nothing of the system's nginx touched).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "deploy" / "nginx.conf"
UPSTREAM_HEADER = "X-Docket-Upstream"
START_TIMEOUT_S = 30


class ProxyError(RuntimeError):
    """nginx is missing, refused the configuration or did not start."""


def nginx_binary() -> str | None:
    """Return the path of Debian's nginx, or None if it is not installed."""
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"
    return found


def site_config(template: str, *, ports: list[int], listen: int) -> str:
    """Return the site ``template`` (``deploy/nginx.conf``) with the upstream's servers on
    ``ports``, listening on 127.0.0.1 at ``listen``, and the :data:`UPSTREAM_HEADER` header.

    Raises :class:`ProxyError` if the template no longer has the lines replaced here.
    """
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in ports)
    config, upstreams = re.subn(r"(?m)(^    server 127\.0\.0\.1:\d+;\n)+", servers, template)
    config, listens = re.subn(r"(?m)^    listen 80;$", f"    listen 127.0.0.1:{listen};", config)
    config, passes = re.subn(r"(?m)^(\s+)proxy_pass http://docket;$",
                             rf"\g<0>\n\1add_header {UPSTREAM_HEADER} $upstream_addr always;",
                             config)
    if (upstreams, listens, passes) != (1, 1, 1):
        raise ProxyError("deploy/nginx.conf changed its shape: expected one upstream block of "
                         "'server 127.0.0.1:PORT;' lines, one 'listen 80;' and one proxy_pass")
    return config


def main_config(folder: Path, site: Path) -> str:
    """Return an nginx.conf that runs in the foreground with every path under ``folder`` and
    includes ``site``; its access log names the upstream of each request."""
    temp = "\n".join(f"    {name}_temp_path {folder / name};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx's workers would run as "nobody", who cannot enter a private temp folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\n"
            f"error_log {folder / 'error.log'} info;\nevents {{ worker_connections 512; }}\n"
            f"http {{\n    log_format docket '$remote_addr \"$request\" $status "
            f"upstream=$upstream_addr';\n    access_log {folder / 'access.log'} docket;\n"
            f"{temp}\n    include {site};\n}}\n")


@dataclass
class Proxy:
    """A running nginx: its process, base URL and folder (``access.log``, ``error.log``)."""

    process: subprocess.Popen
    url: str
    folder: Path

    @property
    def access_log(self) -> Path:
        """nginx's access log, one line per request with ``upstream=ADDRESS:PORT``."""
        return self.folder / "access.log"

    def stop(self) -> None:
        """Stop nginx (fast shutdown) and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_proxy(folder: Path, *, ports: list[int], listen: int) -> Proxy:
    """Start nginx on 127.0.0.1:``listen`` in front of the app processes on ``ports``; return
    it once it answers ``/_stcore/health``. Raises :class:`ProxyError`."""
    nginx = nginx_binary()
    if nginx is None:
        raise ProxyError("nginx not found (apt-get install nginx)")
    folder.mkdir(parents=True, exist_ok=True)
    site = folder / "docket.conf"
    site.write_text(site_config(SITE.read_text(), ports=ports, listen=listen))
    main = folder / "nginx.conf"
    main.write_text(main_config(folder, site))
    command = [nginx, "-p", str(folder), "-c", str(main)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    if checked.returncode != 0:
        raise ProxyError(f"nginx refused the configuration:\n{checked.stderr}")
    output = folder / "nginx.out"
    with output.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    proxy = Proxy(process, f"http://127.0.0.1:{listen}", folder)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProxyError(f"nginx exited with {process.returncode}:\n{output.read_text()}"
                             f"{(folder / 'error.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{proxy.url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return proxy
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    proxy.stop()
    raise ProxyError(f"nginx did not answer in {START_TIMEOUT_S} s")


def upstream_of(proxy_url: str, cookies: str) -> int:
    """Return the port of the app process nginx sends a browser with ``cookies`` (a
    ``Cookie`` header value) to."""
    request = urllib.request.Request(f"{proxy_url}/_stcore/health", headers={"Cookie": cookies})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.headers[UPSTREAM_HEADER].rsplit(":", 1)[1])
