"""The compose preview draws a post as LinkedIn's feed does, "…see more" and card included,
and shows exactly what the LinkedIn sandbox's page shows once the dispatcher published it."""

from datetime import timedelta
from urllib.parse import urlsplit
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from syndicate.linkedin.feed import SEE_MORE_CHARS, card_domain, fold, initials
from syndicate.posts import composing
from syndicate.posts.models import PostState
from tests.posts.test_views import compose_url, form, only_post

HERO = "/static/demo/harbour-dawn.png"
TITLE = "Talks (finally) resume: US_China [update]"
LONG = (
    "Talks (finally) resume #Trade\n\n"
    + "Both sides meet at the harbour_front to talk about tariffs, quotas and the ships "
    "that wait outside (forty of them, @desk says). " * 4
).strip()

FIELDS = ("author", "shown", "rest", "title", "domain")


def feed_fields(html: str) -> list[dict[str, str | None]]:
    """Every post a page draws as LinkedIn's feed: its visible fields, by data-li name."""
    tree = lxml.html.fromstring(html)
    posts = []
    for post in tree.xpath("//article[contains(concat(' ', @class, ' '), ' li-post ')]"):
        fields: dict[str, str | None] = {}
        for name in FIELDS:
            found = post.xpath(f".//*[@data-li='{name}']")
            fields[name] = found[0].text_content() if found else None
        image = post.xpath(".//img[@data-li='image']")
        fields["image"] = image[0].get("src") if image else None
        fields["initials"] = "".join(post.xpath(".//svg[contains(@class,'li-avatar')]//text()"))
        see_more = post.xpath(".//details[contains(@class,'li-see-more')]")
        fields["see_more_hidden"] = "yes" if see_more and see_more[0].get("hidden") is not None else "no"
        posts.append(fields)
    return posts


@pytest.fixture
def editor(staff_user):
    return staff_user(email="editor@example.test", time_zone="Europe/Berlin")


# --- the rule ---------------------------------------------------------------------------


def test_fold_keeps_three_lines_at_most():
    text = "one\ntwo\nthree\nfour"
    assert fold(text).shown == "one\ntwo\nthree" and fold(text).rest == "\nfour"
    assert fold("one\n\nthree\n\n").folded is False  # only blank lines after: nothing hidden


def test_fold_cuts_long_text_at_a_word_before_the_limit():
    text = "word " * 100
    shown = fold(text).shown
    assert len(shown) <= SEE_MORE_CHARS and shown.endswith("word")
    assert shown + fold(text).rest == text
    short = "x" * SEE_MORE_CHARS
    assert fold(short).folded is False
    assert fold(short + "y").shown == short  # no space to go back to: cut at the limit


def test_initials_and_domain():
    assert initials("Sam Sandbox") == "SS" and initials("Sandbox Magazine Ltd") == "SL"
    assert initials("  ") == "?" and initials("f5mag") == "F"
    assert card_domain("https://www.f5mag.com/a?utm_source=linkedin") == "f5mag.com"


# --- the default template --------------------------------------------------------------


def test_default_template_leaves_the_link_to_the_card(make_article, target, app):
    article = make_article(title="Talks resume", summary="Both sides meet.", tags=["Trade"])
    made = composing.compose_defaults(
        article, target, site_url=app.config["SITE_URL"], campaign="spring"
    )
    assert made.commentary == "Talks resume\n\nBoth sides meet.\n\n#Trade"
    assert "http" not in made.commentary


def test_a_custom_template_with_link_still_puts_the_link_in_the_text(
    make_article, make_sandbox_target, app
):
    article = make_article(title="Talks resume", summary="S.", tags=[])
    target = make_sandbox_target(template="{title}\n\n{link}")
    made = composing.compose_defaults(
        article, target, site_url=app.config["SITE_URL"], campaign="spring"
    )
    assert made.commentary.startswith("Talks resume\n\nhttps://news.example.test/articles/")
    assert "utm_campaign=spring" in made.commentary


def test_the_card_carries_the_tracked_link(client, editor, make_article, target, session):
    article = make_article(title="Talks resume", summary="Both sides meet.", tags=["Trade"])
    page = client.get(compose_url(article, target)).get_data(as_text=True)
    [shown] = feed_fields(page)
    assert "http" not in (shown["shown"] or "") + (shown["rest"] or "")
    card = lxml.html.fromstring(page).xpath("//a[@data-li='card']")[0].get("href")
    assert card.startswith("https://news.example.test/articles/")
    assert "utm_source=linkedin&utm_medium=social" in card
    client.post(compose_url(article, target), data=form(commentary="Read it"))
    assert "utm_source=linkedin&utm_medium=social" in only_post(session).link_url


