"""The one guard every server-side fetch goes through (SSRF, size and time caps).

A URL is fetched only if it is http(s), carries no credentials and its host resolves to
global addresses only. The name is resolved once per hop and the connection goes to that
very address (so a DNS answer that changes between lookups cannot redirect it), while the
Host header, SNI and certificate check use the original name. Redirects are followed by
hand and every hop is checked again. One deadline covers the whole fetch, and a byte cap
covers both the bytes on the wire and the decompressed body.
"""

from __future__ import annotations

import functools
import http.client
import io
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

Resolver = Callable[[str, int], Sequence[str]]
Connector = Callable[[tuple[str, int], float], socket.socket]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"
# Headers that must not follow a redirect to another origin, and cookies never go out.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(Exception):
    """A server-side fetch failed; the message is fit for a user or a CLI summary."""


class BlockedAddress(FetchError):
    """The URL's scheme, credentials or resolved address is not allowed."""


class TooLarge(FetchError):
    """The body is larger than the byte cap."""


class FetchTimeout(FetchError):
    """The fetch did not finish within its time limit."""


class TooManyRedirects(FetchError):
    """The fetch was redirected more often than allowed."""


class HttpStatusError(FetchError):
    """The final response was not 2xx."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class FetchedResponse:
    """A fully read, decompressed 2xx response."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case ("" when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, lower-case, if any."""
        for param in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset":
                return value.strip().strip('"').lower() or None
        return None


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address maps, tunnels or translates to."""
    found = [addr.ipv4_mapped, addr.sixtofour]
    if addr.teredo:
        found.extend(addr.teredo)
    if (addr in _IPV4_COMPATIBLE and int(addr) > 1) or addr in _NAT64:
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return [v4 for v4 in found if v4 is not None]


def _always_forbidden(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Addresses refused even when private ones are allowed (metadata, wildcard, multicast)."""
    if addr.is_unspecified or addr.is_multicast or addr.is_link_local:
        return True
    return isinstance(addr, ipaddress.IPv4Address) and (addr in _THIS_NETWORK or addr.is_reserved)


def is_forbidden_address(ip: str, allow_private: bool) -> bool:
    """Whether a fetch must not connect to this IP address (unparsable counts as forbidden)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return True
    if isinstance(addr, ipaddress.IPv6Address):
        if any(is_forbidden_address(str(v4), allow_private) for v4 in _embedded_ipv4(addr)):
            return True
    if _always_forbidden(addr):
        return True
    return not allow_private and not addr.is_global


def default_resolver(host: str, port: int) -> list[str]:
    """Every address getaddrinfo gives for host, in its order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class _Target:
    """A checked http(s) URL split into what a request needs."""

    url: str
    scheme: str
    host: str
    port: int
    request_path: str

    @property
    def host_header(self) -> str:
        """The Host header value: the original name, with the port when not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        """Scheme, host and port, for deciding whether a redirect leaves the origin."""
        return (self.scheme, self.host, self.port)

    @property
    def display(self) -> str:
        """The URL without its query string, for messages (queries may hold secrets)."""
        return f"{self.scheme}://{self.host_header}{self.request_path.split('?', 1)[0]}"


def _ascii_host(hostname: str) -> str:
    """Lower-case ASCII form of a host name (IDNA) or IP literal."""
    if ":" in hostname:
        return hostname
    try:
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise FetchError(f"{hostname!r} is not a valid host name") from None
    if not host or not set(host) <= _HOST_CHARS:
        raise FetchError(f"{hostname!r} is not a valid host name")
    return host


def _parse_url(url: str) -> _Target:
    """Check scheme, credentials, host and port of a URL; refuse what may not be fetched."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise FetchError("the URL is malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedAddress(f"only http and https URLs can be fetched, not {scheme or 'this'}:")
    if "@" in parts.netloc:
        raise BlockedAddress("URLs with a user name or password are refused")
    if not parts.hostname:
        raise FetchError("the URL has no host")
    if port is None:
        port = 443 if scheme == "https" else 80
    if not 1 <= port <= 65535:
        raise FetchError(f"port {port} is out of range")
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_PATH_SAFE)
    return _Target(url, scheme, _ascii_host(parts.hostname), port, path)


def _numeric_ipv4(host: str) -> str | None:
    """The address of a numeric IPv4 host in any form libc accepts (2130706433, 0x7f000001)."""
    if not set(host) <= set("0123456789abcdefx."):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


