"""Outbound calls on the loopback-only test network: what is refused is never connected to, what is admitted is
pinned, and every failure of the fake provider becomes one precise, body-free message."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dpm_server.outbound import client
from dpm_server.outbound.client import Policy, fetch
from dpm_server.outbound.guard import AllowList, OutboundError
from tests.server.outbound.fake_provider import API_KEY, CANARY, FakeProvider
from tests.server.outbound.sandbox import Network

LOOPBACK = Policy(allow=AllowList.parse(["127.0.0.1"]), timeout=1.0, max_bytes=1024 * 1024)
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def _fails(policy: Policy, url: str, **kwargs: Any) -> str:
    with pytest.raises(OutboundError) as failure:
        fetch(policy, kwargs.pop("method", "GET"), url, kwargs.pop("headers", AUTH), **kwargs)
    message = str(failure.value)
    assert CANARY not in message
    assert API_KEY not in message
    return message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1/v1/models", "10.0.0.1 is a private address"),
        ("http://127.1/v1/models", "127.1 (127.0.0.1) is a loopback address"),
        ("http://2130706433/v1/models", "2130706433 (127.0.0.1) is a loopback address"),
        ("http://0x7f000001/v1/models", "0x7f000001 (127.0.0.1) is a loopback address"),
        ("http://0177.0.0.1/v1/models", "the URL is not valid"),  # httpx refuses to parse it; the guard reads it too
        ("http://0x7f.1/v1/models", "0x7f.1 (127.0.0.1) is a loopback address"),
        ("http://127.0.0.1./v1/models", "127.0.0.1. (127.0.0.1) is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address (the IPv4-mapped form of 127.0.0.1)"),
        ("http://[::ffff:7f00:1]/", "a loopback address (the IPv4-mapped form of 127.0.0.1)"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address (the cloud metadata"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a private address"),
        ("http://100.64.0.1/", "100.64.0.1 is a private address (carrier-grade NAT)"),
        ("http://0.0.0.0:8000/", "0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("file:///etc/passwd", "only http and https URLs may be called, not file"),
        ("https://user:secret@example.com/", "the URL carries credentials"),
    ],
)
def test_a_refused_address_is_never_looked_up_nor_connected_to(network: Network, url: str, message: str) -> None:
    refused = _fails(Policy(), url)

    assert refused.startswith("refused by the outbound guard: ")
    assert message in refused
    assert network.connects == []
    assert network.name_lookups == []


def test_the_fake_provider_itself_is_refused_without_the_allow_list(network: Network, fake_provider: Any) -> None:
    refused = _fails(Policy(), f"{fake_provider.url}/v1/models")

    assert refused == "refused by the outbound guard: 127.0.0.1 is a loopback address"
    assert network.connects == []
    assert fake_provider.seen == []


def test_localhost_and_trailing_dot_names_are_refused_after_one_lookup(network: Network) -> None:
    for host in ("localhost", "localhost."):
        network.names[host] = ["127.0.0.1"]
        refused = _fails(Policy(), f"http://{host}:11434/v1/models")
        assert refused == f"refused by the outbound guard: {host} resolves to 127.0.0.1, a loopback address"

    assert network.name_lookups == ["localhost", "localhost."]
    assert network.connects == []


def test_a_name_is_refused_when_any_of_its_addresses_is_private(network: Network) -> None:
    network.names["mixed.test"] = ["93.184.216.34", "10.0.0.7"]

    refused = _fails(Policy(), "https://mixed.test/v1/models")

    assert refused == "refused by the outbound guard: mixed.test resolves to 10.0.0.7, a private address"
    assert network.connects == []


def test_a_name_is_resolved_once_and_the_connection_goes_to_the_checked_address(
    network: Network, fake_provider: FakeProvider
) -> None:
    network.names["rebind.test"] = ["127.0.0.1"]

    reply = fetch(LOOPBACK, "GET", f"http://rebind.test:{fake_provider.port}/v1/models", AUTH)

    assert reply.status == 200
    assert network.name_lookups == ["rebind.test"]  # one lookup: no second answer can ever be used
    assert network.connects == [("127.0.0.1", fake_provider.port)]
    assert fake_provider.seen[-1].headers["host"] == f"rebind.test:{fake_provider.port}"
    assert fake_provider.seen[-1].headers["accept-encoding"] == "identity"


def test_a_redirect_is_not_followed(network: Network, fake_provider: FakeProvider) -> None:
    fake_provider.mode = "redirect"  # to the metadata address

    message = _fails(LOOPBACK, f"{fake_provider.url}/v1/models")

    assert message == "the provider answered with a redirect (HTTP 302), which is not followed"
    assert network.connects == [("127.0.0.1", fake_provider.port)]
    assert len(fake_provider.seen) == 1


def test_a_slow_provider_hits_the_total_time_limit(fake_provider: FakeProvider) -> None:
    fake_provider.mode, fake_provider.delay = "slow", 5.0
    started = time.monotonic()

    message = _fails(Policy(allow=LOOPBACK.allow, timeout=0.3), f"{fake_provider.url}/v1/models")

    assert message == (
        f"timed out waiting for the answer from 127.0.0.1:{fake_provider.port}: "
        "the whole call is limited to 0.3 s (DPM_SERVER_OUTBOUND_TIMEOUT)"
    )
    assert time.monotonic() - started < 1.0


def test_a_dripping_body_cannot_outlast_the_total_time_limit(fake_provider: FakeProvider) -> None:
    fake_provider.mode = "drip"  # a byte every 50 ms, forever: no single read ever times out
    started = time.monotonic()

    message = _fails(Policy(allow=LOOPBACK.allow, timeout=0.4), f"{fake_provider.url}/v1/models")

    assert message == (
        f"timed out reading the answer from 127.0.0.1:{fake_provider.port}: "
        "the whole call is limited to 0.4 s (DPM_SERVER_OUTBOUND_TIMEOUT)"
    )
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("mode", ["huge", "huge-chunked"])
def test_a_body_over_the_size_cap_is_abandoned(fake_provider: FakeProvider, mode: str) -> None:
    fake_provider.mode = mode

    message = _fails(LOOPBACK, f"{fake_provider.url}/v1/models")

    assert message == "the provider's answer is larger than the 1 MiB limit (DPM_SERVER_OUTBOUND_MAX_BYTES)"


def test_a_compressed_body_is_refused(fake_provider: FakeProvider) -> None:
    fake_provider.mode = "gzip"

    message = _fails(LOOPBACK, f"{fake_provider.url}/v1/models")

    assert message == "the provider sent a compressed answer although none was asked for"


def test_a_closed_port_is_connection_refused(network: Network) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    message = _fails(LOOPBACK, f"http://127.0.0.1:{port}/v1/models")

    assert message == f"connection refused by 127.0.0.1:{port}"
    assert network.connects == [("127.0.0.1", port)]


def test_an_unknown_name_is_a_dns_failure(network: Network) -> None:
    message = _fails(LOOPBACK, "https://nowhere.invalid/v1/models")

    assert message == "could not resolve nowhere.invalid: no such host"
    assert network.connects == []


def test_a_slow_dns_lookup_hits_the_total_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(*args: Any, **kwargs: Any) -> Any:
        release.wait(5)
        raise socket.gaierror(socket.EAI_AGAIN, "gave up")

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    try:
        message = _fails(Policy(timeout=0.2), "https://slow.test/v1/models")
    finally:
        release.set()

    assert message == "timed out resolving slow.test: the whole call is limited to 0.2 s (DPM_SERVER_OUTBOUND_TIMEOUT)"


def test_provider_headers_cannot_replace_the_headers_the_guard_sets(fake_provider: FakeProvider) -> None:
    headers = AUTH | {"Host": "169.254.169.254", "Accept-Encoding": "gzip", "Transfer-Encoding": "chunked"}

    fetch(LOOPBACK, "GET", f"{fake_provider.url}/v1/models", headers)

    seen = fake_provider.seen[-1].headers
    assert seen["host"] == f"127.0.0.1:{fake_provider.port}"
    assert seen["accept-encoding"] == "identity"
    assert "transfer-encoding" not in seen


def test_non_2xx_bodies_are_not_read(fake_provider: FakeProvider) -> None:
    fake_provider.mode, fake_provider.status = "status", 500

    reply = fetch(LOOPBACK, "GET", f"{fake_provider.url}/v1/models", AUTH)

    assert (reply.status, reply.body) == (500, b"")


# HTTPS: the connection is pinned to 127.0.0.1 while TLS still checks the certificate against the URL's host.


@pytest.fixture
def tls_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeProvider, list[str]]]:
    cert, key = _self_signed(tmp_path, "secure.test")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    names: list[str] = []
    server.sni_callback = lambda _sock, name, _ctx: names.append(name) and None  # type: ignore[func-returns-value]
    trusting = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(client, "_ssl_context", lambda: trusting)
    with FakeProvider.running(tls=server) as fake:
        yield fake, names


def test_https_is_pinned_and_verified_against_the_original_host(
    network: Network, tls_provider: tuple[FakeProvider, list[str]]
) -> None:
    fake, server_names = tls_provider
    network.names["secure.test"] = ["127.0.0.1"]

    reply = fetch(LOOPBACK, "GET", f"https://secure.test:{fake.port}/v1/models", AUTH)

    assert reply.status == 200
    assert server_names == ["secure.test"]  # SNI
    assert fake.seen[-1].headers["host"] == f"secure.test:{fake.port}"
    assert network.connects == [("127.0.0.1", fake.port)]


def test_https_to_a_host_the_certificate_does_not_name_fails_verification(
    network: Network, tls_provider: tuple[FakeProvider, list[str]]
) -> None:
    fake, _ = tls_provider
    network.names["other.test"] = ["127.0.0.1"]

    message = _fails(LOOPBACK, f"https://other.test:{fake.port}/v1/models")

    assert message == "the TLS certificate of other.test could not be verified"
    assert fake.seen == []


def _self_signed(directory: Path, host: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
