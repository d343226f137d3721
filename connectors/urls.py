"""Outbound URL guard: only http(s), and no private, loopback or link-local hosts unless allowed.

Sources name URLs that the worker then fetches, so an editor could otherwise point it at internal
services (cloud metadata, admin ports). Every address the host name resolves to is checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from core.errors import InvalidInput

SCHEMES = frozenset({"http", "https"})


def check_shape(url: str) -> str:
    """An absolute http(s) URL with a host, or InvalidInput saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise InvalidInput(f"only http and https URLs are allowed, not {url!r}")
    if not parts.hostname:
        raise InvalidInput(f"URL {url!r} has no host")
    if parts.username or parts.password:
        raise InvalidInput(f"URL {url!r} must not carry credentials (put them in the source secret)")
    return url


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidInput(f"cannot resolve host {host!r}: {exc}") from exc
    return [str(info[4][0]) for info in infos]


async def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` if it may be fetched; InvalidInput for a bad scheme or a private/loopback address."""
    check_shape(url)
    if allow_private:
        return url
    parts = urlsplit(url)
    host = str(parts.hostname)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(host, port)
    blocked = [a for a in addresses if not is_public(a)]
    if blocked or not addresses:
        raise InvalidInput(
            f"URL {url!r} resolves to a private or loopback address ({', '.join(blocked) or 'none'}); "
            "set SWITCHBOARD_CONNECTORS__ALLOW_PRIVATE_URLS=true to allow internal hosts"
        )
    return url
