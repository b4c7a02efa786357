"""The one way out: every request to a URL someone configured (webhooks, integrations).

Server-side request forgery (OWASP ASVS 5.0 L2, V1.3 / V13) is stopped here, not in each
caller: a URL must be https (plain http only when ``OUTBOUND_ALLOW_HTTP``), carry no
credentials, use an allowed port, match ``OUTBOUND_ALLOWED_HOSTS`` when that list is set, and
every address its host resolves to must be globally routable. `outbound_post` then connects to
the very addresses it checked (no second DNS lookup, so DNS rebinding cannot swap in an
internal address), keeps the real host name for the Host header and the TLS certificate check,
never follows redirects, and reads a capped response within a deadline.

``OUTBOUND_ALLOWED_NETWORKS`` (CIDRs treated as reachable although not public) exists for tests
that talk to a local server on 127.0.0.1; production leaves it empty.
"""

import http.client
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from .errors import ApplicationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_CHARS = re.compile(r"^[a-z0-9._:-]+$")
_CHUNK = 16 * 1024

# Special-purpose ranges that `ipaddress` still calls global on some Python versions.
_ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "100.64.0.0/10",  # carrier-grade NAT (shared address space)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "64:ff9b:1::/48",  # local-use NAT64
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class ParsedTarget:
    """A URL that passed the guard, with the addresses it was checked against."""

    url: str
    scheme: str
    host: str  # IDNA, lower case, no brackets: the Host header and the TLS name
    port: int
    path: str  # path and query, as sent on the request line
    addresses: tuple[str, ...]  # connections go to these and nowhere else


