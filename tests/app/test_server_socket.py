"""TCP_NODELAY on the server's sockets (components/server_socket.py), on real sockets."""

from __future__ import annotations

import socket
import sys

import pytest

from components.server_socket import enable_tcp_nodelay

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="works through /proc/self/fd (Linux)")


def _nodelay(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_listening_sockets_and_their_connections_get_nodelay():
    # socket.socket(family) has proto 0, like Streamlit's server socket: asyncio leaves
    # Nagle on for it and for every connection accepted from it.
    listener = socket.socket(socket.AF_INET)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    outgoing = socket.socket(socket.AF_INET)  # not the server's: left alone
    other = socket.socket(socket.AF_INET)
    other.bind(("127.0.0.1", 0))
    other.listen()
    try:
        outgoing.connect(other.getsockname())
        other.close()  # the listening one goes; the outgoing connection stays
        assert not _nodelay(listener) and not _nodelay(accepted) and not _nodelay(outgoing)

        assert enable_tcp_nodelay() >= 2
        assert _nodelay(listener) and _nodelay(accepted)
        assert not _nodelay(outgoing)
        later_client = socket.create_connection(listener.getsockname())
        later, _ = listener.accept()
        assert _nodelay(later)  # inherited from the listening socket
        assert enable_tcp_nodelay() == 0  # nothing left to change
        for sock in (later_client, later):
            sock.close()
    finally:
        for sock in (listener, client, accepted, outgoing):
            sock.close()
