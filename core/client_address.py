"""Who is on the other end of a connection: the client address behind trusted proxies.

A reverse proxy connects to Docket itself and names the browser in ``X-Forwarded-For``
(``client, proxy1, proxy2``, each proxy appending the address it received the request from).
Anyone can send that header, so it is believed only as far as it was written by proxies the
operator trusts: walking it from the right, every trusted address is skipped and the first
untrusted one is the client. A connection from an untrusted address is that address, whatever
its headers say.

Streamlit's server (uvicorn) applies a rule of its own first: for a connection from an
address it trusts (``FORWARDED_ALLOW_IPS``, by default ``127.0.0.1,::1``) it reports the
right-most ``X-Forwarded-For`` entry it does not trust as the peer. So a peer taken from the
header is recognised and undone here: the connection came from one of the server's trusted
addresses (which one it does not tell; loopback by default), and only Docket's own list
decides whether the header counts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOCAL_CLIENT = "local"
UNKNOWN_CLIENT = "unknown"
PROXY_CLIENT = "proxy"
SERVER_TRUSTED_DEFAULT = "127.0.0.1,::1"  # uvicorn's FORWARDED_ALLOW_IPS default


@dataclass(frozen=True)
class ClientAddress:
    """The client as throttling counts it.

    ``key`` is an IPv4 address, an IPv6 /64 block (the block one subscriber usually holds),
    :data:`LOCAL_CLIENT` for this computer, :data:`PROXY_CLIENT` for a proxy the server trusts
    but Docket does not (outside loopback), or :data:`UNKNOWN_CLIENT` for a forwarded value
    that is not an address. ``local`` is True only for a direct connection from this computer
    that no proxy forwarded (no ``X-Forwarded-For``): someone at the server's own keyboard.
    """

    key: str
    local: bool


@dataclass(frozen=True)
class ServerTrust:
    """The addresses whose ``X-Forwarded-For`` the server (uvicorn) applies before Docket
    sees the connection; ``everyone`` for ``*``."""

    networks: tuple[IPNetwork, ...]
    everyone: bool = False

    @classmethod
    def parse(cls, text: str | None) -> ServerTrust:
        """Read a ``FORWARDED_ALLOW_IPS`` value as uvicorn does (None: its default); entries
        that are not addresses or networks never match an address, so they are left out."""
        entries = [entry.strip() for entry in (text if text is not None
                                               else SERVER_TRUSTED_DEFAULT).split(",")]
        if "*" in entries:
            return cls((), everyone=True)
        networks = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue
        return cls(tuple(networks))

    def trusts(self, host: str) -> bool:
        """True if the server believes a header sent from ``host``."""
        address = _address(host)
        return self.everyone or (address is not None and _in_any(address, self.networks))


def parse_trusted_proxies(text: str, *, setting: str) -> tuple[IPNetwork, ...]:
    """Return the networks in ``text``: IP addresses or CIDR blocks separated by commas or
    spaces (empty: none).

    Raises ValueError naming ``setting`` and the entry that is neither.
    """
    networks = []
    for entry in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{setting}: {entry!r} is not an IP address or a network such as "
                             "10.0.0.0/8") from None
    return tuple(networks)


def resolve_client(peer: str | None, forwarded_for: Iterable[str],
                   trusted: Sequence[IPNetwork], server: ServerTrust | None = None
                   ) -> ClientAddress:
    """Return the client of a connection that Streamlit reports from ``peer`` with the
    ``X-Forwarded-For`` header values ``forwarded_for`` (in order).

    ``peer`` None stands for loopback (Streamlit reports no address for ``127.0.0.1`` and
    ``::1``). ``trusted`` are the proxies whose header Docket believes; ``server`` those the
    server already applied the header for (see the module docstring; None: uvicorn's default).
    """
    server = server or ServerTrust.parse(None)
    hops = [_host(hop) for value in forwarded_for for hop in value.split(",") if hop.strip()]
    observed = peer if peer is not None else "127.0.0.1"
    if hops and (server.trusts(observed) or observed == _server_pick(hops, server)):
        # From a proxy the server trusts: the header counts only if Docket trusts it too.
        networks = server.networks or (ipaddress.ip_network("0.0.0.0/0"),)
        if not any(_covered(network, trusted) for network in networks) or server.everyone:
            loopback = networks and all(network.is_loopback for network in networks)
            return ClientAddress(LOCAL_CLIENT if loopback else PROXY_CLIENT, local=False)
        return _walk(hops, trusted)
    address = _address(observed)
    if address is None:
        return ClientAddress(UNKNOWN_CLIENT, local=False)
    if not hops:
        return ClientAddress(_key(address), local=_is_loopback(address))
    return _walk([*hops, observed], trusted)


def is_loopback_host(host: str | None) -> bool:
    """True if a server bound to ``host`` is reachable from this computer only.

    ``localhost`` and loopback addresses are; an empty or missing address (all interfaces),
    wildcard addresses, other addresses and host names are not.
    """
    if not host:
        return False
    if host.strip().lower() == "localhost":
        return True
    address = _address(host.strip().strip("[]"))
    return address is not None and _is_loopback(address)


def _walk(chain: list[str], trusted: Sequence[IPNetwork]) -> ClientAddress:
    """The right-most entry of ``chain`` (client, proxies..., peer) after the trusted ones."""
    while chain:
        address = _address(chain.pop())
        if address is None:  # a trusted proxy forwarded something that is not an address
            return ClientAddress(UNKNOWN_CLIENT, local=False)
        if not chain or not _in_any(address, trusted):
            return ClientAddress(_key(address), local=False)
    raise AssertionError("the chain holds at least the peer")


def _server_pick(hops: list[str], server: ServerTrust) -> str:
    """The peer uvicorn reports for a connection from an address it trusts."""
    if server.everyone:
        return hops[0]
    return next((hop for hop in reversed(hops) if not server.trusts(hop)), hops[0])


def _host(entry: str) -> str:
    """An ``X-Forwarded-For`` entry without its port, as uvicorn reads it."""
    entry = entry.strip()
    if entry.startswith("[") and "]" in entry:
        return entry[1:entry.index("]")]
    if entry.count(":") == 1:
        host, port = entry.split(":")
        if port.isdigit():
            return host
    return entry


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_loopback(address: IPAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _in_any(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    candidates = [address] if mapped is None else [address, mapped]
    return any(candidate in network for candidate in candidates for network in networks
               if candidate.version == network.version)


def _covered(network: IPNetwork, trusted: Sequence[IPNetwork]) -> bool:
    return any(network.version == other.version and network.subnet_of(other)  # type: ignore[arg-type]
               for other in trusted)


def _key(address: IPAddress) -> str:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if _is_loopback(address):
        return LOCAL_CLIENT
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
