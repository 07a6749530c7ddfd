"""Hypothesis fuzzing of the three hand-written guards: the HTML sanitiser, the URL guard and
the little-text escaper.

The fixed SSRF payload list of reference/reliability.md item 17 is tested in
tests/test_fetch.py (``SSRF_PAYLOADS``, DNS rebinding, redirects, size and time caps);
``test_the_ssrf_payload_list_still_holds_item_17`` below keeps that list from shrinking.
The little-text round trip over arbitrary text lives in tests/linkedin/test_client.py.
"""

from __future__ import annotations

import html
import ipaddress
import re
import socket

import lxml.html
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from syndicate.articles.services import ALLOWED_TAGS, sanitize_html
from syndicate.fetch import Fetcher, FetchError, is_forbidden_address
from syndicate.linkedin.text import RESERVED, escape_little_text, linkedin_length, mention
from syndicate.linkedin_sandbox.text import parse_little_text, render_little_text

# --- the sanitiser ----------------------------------------------------------------------

DANGEROUS_TAGS = {
    "script", "iframe", "frame", "frameset", "style", "object", "embed", "applet", "form",
    "input", "button", "textarea", "select", "base", "meta", "link", "svg", "math",
    "template", "noscript", "xmp", "plaintext", "title", "noembed", "portal",
}
URL_ATTRIBUTES = {"href", "src", "cite", "action", "formaction", "xlink:href", "poster",
                  "background", "data", "srcset"}
TAGS = sorted(DANGEROUS_TAGS | {"a", "img", "p", "div", "span", "table", "td", "source",
                                "picture", "blockquote", "q", "details", "summary", "pre",
                                "code", "video", "audio", "body", "html", "head", "ul", "li"})
ATTRIBUTES = ["href", "src", "srcset", "style", "onerror", "onload", "onclick", "onmouseover",
              "ONERROR", "formaction", "action", "xlink:href", "cite", "title", "alt",
              "class", "id", "data-x", "width", "background", "poster", "srcdoc", "is"]
SCHEMES = ["javascript:", "JaVaScRiPt:", " javascript:", "java\tscript:", "jav&#x09;ascript:",
           "&#106;avascript:", "vbscript:", "data:text/html,", "data:image/svg+xml,",
           "https://", "http://", "mailto:", "//", "/", "", "file:", "livescript:"]
PAYLOADS = ["alert(1)", "alert`1`", "x", "evil.example/a?b=c", "<script>alert(1)</script>",
            "\" onerror=\"alert(1)", "' onload='x'", "&quot;><svg onload=alert(1)>"]


@st.composite
def attribute_values(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(SCHEMES)) + draw(st.sampled_from(PAYLOADS + [draw(st.text(
        max_size=12))]))


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(TAGS))
    attrs = draw(st.lists(st.tuples(st.sampled_from(ATTRIBUTES), attribute_values()),
                          max_size=3))
    quote = draw(st.sampled_from(['"', "'", ""]))
    rendered_attrs = "".join(f" {name}={quote}{value}{quote}" for name, value in attrs)
    inner = draw(st.lists(nodes(depth + 1), max_size=3)) if depth < 3 else []
    close = draw(st.sampled_from([f"</{tag}>", "", f"</{tag.upper()}>", "</"]))
    return f"<{tag}{rendered_attrs}>{''.join(inner)}{close}"


def nodes(depth: int = 0) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=20),
        st.sampled_from(["<!-- <script>alert(1)</script> -->", "<![CDATA[<script>]]>",
                         "<!DOCTYPE html>", "</script>", "<scr<script>ipt>", "&lt;script&gt;",
                         "<img/src=x/onerror=alert(1)>", "<svg><script>alert(1)</script>",
                         "<math><mi><mglyph><style><img src=x onerror=alert(1)>",
                         "<a href=javascript&colon;alert(1)>x</a>", "<<p>>", "<p <p>"]),
        elements(depth),
    )


HTML = st.lists(nodes(), max_size=6).map("".join)


def _unsafe_url(value: str) -> bool:
    """Whether a URL attribute could run script, as a browser reads it."""
    cleaned = re.sub(r"[\x00-\x20]", "", html.unescape(value)).lower()
    return cleaned.startswith(("javascript:", "vbscript:", "data:", "livescript:"))


