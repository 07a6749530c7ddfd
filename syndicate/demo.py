"""Demo content for `make run`: a small magazine, a demo admin, nothing from real sites."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from syndicate.articles import services as articles
from syndicate.articles.models import Article, BodyFormat
from syndicate.db import get_database
from syndicate.staff import services as staff
from syndicate.staff.models import Role

DEMO_ADMIN_EMAIL = "admin@demo.syndicate.test"


@dataclass(frozen=True)
class DemoArticle:
    title: str
    summary: str
    body: str
    authors: tuple[str, ...]
    category: str
    tags: tuple[str, ...]
    days_ago: float
    hero: bool = False
    draft: bool = False


DEMO_ARTICLES: tuple[DemoArticle, ...] = (
    DemoArticle(
        title="Harbour towns are rewriting the rules of the night shift",
        summary="Ports that never sleep are testing quieter cranes, later buses and a "
        "surprisingly popular 3 a.m. library.",
        body="The container terminal at the edge of town has not been dark since 1987. "
        "What changed this year is everything around it.\n\n"
        "## Quieter cranes\n\nElectric straddle carriers cut the noise that neighbours "
        "complained about for decades. Read the [council minutes](/documents/minutes.pdf) "
        "for the full debate.\n\n"
        "## A library that opens at 3 a.m.\n\nIt started as a pilot for dock workers "
        "and became the busiest reading room in the district.",
        authors=("Zoë Ångström",),
        category="Cities",
        tags=("transport", "work"),
        days_ago=0.5,
        hero=True,
    ),
    DemoArticle(
        title="“We measured the wrong thing”—what ten years of bike counters taught one city",
        summary="A city's planners on the counters that missed half the riders, and what "
        "they count now.",
        body="When the first counters went in, the plan was simple: count bikes, build lanes. "
        "“We measured the wrong thing,” says José Müller, who ran the programme — "
        "the counters saw commuters and missed children, cargo bikes and night riders.\n\n"
        "The new method pairs counters with a yearly survey, and the map of where "
        "people *want* to ride looks nothing like the old one.",
        authors=("José Müller", "Zoë Ångström"),
        category="Cities",
        tags=("transport", "data"),
        days_ago=1.2,
    ),
    DemoArticle(
        title="The quiet return of the repair café",
        summary="Volunteers with soldering irons fix toasters, radios and, increasingly, "
        "phones that manufacturers would rather replace.",
        body="On Saturday mornings the community hall fills with broken things. "
        "Seven out of ten leave working.\n\n"
        "- Toasters are the most common patient.\n- Phones are the hardest.\n"
        "- Lamps are the most satisfying.",
        authors=("Łukasz Wróbel",),
        category="Culture",
        tags=("repair", "community"),
        days_ago=2.0,
    ),
    DemoArticle(
        title="Why your weather app disagrees with the sky",
        summary="Forecast models are better than ever; the last mile between a grid cell and "
        "your street is where they stumble.",
        body="A forecast is an average over a grid cell several kilometres wide. Your street "
        "is not an average.\n\nMeteorologists call the fix *downscaling*, and it is "
        "where most of the recent progress comes from.",
        authors=("Amara Okafor",),
        category="Science",
        tags=("weather", "data"),
        days_ago=3.4,
    ),
    DemoArticle(
        title="Inside the seed bank that plans for 2126",
        summary="A vault in the hills keeps 40,000 varieties of grain cold, dry and "
        "documented—for farmers who are not born yet.",
        body="The doors weigh two tonnes. The real protection, the curators say, is the "
        "catalogue: a seed nobody can find is a seed that is lost.",
        authors=("Amara Okafor", "Łukasz Wróbel"),
        category="Science",
        tags=("food", "climate"),
        days_ago=5.0,
    ),
    DemoArticle(
        title="Translators on the art of leaving things out",
        summary="Three literary translators on jokes that do not travel, and what they put "
        "in their place.",
        body="“Every translation is a list of losses,” says one of them, “and the craft is "
        "choosing which.”\n\nThey disagree about footnotes, and agree about puns: "
        "replace, never explain.",
        authors=("Zoë Ångström",),
        category="Culture",
        tags=("books", "language"),
        days_ago=7.5,
    ),
    DemoArticle(
        title="A night with the people who keep the trams running",
        summary="Between 1 and 5 a.m., a crew of twelve grinds rails, swaps switches and "
        "races the first morning tram.",
        body="The first tram leaves the depot at 04:52. Everything has to be finished by "
        "04:45 — track, wires and paperwork.",
        authors=("José Müller",),
        category="Cities",
        tags=("transport", "work"),
        days_ago=9.0,
    ),
    DemoArticle(
        title="The mathematics of a fair queue",
        summary="Why one long line beats many short ones, and why supermarkets still "
        "prefer the short ones.",
        body="Queueing theory has a clear answer: a single line feeding many tills "
        "minimises the worst wait. Shops care about something else — how long the "
        "line *looks*.",
        authors=("Amara Okafor",),
        category="Science",
        tags=("data",),
        days_ago=12.0,
    ),
    DemoArticle(
        title="Draft: the ferry timetable nobody can read",
        summary="Work in progress: a redesign of the island ferry's timetable.",
        body="Notes for the piece; not ready to publish.",
        authors=("Łukasz Wróbel",),
        category="Cities",
        tags=("transport",),
        days_ago=0.1,
        draft=True,
    ),
)


def load_demo(app: Flask, *, only_if_empty: bool = False) -> str:
    """Create the demo admin and demo articles; return what was done, login included."""
    database = get_database(app)
    now = app.extensions["clock"].now()
    site = app.config["SITE_URL"]
    credentials = Path(app.instance_path) / "demo-admin.txt"
    with database.transaction() as session:
        count = session.scalar(select(func.count()).select_from(Article)) or 0
        if only_if_empty and count:
            return demo_login_hint(app)
        admin = staff.find_user_by_email(session, DEMO_ADMIN_EMAIL)
        if admin is None:
            password = secrets.token_urlsafe(12)
            staff.create_user(
                session,
                DEMO_ADMIN_EMAIL,
                password,
                role=Role.ADMIN,
                name="Demo Admin",
                time_zone=app.config["TIME_ZONE"],
                now=now,
            )
            credentials.parent.mkdir(parents=True, exist_ok=True)
            credentials.write_text(f"{DEMO_ADMIN_EMAIL}\n{password}\n")
            credentials.chmod(0o600)
        created = 0
        for item in DEMO_ARTICLES:
            data = articles.ArticleInput(
                title=item.title,
                summary=item.summary,
                body=item.body,
                body_format=BodyFormat.MARKDOWN,
                authors=list(item.authors),
                categories=[item.category],
                tags=list(item.tags),
                hero_image_url=f"{site}/static/demo/harbour-dawn.png" if item.hero else None,
                hero_image_alt="A harbour at dawn: cranes against an orange horizon"
                if item.hero
                else "",
            )
            written = now - timedelta(days=item.days_ago)
            article = articles.create_article(session, data, now=written)
            if not item.draft:
                articles.publish_article(session, article, now=written)
            created += 1
        from syndicate.sharing.demo import seed_demo_requests

        seed_demo_requests(session, now=now, app=app)
        from syndicate.posts.demo import seed_demo_posts

        posts = seed_demo_posts(
            session,
            now=now,
            site_url=site,
            campaign=app.config["UTM_CAMPAIGN"],
            zone=app.config["TIME_ZONE"],
            schedule=app.config["POST_STATS_SCHEDULE"],
        )
    return (
        f"Loaded {created} demo articles and {posts} published LinkedIn posts with figures.\n"
        + demo_login_hint(app)
    )


def demo_login_hint(app: Flask) -> str:
    credentials = Path(app.instance_path) / "demo-admin.txt"
    if not credentials.exists():
        return (
            "The demo admin's password file is gone; create a user with `syndicate users create`."
        )
    email, password = credentials.read_text().split()[:2]
    return (
        f"Sign in at {app.config['SITE_URL']}/login as {email} with password {password}\n"
        f"(kept in {credentials})."
    )
