"""The URL guard: SSRF refusals before any connection, pinning, redirects, caps and deadline."""

from __future__ import annotations

import datetime
import gzip
import http.server
import ipaddress
import json
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.fetch import (
    BlockedAddress,
    FetchedResponse,
    Fetcher,
    FetchError,
    FetchTimeout,
    HttpStatusError,
    TooLarge,
    TooManyRedirects,
    is_forbidden_address,
)

PAGE = b"<html><body><p>hello</p></body></html>"
BIG = 20 * 1024 * 1024
MB = 1024 * 1024
BOMB = gzip.compress(b"\0" * (10 * MB))


class Handler(http.server.BaseHTTPRequestHandler):
    """Routes of the loopback test server."""

    server: LoopbackServer

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Dispatch on the path."""
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = getattr(self, "route_" + parts.path.strip("/").replace("-", "_"), None)
        if route is None:
            self.send_error(404)
            return
        route(query)

    def reply(
        self, body: bytes, content_type: str = "text/html; charset=UTF-8", **headers: str
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def route_page(self, query: dict[str, str]) -> None:
        self.reply(PAGE)

    def route_echo(self, query: dict[str, str]) -> None:
        seen = {k.lower(): v for k, v in self.headers.items()}
        self.reply(json.dumps(seen).encode(), "application/json")

    def route_redirect(self, query: dict[str, str]) -> None:
        self.send_response(int(query.get("status", "302")))
        self.send_header("Location", query["to"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_loop(self, query: dict[str, str]) -> None:
        self.route_redirect({"to": "/loop"})

    def route_encoded(self, query: dict[str, str]) -> None:
        kind = query["kind"]
        body = {
            "gzip": gzip.compress,
            "deflate": zlib.compress,
            "rawdeflate": lambda b: zlib.compress(b, wbits=-15),
        }[kind](PAGE)
        self.reply(body, Content_Encoding="deflate" if "deflate" in kind else kind)

    def route_bomb(self, query: dict[str, str]) -> None:
        self.reply(BOMB, "application/octet-stream", Content_Encoding="gzip")

    def route_big(self, query: dict[str, str]) -> None:
        """20 MB, close-delimited (no Content-Length), counting what actually went out."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if query.get("declare"):
            self.send_header("Content-Length", str(BIG))
        self.end_headers()
        written = 0
        chunk = b"x" * 65536
        try:
            while written < BIG:
                self.wfile.write(chunk)
                written += len(chunk)
        except OSError:
            pass
        finally:
            self.server.big_written.append(written)

    def route_drip_body(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "60")
        self.end_headers()
        self.drip(b"x" * 60)

    def route_drip_headers(self, query: dict[str, str]) -> None:
        self.drip(b"HTTP/1.0 200 OK\r\nX-Slow: " + b"a" * 40)

    def drip(self, data: bytes) -> None:
        """Send a byte every 0.1 s until done or the client goes away."""
        try:
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                time.sleep(0.1)
        except OSError:
            pass


class LoopbackServer(http.server.ThreadingHTTPServer):
    """Loopback HTTP server that counts accepted connections."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.big_written: list[int] = []
        self._lock = threading.Lock()

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: object
    ) -> None:
        with self._lock:
            self.connections += 1
        super().process_request(request, client_address)  # type: ignore[arg-type]


def _serve(server: http.server.HTTPServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def _module_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    for _ in _serve(server):
        yield server


@pytest.fixture
def server(_module_server: LoopbackServer) -> LoopbackServer:
    _module_server.connections = 0
    _module_server.big_written.clear()
    return _module_server


@pytest.fixture
def base(server: LoopbackServer) -> str:
    return f"http://127.0.0.1:{server.server_port}"


class Spy:
    """Connector that records every address; connects for real only to loopback.

    ``rewrite`` maps a pretend public address to the loopback server, so a 'public'
    host can be simulated without sending a packet anywhere else.
    """

    def __init__(self, rewrite: dict[str, str] | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.rewrite = rewrite or {}

    def __call__(self, address: tuple[str, int], timeout: float) -> socket.socket:
        self.calls.append(address)
        host = self.rewrite.get(address[0], address[0])
        if not ipaddress.ip_address(host).is_loopback:
            raise ConnectionRefusedError(f"test refuses to leave loopback: {host}")
        return socket.create_connection((host, address[1]), timeout)


def resolver_for(answers: dict[str, list[list[str]]]) -> Callable[[str, int], list[str]]:
    """A resolver giving each name its answers in turn (the last one repeats), recording calls."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        sequence = answers[host]
        return sequence[min(calls.count(host), len(sequence)) - 1]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


