"""Which upstream URLs a user may point the service at.

Users save a Zendesk URL and an OpenAI-compatible base URL, and the service then calls them
from inside the network it runs in. In production (`ALLOW_PRIVATE_UPSTREAMS` off) an address
that is loopback, private, link-local (cloud metadata), reserved or multicast is refused, both
when saved and when used, so the settings cannot be turned into a probe of internal services.
Development and tests allow them: the sandbox, simulators and a local model server live there.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from app.config import get_settings
from app.errors import Unprocessable


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def private_address(url: str) -> str | None:
    """The non-public address `url`'s host is or resolves to; None when all are public
    (or the name does not resolve: the call will fail on its own)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if not host:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return host
    try:
        return host if _blocked(host) else None
    except ValueError:
        pass  # a name, not an address
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    return next((str(info[4][0]) for info in infos if _blocked(str(info[4][0]))), None)


def check(field: str, url: str | None) -> None:
    """422 when `url` points inside the network and that is not allowed here."""
    if not url or get_settings().allow_private_upstreams:
        return
    address = private_address(url)
    if address is not None:
        raise Unprocessable(
            f"{field}: {url} points to a private or local address ({address}); "
            "set ALLOW_PRIVATE_UPSTREAMS=true to allow it",
            code="private_upstream",
            details=[{"loc": ["body", field], "msg": "private or local address"}],
        )