# --- the preview against the sandbox ---------------------------------------------------


def test_preview_shows_what_the_sandbox_page_shows_after_publishing(
    app, client, session, editor, make_article, target, dispatcher, clock, linkedin_sandbox
):
    site = app.config["SITE_URL"]
    article = make_article(
        title="The article's own title",
        summary="Both sides meet.",
        tags=["Trade"],
        hero_image_url=site + HERO,
        hero_image_alt="A harbour at dawn",
        canonical_url="https://www.f5mag.example/2026/talks",
    )
    # The compose page's Preview button (no script) ...
    answer = client.post(
        compose_url(article, target),
        data=form(commentary=LONG, card_title=TITLE, save=None, preview="Preview"),
    )
    assert answer.status_code == 200
    [composed] = feed_fields(answer.get_data(as_text=True))
    # ... then the post saved from the same form, and its own page.
    local = (clock.now() + timedelta(hours=2)).astimezone(ZoneInfo("Europe/Berlin"))
    saved = client.post(
        compose_url(article, target),
        data=form(commentary=LONG, card_title=TITLE, scheduled_at=f"{local:%Y-%m-%dT%H:%M}"),
    )
    assert saved.status_code == 303
    post = only_post(session)
    [on_post_page] = feed_fields(client.get(f"/dashboard/posts/{post.id}").get_data(as_text=True))
    assert on_post_page == composed

    clock.advance(timedelta(hours=3))
    assert dispatcher().run_once().published == 1
    session.expire_all()
    assert only_post(session).state is PostState.PUBLISHED
    with urlopen(linkedin_sandbox.base_url + "/sandbox/", timeout=10) as page:  # noqa: S310
        [published] = feed_fields(page.read().decode())

    # The fold is real: a first part under LinkedIn's cut, the rest behind "…see more".
    assert composed["shown"] and composed["rest"]
    assert len(composed["shown"]) <= SEE_MORE_CHARS
    assert composed["shown"] + composed["rest"] == LONG
    assert composed["see_more_hidden"] == "no"
    # Same author, initials, text before and after the cut, card title and domain.
    for name in ("author", "initials", "shown", "rest", "title", "domain"):
        assert composed[name] == published[name], name
    assert published["author"] == "Sam Sandbox" and published["initials"] == "SS"
    assert published["title"] == TITLE and published["domain"] == "f5mag.example"
    # Same picture: the preview's is the article's, the sandbox's the bytes uploaded to it.
    preview_image = client.get(urlsplit(composed["image"]).path)
    try:
        assert preview_image.status_code == 200
        with urlopen(published["image"], timeout=10) as sandbox_image:  # noqa: S310
            assert sandbox_image.read() == preview_image.get_data()
    finally:
        preview_image.close()


def test_short_text_has_no_see_more(client, editor, make_article, target):
    article = make_article(title="Short", summary="S.", tags=[])
    page = client.post(
        compose_url(article, target),
        data=form(commentary="Just this.", save=None, preview="Preview"),
    ).get_data(as_text=True)
    [shown] = feed_fields(page)
    assert shown["shown"] == "Just this." and shown["rest"] == ""
    assert shown["see_more_hidden"] == "yes"
    assert shown["image"] is None  # no hero image: a card without a picture


def test_saving_target_settings_with_the_shown_default_keeps_following_the_default(
    client, session, editor, target
):
    page = client.get(f"/dashboard/posts/targets/{target.id}").get_data(as_text=True)
    shown = lxml.html.fromstring(page).xpath("//textarea[@name='template']")[0].text_content()
    assert shown.strip() == composing.DEFAULT_TEMPLATE
    data = {"time_zone": "UTC", "queue_slots": "", "daily_cap": "", "template": shown}
    assert client.post(f"/dashboard/posts/targets/{target.id}", data=data).status_code == 303
    session.expire_all()
    assert target.template == ""
    data["template"] = "{title}\n\n{link}"
    client.post(f"/dashboard/posts/targets/{target.id}", data=data)
    session.expire_all()
    assert target.template == "{title}\n\n{link}"