# --- the happy path ---------------------------------------------------------------------


def test_fetches_a_page(base: str) -> None:
    response = Fetcher(allow_private=True).get(f"{base}/page?x=1")
    assert response.status == 200
    assert response.body == PAGE
    assert response.content_type == "text/html"
    assert response.charset == "utf-8"
    assert response.url == f"{base}/page?x=1"


def test_sends_original_host_no_cookie_and_gzip(server: LoopbackServer) -> None:
    port = server.server_port
    resolve = resolver_for({"pinned.test": [["127.0.0.1"]]})
    fetcher = Fetcher(allow_private=True, resolver=resolve, user_agent="ua-test")
    response = fetcher.get(
        f"http://pinned.test:{port}/echo", headers={"Cookie": "session=1", "X-Extra": "yes"}
    )
    seen = json.loads(response.body)
    assert seen["host"] == f"pinned.test:{port}"
    assert seen["accept-encoding"] == "gzip"
    assert seen["user-agent"] == "ua-test"
    assert seen["x-extra"] == "yes"
    assert "cookie" not in seen
    assert resolve.calls == ["pinned.test"]  # type: ignore[attr-defined]


def test_idna_host_is_resolved_in_ascii(server: LoopbackServer) -> None:
    resolve = resolver_for({"xn--bcher-kva.test": [["127.0.0.1"]]})
    response = Fetcher(allow_private=True, resolver=resolve).get(
        f"http://bücher.test:{server.server_port}/page"
    )
    assert response.body == PAGE


@pytest.mark.parametrize("kind", ["gzip", "deflate", "rawdeflate"])
def test_decodes_compressed_bodies(base: str, kind: str) -> None:
    assert Fetcher(allow_private=True).get(f"{base}/encoded?kind={kind}").body == PAGE


def test_response_properties() -> None:
    plain = FetchedResponse("http://x/", 200, {}, b"")
    assert (plain.content_type, plain.charset) == ("", None)
    typed = FetchedResponse(
        "http://x/", 200, {"content-type": 'Text/XML; Charset="ISO-8859-1"'}, b""
    )
    assert (typed.content_type, typed.charset) == ("text/xml", "iso-8859-1")


def test_from_config() -> None:
    fetcher = Fetcher.from_config(
        {
            "FETCH_TIMEOUT": "2.5",
            "FETCH_MAX_BYTES": 100,
            "FETCH_MAX_REDIRECTS": 0,
            "FETCH_ALLOW_PRIVATE": "false",
        }
    )
    assert (fetcher.timeout, fetcher.max_bytes, fetcher.max_redirects) == (2.5, 100, 0)
    assert fetcher.allow_private is False
    default = Fetcher.from_config({"FETCH_ALLOW_PRIVATE": True})
    assert (default.timeout, default.max_bytes, default.max_redirects) == (10.0, 10 * MB, 5)
    assert default.allow_private is True


# --- SSRF: refused before any connection ------------------------------------------------

