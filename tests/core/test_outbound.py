"""The outbound guard: only public https addresses are called, at the address that was checked."""

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from aftersales.core.errors import ApplicationError
from aftersales.core.outbound import (
    OutboundResponse,
    host_allowed,
    outbound_post,
    outbound_url_check,
)
from tests.integrations.receiver import LocalCA, Receiver, serving


def refused(url: str) -> str:
    """The reason the guard gives for refusing `url` (fails the test if it is accepted)."""
    with pytest.raises(ApplicationError) as caught:
        outbound_url_check(url)
    assert caught.value.code == "url_not_allowed"
    assert caught.value.status_code == 422
    assert caught.value.message
    reason: str = caught.value.details["reason"]
    return reason


class TestAddresses:
    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("https://localhost/", "loopback"),
            ("https://127.0.0.1/", "loopback"),
            ("https://127.1.2.3/", "loopback"),
            ("https://[::1]/", "loopback"),
            ("https://169.254.169.254/latest/meta-data/", "link_local"),
            ("https://[fe80::1]/", "link_local"),
            ("https://10.0.0.1/", "private"),
            ("https://172.16.5.4/", "private"),
            ("https://192.168.1.1/", "private"),
            ("https://[fc00::1]/", "private"),
            ("https://100.64.0.1/", "special_purpose"),
            ("https://[::ffff:127.0.0.1]/", "loopback"),
            ("https://[::ffff:169.254.169.254]/", "link_local"),
            ("https://[64:ff9b::a9fe:a9fe]/", "link_local"),  # NAT64 of the metadata address
            ("https://[64:ff9b::7f00:1]/", "loopback"),
            ("https://[2002:a00:1::]/", "private"),  # 6to4 of 10.0.0.1
            ("https://0.0.0.0/", "unspecified"),
            ("https://0/", "unspecified"),
            ("https://[::]/", "unspecified"),
            ("https://224.0.0.1/", "multicast"),
            ("https://[ff02::1]/", "multicast"),
            ("https://240.0.0.1/", "private"),
            ("https://2130706433/", "loopback"),  # decimal 127.0.0.1
            ("https://0177.0.0.1/", "loopback"),  # octal
            ("https://0x7f.1/", "loopback"),  # hexadecimal, short form
        ],
    )
    def test_internal_addresses_are_refused(self, url: str, reason: str) -> None:
        assert refused(url) == reason

    def test_a_public_address_passes_with_what_will_be_called(self) -> None:
        target = outbound_url_check("https://8.8.8.8/hooks/case?tenant=7#frag")
        assert (target.scheme, target.host, target.port) == ("https", "8.8.8.8", 443)
        assert target.path == "/hooks/case?tenant=7"
        assert target.addresses == ("8.8.8.8",)
        assert outbound_url_check("https://[2001:4860:4860::8888]/").addresses == (
            "2001:4860:4860::8888",
        )

    def test_a_name_that_does_not_resolve_is_refused(self) -> None:
        assert refused("https://no-such-host.invalid/") == "unresolvable"

    @override_settings(OUTBOUND_ALLOWED_NETWORKS=["127.0.0.0/8"])
    def test_allowed_networks_open_only_the_listed_range(self) -> None:
        assert outbound_url_check("https://127.0.0.1/").addresses == ("127.0.0.1",)
        assert refused("https://10.0.0.1/") == "private"
        assert refused("https://169.254.169.254/") == "link_local"