def _problems(output: str) -> list[str]:
    if not output.strip():
        return []
    found = []
    # lxml refuses control characters; dropping them can only join a "java\x01script:"
    # into something the check flags, never hide one.
    parseable = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", output)
    for element in lxml.html.fragment_fromstring(parseable, create_parent="div").iter():
        if not isinstance(element.tag, str):  # comments, processing instructions
            found.append(f"non-element node {element!r}")
            continue
        name = element.tag.lower()
        if element is not None and name != "div" and name not in ALLOWED_TAGS:
            found.append(f"tag <{name}>")
        for attribute, value in element.attrib.items():
            attribute = attribute.lower()
            if attribute.startswith("on") or attribute in {"style", "srcdoc", "formaction"}:
                found.append(f"attribute {attribute}")
            if attribute in URL_ATTRIBUTES:
                candidates = value.split(",") if attribute == "srcset" else [value]
                for candidate in candidates:
                    if _unsafe_url(candidate.strip().split(" ")[0]):
                        found.append(f"{attribute}={value!r}")
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HTML)
def test_sanitised_html_has_no_script_frames_styles_handlers_or_script_urls(source):
    output = sanitize_html(source)
    assert not _problems(output), (source, output)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_sanitising_any_text_is_safe(source):
    assert not _problems(sanitize_html(source))


def _text(fragment: str) -> str:
    parseable = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", fragment)
    if not parseable.strip():
        return ""
    return lxml.html.fragment_fromstring(parseable, create_parent="div").text_content()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HTML)
def test_sanitising_again_keeps_the_text_and_stays_safe(source):
    # Every save of an article sanitises its body again: nothing may be lost or let in.
    # (Byte-for-byte idempotence does not hold: nh3 writes <p><summary></summary></p>,
    # which a parser turns into <p></p><summary></summary><p></p>.)
    once = sanitize_html(source)
    twice = sanitize_html(once)
    assert _text(twice) == _text(once)
    assert not _problems(twice)


def test_known_payloads_are_defused():
    for payload in ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
                    "<a href='javascript:alert(1)'>x</a>", "<svg onload=alert(1)>",
                    "<iframe src=//evil.example>", "<style>body{}</style>",
                    "<a href=' &#14;javascript:alert(1)'>x</a>",
                    "<object data=javascript:alert(1)>", "<form action=javascript:x>",
                    "<blockquote cite='javascript:alert(1)'>x</blockquote>",
                    "<q cite=' &#14;javascript:alert(1)'>x</q>",
                    "<img src=/a.png srcset='/a.png 1x, javascript:alert(1) 2x'>",
                    "<picture><source srcset=javascript:alert(1)></picture>"]:
        output = sanitize_html(payload)
        assert not _problems(output), (payload, output)
        assert "alert(1)" not in output or "<" not in output.split("alert(1)")[0][-30:]


# --- the URL guard ----------------------------------------------------------------------

HOSTNAMES = ["example.com", "intranet.test", "metadata.google.internal", "xn--80ak6aa92e.com",
             "localhost", "a.b.c.d.e", "evil.example"]


def _ipv6_literal(addr: ipaddress.IPv6Address) -> str:
    return f"[{addr}]"


NUMERIC_HOSTS = st.one_of(
    st.integers(0, 2**32 - 1).map(str),
    st.integers(0, 2**32 - 1).map(hex),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(f"0{n:o}" for n in t)),
    st.tuples(st.integers(0, 255), st.integers(0, 2**24 - 1)).map(lambda t: f"{t[0]}.{t[1]}"),
)
HOSTS = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(_ipv6_literal),
    NUMERIC_HOSTS,
    st.sampled_from(HOSTNAMES),
    st.sampled_from(["127.0.0.1.", "[::ffff:127.0.0.1]", "[fe80::1%25eth0]", "0", "[::]",
                     "169.254.169.254", "[::ffff:a9fe:a9fe]", "100.64.0.1"]),
)
# What the fake DNS answers for names: public, private, mapped and odd addresses.
ANSWERS = st.lists(st.one_of(st.just("93.184.215.14"), st.ip_addresses().map(str),
                             st.sampled_from(["10.0.0.5", "127.0.0.1", "::1", "169.254.169.254",
                                              "::ffff:10.0.0.5", "64:ff9b::a00:1", "8.8.8.8",
                                              "2001:4860:4860::8888", "not-an-ip"])),
                   min_size=1, max_size=3)
PUBLIC = "93.184.215.14"


