"""The guard's decisions, without any network: host forms, address classes, the allow-list and URL checks."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from dpm_server import Settings
from dpm_server.outbound.guard import AllowList, IPAddress, Refused, Resolve, check, classify, literal_address

ip = ipaddress.ip_address

# host as written in a URL -> the address it names -> why it is refused
ENCODED = [
    ("127.0.0.1", "127.0.0.1", "a loopback address"),
    ("127.1", "127.0.0.1", "a loopback address"),
    ("127.0.1", "127.0.0.1", "a loopback address"),
    ("2130706433", "127.0.0.1", "a loopback address"),
    ("0x7f000001", "127.0.0.1", "a loopback address"),
    ("0X7F000001", "127.0.0.1", "a loopback address"),
    ("0x7f.1", "127.0.0.1", "a loopback address"),
    ("0177.0.0.1", "127.0.0.1", "a loopback address"),
    ("017700000001", "127.0.0.1", "a loopback address"),
    ("0x7f.0.0.0x1", "127.0.0.1", "a loopback address"),
    ("127.0.0.1.", "127.0.0.1", "a loopback address"),
    ("127.255.255.254", "127.255.255.254", "a loopback address"),
    ("0", "0.0.0.0", "an unspecified address"),
    ("0.0.0.0", "0.0.0.0", "an unspecified address"),
    ("10.0.0.1", "10.0.0.1", "a private address"),
    ("012.0.0.1", "10.0.0.1", "a private address"),
    ("167772161", "10.0.0.1", "a private address"),
    ("172.16.5.4", "172.16.5.4", "a private address"),
    ("172.31.255.255", "172.31.255.255", "a private address"),
    ("192.168.1.1", "192.168.1.1", "a private address"),
    ("0xc0a80101", "192.168.1.1", "a private address"),
    ("100.64.0.1", "100.64.0.1", "a private address (carrier-grade NAT)"),
    ("100.100.100.200", "100.100.100.200", "a private address (carrier-grade NAT)"),
    ("169.254.169.254", "169.254.169.254", "a link-local address (the cloud metadata service)"),
    ("2852039166", "169.254.169.254", "a link-local address (the cloud metadata service)"),
    ("0xa9fea9fe", "169.254.169.254", "a link-local address (the cloud metadata service)"),
    ("0251.0376.0251.0376", "169.254.169.254", "a link-local address (the cloud metadata service)"),
    ("169.254.1.1", "169.254.1.1", "a link-local address"),
    ("224.0.0.1", "224.0.0.1", "a multicast address"),
    ("239.255.255.250", "239.255.255.250", "a multicast address"),
    ("240.0.0.1", "240.0.0.1", "a reserved address"),
    ("255.255.255.255", "255.255.255.255", "a broadcast address"),
    ("0xffffffff", "255.255.255.255", "a broadcast address"),
    ("192.0.2.1", "192.0.2.1", "a reserved address"),
    ("198.18.0.1", "198.18.0.1", "a reserved address"),
    ("::1", "::1", "a loopback address"),
    ("[::1]", "::1", "a loopback address"),
    ("0:0:0:0:0:0:0:1", "::1", "a loopback address"),
    ("::", "::", "an unspecified address"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1", "a loopback address (the IPv4-mapped form of 127.0.0.1)"),
    ("[::ffff:7f00:1]", "::ffff:7f00:1", "a loopback address (the IPv4-mapped form of 127.0.0.1)"),
    ("::ffff:10.0.0.1", "::ffff:a00:1", "a private address (the IPv4-mapped form of 10.0.0.1)"),
    (
        "::ffff:169.254.169.254",
        "::ffff:a9fe:a9fe",
        "a link-local address (the cloud metadata service) (the IPv4-mapped form of 169.254.169.254)",
    ),
    ("::127.0.0.1", "::7f00:1", "a loopback address (the IPv4-compatible form of 127.0.0.1)"),
    ("::8.8.8.8", "::808:808", "a reserved address (the deprecated IPv4-compatible form of 8.8.8.8)"),
    ("64:ff9b::7f00:1", "64:ff9b::7f00:1", "a loopback address (the NAT64 form of 127.0.0.1)"),
    ("64:ff9b::10.0.0.1", "64:ff9b::a00:1", "a private address (the NAT64 form of 10.0.0.1)"),
    ("64:ff9b:1::1", "64:ff9b:1::1", "a private address (local-use NAT64)"),
    ("2002:7f00:1::", "2002:7f00:1::", "a loopback address (the 6to4 form of 127.0.0.1)"),
    (
        "2002:a9fe:a9fe::1",
        "2002:a9fe:a9fe::1",
        "a link-local address (the cloud metadata service) (the 6to4 form of 169.254.169.254)",
    ),
    ("fc00::1", "fc00::1", "a private address"),
    ("fd00:ec2::254", "fd00:ec2::254", "a private address"),
    ("fec0::1", "fec0::1", "a private address (site-local)"),
    ("fe80::1", "fe80::1", "a link-local address"),
    ("fe80::1%25eth0", "fe80::1%eth0", "a link-local address"),
    ("ff02::1", "ff02::1", "a multicast address"),
    ("2001:db8::1", "2001:db8::1", "a reserved address"),
    ("100::1", "100::1", "a reserved address"),
    ("2001::1", "2001::1", "a reserved address"),
]

PUBLIC = ["8.8.8.8", "1.1.1.1", "134744072", "0x08080808", "::ffff:8.8.8.8", "64:ff9b::808:808", "2606:4700::1111"]
MALFORMED = ["1.2.3.4.5", "256.0.0.1", "1.16777216", "09.0.0.1", "0x1g.0.0.1", "1..1", "ex%61mple.com", "a b", "-x.com"]


@pytest.mark.parametrize(("host", "address", "reason"), ENCODED)
def test_encoded_hosts_are_judged_by_the_address_they_name(host: str, address: str, reason: str) -> None:
    parsed = literal_address(host)

    assert str(parsed) == address
    assert parsed is not None
    assert classify(parsed) == reason


@pytest.mark.parametrize("host", PUBLIC)
def test_public_addresses_pass(host: str) -> None:
    parsed = literal_address(host)

    assert parsed is not None
    assert classify(parsed) is None


@pytest.mark.parametrize("host", ["example.com", "api.openai.com.", "localhost", "localhost.", "ollama", "my_host.lan"])
def test_names_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize("host", MALFORMED)
def test_malformed_hosts_are_refused_before_any_lookup(host: str) -> None:
    with pytest.raises(Refused, match="is not a valid"):
        literal_address(host)


def _no_dns(host: str, port: int) -> Sequence[IPAddress]:
    raise AssertionError(f"{host} must not be looked up")


def _dns(*answers: str) -> tuple[list[str], Resolve]:
    asked: list[str] = []

    def resolve(host: str, port: int) -> Sequence[IPAddress]:
        asked.append(host)
        return [ip(answer) for answer in answers]

    return asked, resolve


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1/v1", "10.0.0.1 is a private address"),
        ("http://127.1:8080/", "127.1 (127.0.0.1) is a loopback address"),
        ("http://2130706433/", "2130706433 (127.0.0.1) is a loopback address"),
        ("http://0x7f000001/", "0x7f000001 (127.0.0.1) is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "(the IPv4-mapped form of 127.0.0.1)"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address (the cloud metadata"),
        ("ftp://example.com/", "only http and https URLs may be called, not ftp"),
        ("file:///etc/passwd", "only http and https URLs may be called, not file"),
        ("gopher://example.com/", "only http and https URLs may be called, not gopher"),
        ("https://user:s3cret@example.com/v1", "the URL carries credentials"),
        ("https://s3cret@example.com/v1", "the URL carries credentials"),
        ("http:///v1", "the URL has no host"),
        ("https://1.2.3.4.5/", "'1.2.3.4.5' is not a valid IPv4 address"),
    ],
)
def test_refused_urls_are_never_resolved(url: str, message: str) -> None:
    with pytest.raises(Refused) as refused:
        check(url, AllowList(), _no_dns)

    assert str(refused.value).startswith("refused by the outbound guard: ")
    assert message in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_every_resolved_address_must_pass() -> None:
    asked, resolve = _dns("93.184.216.34", "10.1.2.3")

    with pytest.raises(
        Refused, match=r"^refused by the outbound guard: internal\.example resolves to 10\.1\.2\.3, a priv"
    ):
        check("https://internal.example/v1", AllowList(), resolve)

    assert asked == ["internal.example"]


def test_a_public_name_is_pinned_to_its_first_checked_address_after_one_lookup() -> None:
    asked, resolve = _dns("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")

    target = check("https://api.example.com/v1/models?x=1", AllowList(), resolve)

    assert asked == ["api.example.com"]
    assert target.address == ip("93.184.216.34")
    assert (target.host, target.port, target.url.path) == ("api.example.com", 443, "/v1/models")
    assert target.label == "api.example.com (93.184.216.34:443)"


def test_the_allow_list_admits_hosts_and_networks_and_nothing_else() -> None:
    allow = AllowList.parse(["127.0.0.1", " 10.8.0.0/16 ", "Ollama.", "[::1]", ""])

    assert check("http://127.0.0.1:11434/v1", allow, _no_dns).address == ip("127.0.0.1")
    assert check("http://[::1]:11434/v1", allow, _no_dns).address == ip("::1")
    assert check("http://10.8.3.4/v1", allow, _no_dns).address == ip("10.8.3.4")
    _, resolve = _dns("172.18.0.5")
    assert check("http://ollama:11434/v1", allow, resolve).address == ip("172.18.0.5")
    with pytest.raises(Refused, match=r"127\.0\.0\.2 is a loopback"):
        check("http://127.0.0.2/", allow, _no_dns)
    with pytest.raises(Refused, match=r"10\.9\.0\.1 is a private"):
        check("http://10.9.0.1/", allow, _no_dns)
    with pytest.raises(Refused, match="IPv4-mapped"):  # another spelling of an admitted address is not admitted
        check("http://[::ffff:127.0.0.1]/", allow, _no_dns)
    _, rebound = _dns("10.0.0.1")
    with pytest.raises(Refused, match=r"other\.example resolves to 10\.0\.0\.1"):
        check("http://other.example/", allow, rebound)


@pytest.mark.parametrize("entry", ["127.1", "0x7f000001", "not a host", "10.0.0.0/33", "http://x"])
def test_malformed_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="outbound allow-list entry"):
        AllowList.parse([entry])


def test_the_outbound_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DPM_SERVER_OUTBOUND_ALLOW": "127.0.0.1, localhost,10.0.0.0/8",
            "DPM_SERVER_OUTBOUND_TIMEOUT": "2.5",
            "DPM_SERVER_OUTBOUND_MAX_BYTES": "65536",
        }
    )

    assert settings.outbound_allow == ("127.0.0.1", "localhost", "10.0.0.0/8")
    assert (settings.outbound_timeout, settings.outbound_max_bytes) == (2.5, 65536)
    assert Settings().outbound_allow == ()
    assert (Settings().outbound_timeout, Settings().outbound_max_bytes) == (10.0, 1024 * 1024)
    with pytest.raises(ValueError, match=r"outbound allow-list entry '127\.1'"):
        Settings.from_env({"DPM_SERVER_OUTBOUND_ALLOW": "127.1"})
