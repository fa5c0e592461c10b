"""The SSRF guard: which URLs the server may call, and which address each call must connect to.

A URL passes when its scheme is http or https, it carries no credentials, and every address its host stands for is
public, or admitted by the operator's allow-list (``DPM_SERVER_OUTBOUND_ALLOW``: host names, IPs or CIDRs).

- Numeric hosts are read the way resolvers read them (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
  ``[::ffff:127.0.0.1]``), so an encoded form is judged by the address it names, without a DNS lookup. A host
  that ends in a number but is no valid address is refused rather than handed to a resolver.
- A name is resolved once; every address must pass, and the caller connects to the checked address (``Target``),
  so a second, rebound answer can never be used.
- IPv6 addresses that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by it.

Every message is safe to show and store: it names hosts and addresses, never credentials or a response body.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolve = Callable[[str, int], Sequence[IPAddress]]

SCHEMES = {"http": 80, "https": 443}
REFUSED = "refused by the outbound guard: "

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
_V4_RULES: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "an unspecified address"),
    (_V4("127.0.0.0/8"), "a loopback address"),
    (_V4("10.0.0.0/8"), "a private address"),
    (_V4("172.16.0.0/12"), "a private address"),
    (_V4("192.168.0.0/16"), "a private address"),
    (_V4("100.64.0.0/10"), "a private address (carrier-grade NAT)"),
    (_V4("169.254.169.254/32"), "a link-local address (the cloud metadata service)"),
    (_V4("169.254.0.0/16"), "a link-local address"),
    (_V4("224.0.0.0/4"), "a multicast address"),
    (_V4("255.255.255.255/32"), "a broadcast address"),
    (_V4("240.0.0.0/4"), "a reserved address"),
)
_V6_RULES: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "an unspecified address"),
    (_V6("::1/128"), "a loopback address"),
    (_V6("ff00::/8"), "a multicast address"),
    (_V6("fe80::/10"), "a link-local address"),
    (_V6("fec0::/10"), "a private address (site-local)"),
    (_V6("fc00::/7"), "a private address"),
    (_V6("64:ff9b:1::/48"), "a private address (local-use NAT64)"),
)
_NAT64 = _V6("64:ff9b::/96")
_COMPATIBLE = _V6("::/96")

# WHATWG URL: a host whose last label is a number is an IPv4 address, in decimal, octal or hex parts.
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_IPV4_PART = re.compile(r"^(?:0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$")
_NAME_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class OutboundError(Exception):
    """An outbound call did not happen or did not finish; ``str()`` is safe to show, store and log."""


class Refused(OutboundError):
    def __init__(self, reason: str) -> None:
        super().__init__(REFUSED + reason)
        self.reason = reason


def classify(address: IPAddress) -> str | None:
    """Why ``address`` may not be called (``"a loopback address"``, ...), or None for a public address."""
    if isinstance(address, ipaddress.IPv4Address):
        for network, reason in _V4_RULES:
            if address in network:
                return reason
        return None if address.is_global else "a reserved address"
    address = ipaddress.IPv6Address(int(address))  # without a zone
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        form, inner = embedded
        inner_reason = classify(inner)
        if inner_reason is not None:
            return f"{inner_reason} (the {form} form of {inner})"
        if form == "IPv4-compatible":
            return f"a reserved address (the deprecated IPv4-compatible form of {inner})"
        return None
    for network6, why in _V6_RULES:
        if address in network6:
            return why
    return None if address.is_global else "a reserved address"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _COMPATIBLE and int(address) > 1:
        return "IPv4-compatible", ipaddress.IPv4Address(int(address))
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a numeric host names, in any form a resolver accepts; None for a name.

    Raises ``Refused`` for a host that is neither a valid address nor a valid name.
    """
    host = host.lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        address, _, zone = host.partition("%25" if "%25" in host else "%")  # a URL writes the zone as %25
        try:
            ip = ipaddress.IPv6Address(address)
            return ipaddress.IPv6Address(f"{address}%{unquote(zone)}") if zone else ip
        except ValueError:
            raise Refused(f"{host!r} is not a valid IPv6 address") from None
    name = host.removesuffix(".")
    labels = name.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        return _ipv4(host, labels)
    if not name or len(name) > 253 or not all(_NAME_LABEL.match(label) for label in labels):
        raise Refused(f"{host!r} is not a valid host name")
    return None


