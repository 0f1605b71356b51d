"""SSRF guard: whether a URL may be fetched, and the one checked address to connect to.

Every hop (first request, each redirect, robots.txt) goes through `Guard.check`: only http(s),
no credentials, the host resolved once and every address public. The request is then sent to
that address (an IP literal in the URL, the name in Host and TLS SNI), so no second DNS answer
can move the connection somewhere else (no DNS-rebinding window).
"""
from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import ImportRefused, UnsafeUrl, UpstreamFailed

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

SCHEMES = ("http", "https")

# What EXTERNAL_ALLOW_PRIVATE=true opens (tests only); never multicast, unspecified or reserved.
PRIVATE_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
        "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10",
    )
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NEVER = ("unspecified", "multicast")
# What the C resolver reads as IPv4 although it is not dotted-quad: 2130706433, 0x7f.1, 127.1.
_LEGACY_IPV4 = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?", re.IGNORECASE)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 transition form carries (mapped, compatible, 6to4,
    NAT64, Teredo client), which is where a connection to it really goes."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def classify(address: Address) -> str | None:
    """Why `address` is not a public unicast address, or None when it is."""
    checks: list[tuple[bool, str]] = [
        (address.is_unspecified, "unspecified"),
        (address.is_multicast, "multicast"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address in _SHARED, "shared (carrier-grade NAT)"),
        (address.is_private, "private"),
        (address in _NAT64_LOCAL, "local-use NAT64"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "non-global"),
    ]
    return next((name for hit, name in checks if hit), None)


def literal_address(host: str) -> Address | None:
    """The address a host names by itself (no DNS), including the legacy numeric forms."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            raise UnsafeUrl(f"{host} is not a valid IP address") from None
    return None


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`, in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """A checked URL and the address it must be fetched from."""

    url: httpx.URL
    address: Address

    @property
    def request_url(self) -> httpx.URL:
        return self.url.copy_with(host=str(self.address))

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.url.netloc.decode("ascii")}

    @property
    def extensions(self) -> dict[str, Any]:
        """TLS checks the certificate against the name, not the address we connect to."""
        host = self.url.raw_host.decode("ascii")
        if self.url.scheme == "https" and literal_address(host) is None:
            return {"sni_hostname": host}
        return {}


@dataclass(frozen=True)
class Guard:
    """Refuses non-public destinations; `allow` lists non-public networks let through anyway."""

    allow: tuple[Network, ...] = ()
    resolve: Resolver = system_resolve

    @classmethod
    def for_settings(cls, allow_private: bool) -> Guard:
        return cls(allow=PRIVATE_NETWORKS if allow_private else ())

    def refusal(self, address: Address) -> str | None:
        """Why a connection to `address` is refused, or None when it is allowed."""
        inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        subject: Address = inner or address
        reason = classify(subject)
        if reason is None:
            return None
        if reason not in _NEVER and any(subject in network for network in self.allow):
            return None
        shown = f"{address} (which reaches {inner})" if inner else str(address)
        return f"{shown} is a {reason} address"

    async def check(self, url: str | httpx.URL) -> Target:
        """The target to connect to for `url`, or UnsafeUrl with the reason. Resolves once."""
        try:
            url = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise UnsafeUrl(f"not a valid URL: {exc}") from None
        if url.scheme not in SCHEMES:
            scheme = url.scheme or "relative"
            raise UnsafeUrl(f"only http and https URLs are fetched, not {scheme!r}")
        if not url.raw_host:
            raise UnsafeUrl("the URL has no host")
        if url.userinfo:
            raise UnsafeUrl("URLs with credentials are refused")
        host = url.raw_host.decode("ascii")
        addresses = await self._addresses(host, url.port or (443 if url.scheme == "https" else 80))
        for address in addresses:
            reason = self.refusal(address)
            if reason is not None:
                named = "" if literal_address(host) == address else f"{host} resolves to "
                raise UnsafeUrl(f"refused: {named}{reason}")
        return Target(url, addresses[0])

    async def _addresses(self, host: str, port: int) -> list[Address]:
        literal = literal_address(host)
        if literal is not None:
            return [literal]
        try:
            found = await self.resolve(host, port)
        except socket.gaierror as exc:
            if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                raise ImportRefused(f"host {host} does not exist") from None
            raise UpstreamFailed(f"could not resolve {host}: {exc.strerror}") from None
        if not found:
            raise ImportRefused(f"host {host} has no address")
        return [ipaddress.ip_address(a) for a in found]