class _DeadlineReader(io.RawIOBase):
    """Raw reader that gives every receive only the time left before the deadline."""

    def __init__(self, sock: _DeadlineSocket) -> None:
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Receive into buffer, failing with TimeoutError once the deadline has passed."""
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        """Let the socket go once its connection is closed too."""
        if not self.closed:
            self._sock.release_reader()
        super().close()


class _DeadlineSocket:
    """The parts of a socket http.client uses, each bounded by one overall deadline.

    A per-operation timeout alone lets a server dripping a byte a second run forever.
    Like socket.makefile, the real socket stays open until its reader is closed too.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._readers = 0
        self._closed = False

    def _arm(self) -> None:
        """Set the socket timeout to the time left, or fail if none is left."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        self._sock.settimeout(left)

    def sendall(self, data: bytes) -> None:
        """Send everything before the deadline."""
        self._arm()
        self._sock.sendall(data)

    def recv_into(self, buffer: Any) -> int:
        """Receive once before the deadline."""
        self._arm()
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        """A buffered reader whose every underlying receive respects the deadline."""
        self._readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def release_reader(self) -> None:
        """A reader was closed; close the real socket if nothing else uses it."""
        self._readers -= 1
        self._close_if_unused()

    def close(self) -> None:
        """Close the real socket once no reader uses it."""
        self._closed = True
        self._close_if_unused()

    def _close_if_unused(self) -> None:
        """Close the real socket when both the connection and its readers are done."""
        if self._closed and self._readers == 0:
            self._sock.close()


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection whose socket comes from the guard, never from its own lookup."""

    def __init__(self, target: _Target, open_socket: Callable[[], _DeadlineSocket]) -> None:
        super().__init__(target.host, target.port)
        self._open_socket = open_socket

    def connect(self) -> None:
        """Open the socket to the checked address."""
        self.sock = self._open_socket()


class _Decoder:
    """Content-Encoding decoder that refuses output beyond the byte cap (gzip bombs)."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        self._max = max_bytes
        self._encoding = encoding
        self._zlib: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            raise FetchError(f"the server used an unsupported Content-Encoding: {encoding}")
        self._out = bytearray()
        self._first = True

    def feed(self, data: bytes) -> None:
        """Decode one chunk, raising TooLarge as soon as the output passes the cap."""
        if self._zlib is None:
            self._out += data
        else:
            self._out += self._inflate(data, self._max + 1 - len(self._out))
        if len(self._out) > self._max:
            raise TooLarge(f"the body is larger than {self._max} bytes")

    def _inflate(self, data: bytes, budget: int) -> bytes:
        """Decompress at most budget bytes; retry raw deflate for servers that send it."""
        first, self._first = self._first, False
        try:
            inflated: bytes = self._zlib.decompress(data, budget)
            return inflated
        except zlib.error:
            if first and self._encoding == "deflate":
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._inflate(data, budget)
            raise FetchError("the compressed body is corrupt") from None

    @property
    def body(self) -> bytes:
        """Everything decoded so far."""
        return bytes(self._out)


@dataclass(frozen=True)
class _Hop:
    """One response: either a redirect location or a final status, headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    location: str | None = None


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """The system trust store with hostname checks, built once (loading CAs is slow)."""
    return ssl.create_default_context()