class RecordingNetwork:
    """Resolver and connector in one: records every connection, answers with a redirect.

    Connections to a public address get a canned HTTP answer over a socketpair (no packet
    leaves the process): a redirect to the next fuzzed URL, then 200.
    """

    def __init__(self, answers: dict[str, list[str]], redirects: list[str]) -> None:
        self.answers = answers
        self.redirects = list(redirects)
        self.connections: list[tuple[str, int]] = []
        self.peers: list[socket.socket] = []

    def resolve(self, host: str, port: int) -> list[str]:
        return self.answers.get(host, [PUBLIC])

    def connect(self, address: tuple[str, int], timeout: float) -> socket.socket:
        self.connections.append(address)
        ours, peer = socket.socketpair()
        self.peers.append(peer)
        if self.redirects:
            location = self.redirects.pop(0).encode("latin-1", "replace")
            peer.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + location +
                         b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        else:
            peer.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        return ours

    def close(self) -> None:
        for peer in self.peers:
            peer.close()


def _mostly(common: str, *rare: str) -> st.SearchStrategy[str]:
    """`common` nine times in ten, so that most examples get past the cheap refusals."""
    return st.sampled_from([common] * 9 + list(rare))


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(_mostly("http", "HTTP", "https", "ftp", "file", "gopher"))
    host = draw(st.one_of(st.sampled_from(HOSTNAMES), st.sampled_from(HOSTNAMES), HOSTS))
    port = draw(_mostly("", ":8080", ":0", ":65536", ":443"))
    userinfo = draw(_mostly("", "user@", "user:pw@"))
    path = draw(st.sampled_from(["/", "/a?b=c", "", "/%2e%2e/", "/#frag"]))
    return f"{scheme}://{userinfo}{host}{port}{path}"


@settings(max_examples=500, deadline=None)
@given(first=urls(), redirects=st.lists(urls(), max_size=3),
       dns=st.dictionaries(st.sampled_from(HOSTNAMES), ANSWERS))
def test_the_guard_never_connects_to_a_forbidden_address(first, redirects, dns):
    network = RecordingNetwork(dns, redirects)
    fetcher = Fetcher(resolver=network.resolve, connector=network.connect, timeout=5)
    try:
        fetcher.get(first)
    except FetchError:
        pass
    finally:
        network.close()
    for address, _port in network.connections:
        assert not is_forbidden_address(address, allow_private=False), (first, redirects,
                                                                        network.connections)


@settings(max_examples=300, deadline=None)
@given(host=st.sampled_from(HOSTNAMES), answer=ANSWERS)
def test_a_name_with_any_forbidden_answer_is_never_connected(host, answer):
    assume(any(is_forbidden_address(a, allow_private=False) for a in answer))
    network = RecordingNetwork({host: answer}, [])
    try:
        Fetcher(resolver=network.resolve, connector=network.connect).get(f"http://{host}/")
    except FetchError:
        pass
    finally:
        network.close()
    assert network.connections == []


def test_the_ssrf_payload_list_still_holds_item_17():
    from tests.test_fetch import SSRF_PAYLOADS

    hosts = " ".join(SSRF_PAYLOADS)
    for required in ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254",
                     "2130706433", "0x7f000001", "100.64.0.1", "file:", "gopher:"]:
        assert required in hosts, f"tests/test_fetch.py lost the SSRF payload {required}"


# --- the little-text escaper ------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_escaping_hashtags_too_still_renders_back(text):
    assert render_little_text(escape_little_text(text, keep_hashtags=False)) == text


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_escaping_at_most_doubles_the_length_linkedin_counts(text):
    assert linkedin_length(escape_little_text(text)) <= 2 * linkedin_length(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"],
                                      blacklist_characters="".join(RESERVED)), max_size=100))
def test_text_without_reserved_characters_is_sent_unchanged(text):
    assert escape_little_text(text) == text


@settings(max_examples=300, deadline=None)
@given(prefix=TEXT, name=st.text(min_size=0, max_size=40), suffix=TEXT,
       urn=st.from_regex(r"urn:li:(person|organization):[A-Za-z0-9_-]{1,20}", fullmatch=True))
def test_a_mention_of_any_name_survives_escaping_of_the_text_around_it(prefix, name, suffix,
                                                                       urn):
    marked = mention(name, urn)
    # Whitespace around the mention keeps a URL in the prefix from running into it.
    text = f"{prefix} {marked} {suffix}"
    rendered = parse_little_text(escape_little_text(text))
    assert rendered.cut_at is None
    assert [m.urn for m in rendered.mentions].count(urn) >= 1
    shown = re.sub(r"[\[\]()\\\n]", "", name).strip() or "LinkedIn member"
    assert f" {shown} " in rendered.rendered