class TestUrls:
    @pytest.mark.parametrize(
        "url",
        [
            "file:///etc/passwd",
            "gopher://8.8.8.8:70/_GET",
            "ftp://8.8.8.8/",
            "dict://8.8.8.8:11211/stat",
            "http://8.8.8.8/",
            "javascript:alert(1)",
            "//8.8.8.8/",
        ],
    )
    def test_only_https_by_default(self, url: str) -> None:
        assert refused(url) == "scheme"

    @override_settings(OUTBOUND_ALLOW_HTTP=True)
    def test_plain_http_when_allowed_on_port_80(self) -> None:
        assert outbound_url_check("http://8.8.8.8/").port == 80
        assert refused("file:///etc/passwd") == "scheme"

    @pytest.mark.parametrize(
        "url", ["https://user:secret@8.8.8.8/", "https://user@8.8.8.8/", "https://:pw@8.8.8.8/"]
    )
    def test_credentials_in_the_url_are_refused(self, url: str) -> None:
        assert refused(url) == "credentials"

    @pytest.mark.parametrize(
        "url", ["https://8.8.8.8:8443/", "https://8.8.8.8:22/", "https://8.8.8.8:80/"]
    )
    def test_other_ports_are_refused(self, url: str) -> None:
        assert refused(url) == "port"

    def test_a_port_out_of_range_is_refused(self) -> None:
        assert refused("https://8.8.8.8:99999/") == "invalid"

    @override_settings(OUTBOUND_ALLOWED_PORTS=[443, 8443])
    def test_listed_ports_are_allowed(self) -> None:
        assert outbound_url_check("https://8.8.8.8:8443/x").port == 8443

    @pytest.mark.parametrize(
        "url", ["https://8.8.8.8/a\r\nHost: evil", "https://8.8.8.8/ a", "", "https:///x"]
    )
    def test_malformed_urls_are_refused(self, url: str) -> None:
        assert refused(url) == "invalid"

    @override_settings(OUTBOUND_ALLOWED_HOSTS=["*.example.com", "erp.partner.cn"])
    def test_host_allow_list(self) -> None:
        assert refused("https://8.8.8.8/") == "host_not_allowed"
        assert refused("https://localhost/") == "host_not_allowed"
        patterns = ["*.example.com", "erp.partner.cn"]
        assert host_allowed("hooks.example.com", patterns)
        assert host_allowed("a.b.example.com", patterns)
        assert host_allowed("ERP.Partner.CN.", patterns)
        assert not host_allowed("example.com", patterns)
        assert not host_allowed("evilexample.com", patterns)
        assert not host_allowed("erp.partner.cn.evil.com", patterns)


@pytest.fixture
def local() -> Iterator[Any]:
    """Settings under which a plain-http server on 127.0.0.1 may be called (tests only)."""

    def allow(*ports: int, http: bool = True) -> Any:
        return override_settings(
            OUTBOUND_ALLOW_HTTP=http,
            OUTBOUND_ALLOWED_PORTS=list(ports),
            OUTBOUND_ALLOWED_NETWORKS=["127.0.0.0/8"],
        )

    yield allow


class TestPosting:
    def test_posts_the_body_with_the_host_name_in_the_host_header(self, local: Any) -> None:
        with serving(Receiver()) as receiver, local(receiver.port):
            response = outbound_post(
                f"http://localhost:{receiver.port}/hook?x=1",
                body=b'{"a":1}',
                headers={"Content-Type": "application/json", "Host": "evil.example"},
            )
        assert response.ok and response.status == 200 and response.body == b"ok"
        [hit] = receiver.hits
        assert (hit.method, hit.path, hit.body) == ("POST", "/hook?x=1", b'{"a":1}')
        assert hit.headers["Host"] == f"localhost:{receiver.port}"

    def test_a_redirect_is_not_followed(self, local: Any) -> None:
        with serving(Receiver()) as inner:
            target = f"http://127.0.0.1:{inner.port}/internal"
            with (
                serving(Receiver(replies=[(302, {"Location": target}, b"")])) as outer,
                local(outer.port, inner.port),
            ):
                response = outbound_post(f"http://127.0.0.1:{outer.port}/", body=b"{}", headers={})
        assert (response.ok, response.status, response.error) == (False, 302, "redirect_refused")
        assert len(outer.hits) == 1
        assert inner.hits == []

    def test_a_server_error_is_a_failure_not_an_exception(self, local: Any) -> None:
        with serving(Receiver(replies=[(500, {}, b"boom")])) as receiver, local(receiver.port):
            response = outbound_post(receiver_url(receiver), body=b"{}", headers={})
        assert (response.ok, response.status, response.error) == (False, 500, "http_error")

    def test_the_response_read_is_capped(self, local: Any) -> None:
        big = b"x" * 500_000
        with (
            serving(Receiver(replies=[(200, {}, big)])) as receiver,
            local(receiver.port),
            override_settings(OUTBOUND_MAX_RESPONSE_BYTES=1000),
        ):
            response = outbound_post(receiver_url(receiver), body=b"{}", headers={})
        assert response.ok and response.body == b"x" * 1000

    def test_a_slow_receiver_times_out(self, local: Any) -> None:
        with serving(Receiver(delay=2.0)) as receiver, local(receiver.port):
            response = outbound_post(receiver_url(receiver), body=b"{}", headers={}, timeout=0.3)
        assert (response.ok, response.error) == (False, "timeout")

    def test_nothing_is_sent_to_a_refused_url(self) -> None:
        with (
            serving(Receiver()) as receiver,
            override_settings(OUTBOUND_ALLOW_HTTP=True),
            pytest.raises(ApplicationError) as caught,
        ):
            outbound_post(receiver_url(receiver), body=b"{}", headers={})
        assert caught.value.details["reason"] == "port"
        with (
            serving(Receiver()) as receiver,
            override_settings(OUTBOUND_ALLOW_HTTP=True, OUTBOUND_ALLOWED_PORTS=[receiver.port]),
            pytest.raises(ApplicationError) as caught,
        ):
            outbound_post(receiver_url(receiver), body=b"{}", headers={})
        assert caught.value.details["reason"] == "loopback"
        assert receiver.hits == []