SSRF_PAYLOADS = [
    "http://127.0.0.1:{port}/page",
    "http://[::1]:{port}/page",
    "http://[::ffff:127.0.0.1]:{port}/page",
    "http://[::ffff:7f00:1]:{port}/page",
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433:{port}/page",
    "http://0x7f000001:{port}/page",
    "http://0177.0.0.1:{port}/page",
    "http://127.1:{port}/page",
    "http://100.64.0.1/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://0.0.0.0:{port}/page",
    "http://[::]:{port}/page",
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",
    "http://[2002:7f00:1::]:{port}/page",
    "http://224.0.0.1/",
    "file:///etc/passwd",
    "gopher://x/",
    "ftp://x/",
    "HTTP://user:pw@example.com/",
    "http://user@example.com/",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("template", SSRF_PAYLOADS)
def test_ssrf_payloads_refused_before_connecting(server: LoopbackServer, template: str) -> None:
    url = template.format(port=server.server_port)
    resolve = resolver_for({"x": [["8.8.8.8"]], "example.com": [["8.8.8.8"]]})
    spy = Spy()
    with pytest.raises(BlockedAddress):
        Fetcher(resolver=resolve, connector=spy).get(url)
    assert spy.calls == []
    assert resolve.calls == []  # type: ignore[attr-defined]
    assert server.connections == 0


@pytest.mark.parametrize(
    "template",
    ["http://2130706433:{port}/", "http://0177.0.0.1:{port}/", "http://0x7f000001:{port}/"],
)
def test_numeric_forms_refused_with_the_default_resolver(
    server: LoopbackServer, template: str
) -> None:
    with pytest.raises(BlockedAddress, match="127.0.0.1"):
        Fetcher().get(template.format(port=server.server_port))
    assert server.connections == 0


def test_name_resolving_to_private_address_is_refused(server: LoopbackServer) -> None:
    spy = Spy()
    resolve = resolver_for(
        {"intranet.test": [["10.0.0.5"]], "mixed.test": [["8.8.8.8", "10.0.0.5"]]}
    )
    fetcher = Fetcher(resolver=resolve, connector=spy)
    with pytest.raises(BlockedAddress, match="10.0.0.5"):
        fetcher.get("http://intranet.test/")
    with pytest.raises(BlockedAddress, match="10.0.0.5"):
        fetcher.get("http://mixed.test/")
    assert spy.calls == []


def test_resolves_once_and_connects_to_that_address(server: LoopbackServer) -> None:
    """DNS rebinding: the second answer (loopback) is never asked for nor used."""
    port = server.server_port
    resolve = resolver_for({"rebind.test": [["8.8.8.8"], ["127.0.0.1"]]})
    spy = Spy()
    with pytest.raises(FetchError) as caught:
        Fetcher(resolver=resolve, connector=spy).get(f"http://rebind.test:{port}/page")
    assert not isinstance(caught.value, BlockedAddress)
    assert resolve.calls == ["rebind.test"]  # type: ignore[attr-defined]
    assert spy.calls == [("8.8.8.8", port)]
    assert server.connections == 0


def test_bad_urls_are_fetch_errors() -> None:
    for url in [
        "http://example.com:0/",
        "http://example.com:65536/",
        "http:///nohost",
        "http://exa mple.com/",
        "http://[::1/",
    ]:
        with pytest.raises(FetchError):
            Fetcher(connector=Spy()).get(url)


# --- redirects ----------------------------------------------------------------------------


def test_follows_redirects_on_loopback(base: str, server: LoopbackServer) -> None:
    fetcher = Fetcher(allow_private=True)
    for status in (301, 302, 303, 307, 308):
        response = fetcher.get(f"{base}/redirect?status={status}&to={base}/page")
        assert (response.url, response.body) == (f"{base}/page", PAGE)
    assert fetcher.get(f"{base}/redirect?to=/page").url == f"{base}/page"


def test_public_host_redirecting_to_loopback_is_refused(server: LoopbackServer) -> None:
    port = server.server_port
    resolve = resolver_for({"public.test": [["8.8.8.8"]]})
    spy = Spy(rewrite={"8.8.8.8": "127.0.0.1"})
    with pytest.raises(BlockedAddress):
        Fetcher(resolver=resolve, connector=spy).get(
            f"http://public.test:{port}/redirect?to=http://127.0.0.1:{port}/page"
        )
    assert spy.calls == [("8.8.8.8", port)]
    assert server.connections == 1


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
        "gopher://x/",
    ],
)
def test_redirect_to_metadata_or_other_scheme_refused_even_if_private_allowed(
    base: str, server: LoopbackServer, target: str
) -> None:
    spy = Spy()
    with pytest.raises(BlockedAddress):
        Fetcher(allow_private=True, connector=spy).get(f"{base}/redirect?to={target}")
    assert spy.calls == [("127.0.0.1", server.server_port)]


