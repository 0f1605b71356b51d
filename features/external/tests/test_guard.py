"""The SSRF guard's verdicts, asked of the guard itself: no test here opens a connection, and
IP literals never reach a resolver (a resolver that fails the test proves it)."""
from __future__ import annotations

import ipaddress
import time

import pytest

from features.external.errors import ImportRefused, UnsafeUrl
from features.external.fetch import Fetcher, FetchPolicy, Validators, make_client
from features.external.guard import Guard

from .feedserver import FeedServer, LoopbackOnly, Reply


async def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"the guard resolved {host}; an IP literal must not need DNS")


def resolver(answers: dict[str, list[str]], calls: list[str]):
    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/feed", "private"),
        ("http://10.255.255.254:8080/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://172.31.255.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://127.0.0.1/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[fc00::1]/", "private"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fec0::1]/", "site-local"),
        ("http://[::ffff:127.0.0.1]/", "127.0.0.1) is a loopback"),
        ("http://[::ffff:10.0.0.1]/", "10.0.0.1) is a private"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[::127.0.0.1]/", "loopback"),  # IPv4-compatible
        ("http://[64:ff9b::7f00:1]/", "127.0.0.1) is a loopback"),  # NAT64
        ("http://[64:ff9b::a9fe:a9fe]/", "169.254.169.254) is a link-local"),
        ("http://[2002:7f00:1::1]/", "127.0.0.1) is a loopback"),  # 6to4
        ("http://[2002:a00:1::]/", "10.0.0.1) is a private"),
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "127.0.0.1) is a loopback"),  # Teredo
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://240.0.0.1/", "is a"),
        ("http://255.255.255.255/", "is a"),
        ("http://2130706433/", "127.0.0.1 is a loopback"),  # decimal
        ("http://017700000001/", "127.0.0.1 is a loopback"),  # octal
        ("http://0x7f000001/", "127.0.0.1 is a loopback"),  # hexadecimal
        ("http://0x7f.1/", "127.0.0.1 is a loopback"),
        ("http://127.1/", "127.0.0.1 is a loopback"),
        ("http://0/", "0.0.0.0 is a unspecified"),
        ("http://0177.0.0.1/", "not a valid"),  # octal dotted: httpx refuses it outright
        ("http://167772161/", "10.0.0.1 is a private"),
    ],
)
async def test_non_public_addresses_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl) as refused:
        await Guard(resolve=no_dns).check(url)
    assert reason in refused.value.reason
    assert refused.value.errors()[0]["loc"] == ["body", "url"]


@pytest.mark.parametrize(
    "url",
    ["http://93.184.216.34/feed.xml", "https://[2606:4700:4700::1111]/", "http://8.8.8.8:8080/",
     "http://134744072/", "http://[::ffff:93.184.216.34]/", "http://[64:ff9b::5db8:d822]/"],
)
async def test_public_addresses_are_allowed_without_dns(url: str) -> None:
    target = await Guard(resolve=no_dns).check(url)
    assert target.address.is_global


@pytest.mark.parametrize(
    "url",
    ["ftp://93.184.216.34/feed", "file:///etc/passwd", "gopher://93.184.216.34/",
     "javascript:alert(1)", "/relative/feed.xml", "data:text/plain,hi", "http://", "not a url"],
)
async def test_only_http_and_https_urls_are_fetched(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        await Guard(resolve=no_dns).check(url)


async def test_urls_with_credentials_are_refused() -> None:
    with pytest.raises(UnsafeUrl, match="credentials"):
        await Guard(resolve=no_dns).check("http://user:secret@93.184.216.34/feed")


async def test_every_resolved_address_must_be_public() -> None:
    calls: list[str] = []
    guard = Guard(resolve=resolver({"mixed.test": ["93.184.216.34", "10.0.0.7"]}, calls))
    with pytest.raises(UnsafeUrl, match=r"mixed\.test resolves to 10\.0\.0\.7 is a private"):
        await guard.check("http://mixed.test/feed")


async def test_host_is_resolved_once_and_the_checked_address_is_what_we_connect_to() -> None:
    calls: list[str] = []
    guard = Guard(resolve=resolver({"feeds.test": ["93.184.216.34", "93.184.216.35"]}, calls))
    target = await guard.check("https://Feeds.Test:8443/a/feed.xml?x=1")
    assert calls == ["feeds.test"]
    assert target.address == ipaddress.ip_address("93.184.216.34")
    assert str(target.request_url) == "https://93.184.216.34:8443/a/feed.xml?x=1"
    assert target.headers == {"Host": "feeds.test:8443"}
    assert target.extensions == {"sni_hostname": "feeds.test"}


async def test_a_name_resolving_to_loopback_is_refused() -> None:
    guard = Guard(resolve=resolver({"rebind.test": ["127.0.0.1"]}, []))
    with pytest.raises(UnsafeUrl, match=r"rebind\.test resolves to 127\.0\.0\.1 is a loopback"):
        await guard.check("http://rebind.test/")


async def test_unknown_host_is_refused() -> None:
    import socket

    async def nxdomain(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(ImportRefused, match="does not exist"):
        await Guard(resolve=nxdomain).check("http://nothing.test/")


async def test_allowed_networks_open_only_those_networks() -> None:
    guard = Guard(allow=(ipaddress.ip_network("127.0.0.0/8"),), resolve=no_dns)
    await guard.check("http://127.0.0.1:8000/")
    for url in ["http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/"]:
        with pytest.raises(UnsafeUrl):
            await guard.check(url)


async def test_allow_private_never_opens_unspecified_or_multicast() -> None:
    guard = Guard.for_settings(allow_private=True)
    guard = Guard(allow=guard.allow, resolve=no_dns)
    for url in ["http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/", "http://[fd00::1]/"]:
        await guard.check(url)
    for url in ["http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/"]:
        with pytest.raises(UnsafeUrl):
            await guard.check(url)


@pytest.mark.parametrize(
    "location",
    ["http://10.0.0.1/feed", "http://169.254.169.254/latest/meta-data/", "http://[::1]:1/",
     "http://[fc00::1]/", "http://[::ffff:10.0.0.1]/", "http://192.168.0.1/",
     "http://172.16.0.1/", "http://167772161/", "file:///etc/passwd"],
)
async def test_a_redirect_to_a_non_public_address_is_refused_before_connecting(
    feeds: FeedServer, location: str
) -> None:
    # The guard lets through loopback IPv4 (where the test server is) and nothing else, and the
    # transport refuses any other destination, so a broken guard fails here instead of
    # sending a packet.
    transport = LoopbackOnly()
    guard = Guard(allow=(ipaddress.ip_network("127.0.0.0/8"),), resolve=no_dns)
    url = feeds.route("/hop", Reply(302, headers={"Location": location}))
    async with make_client(transport) as client:
        fetcher = Fetcher(client, guard, FetchPolicy(timeout=5))
        started = time.monotonic()
        with pytest.raises(UnsafeUrl, match=r"refused|only http"):
            await fetcher.fetch_feed(url, _no_validators())
    assert transport.refused == []
    assert feeds.hits("/hop") == 1
    assert time.monotonic() - started < 3


def _no_validators() -> Validators:
    return Validators()
