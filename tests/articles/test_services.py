from datetime import timedelta

import pytest
from sqlalchemy import select

from syndicate.articles import services
from syndicate.articles.models import ArticleStatus, BodyFormat
from syndicate.models import Event

HOSTILE = (
    '<p onclick="steal()">Hi<script>alert(1)</script></p>'
    '<iframe src="https://evil.example"></iframe><a href="javascript:alert(1)">x</a>'
    '<img src="x.png" onerror="alert(1)"><style>body{}</style><svg onload="x()"></svg>'
)


def test_sanitizer_removes_scripts_frames_styles_handlers_and_javascript_links():
    clean = services.sanitize_html(HOSTILE)
    for bad in (
        "<script",
        "<iframe",
        "onclick",
        "onerror",
        "javascript:",
        "<style",
        "<svg",
        "onload",
    ):
        assert bad not in clean
    assert "<p>Hi</p>" in clean and '<img src="x.png">' in clean


@pytest.mark.parametrize(
    ("srcset", "kept"),
    [
        ("/a.png 1x, /b.png 2x", True),
        ("https://cdn.example/a.png 480w", True),
        ("/a.png", True),
        ("javascript:alert(1) 1x", False),
        # Found by the fuzzer: a browser reads the URL "java", a careless client a script URL.
        ("java\tscript:alert(1)", False),
        ("/a.png 1x extra", False),
        ("/a.png, data:image/png;base64,AAAA 2x", False),
    ],
)
def test_srcset_keeps_only_url_and_descriptor_candidates_with_safe_schemes(srcset, kept):
    clean = services.sanitize_html(f'<img src="/a.png" srcset="{srcset}">')
    assert ("srcset=" in clean) is kept


def test_markdown_body_is_rendered_then_sanitised(session, clock):
    article = services.create_article(
        session,
        services.ArticleInput(
            title="T",
            body="Hello *world*\n\n<script>x()</script>",
            body_format=BodyFormat.MARKDOWN,
        ),
        now=clock.now(),
    )
    assert "<em>world</em>" in article.body_html
    assert "<script" not in article.body_html
    assert article.body_source.endswith("<script>x()</script>")


def test_new_articles_are_drafts_with_a_stable_public_id(session, clock, make_article):
    article = make_article(publish=False, title="Café “Zoë” — opening")
    assert article.status is ArticleStatus.DRAFT and article.published_at is None
    assert article.slug == "cafe-zoe-opening"
    public_id = article.public_id
    services.update_article(
        session,
        article,
        services.ArticleInput(title="Completely new title", slug="another-slug"),
        now=clock.now(),
    )
    assert article.public_id == public_id


def test_publishing_emits_one_event_in_the_same_transaction(session, clock, make_article):
    article = make_article(publish=False)
    services.publish_article(session, article, now=clock.now())
    services.publish_article(session, article, now=clock.now())  # already published: no-op
    kinds = session.scalars(select(Event.kind).where(Event.subject == article.public_id)).all()
    assert kinds == ["article.published"]
    assert article.published_at == clock.now()


def test_an_edit_readers_would_see_bumps_updated_at_and_emits_update(session, clock, make_article):
    article = make_article(title="Old title")
    published_at = article.published_at
    clock.advance(timedelta(hours=2))
    changed = services.update_article(
        session,
        article,
        services.ArticleInput(
            title="New title",
            body=article.body_source,
            summary=article.summary,
            authors=["Ada Writer"],
            categories=["World"],
        ),
        now=clock.now(),
    )
    assert changed
    assert article.updated_at == clock.now() and article.published_at == published_at
    kinds = session.scalars(
        select(Event.kind).where(Event.subject == article.public_id).order_by(Event.id)
    ).all()
    assert kinds == ["article.published", "article.updated"]


def test_saving_unchanged_content_changes_nothing(session, clock, make_article):
    article = make_article(title="Same")
    before = article.updated_at
    clock.advance(timedelta(hours=1))
    changed = services.update_article(
        session,
        article,
        services.ArticleInput(
            title="Same",
            body=article.body_source,
            summary=article.summary,
            authors=["Ada Writer"],
            categories=["World"],
        ),
        now=clock.now(),
    )
    assert not changed and article.updated_at == before
    assert session.scalars(select(Event).where(Event.kind == "article.updated")).all() == []


def test_changed_slug_keeps_the_old_one_redirecting(session, clock, make_article):
    article = make_article(slug="first-slug")
    services.update_article(
        session,
        article,
        services.ArticleInput(title=article.title, slug="second-slug"),
        now=clock.now(),
    )
    found = services.find_public_by_slug(session, "first-slug")
    assert found.article is None and found.redirect_to == "second-slug"
    # Taking the first slug back must not leave a redirect loop.
    services.update_article(
        session,
        article,
        services.ArticleInput(title=article.title, slug="first-slug"),
        now=clock.now(),
    )
    assert services.find_public_by_slug(session, "first-slug").article is article
    assert services.find_public_by_slug(session, "second-slug").redirect_to == "first-slug"


def test_a_slug_belonging_to_another_article_is_refused(session, clock, make_article):
    make_article(slug="taken")
    other = make_article()
    with pytest.raises(services.SlugTaken):
        services.update_article(
            session, other, services.ArticleInput(title=other.title, slug="taken"), now=clock.now()
        )


@pytest.mark.parametrize(
    "title, slug",
    [
        # Typographic punctuation separates words as a space would, not glues them.
        (
            "“We measured the wrong thing”—what ten years of bike counters taught one city",
            "we-measured-the-wrong-thing-what-ten-years-of-bike-counters-taught-one-city",
        ),
        ("Prices rose 3–5 % in Q1", "prices-rose-3-5-in-q1"),
        ("Straße in Łódź, Ærø and Øresund", "strasse-in-lodz-aero-and-oresund"),
        ("Don’t panic, it's fine", "dont-panic-its-fine"),
        ("Кириллица 2026", "2026"),
        ("日本語", "article"),
    ],
)
def test_slugs_are_ascii_words_from_the_title(title, slug):
    assert services.slugify(title) == slug


def test_generated_slugs_never_collide(make_article):
    first = make_article(title="Same title")
    second = make_article(title="Same title")
    assert first.slug == "same-title" and second.slug == "same-title-2"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"title": "T", "slug": "Bad Slug!"}, "slug"),
        ({"title": "T", "canonical_url": "javascript:alert(1)"}, "canonical_url"),
        ({"title": "T", "hero_image_url": "https://img.example/a.png"}, "hero_image_alt"),
    ],
)
def test_bad_article_input_names_the_field(session, clock, data, field):
    with pytest.raises(services.ArticleError) as caught:
        services.create_article(session, services.ArticleInput(**data), now=clock.now())
    assert caught.value.field_name == field


def test_unpublished_articles_are_not_public(session, clock, make_article):
    article = make_article(slug="gone")
    services.unpublish_article(session, article, now=clock.now())
    assert services.find_public_by_slug(session, "gone").article is None
    assert session.scalars(select(Event.kind).where(Event.kind == "article.unpublished")).all()


def test_taxonomy_is_shared_by_slug(make_article):
    first = make_article(categories=["Science "], tags=["Data", "data"])
    second = make_article(categories=["science"])
    assert first.categories[0].id == second.categories[0].id
    assert len(first.tags) == 1