def _as_flag(value: Any) -> bool:
    """A boolean setting given as a bool or as text such as "true" or "0"."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class Fetcher:
    """Fetches untrusted URLs with an SSRF guard, a deadline and a byte cap."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        max_bytes: int = 10 * 1024 * 1024,
        max_redirects: int = 5,
        allow_private: bool = False,
        user_agent: str = "syndicate/0.1 (+https://github.com/)",
        resolver: Resolver | None = None,
        connector: Connector | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.allow_private = allow_private
        self.user_agent = user_agent
        self.resolver: Resolver = resolver or default_resolver
        self.connector: Connector = connector or socket.create_connection
        self.ssl_context = ssl_context

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Fetcher:
        """A fetcher set up from FETCH_* settings; missing ones take the defaults."""

        def setting(name: str, default: Any) -> Any:
            value = config.get(name)
            return default if value is None or value == "" else value

        return cls(
            timeout=float(setting("FETCH_TIMEOUT", 10.0)),
            max_bytes=int(setting("FETCH_MAX_BYTES", 10 * 1024 * 1024)),
            max_redirects=int(setting("FETCH_MAX_REDIRECTS", 5)),
            allow_private=_as_flag(setting("FETCH_ALLOW_PRIVATE", False)),
        )

    def get(self, url: str, *, headers: dict[str, str] | None = None) -> FetchedResponse:
        """GET url, following checked redirects; raise a FetchError subclass on any refusal."""
        deadline = time.monotonic() + self.timeout
        extra = {k: v for k, v in (headers or {}).items() if k.lower() != "cookie"}
        target = start = _parse_url(url)
        for _ in range(self.max_redirects + 1):
            hop = self._hop(target, extra, deadline)
            if hop.location is None:
                if not 200 <= hop.status < 300:
                    raise HttpStatusError(
                        hop.status, f"{target.display} answered HTTP {hop.status}"
                    )
                return FetchedResponse(target.url, hop.status, hop.headers, hop.body)
            following = _parse_url(urljoin(target.url, hop.location))
            if following.origin != target.origin:
                extra = {k: v for k, v in extra.items() if k.lower() not in _CREDENTIAL_HEADERS}
            target = following
        raise TooManyRedirects(f"more than {self.max_redirects} redirects from {start.display}")

    def post(
        self, url: str, *, data: bytes, headers: dict[str, str] | None = None
    ) -> FetchedResponse:
        """POST data to url once, following no redirect; anything but 2xx raises.

        Same guard, deadline and byte cap as ``get``. Not following redirects keeps a
        POST from being replayed at an address the caller never chose.
        """
        deadline = time.monotonic() + self.timeout
        extra = {k: v for k, v in (headers or {}).items() if k.lower() != "cookie"}
        target = _parse_url(url)
        hop = self._hop(target, extra, deadline, method="POST", body=data)
        if hop.location is not None or not 200 <= hop.status < 300:
            raise HttpStatusError(hop.status, f"{target.display} answered HTTP {hop.status}")
        return FetchedResponse(target.url, hop.status, hop.headers, hop.body)

    def _addresses(self, target: _Target) -> list[str]:
        """Resolve the host once and refuse if any of its addresses is forbidden."""
        literal = _numeric_ipv4(target.host)
        if literal is None and ":" in target.host:
            literal = target.host
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = [str(a) for a in self.resolver(target.host, target.port)]
            except (OSError, UnicodeError):
                raise FetchError(f"could not resolve {target.host}") from None
        if not addresses:
            raise FetchError(f"could not resolve {target.host}")
        for address in addresses:
            if is_forbidden_address(address, self.allow_private):
                shown = address if address == target.host else f"{target.host} ({address})"
                raise BlockedAddress(f"{shown} is not a public address; fetching it is refused")
        return addresses

    def _open(self, target: _Target, deadline: float) -> _DeadlineSocket:
        """Connect to the first reachable checked address, with TLS against the original name."""
        failure: OSError = OSError("no address")
        for address in self._addresses(target):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("deadline passed")
            try:
                sock = self.connector((address, target.port), left)
                break
            except OSError as exc:
                failure = exc
        else:
            raise failure
        if target.scheme == "https":
            try:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                context = self.ssl_context or _default_ssl_context()
                sock = context.wrap_socket(sock, server_hostname=target.host)
            except BaseException:
                sock.close()
                raise
        return _DeadlineSocket(sock, deadline)

    def _hop(
        self,
        target: _Target,
        extra: dict[str, str],
        deadline: float,
        *,
        method: str = "GET",
        body: bytes | None = None,
    ) -> _Hop:
        """One request on a fresh pinned connection, with errors turned into FetchErrors."""
        request_headers = {
            "User-Agent": self.user_agent,
            "Accept": "*/*",
            **extra,
            "Host": target.host_header,
            "Accept-Encoding": "gzip",
            "Connection": "close",
        }
        conn = _PinnedConnection(target, lambda: self._open(target, deadline))
        try:
            conn.request(method, target.request_path, body=body, headers=request_headers)
            with conn.getresponse() as response:
                return self._read(response)
        except TimeoutError:
            raise FetchTimeout(
                f"{target.display} did not answer within {self.timeout:g} s"
            ) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # A socket closed at the deadline can surface as a reset or a truncated body.
            if time.monotonic() >= deadline:
                raise FetchTimeout(
                    f"{target.display} did not answer within {self.timeout:g} s"
                ) from None
            raise FetchError(f"could not fetch {target.display}: {exc}") from None
        finally:
            conn.close()

    def _read(self, response: http.client.HTTPResponse) -> _Hop:
        """Read a response's body within the byte cap, unless it is a redirect or an error."""
        headers: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        location = headers.get("location")
        if response.status in _REDIRECTS and location:
            return _Hop(response.status, headers, location=location)
        if not 200 <= response.status < 300:
            return _Hop(response.status, headers)
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise TooLarge(f"the body is {declared} bytes, more than {self.max_bytes}")
        decoder = _Decoder(headers.get("content-encoding", "").strip().lower(), self.max_bytes)
        received = 0
        while chunk := response.read1(_CHUNK):
            received += len(chunk)
            if received > self.max_bytes:
                raise TooLarge(f"the body is larger than {self.max_bytes} bytes")
            decoder.feed(chunk)
        return _Hop(response.status, headers, decoder.body)
