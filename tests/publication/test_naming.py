"""An administrator names the publication in the dashboard; pages, feeds and emails of every
process use that name, and emptying it goes back to SYNDICATE_SITE_NAME."""

import json

import lxml.html
import pytest

from syndicate import create_app
from syndicate.publication import services
from syndicate.publication.models import SiteSetting
from syndicate.publication.naming import apply_stored_name
from syndicate.sharing.context import Sharing
from syndicate.staff.models import Role
from tests.conftest import app_config


@pytest.fixture
def app_overrides():
    return {"SITE_NAME": "Configured Name"}


@pytest.fixture
def admin_in(staff_user):
    return staff_user(email="admin@example.test", role=Role.ADMIN)


def brand(client) -> str:
    tree = lxml.html.fromstring(client.get("/").get_data(as_text=True))
    return tree.xpath("//a[@class='brand']")[0].text_content()


def test_the_name_set_here_shows_on_pages_feeds_and_emails(app, client, admin_in, make_article):
    make_article(title="First")
    assert brand(client) == "Configured Name"
    answer = client.post("/dashboard/publication", data={"name": "  Harbour   Weekly "})
    assert answer.status_code == 303
    assert brand(client) == "Harbour Weekly"
    assert "<title>Harbour Weekly</title>" in client.get("/").get_data(as_text=True)
    assert "<title>Harbour Weekly</title>" in client.get("/feeds/rss.xml").get_data(as_text=True)
    assert json.loads(client.get("/feeds/feed.json").get_data())["title"] == "Harbour Weekly"
    with app.app_context():
        apply_stored_name(app)  # what the scheduler does before each job
        assert Sharing.for_app(app).settings.publisher_name == "Harbour Weekly"

    # Empty: back to what the settings say.
    client.post("/dashboard/publication", data={"name": ""})
    assert brand(client) == "Configured Name"
    assert "<title>Configured Name</title>" in client.get("/feeds/rss.xml").get_data(as_text=True)


def test_another_process_sees_the_new_name(app, client, admin_in, connection, engine, tmp_path):
    other = create_app(
        app_config(
            app.config["DATABASE_URL"],
            ENGINE=engine,
            SITE_NAME="Configured Name",
            INSTANCE_PATH=str(tmp_path / "other"),
        )
    )
    other.extensions["database"].sessions.configure(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    assert brand(other.test_client()) == "Configured Name"
    client.post("/dashboard/publication", data={"name": "Harbour Weekly"})
    assert brand(other.test_client()) == "Harbour Weekly"


def test_a_name_changed_on_the_running_app_is_kept_when_none_is_stored(app, client):
    assert brand(client) == "Configured Name"
    app.config["SITE_NAME"] = "Changed At Run Time"
    assert brand(client) == "Changed At Run Time"


def test_editors_cannot_rename(client, session, staff_user):
    staff_user(email="ed@example.test", role=Role.EDITOR)
    page = client.get("/dashboard/publication").get_data(as_text=True)
    assert "An administrator can change the name here." in page and "<form" in page
    answer = client.post("/dashboard/publication", data={"name": "Mine"})
    assert answer.status_code == 403
    assert session.get(SiteSetting, services.SITE_NAME_KEY) is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x" * 201, "at most 200 characters"),
        ("Harbour\x00Weekly", "cannot be shown"),
        ("Harbour\u202eWeekly", "cannot be shown"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_stored(client, session, admin_in, name, message):
    answer = client.post("/dashboard/publication", data={"name": name})
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)
    assert session.get(SiteSetting, services.SITE_NAME_KEY) is None


def test_renaming_emits_one_event_per_change(session, make_user, clock):
    from sqlalchemy import func, select

    from syndicate.models import Event

    admin = make_user(email="chief@example.test", role=Role.ADMIN)

    def renames() -> int:
        return session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == services.RENAMED)
        )

    services.set_site_name(session, "Harbour", user=admin, now=clock.now())
    services.set_site_name(session, "Harbour", user=admin, now=clock.now())  # no change
    assert renames() == 1
    assert services.stored_site_name(session) == "Harbour"


def test_feeds_answered_before_flask_carry_the_new_name(fresh_database, tmp_path):
    """Own engines on one database file: the reader answers feeds on its fast path."""
    from datetime import UTC, datetime

    from syndicate.articles import services as articles
    from tests import factories
    from tests.conftest import eventually

    now = datetime.now(UTC)
    reader, writer = (
        create_app(app_config(fresh_database, SITE_NAME="Configured Name",
                              INSTANCE_PATH=str(tmp_path / name)))
        for name in ("reader", "writer")
    )
    try:
        with writer.extensions["database"].transaction() as session:
            article = articles.create_article(
                session, articles.ArticleInput(title="One", authors=["Ada"]), now=now
            )
            articles.publish_article(session, article, now=now)
            admin = factories.make_user(session, now=now, role=Role.ADMIN,
                                        email="chief@example.test")
        client = reader.test_client()
        assert b"<title>Configured Name</title>" in client.get("/feeds/rss.xml").data
        hits = reader.extensions["feed_cache"].hits
        assert b"<title>Configured Name</title>" in client.get("/feeds/rss.xml").data
        assert reader.extensions["feed_cache"].hits > hits  # served from the cache

        with writer.extensions["database"].transaction() as session:
            services.set_site_name(session, "Harbour Weekly", user=session.merge(admin), now=now)
        body = eventually(
            lambda: client.get("/feeds/rss.xml").data,
            lambda body: b"<title>Harbour Weekly</title>" in body,
        )
        assert b"<title>Harbour Weekly</title>" in body
    finally:
        for app in (reader, writer):
            close = getattr(app.extensions.get("content_versions"), "close", None)
            if close:
                close()
            app.extensions["database"].engine.dispose()
