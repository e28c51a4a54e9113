"""TCP_NODELAY on the Streamlit server's sockets: a click's answer leaves at once, not ~40 ms later.

Streamlit 1.67 serves through uvicorn on a socket it creates itself with ``socket.socket(
family)``, whose ``proto`` is 0. asyncio only switches Nagle's algorithm off for sockets whose
``proto`` is ``IPPROTO_TCP``, so every accepted connection keeps Nagle on. A rerun's answer is
many small websocket frames: the first goes out, the rest wait for its ACK, and the browser
delays that ACK by up to 40 ms (Linux's delayed ACK). Measured with ``bench/annotate_bench.py``:
"save & next" took ~10 ms on the server but ~48 ms from click to the last frame received.

:func:`enable_tcp_nodelay` sets ``TCP_NODELAY`` on the process's listening TCP sockets (Linux
copies it to every connection accepted afterwards) and on the connections already accepted
from them. It works through ``/proc/self/fd``; elsewhere it does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

log = logging.getLogger(__name__)

_FD_DIR = Path("/proc/self/fd")


def _tcp_sockets() -> list[socket.socket]:
    """Duplicates of this process's TCP sockets (the caller closes them)."""
    found = []
    for entry in _FD_DIR.iterdir() if _FD_DIR.is_dir() else ():
        try:
            if not os.readlink(entry).startswith("socket:"):
                continue
            duplicate = socket.socket(fileno=os.dup(int(entry.name)))
        except (OSError, ValueError):  # closed meanwhile, or not a socket after all
            continue
        if duplicate.family in (socket.AF_INET, socket.AF_INET6) \
                and duplicate.type == socket.SOCK_STREAM:
            found.append(duplicate)
        else:
            duplicate.close()
    return found


def enable_tcp_nodelay() -> int:
    """Set ``TCP_NODELAY`` on this process's listening TCP sockets and on the connections
    accepted from them; return how many sockets were changed (0 where ``/proc`` is missing).

    Never raises for a socket that cannot be changed: it is skipped and logged at debug level.
    """
    sockets = _tcp_sockets()
    try:
        listening = [s for s in sockets if s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)]
        ports = {s.getsockname()[1] for s in listening}
        changed = 0
        for sock in sockets:
            try:
                ours = sock in listening or sock.getsockname()[1] in ports
                if ours and not sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    changed += 1
            except OSError as exc:
                log.debug("TCP_NODELAY not set on %r: %s", sock, exc)
        return changed
    finally:
        for sock in sockets:
            sock.close()
