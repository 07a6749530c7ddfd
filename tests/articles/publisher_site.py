"""A small publisher's site served over real HTTP on 127.0.0.1 for the import tests.

It serves an RSS 2.0 feed with full content (typographic quotes, an em dash, non-ASCII
author names and one broken item), an Atom feed, a feed without guids, a sitemap and a
sitemap index, article pages with OpenGraph and JSON-LD, a page with OpenGraph only, a
redirect to the cloud metadata address and an oversized body. Tests change the articles
(``site.articles[...]``) and the site serves the new version at once; ``site.requests``
lists every path asked for.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class SiteArticle:
    slug: str
    title: str
    body: str
    description: str
    authors: list[str]
    section: str
    keywords: list[str]
    published: str  # RFC 822 for the feed
    published_iso: str
    modified_iso: str
    image: str = ""
    image_alt: str = ""


def default_articles() -> dict[str, SiteArticle]:
    return {
        "quiet-revolution": SiteArticle(
            slug="quiet-revolution",
            title="The “quiet” revolution — how feeds came back",
            body="<p>Feeds are back — and readers noticed: “I never left,” says Zoë.</p>"
                 "<p>Second paragraph with <a href=\"/articles/older-piece\">a link</a>.</p>"
                 '<p><img src="/images/inline.jpg" alt="Inline" '
                 'srcset="/images/inline.jpg 1x, /images/inline-2x.jpg 2x"></p>',
            description="Why feeds matter again.",
            authors=["Zoë Šimić", "Łukasz Nowak"],
            section="Culture",
            keywords=["feeds", "web"],
            published="Mon, 02 Feb 2026 08:30:00 +0100",
            published_iso="2026-02-02T08:30:00+01:00",
            modified_iso="2026-02-03T10:00:00+00:00",
            image="/images/quiet.jpg",
            image_alt="A reader holding a tablet",
        ),
        "sailing-north": SiteArticle(
            slug="sailing-north",
            title="Sailing north: a journal",
            body="<p>Day one. The wind — finally — turned.</p>",
            description="A week on the water.",
            authors=["Ada Writer"],
            section="Travel",
            keywords=["sailing"],
            published="Tue, 10 Feb 2026 12:00:00 +0000",
            published_iso="2026-02-10T12:00:00+00:00",
            modified_iso="2026-02-10T12:00:00+00:00",
        ),
        "budget-2026": SiteArticle(
            slug="budget-2026",
            title="Budget 2026 explained",
            body="<p>Numbers, plainly.</p><ul><li>One</li><li>Two</li></ul>",
            description="What changes for you.",
            authors=["Ada Writer"],
            section="Politics",
            keywords=["budget", "tax"],
            published="Wed, 18 Feb 2026 07:00:00 +0000",
            published_iso="2026-02-18T07:00:00+00:00",
            modified_iso="2026-02-18T07:00:00+00:00",
        ),
    }


@dataclass
class Response:
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class PublisherSite:
    """The site: routes computed from ``articles`` on every request, plus fixed extras."""

    def __init__(self) -> None:
        self.articles = default_articles()
        self.extra: dict[str, Response] = {}
        self.requests: list[str] = []
        self.broken_item = True
        self.sitemap_lastmod = "2026-02-20"
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                site.requests.append(self.path)
                response = site.route(self.path)
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(response.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    def __enter__(self) -> PublisherSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def link(self, slug: str) -> str:
        return f"{self.url}/articles/{slug}"

    # --- routes -------------------------------------------------------------------------

    def route(self, path: str) -> Response:
        if path in self.extra:
            return self.extra[path]
        if path == "/feed.xml":
            return Response(content_type="application/rss+xml; charset=utf-8", body=self.rss())
        if path == "/noguid.xml":
            return Response(content_type="application/rss+xml; charset=utf-8",
                            body=self.rss(guids=False, broken=False))
        if path == "/atom.xml":
            return Response(content_type="application/atom+xml", body=self.atom())
        if path == "/sitemap.xml":
            return Response(content_type="application/xml", body=self.sitemap(
                [*self.articles, "og-only"]))
        if path == "/sitemap-1.xml":
            return Response(content_type="application/xml",
                            body=self.sitemap(list(self.articles)[:2]))
        if path == "/sitemap-2.xml":
            return Response(content_type="application/xml",
                            body=self.sitemap(list(self.articles)[2:]))
        if path == "/sitemap_index.xml":
            return Response(content_type="application/xml", body=self.sitemap_index())
        if path == "/articles/og-only":
            return Response(body=self.og_only_page())
        if path.startswith("/articles/") and path.removeprefix("/articles/") in self.articles:
            return Response(body=self.page(self.articles[path.removeprefix("/articles/")]))
        if path == "/to-metadata":
            return Response(status=302, headers={
                "Location": "http://169.254.169.254/latest/meta-data/"})
        if path == "/feed-moved":
            return Response(status=301, headers={"Location": "/feed.xml"})
        if path == "/huge.xml":
            return Response(content_type="application/rss+xml", body=self.rss()
                            + b"<!--" + b"x" * 300_000 + b"-->")
        return Response(status=404, body=b"not here")

    def rss(self, *, guids: bool = True, broken: bool | None = None) -> bytes:
        broken = self.broken_item if broken is None else broken
        items = []
        for article in self.articles.values():
            guid = (f'<guid isPermaLink="false">urn:site:{article.slug}</guid>'
                    if guids else "")
            creators = "".join(f"<dc:creator>{escape(a)}</dc:creator>" for a in article.authors)
            tags = "".join(f'<category domain="tag">{escape(k)}</category>'
                           for k in article.keywords)
            image = (f'<media:content url="{article.image}" medium="image"/>'
                     if article.image else "")
            items.append(
                f"<item><title>{escape(article.title)}</title>"
                f"<link>{self.link(article.slug)}</link>{guid}"
                f"<pubDate>{article.published}</pubDate>{creators}"
                f"<category>{escape(article.section)}</category>{tags}"
                f"<description>{escape(article.description)}</description>"
                f"<content:encoded><![CDATA[{article.body}]]></content:encoded>{image}</item>"
            )
        if broken:
            items.append("<item><description>An item with neither title nor link"
                         "</description><guid>urn:site:broken</guid></item>")
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            f"<title>Example Magazine</title><link>{self.url}/</link>"
            "<description>Stories worth reading</description>"
            + "".join(items) + "</channel></rss>"
        ).encode()

    def atom(self) -> bytes:
        entries = []
        for article in self.articles.values():
            entries.append(
                f"<entry><title>{escape(article.title)}</title>"
                f'<link rel="alternate" href="{self.link(article.slug)}"/>'
                f"<id>tag:example.test,2026:{article.slug}</id>"
                f"<published>{article.published_iso}</published>"
                f"<updated>{article.modified_iso}</updated>"
                f'<category term="{escape(article.section)}"/>'
                f"<summary>{escape(article.description)}</summary>"
                f'<content type="html">{escape(article.body)}</content></entry>'
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Example Magazine</title><id>{self.url}/</id>"
            "<updated>2026-02-20T00:00:00Z</updated>"
            "<author><name>Redaktion Ünterwegs</name></author>"
            + "".join(entries) + "</feed>"
        ).encode()

    def sitemap(self, slugs: list[str]) -> bytes:
        urls = "".join(
            f"<url><loc>{self.link(slug)}</loc><lastmod>{self.sitemap_lastmod}</lastmod></url>"
            for slug in slugs
        )
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"{urls}</urlset>").encode()

    def sitemap_index(self) -> bytes:
        children = "".join(f"<sitemap><loc>{self.url}/sitemap-{n}.xml</loc></sitemap>"
                           for n in (1, 2))
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"{children}</sitemapindex>").encode()

    def page(self, article: SiteArticle) -> bytes:
        ld = {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebSite", "name": "Example Magazine", "url": f"{self.url}/"},
                {
                    "@type": "NewsArticle",
                    "headline": article.title,
                    "description": article.description,
                    "image": ({"@type": "ImageObject", "url": f"{self.url}{article.image}",
                               "caption": article.image_alt} if article.image else None),
                    "author": [{"@type": "Person", "name": a} for a in article.authors],
                    "datePublished": article.published_iso,
                    "dateModified": article.modified_iso,
                    "articleSection": article.section,
                    "keywords": ", ".join(article.keywords),
                    "mainEntityOfPage": self.link(article.slug),
                },
            ],
        }
        og_image = (f'<meta property="og:image" content="{article.image}">'
                    f'<meta property="og:image:alt" content="{escape(article.image_alt)}">'
                    if article.image else "")
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(article.title)} | Example Magazine</title>
<link rel="canonical" href="/articles/{article.slug}">
<meta property="og:title" content="{escape(article.title)} (OG)">
<meta property="og:description" content="OG description">
{og_image}
<script type="application/ld+json">{json.dumps(ld)}</script>
</head><body>
<nav><a href="/">Home</a> <a href="/culture">Culture</a></nav>
<main><article>
<header><h1>{escape(article.title)}</h1><p class="byline">By someone</p></header>
<div itemprop="articleBody">{article.body}<script>alert("x")</script>
<form action="/subscribe"><input name="email"></form></div>
<aside>Related: other stories</aside>
<footer>Share this</footer>
</article></main>
<footer>© Example Magazine</footer>
</body></html>""".encode()

    def og_only_page(self) -> bytes:
        return """<!doctype html>
<html><head><meta charset="utf-8"><title>Ignored title</title>
<meta property="og:title" content="Only OpenGraph here">
<meta property="og:description" content="Described by OpenGraph alone.">
<meta property="og:url" content="/articles/og-only">
<meta property="article:published_time" content="2026-01-15T09:00:00Z">
<meta property="article:section" content="Science">
<meta property="article:tag" content="space">
<meta property="article:tag" content="rockets">
<meta name="author" content="Mira Čolak">
</head><body><header>Site header</header>
<article><h2>Launch day</h2><p>The rocket rose at dawn.</p></article>
</body></html>""".encode()