def test_redirect_loop(base: str, server: LoopbackServer) -> None:
    with pytest.raises(TooManyRedirects):
        Fetcher(allow_private=True, max_redirects=3).get(f"{base}/loop")
    assert server.connections == 4


def test_credentials_dropped_on_cross_origin_redirect(server: LoopbackServer) -> None:
    port = server.server_port
    resolve = resolver_for({"a.test": [["127.0.0.1"]], "b.test": [["127.0.0.1"]]})
    fetcher = Fetcher(allow_private=True, resolver=resolve)
    auth = {"Authorization": "Bearer secret"}
    same = fetcher.get(f"http://a.test:{port}/redirect?to=/echo", headers=auth)
    assert json.loads(same.body)["authorization"] == "Bearer secret"
    other = fetcher.get(f"http://a.test:{port}/redirect?to=http://b.test:{port}/echo", headers=auth)
    assert "authorization" not in json.loads(other.body)


# --- caps, deadline, status ------------------------------------------------------------


def test_streamed_body_stops_at_the_cap(base: str, server: LoopbackServer) -> None:
    started = time.monotonic()
    with pytest.raises(TooLarge):
        Fetcher(allow_private=True, max_bytes=MB).get(f"{base}/big")
    assert time.monotonic() - started < 3
    deadline = time.monotonic() + 5
    while not server.big_written and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.big_written and server.big_written[0] < BIG


def test_declared_length_over_the_cap_refused_early(base: str) -> None:
    with pytest.raises(TooLarge, match=str(BIG)):
        Fetcher(allow_private=True, max_bytes=MB).get(f"{base}/big?declare=1")


def test_gzip_bomb_stops_at_the_cap(base: str) -> None:
    with pytest.raises(TooLarge):
        Fetcher(allow_private=True, max_bytes=MB).get(f"{base}/bomb")


def test_cap_is_inclusive(base: str) -> None:
    assert Fetcher(allow_private=True, max_bytes=len(PAGE)).get(f"{base}/page").body == PAGE
    with pytest.raises(TooLarge):
        Fetcher(allow_private=True, max_bytes=len(PAGE) - 1).get(f"{base}/encoded?kind=gzip")