def _ipv4(host: str, labels: list[str]) -> ipaddress.IPv4Address:
    invalid = Refused(f"{host!r} is not a valid IPv4 address")
    if len(labels) > 4 or not all(_IPV4_PART.match(label) for label in labels):
        raise invalid
    numbers = [
        int(label[2:] or "0", 16) if label.startswith("0x") else int(label, 8 if label.startswith("0") else 10)
        for label in labels
    ]
    *head, last = numbers
    if any(number > 255 for number in head) or last >= 256 ** (4 - len(head)):
        raise invalid
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


@dataclass(frozen=True)
class AllowList:
    """Hosts (exact names) and networks the operator admits even though they are not public."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in entries:
            text = entry.strip().lower()
            if text.startswith("[") and "]" in text:
                text = text[1:].replace("]", "", 1)
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            name = text.removesuffix(".")
            labels = name.split(".")
            if _NUMERIC_LABEL.match(labels[-1]) or not all(_NAME_LABEL.match(label) for label in labels):
                raise ValueError(
                    f"outbound allow-list entry {entry.strip()!r} is not a host name, an IP address or a CIDR"
                )
            hosts.add(name)
        return cls(frozenset(hosts), tuple(networks))

    def admits(self, host: str, address: IPAddress) -> bool:
        if host.lower().removesuffix(".") in self.hosts:
            return True
        plain = ipaddress.IPv6Address(int(address)) if address.version == 6 else address
        return any(network.version == plain.version and plain in network for network in self.networks)


@dataclass(frozen=True)
class Target:
    """A checked call: the URL as it will be sent, and the address the connection must go to."""

    url: httpx.URL
    host: str
    port: int
    address: IPAddress
    resolved: tuple[IPAddress, ...] = field(default=())

    @property
    def label(self) -> str:
        """``api.example.com (203.0.113.7:443)``, or ``127.0.0.1:8080`` when the host is the address."""
        where = f"[{self.address}]:{self.port}" if self.address.version == 6 else f"{self.address}:{self.port}"
        return where if literal_address_or_none(self.host) == self.address else f"{self.host} ({where})"


def literal_address_or_none(host: str) -> IPAddress | None:
    try:
        return literal_address(host)
    except Refused:
        return None


def check(url: str | httpx.URL, allow: AllowList, resolve: Resolve) -> Target:
    """The target ``url`` may be called at, or ``Refused``. ``resolve`` is called at most once, for a name."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise Refused("the URL is not valid") from None
    scheme = parsed.scheme.lower()
    if scheme not in SCHEMES:
        raise Refused(f"only http and https URLs may be called, not {scheme or 'a URL without a scheme'}")
    if parsed.userinfo:
        raise Refused("the URL carries credentials (user:password@); put them in authConfig.fields and headers")
    try:
        host = parsed.raw_host.decode("ascii").lower()
    except UnicodeDecodeError:
        raise Refused("the URL's host is not valid") from None
    if not host:
        raise Refused("the URL has no host")
    port = parsed.port or SCHEMES[scheme]
    literal = literal_address(host)
    addresses = tuple(dict.fromkeys([literal] if literal is not None else resolve(host, port)))
    if not addresses:
        raise OutboundError(f"could not resolve {host}: no addresses")
    for address in addresses:
        if allow.admits(host, address):
            continue
        reason = classify(address)
        if reason is None:
            continue
        if literal is None:
            raise Refused(f"{host} resolves to {address}, {reason}")
        shown = host if str(address) == host else f"{host} ({address})"
        raise Refused(f"{shown} is {reason}")
    return Target(url=parsed, host=host, port=port, address=addresses[0], resolved=addresses)
