"""Every page names its icon and shows the feeds; /favicon.ico leads to the icon."""

import lxml.html
import pytest


def test_favicon_ico_leads_to_the_svg_icon(client):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301
    assert answer.headers["Location"] == "/static/favicon.svg"
    icon = client.get("/static/favicon.svg")
    try:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
        root = lxml.etree.fromstring(icon.get_data())
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    finally:
        icon.close()


@pytest.mark.parametrize("path", ["/", "/login", "/articles/{slug}", "/no-such-page"])
def test_public_pages_link_the_icon_and_show_the_feeds(client, make_article, session, path):
    article = make_article(title="Harbour news")
    session.commit()
    answer = client.get(path.format(slug=article.slug))
    tree = lxml.html.fromstring(answer.get_data(as_text=True))
    [icon] = tree.xpath("//head/link[@rel='icon']")
    assert icon.get("href") == "/static/favicon.svg" and icon.get("type") == "image/svg+xml"
    footer = tree.xpath("//footer[@class='site-footer']")[0]
    links = {a.text_content(): a.get("href") for a in footer.xpath(".//a")}
    assert links["RSS"] == "/feeds/rss.xml"
    assert links["Atom"] == "/feeds/atom.xml"
    assert links["JSON Feed"] == "/feeds/feed.json"
    assert "Subscribe to" in footer.text_content()
    for href in links.values():
        assert client.get(href).status_code == 200, href


def test_the_sandbox_page_links_the_icon(linkedin_sandbox):
    from urllib.request import urlopen

    with urlopen(linkedin_sandbox.base_url + "/sandbox/", timeout=10) as page:  # noqa: S310
        tree = lxml.html.fromstring(page.read().decode())
    assert tree.xpath("//head/link[@rel='icon']/@href") == ["/static/favicon.svg"]