@dataclass(frozen=True)
class OutboundResponse:
    """What came back. `error` is "" on a 2xx, otherwise a stable code:
    ``http_error``, ``redirect_refused``, ``timeout``, ``tls_failed``, ``connection_failed``."""

    status: int | None
    body: bytes
    error: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def _refuse(reason: str, message: str) -> ApplicationError:
    return ApplicationError(
        "url_not_allowed",
        _("This address cannot be called: %(why)s") % {"why": message},
        details={"reason": reason},
        status=422,
    )


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4, Teredo), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_refusal(ip: IPAddress) -> str | None:
    """Why `ip` may not be called (a short reason), or None when it is globally routable."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = address_refusal(embedded)
            if reason:
                return reason
        if ip.is_site_local:
            return "private"
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link_local"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (any(ip in net for net in _ALWAYS_REFUSED), "special_purpose"),
        (not ip.is_global, "not_global"),
    )
    return next((reason for refused, reason in checks if refused), None)


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.OUTBOUND_ALLOWED_NETWORKS]


def _in_allowed_network(ip: IPAddress) -> bool:
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(c in net for net in _allowed_networks() for c in candidates)


def _normalise_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def host_allowed(host: str, patterns: list[str]) -> bool:
    """Whether `host` matches an entry: an exact name or ``*.example.com`` (any subdomain,
    not the bare domain)."""
    host = _normalise_host(host)
    for raw in patterns:
        pattern = _normalise_host(raw)
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def _allowed_ports(allow_http: bool) -> set[int]:
    ports = {int(p) for p in settings.OUTBOUND_ALLOWED_PORTS}
    if allow_http:
        ports.add(80)
    return ports


def outbound_url_check(url: str) -> ParsedTarget:
    """Check `url` against the outbound policy and resolve it; raise ``url_not_allowed``
    (422, with ``details.reason``) when it may not be called."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise _refuse("invalid", _("the URL is empty or too long."))
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise _refuse("invalid", _("the URL contains spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse("invalid", _("the URL cannot be parsed.")) from None
    scheme = parts.scheme.lower()
    allow_http = bool(settings.OUTBOUND_ALLOW_HTTP)
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise _refuse("scheme", _("only https:// addresses are allowed."))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _refuse("credentials", _("user names and passwords do not belong in the URL."))
    raw_host = parts.hostname or ""
    try:
        host = _normalise_host(raw_host).encode("idna").decode("ascii")
    except UnicodeError:
        raise _refuse("invalid", _("the host name is not valid.")) from None
    if not host or not _HOST_CHARS.match(host):
        raise _refuse("invalid", _("the host name is not valid."))
    port = port if port is not None else _DEFAULT_PORTS[scheme]
    if port not in _allowed_ports(allow_http):
        raise _refuse("port", _("port %(port)d is not allowed.") % {"port": port})
    allowed_hosts = list(settings.OUTBOUND_ALLOWED_HOSTS)
    if allowed_hosts and not host_allowed(host, allowed_hosts):
        raise _refuse(
            "host_not_allowed", _("%(host)s is not on the list of allowed hosts.") % {"host": host}
        )
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _refuse("unresolvable", _("the host name does not resolve.")) from None
    addresses: list[str] = []
    for info in infos:
        literal = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        if literal not in addresses:
            addresses.append(literal)
    if not addresses:
        raise _refuse("unresolvable", _("the host name does not resolve."))
    # One bad address refuses the whole URL: a name may not mix public and internal answers.
    for literal in addresses:
        ip = ipaddress.ip_address(literal)
        reason = None if _in_allowed_network(ip) else address_refusal(ip)
        if reason:
            raise _refuse(
                reason,
                _("%(host)s resolves to an address that is not public (%(reason)s).")
                % {"host": host, "reason": reason},
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return ParsedTarget(
        url=url, scheme=scheme, host=host, port=port, path=path, addresses=tuple(addresses)
    )


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to already-checked addresses; the host name is used only for the
    Host header and, over TLS, for SNI and certificate verification."""

    def __init__(self, target: ParsedTarget, *, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.default_port = _DEFAULT_PORTS[target.scheme]  # Host header without a default port
        self._addresses = target.addresses
        self._tls: ssl.SSLContext | None = None
        if target.scheme == "https":
            self._tls = ssl.create_default_context(cafile=settings.OUTBOUND_CA_FILE or None)
            self._tls.minimum_version = ssl.TLSVersion.TLSv1_2

    def connect(self) -> None:
        last: OSError = OSError("no address to connect to")
        for address in self._addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
                break
            except OSError as exc:
                last = exc
        else:
            raise last
        if self._tls is not None:
            try:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        self.sock = sock


def _read_capped(response: http.client.HTTPResponse, sock: Any, deadline: float) -> bytes:
    limit = int(settings.OUTBOUND_MAX_RESPONSE_BYTES)
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("response took too long")
        if sock is not None:
            sock.settimeout(remaining)
        chunk = response.read(min(_CHUNK, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def outbound_post(
    url: str, *, body: bytes, headers: dict[str, str], timeout: float | None = None
) -> OutboundResponse:
    """POST `body` to `url` after `outbound_url_check` (which raises ``url_not_allowed``).

    Network and HTTP failures come back as a response with an `error` code rather than an
    exception, so callers record them and retry. A 3xx is never followed.
    """
    target = outbound_url_check(url)
    seconds = float(timeout if timeout is not None else settings.OUTBOUND_TIMEOUT_SECONDS)
    deadline = time.monotonic() + seconds
    # The Host header is ours to set (from the checked URL), never a caller's.
    sent = {k: v for k, v in headers.items() if k.lower() != "host"}
    sent.setdefault("User-Agent", "Aftersales-Outbound/1")
    connection = _PinnedConnection(target, timeout=seconds)
    try:
        connection.request("POST", target.path, body=body, headers=sent)
        response = connection.getresponse()
        data = _read_capped(response, connection.sock, deadline)
        status = response.status
    except TimeoutError as exc:  # socket.timeout is TimeoutError
        return OutboundResponse(None, b"", "timeout", str(exc)[:200])
    except ssl.SSLError as exc:  # includes certificate verification failures
        return OutboundResponse(None, b"", "tls_failed", str(exc)[:200])
    except (OSError, http.client.HTTPException) as exc:
        return OutboundResponse(
            None, b"", "connection_failed", str(exc)[:200] or type(exc).__name__
        )
    finally:
        connection.close()
    if 300 <= status < 400:
        return OutboundResponse(status, data, "redirect_refused", "redirects are not followed")
    if not 200 <= status < 300:
        return OutboundResponse(status, data, "http_error", f"HTTP {status}")
    return OutboundResponse(status, data)
