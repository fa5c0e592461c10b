"""The server tests' network: loopback only, names resolved from a table, every lookup and connect recorded.

``tests/server/conftest.py`` installs it for every server test, so no test can reach beyond 127.0.0.1 (a provider
whose apiEndpoint is ``https://api.openai.com/v1`` fails with "could not resolve ... no such host"), and the guard
tests can prove that a refused address was never connected to, nor even looked up.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

import pytest

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect


class Network:
    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {"localhost": ["127.0.0.1"]}
        self.lookups: list[str] = []
        self.connects: list[tuple[str, int]] = []

    @property
    def name_lookups(self) -> list[str]:
        """Lookups of names, not of numeric addresses (``socket.create_connection`` looks those up too)."""
        return [host for host in self.lookups if _numeric(host) is None]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        network = self

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            if name is None:
                return _real_getaddrinfo(host, port, *args, **kwargs)
            network.lookups.append(name)
            if name in network.names:
                return [_info(address, int(port or 0)) for address in network.names[name]]
            if _numeric(name) is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (test network)")
            return _real_getaddrinfo(host, port, *args, **kwargs)

        def connect(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host, port = address[0], address[1]
                network.connects.append((host, port))
                ip = _numeric(host)
                if ip is None or not ip.is_loopback:
                    raise ConnectionRefusedError(errno.ECONNREFUSED, "the test network reaches loopback only")
            _real_connect(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)


def _numeric(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _info(address: str, port: int) -> tuple[Any, ...]:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))