@pytest.mark.parametrize("path", ["/drip-body", "/drip-headers"])
def test_slow_server_times_out(base: str, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        Fetcher(allow_private=True, timeout=0.5).get(f"{base}{path}")
    assert time.monotonic() - started < 2


def test_not_found_is_an_http_status_error(base: str) -> None:
    with pytest.raises(HttpStatusError, match="404") as caught:
        Fetcher(allow_private=True).get(f"{base}/missing?token=secret")
    assert caught.value.status == 404
    assert "secret" not in str(caught.value)


def test_connection_refused_is_a_fetch_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(FetchError, match="could not fetch"):
        Fetcher(allow_private=True).get(f"http://127.0.0.1:{port}/")


# --- https: connect to the pinned IP, verify the certificate against the name -----------


def _self_signed(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoopbackServer, bytes]]:
    cert, key = _self_signed("pinned.test")
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert)
    (folder / "key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server = LoopbackServer()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    for _ in _serve(server):
        yield server, cert


def test_https_verifies_the_original_name_on_the_pinned_ip(
    tls_server: tuple[LoopbackServer, bytes],
) -> None:
    server, cert = tls_server
    port = server.server_port
    client_context = ssl.create_default_context(cadata=cert.decode())
    resolve = resolver_for({"pinned.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
    fetcher = Fetcher(allow_private=True, resolver=resolve, ssl_context=client_context)
    seen = json.loads(fetcher.get(f"https://pinned.test:{port}/echo").body)
    assert seen["host"] == f"pinned.test:{port}"
    with pytest.raises(FetchError, match="certificate|hostname"):
        fetcher.get(f"https://other.test:{port}/echo")


# --- the address rule, as a property -----------------------------------------------------

ipv4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
_V6_AROUND_V4 = [0, 0xFFFF << 32, 0x64FF9B << 96]
ipv6 = st.one_of(
    st.integers(0, 2**128 - 1),
    st.builds(
        lambda prefix, v4: prefix | v4, st.sampled_from(_V6_AROUND_V4), st.integers(0, 2**32 - 1)
    ),
    st.builds(
        lambda v4, rest: (0x2002 << 112) | (v4 << 80) | rest,
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**80 - 1),
    ),
    st.builds(
        lambda prefix, rest: (prefix << 112) | rest,
        st.sampled_from([0xFE80, 0xFC00, 0xFD00, 0xFF02, 0xFF0E, 0x2001]),
        st.integers(0, 2**112 - 1),
    ),
).map(ipaddress.IPv6Address)
addresses = st.one_of(ipv4, ipv6)
_PRIVATE_NETWORKS = [
    ipaddress.ip_network(n)
    for n in ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7"]
]


def _embedded(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    """IPv4 addresses an IPv6 address carries: mapped, compatible, 6to4, teredo, NAT64."""
    if isinstance(addr, ipaddress.IPv4Address):
        return []
    found = [addr.ipv4_mapped, addr.sixtofour, *(addr.teredo or ())]
    low = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if int(addr) >> 32 == 0 and int(addr) > 1 or int(addr) >> 32 == 0x64FF9B << 64:
        found.append(low)
    return [str(v4) for v4 in found if v4 is not None]


@settings(max_examples=500, deadline=None)
@given(addresses)
def test_guard_agrees_with_is_global(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Never weaker than is_global; stricter only for the documented extra rules."""
    forbidden = is_forbidden_address(str(addr), allow_private=False)
    if not addr.is_global:
        assert forbidden
    elif forbidden:
        # Extra rules: multicast is never fetched; an IPv6 address carrying a
        # forbidden IPv4 address (6to4, NAT64, IPv4-compatible) is as bad as that address.
        assert addr.is_multicast or any(
            is_forbidden_address(v4, allow_private=False) for v4 in _embedded(addr)
        )


@settings(max_examples=500, deadline=None)
@given(addresses)
def test_allow_private_only_loosens_and_keeps_metadata_blocked(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    loose = is_forbidden_address(str(addr), allow_private=True)
    if loose:
        assert is_forbidden_address(str(addr), allow_private=False)
    if addr.is_unspecified or addr.is_multicast or addr.is_link_local:
        assert loose
    if any(addr in network for network in _PRIVATE_NETWORKS):
        assert not loose


@given(st.text(max_size=60))
def test_unparsable_addresses_are_forbidden(text: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        assert is_forbidden_address(text, allow_private=True)


@pytest.mark.parametrize(
    ("ip", "allowed_when_private_ok"),
    [
        ("127.0.0.1", True),
        ("10.0.0.5", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("169.254.169.254", False),
        ("::ffff:169.254.169.254", False),
        ("0.0.0.0", False),
        ("::", False),
        ("224.0.0.1", False),
        ("fe80::1", False),
        ("255.255.255.255", False),
    ],
)
def test_allow_private_examples(ip: str, allowed_when_private_ok: bool) -> None:
    assert is_forbidden_address(ip, allow_private=False)
    assert is_forbidden_address(ip, allow_private=True) is not allowed_when_private_ok


def test_public_addresses_allowed() -> None:
    for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]:
        assert not is_forbidden_address(ip, allow_private=False), ip


def test_post_sends_the_body_once_and_follows_no_redirect():
    import http.server
    import threading

    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers["Content-Length"])
            received.append((self.path, self.rfile.read(length), self.headers["Content-Type"]))
            if self.path == "/moved":
                self.send_response(307)
                self.send_header("Location", "/elsewhere")
                self.end_headers()
                return
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        fetcher = Fetcher(allow_private=True, timeout=5)
        answer = fetcher.post(
            base + "/hook", data=b"payload", headers={"Content-Type": "text/plain"}
        )
        assert answer.status == 202 and answer.body == b"ok"
        with pytest.raises(HttpStatusError) as caught:
            fetcher.post(base + "/moved", data=b"x")
        assert caught.value.status == 307
        assert [r[0] for r in received] == ["/hook", "/moved"]
        assert received[0][1:] == (b"payload", "text/plain")
        with pytest.raises(BlockedAddress):
            Fetcher(allow_private=False).post(base + "/hook", data=b"x")
        assert len(received) == 2
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
