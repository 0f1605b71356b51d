"""Who is asking: the client address a request is counted under.

Behind proxies named in TRUSTED_PROXIES, uvicorn's `ProxyHeadersMiddleware` (installed by
`install_client_address`) takes the client from X-Forwarded-For: the right-most address that is
not a trusted proxy, so an address a client wrote itself to the left of its proxy's entry is
never believed; an entry that is not an address ends that walk. Elsewhere the peer is the
client. `client_key` turns that address into a rate-limit key: IPv4 as it is, IPv4-mapped IPv6
as IPv4, and any other IPv6 client by its /64 (one subscriber's prefix, which a client can fill
with addresses at will). What is not an address is keyed "unknown". Nothing is cached here, so
no client decides what this process keeps in memory.
"""
from __future__ import annotations

import ipaddress
import re

from fastapi import FastAPI
from starlette.types import Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .settings import Settings


def install_client_address(app: FastAPI, settings: Settings) -> None:
    """Believe X-Forwarded-For only from TRUSTED_PROXIES (outermost middleware: add it last)."""
    if settings.trusted_proxies:
        trusted = [str(network) for network in settings.trusted_proxies]
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)


# A dotted quad as ipaddress accepts it (no leading zeros): such a peer is its own key, with
# no address object built per request.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def client_key(scope: Scope) -> str:
    client = scope.get("client")
    if not client or not client[0]:
        return "unknown"
    if _IPV4.fullmatch(client[0]):
        return str(client[0])
    try:
        ip = ipaddress.ip_address(client[0])
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return f"{ipaddress.IPv6Address(int(ip) >> 64 << 64)}/64"
    return str(ip)