def receiver_url(receiver: Receiver) -> str:
    return f"http://127.0.0.1:{receiver.port}/hook"


class TestDnsRebinding:
    def test_the_connection_goes_to_the_address_that_was_checked(
        self, local: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A resolver that answers an allowed address first and an internal one afterwards
        (DNS rebinding) must never get its second answer used."""
        real = socket.getaddrinfo
        lookups: list[str] = []

        def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host != "hooks.rebind.test":
                return real(host, port, *args, **kwargs)
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) == 1 else "10.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        with serving(Receiver()) as receiver, local(receiver.port):
            response = outbound_post(
                f"http://hooks.rebind.test:{receiver.port}/hook", body=b"{}", headers={}, timeout=2
            )
        assert response.ok, response
        assert lookups == ["hooks.rebind.test"]  # resolved once, for the check
        [hit] = receiver.hits
        assert hit.headers["Host"] == f"hooks.rebind.test:{receiver.port}"

    def test_a_name_with_one_internal_answer_among_public_ones_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def mixed(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port)),
            ]

        monkeypatch.setattr(socket, "getaddrinfo", mixed)
        assert refused("https://hooks.mixed.test/") == "link_local"


def trusting(ca: LocalCA | None, receiver: Receiver) -> Any:
    return override_settings(
        OUTBOUND_ALLOWED_PORTS=[receiver.port],
        OUTBOUND_ALLOWED_NETWORKS=["127.0.0.0/8"],
        OUTBOUND_CA_FILE=str(ca.ca_file) if ca else "",
    )


def post_tls(receiver: Receiver) -> OutboundResponse:
    return outbound_post(f"https://localhost:{receiver.port}/hook", body=b"{}", headers={})


class TestTls:
    def test_certificate_is_checked_against_the_host_name_not_the_pinned_ip(
        self, tmp_path: Path
    ) -> None:
        ca = LocalCA.create(tmp_path)
        with (
            serving(Receiver(), tls=ca.server_context("localhost")) as receiver,
            trusting(ca, receiver),
        ):
            response = post_tls(receiver)
        assert response.ok, response
        assert receiver.sni == ["localhost"]
        assert len(receiver.hits) == 1

    def test_a_certificate_for_another_name_is_refused(self, tmp_path: Path) -> None:
        ca = LocalCA.create(tmp_path)
        with (
            serving(Receiver(), tls=ca.server_context("other.example")) as receiver,
            trusting(ca, receiver),
        ):
            response = post_tls(receiver)
        assert (response.ok, response.error) == (False, "tls_failed")
        assert receiver.hits == []

    def test_an_untrusted_certificate_is_refused(self, tmp_path: Path) -> None:
        ca = LocalCA.create(tmp_path)
        with (
            serving(Receiver(), tls=ca.server_context("localhost")) as receiver,
            trusting(None, receiver),  # the system trust store does not know this CA
        ):
            response = post_tls(receiver)
        assert (response.ok, response.error) == (False, "tls_failed")
        assert receiver.hits == []
