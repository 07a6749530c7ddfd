from datetime import timedelta

import pytest
from sqlalchemy import func, select

from syndicate.articles.models import Article, ArticleStatus


def test_article_page_points_canonical_to_the_publishers_url(client, make_article):
    make_article(slug="on-site", canonical_url="https://publisher.example/2026/on-site")
    page = client.get("/articles/on-site").get_data(as_text=True)
    assert '<link rel="canonical" href="https://publisher.example/2026/on-site">' in page


def test_article_without_canonical_points_to_itself(client, make_article):
    make_article(slug="native")
    page = client.get("/articles/native").get_data(as_text=True)
    assert '<link rel="canonical" href="https://news.example.test/articles/native">' in page


def test_times_on_public_pages_carry_their_zone(client, make_article):
    make_article(slug="timed")
    page = client.get("/articles/timed").get_data(as_text=True)
    assert "2026-03-02 09:00 UTC" in page


def test_public_pages_carry_the_publications_name(app, client, make_article):
    article = make_article(title="Ports at night")
    app.config["SITE_NAME"] = "F5mag"
    home = client.get("/").get_data(as_text=True)
    assert "<title>F5mag</title>" in home and '<a class="brand" href="/">F5mag</a>' in home
    page = client.get(f"/articles/{article.slug}").get_data(as_text=True)
    assert "<title>Ports at night · F5mag</title>" in page
    missing = client.get("/articles/no-such-article").get_data(as_text=True)
    assert "<title>404 · F5mag</title>" in missing
    # Unnamed, a site is called by its address.
    app.config["SITE_NAME"] = ""
    assert '<a class="brand" href="/">news.example.test</a>' in client.get("/").get_data(as_text=True)


def test_drafts_and_unknown_slugs_are_404(client, make_article):
    make_article(slug="draft-one", publish=False)
    assert client.get("/articles/draft-one").status_code == 404
    assert client.get("/articles/nothing-here").status_code == 404


def test_old_slug_redirects_permanently(client, login, make_user, make_article, session):
    article = make_article(slug="old-name")
    login(make_user())
    response = client.post(
        f"/dashboard/articles/{article.id}",
        data={
            "title": article.title,
            "slug": "new-name",
            "body_format": "html",
            "body": "<p>x</p>",
        },
    )
    assert response.status_code == 303
    moved = client.get("/articles/old-name")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/articles/new-name")


def test_home_paginates_newest_first(app, client, make_article, clock):
    app.config["PAGE_SIZE"] = 2
    for days in range(5):
        make_article(title=f"Piece {days}", published_at=clock.now() - timedelta(days=days))
    first = client.get("/").get_data(as_text=True)
    assert first.index("Piece 0") < first.index("Piece 1") and "Piece 2" not in first
    third = client.get("/?page=3").get_data(as_text=True)
    assert "Piece 4" in third and "Page 3 of 3" in third


@pytest.mark.parametrize("query", ["page=abc", "page=0", "page=-1", "page=99999999999"])
def test_bad_page_numbers_are_400(client, query):
    assert client.get(f"/?{query}").status_code == 400


def test_editor_writes_publishes_and_unpublishes(client, login, make_user, session):
    login(make_user())
    created = client.post(
        "/dashboard/articles/new",
        data={
            "title": "Fresh “news” — today",
            "body_format": "markdown",
            "body": "Some **bold** text",
            "authors": "Zoë Ångström, José Müller",
            "categories": "Cities",
            "tags": "a, b",
        },
    )
    assert created.status_code == 303
    article = session.scalar(select(Article).where(Article.title == "Fresh “news” — today"))
    assert article.status is ArticleStatus.DRAFT
    assert [a.name for a in article.authors] == ["Zoë Ångström", "José Müller"]
    assert client.get(f"/articles/{article.slug}").status_code == 404

    assert client.post(f"/dashboard/articles/{article.id}/publish").status_code == 303
    page = client.get(f"/articles/{article.slug}").get_data(as_text=True)
    assert "<strong>bold</strong>" in page and "Fresh “news” — today" in page

    assert client.post(f"/dashboard/articles/{article.id}/unpublish").status_code == 303
    assert client.get(f"/articles/{article.slug}").status_code == 404


def test_invalid_article_form_stores_nothing_and_says_why(client, login, make_user, session):
    login(make_user())
    response = client.post(
        "/dashboard/articles/new",
        data={
            "title": "Has a hero",
            "body_format": "html",
            "hero_image_url": "https://img.example/a.png",
        },
    )
    assert response.status_code == 422
    assert "Describe the hero image" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Article)) == 0


def test_oversized_request_body_is_413(client, login, make_user):
    login(make_user())
    response = client.post(
        "/dashboard/articles/new",
        data={"title": "Big", "body_format": "html", "body": "x" * (3 * 1024 * 1024)},
    )
    assert response.status_code == 413


def test_dashboard_list_filters_by_state_and_title(client, login, make_user, make_article):
    login(make_user())
    make_article(title="Published apple")
    make_article(title="Draft apple", publish=False)
    drafts = client.get("/dashboard/articles?status=draft").get_data(as_text=True)
    assert "Draft apple" in drafts and "Published apple" not in drafts
    assert client.get("/dashboard/articles?status=bogus").status_code == 400
    found = client.get("/dashboard/articles?q=PUBLISHED").get_data(as_text=True)
    assert "Published apple" in found and "Draft apple" not in found


def test_errors_answer_json_to_json_clients_without_tracebacks(client):
    response = client.get("/articles/none", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_security_headers_on_every_page(client):
    response = client.get("/")
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json["database"] == "ok"
