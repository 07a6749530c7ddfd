"""Scheduling posts from a CSV file: every row checked first, all or nothing, line numbers,
DST, queue slots in turn, re-imports that schedule nothing twice, and hostile files."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from syndicate.linkedin.text import MAX_COMMENTARY
from syndicate.posts import bulk
from syndicate.posts.models import Post, PostHistory, PostState
from syndicate.staff.models import Role
from tests import factories

SITE = "https://news.example.test"
HEADER = "article,target,time,commentary\n"


@pytest.fixture
def acme(make_target):
    """A page in Berlin with slots on Monday 09:00 and Wednesday 12:30 (Berlin time)."""
    return make_target(
        display_name="Acme Page",
        time_zone="Europe/Berlin",
        queue_slots=[{"weekday": 0, "time": "09:00"}, {"weekday": 2, "time": "12:30"}],
    )


@pytest.fixture
def beta(make_target):
    return make_target(display_name="Beta Profile", time_zone="UTC")


@pytest.fixture
def articles(make_article, session):
    made = [make_article(title=f"Story {n}", slug=f"story-{n}") for n in range(1, 6)]
    session.commit()
    return made


def run(session, text: str | bytes, *, dry_run=False, user=None, clock_now=None, **kwargs):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return bulk.import_posts(
        session,
        data,
        user=user,
        now=clock_now or datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        site_url=SITE,
        campaign="test",
        dry_run=dry_run,
        **kwargs,
    )


def refused(session, text, **kwargs) -> list[str]:
    with pytest.raises(bulk.ImportRefused) as caught:
        run(session, text, **kwargs)
    return [str(p) for p in caught.value.report.problems]


def posts(session) -> list[Post]:
    session.expire_all()
    return list(session.scalars(select(Post).order_by(Post.id)))


def count_rows(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def url(article) -> str:
    return f"{SITE}/articles/{article.slug}"


# --- a good file -------------------------------------------------------------------------


def test_every_row_becomes_a_post_made_as_composing_makes_one(session, acme, beta, articles):
    a, b, c = articles[:3]
    text = (
        HEADER
        + f"{url(a)},Acme Page,2026-03-10 14:00,Read this (now) #news\n"
        + f"{b.id},acme page,next slot,\n"
        + f'{c.public_id},{beta.urn},2026-03-11 08:15,"Quotes ""inside"", commas, too"\n'
    )
    report = run(session, text)
    assert report.summary == "3 rows: 3 scheduled, 0 already scheduled"
    made = posts(session)
    assert [(p.article_id, p.target_id) for p in made] == [
        (a.id, acme.id), (b.id, acme.id), (c.id, beta.id)
    ]
    first, second, third = made
    # 14:00 on the wall clock in Berlin (CET, UTC+1), the target's zone.
    assert first.scheduled_at == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    assert first.commentary == "Read this (now) #news"
    # Empty commentary: the target's template, as composing does; the tracked link is the card's.
    assert second.commentary.startswith("Story 2")
    assert "utm_source=linkedin" in second.link_url and "utm_campaign=test" in second.link_url
    # next slot: Monday 09:00 Berlin is already past at 09:00 UTC; Wednesday 12:30 is next.
    assert second.scheduled_at == datetime(2026, 3, 4, 11, 30, tzinfo=UTC)
    assert third.commentary == 'Quotes "inside", commas, too'
    assert third.scheduled_at == datetime(2026, 3, 11, 8, 15, tzinfo=UTC)
    for post in made:
        assert post.state is PostState.SCHEDULED
        assert post.source == "import"
        assert post.card_title == post.article.title
        assert "utm_medium=social" in post.link_url
        assert post.history[-1].actor == "import"
    assert [r.outcome for r in report.rows] == [f"scheduled (post #{p.id})" for p in made]


def test_the_staff_member_importing_is_the_author_and_editors_wait_for_approval(
    session, make_user, make_target, articles
):
    strict = make_target(display_name="Strict", needs_approval=True)
    editor = make_user(role=Role.EDITOR)
    admin = make_user(role=Role.ADMIN)
    report = run(session, HEADER + f"{articles[0].id},Strict,2026-03-10 09:00,Hi\n", user=editor)
    assert report.rows[0].outcome.endswith("awaiting approval")
    report = run(session, HEADER + f"{articles[1].id},Strict,2026-03-10 09:00,Hi\n", user=admin)
    first, second = posts(session)
    assert (first.state, first.created_by_id) == (PostState.AWAITING_APPROVAL, editor.id)
    assert (second.state, second.approved_by_id) == (PostState.SCHEDULED, admin.id)
    assert strict.needs_approval


def test_articles_are_found_by_url_number_public_id_canonical_url_and_old_slug(
    session, acme, make_article, articles
):
    canonical = make_article(title="Canon", canonical_url="https://publisher.test/canon/")
    from syndicate.articles.models import SlugHistory

    session.add(SlugHistory(article_id=articles[3].id, slug="old-name", created_at=articles[3].created_at))
    session.flush()
    text = HEADER + "\n".join(
        [
            f"{url(articles[0])}?utm_source=newsletter#top,Acme Page,2026-03-10 09:00,a",
            f"{articles[1].id},Acme Page,2026-03-10 10:00,b",
            f"{articles[2].public_id},Acme Page,2026-03-10 11:00,c",
            f"{SITE}/articles/old-name,Acme Page,2026-03-10 12:00,d",
            "https://publisher.test/canon,Acme Page,2026-03-10 13:00,e",
        ]
    )
    run(session, text)
    assert [p.article_id for p in posts(session)] == [
        articles[0].id, articles[1].id, articles[2].id, articles[3].id, canonical.id
    ]


# --- all or nothing, every problem with its line -------------------------------------------


def test_one_bad_row_schedules_nothing_and_every_problem_is_listed_with_its_line(
    session, acme, beta, articles
):
    long_text = "x" * (MAX_COMMENTARY + 1)
    text = (
        HEADER
        + f"{articles[0].id},Acme Page,2026-03-10 09:00,fine\n"  # line 2
        + f"{articles[1].id},Nope Page,2026-03-10 09:00,\n"  # line 3
        + "https://elsewhere.test/x,Acme Page,2026-03-10 09:00,\n"  # line 4
        + f"{articles[2].id},Acme Page,2026-03-01 09:00,\n"  # line 5
        + f"{articles[3].id},Acme Page,2026-03-10 09:00,{long_text}\n"  # line 6
        + f"{articles[4].id},Acme Page,2026-03-29 02:30,\n"  # line 7
        + f"{articles[4].id},Beta Profile,tomorrow,\n"  # line 8
        + f"{articles[0].id},Beta Profile,2026-03-10 09:00 Mars/Olympus,\n"  # line 9
    )
    problems = refused(session, text)
    assert problems == [
        f"line 3: target 'Nope Page' not found; known targets: Acme Page (id {acme.id}), "
        f"Beta Profile (id {beta.id})",
        "line 4: article 'https://elsewhere.test/x' not found; give its URL, its number or its "
        "public id",
        "line 5: 2026-03-01 09:00 CET (Europe/Berlin) is in the past",
        f"line 6: the commentary is {MAX_COMMENTARY + 1:,} characters as LinkedIn counts them "
        f"(escaped); LinkedIn allows {MAX_COMMENTARY:,}",
        "line 7: 2026-03-29 02:30 does not exist in Europe/Berlin (clocks go forward)",
        "line 8: time 'tomorrow' is not understood: write 2026-12-04 14:00 (year-month-day "
        "hour:minute), optionally followed by a time zone such as Europe/Berlin, or “next slot”",
        "line 9: unknown time zone 'Mars/Olympus'; use a name such as Europe/Berlin",
    ]
    assert posts(session) == []
    assert count_rows(session, PostHistory) == 0


def test_a_failure_while_scheduling_undoes_the_rows_made_before_it(
    session, make_target, acme, articles
):
    """A problem found only when the posts are made (no free slot) still schedules nothing."""
    make_target(display_name="Full", queue_slots=[{"weekday": 0, "time": "10:00"}],
                       daily_cap=1)
    rows = [f"{articles[0].id},Acme Page,2026-03-10 09:00,first"]
    # 62 days hold 9 Mondays; the tenth "next slot" finds none free.
    rows += [f"{article.id},Full,next slot,x" for article in articles[:5]]
    more = [factories.make_article(session, now=articles[0].created_at) for _ in range(5)]
    rows += [f"{article.id},Full,next slot,x" for article in more]
    problems = refused(session, HEADER + "\n".join(rows))
    assert problems == [
        "line 12: No free queue slot for Full in the next 62 days."
    ]
    assert posts(session) == []


def test_lines_count_the_file_as_an_editor_shows_it_and_name_the_spreadsheet_row_too(
    session, acme, articles
):
    text = (
        HEADER
        + f'{articles[0].id},Acme Page,2026-03-10 09:00,"two\nlines"\n'  # lines 2-3, row 2
        + "\n"  # line 4: blank, skipped
        + f"{articles[1].id},Nobody,2026-03-10 09:00,\n"  # line 5, row 4
    )
    assert refused(session, text) == [
        f"line 5 (row 4): target 'Nobody' not found; known targets: Acme Page (id {acme.id})"
    ]


def test_a_post_that_exists_with_other_text_is_a_conflict_not_a_second_post(
    session, acme, articles, make_post
):
    existing = make_post(article=articles[0], target=acme,
                         when=datetime(2026, 3, 10, 8, 0, tzinfo=UTC), commentary="Old text")
    problems = refused(session, HEADER + f"{articles[0].id},Acme Page,2026-03-10 09:00,New text\n")
    assert problems == [
        f"line 2: “Story 1” already has a post for Acme Page (post #{existing.id}, scheduled for "
        "2026-03-10 09:00 CET (Europe/Berlin)) with another text or time; an article goes to a "
        f"target once: edit or cancel post #{existing.id} first"
    ]
    assert len(posts(session)) == 1


def test_an_article_twice_for_one_target_in_a_file_is_refused(session, acme, articles):
    text = (
        HEADER
        + f"{articles[0].id},Acme Page,2026-03-10 09:00,a\n"
        + f"{url(articles[0])},ACME PAGE,2026-03-11 09:00,b\n"
    )
    assert refused(session, text) == [
        "line 3: line 2 already has “Story 1” for Acme Page; an article goes to a target once"
    ]


def test_unpublished_articles_and_lost_targets_are_refused(
    session, make_article, make_target, articles
):
    draft = make_article(title="Draft", publish=False)
    make_target(display_name="Gone", is_active=False)
    text = HEADER + f"{draft.id},Gone,2026-03-10 09:00,a\n"
    assert refused(session, text) == [
        "line 2: article “Draft” is not published; publish it first",
        "line 2: Gone cannot be posted to right now (its connection is gone or lost the page "
        "role); reconnect it first",
    ]


def test_targets_by_id_urn_and_name_and_ambiguous_names(session, make_target, articles):
    one = make_target(display_name="Twin")
    two = make_target(display_name="twin")
    problems = refused(
        session,
        HEADER
        + f"{articles[0].id},{one.id},2026-03-10 09:00,a\n"
        + f"{articles[1].id},{two.urn},2026-03-10 09:00,a\n"
        + f"{articles[2].id},TWIN,2026-03-10 09:00,a\n",
    )
    assert problems == [
        f"line 4: target 'TWIN' names several targets: {one.id} ({one.urn}), "
        f"{two.id} ({two.urn}); give the id"
    ]


# --- DST ---------------------------------------------------------------------------------


def test_a_time_that_happens_twice_is_the_first_one_and_the_row_says_so(session, acme, articles):
    report = run(session, HEADER + f"{articles[0].id},Acme Page,2026-10-25 02:30,a\n",
                 dry_run=True)
    row = report.rows[0]
    assert row.due == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert row.time_text == "2026-10-25 02:30 CEST (Europe/Berlin)"
    assert "happens twice" in row.note and "CEST" in row.note


def test_a_zone_after_the_time_overrides_the_targets(session, acme, articles):
    run(session, HEADER + f"{articles[0].id},Acme Page,2026-03-10 09:00 Europe/London,a\n")
    assert posts(session)[0].scheduled_at == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_the_skipped_hour_in_a_zone_given_on_the_row_is_refused(session, beta, articles):
    problems = refused(
        session, HEADER + f"{articles[0].id},Beta Profile,2026-03-08 02:15 America/New_York,a\n"
    )
    assert problems == [
        "line 2: 2026-03-08 02:15 does not exist in America/New_York (clocks go forward)"
    ]


# --- queue slots -------------------------------------------------------------------------


def test_next_slot_rows_take_the_targets_free_slots_one_after_another(
    session, acme, articles, make_post
):
    # Wednesday 4 March 12:30 Berlin is taken already.
    make_post(article=articles[4], target=acme, when=datetime(2026, 3, 4, 11, 30, tzinfo=UTC))
    text = HEADER + "".join(f"{a.id},Acme Page,next slot,\n" for a in articles[:3])
    checked = run(session, text, dry_run=True)
    expected = [
        datetime(2026, 3, 9, 8, 0, tzinfo=UTC),  # Monday 09:00 CET
        datetime(2026, 3, 11, 11, 30, tzinfo=UTC),  # Wednesday 12:30 CET
        datetime(2026, 3, 16, 8, 0, tzinfo=UTC),  # the Monday after
    ]
    assert [r.due for r in checked.rows] == expected
    assert [r.time_text for r in checked.rows][0] == (
        "2026-03-09 09:00 CET (Europe/Berlin), the next free slot"
    )
    run(session, text)
    assert [p.scheduled_at for p in posts(session)[1:]] == expected


def test_next_slot_for_a_target_without_slots_is_refused(session, beta, articles):
    assert refused(session, HEADER + f"{articles[0].id},Beta Profile,next slot,\n") == [
        "line 2: Beta Profile has no queue slots for “next slot”; add some on its settings page "
        "or give a time"
    ]


# --- dry run and re-imports ----------------------------------------------------------------


def test_a_dry_run_writes_nothing_and_says_what_scheduling_will_do(session, acme, articles):
    text = HEADER + f"{articles[0].id},Acme Page,2026-03-10 09:00,a\n"
    report = run(session, text, dry_run=True)
    assert report.summary == "1 row: 1 to schedule, 0 already scheduled"
    assert report.rows[0].outcome == "to schedule"
    assert report.rows[0].time_text == "2026-03-10 09:00 CET (Europe/Berlin)"
    assert posts(session) == [] and count_rows(session, PostHistory) == 0


def test_importing_the_same_file_again_schedules_nothing_new(session, acme, beta, articles):
    text = (
        HEADER
        + f"{articles[0].id},Acme Page,2026-03-10 09:00,a\n"
        + f"{articles[1].id},Acme Page,next slot,\n"
        + f"{articles[2].id},Beta Profile,2026-03-10 09:00 Europe/Berlin,c\n"
    )
    run(session, text)
    made = posts(session)
    again = run(session, text)
    assert again.summary == "3 rows: 0 scheduled, 3 already scheduled"
    assert [r.outcome for r in again.rows] == [f"already scheduled (post #{p.id})" for p in made]
    assert posts(session) == made
    checked = run(session, text, dry_run=True)
    assert checked.summary == "3 rows: 0 to schedule, 3 already scheduled"


def test_a_file_partly_imported_before_schedules_only_its_new_rows(session, acme, articles):
    first = HEADER + f"{articles[0].id},Acme Page,2026-03-10 09:00,a\n"
    run(session, first)
    report = run(session, first + f"{articles[1].id},Acme Page,2026-03-10 10:00,b\n")
    assert report.summary == "2 rows: 1 scheduled, 1 already scheduled"
    assert len(posts(session)) == 2


def test_a_reimport_after_the_posts_went_out_reports_them_published_not_past(
    session, acme, articles, clock
):
    text = HEADER + f"{articles[0].id},Acme Page,2026-03-10 09:00,a\n"
    run(session, text)
    factories.record_published(session, posts(session)[0], now=clock.now())
    later = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    report = run(session, text, clock_now=later)
    assert report.rows[0].outcome == f"already published (post #{posts(session)[0].id})"


def test_a_cancelled_post_does_not_count_as_scheduled(session, acme, articles, make_post, clock):
    text = HEADER + f"{articles[0].id},Acme Page,2026-03-10 09:00,a\n"
    run(session, text)
    posts(session)[0].state = PostState.CANCELLED
    session.flush()
    assert run(session, text).summary == "1 row: 1 scheduled, 0 already scheduled"


# --- reading files -----------------------------------------------------------------------


def test_excel_files_with_a_byte_order_mark_and_semicolons_are_read(session, acme, articles):
    text = (
        "Article URL or id;Target;Local time;Commentary\r\n"
        + f'{articles[0].id};Acme Page;2026-03-10 09:00;"Prices; 3,50 €"\r\n'
    )
    run(session, codecs.BOM_UTF8 + text.encode("utf-8"))
    assert posts(session)[0].commentary == "Prices; 3,50 €"


def test_columns_may_come_in_any_order_and_commentary_may_be_left_out(session, acme, articles):
    run(session, f"time,target,article\n2026-03-10 09:00,Acme Page,{articles[0].id}\n")
    assert posts(session)[0].commentary.startswith("Story 1")


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf  \n", "The file is empty."),
        (HEADER.encode(), "The file has a header but no rows below it."),
        (b"article,target,when\n", "The file has a header but no rows below it."),
        (
            b"title,target,time\n1,2,3\n",
            "line 1: the first line must name the columns article,target,time,commentary "
            "(commentary may be left out; separated by commas or semicolons); article is "
            "missing; unknown: 'title'",
        ),
        (
            HEADER.encode() + "1,Acme Page,2026-03-10 09:00,caf\xe9\n".encode("cp1252"),
            "line 2: the file is not UTF-8 (byte 0xE9 is not UTF-8 text); save it as “CSV "
            "UTF-8 (comma delimited)”.",
        ),
        (
            codecs.BOM_UTF16_LE + HEADER.encode("utf-16-le"),
            "The file is UTF-16 text; save it as “CSV UTF-8 (comma delimited)” instead.",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is not a CSV text file (it contains "
         "binary data)."),
        (
            HEADER.encode() + b'1,Acme Page,2026-03-10 09:00,"never closed\n2,x,y,z\n',
            "line 2: a value opened with a double quote on this line is never closed; write a "
            'quote inside a value as ""',

        ),
        (
            HEADER.encode() + b'1,Acme Page,2026-03-10 09:00,"closed" then more\n',
            "line 2: this is not valid CSV (',' expected after '\"'); put values with quotes in "
            'double quotes and write a quote inside one as ""',
        ),
        (
            b"x" * (bulk.MAX_BYTES + 1),
            f"The file is larger than 1024 KB ({bulk.MAX_BYTES:,} bytes); split it.",
        ),
    ],
    ids=["empty", "only-bom", "no-rows", "when-alias", "wrong-header", "latin-1", "utf-16",
         "binary", "unclosed-quote", "stray-quote", "too-large"],
)
def test_files_that_cannot_be_read_are_refused_with_the_reason(session, acme, data, problem):
    assert refused(session, data) == [problem]


def test_more_rows_than_allowed_are_refused_before_anything_is_looked_up(session, acme):
    rows = "".join(f"{n},Acme Page,next slot,\n" for n in range(bulk.MAX_ROWS + 1))
    assert refused(session, HEADER + rows) == [
        f"The file has {bulk.MAX_ROWS + 1} rows; at most {bulk.MAX_ROWS} can be scheduled at a "
        "time. Split it into several files."
    ]


def test_a_row_with_more_values_than_columns_says_so(session, acme, articles):
    problems = refused(session, HEADER + f"{articles[0].id},Acme Page,2026-03-10 09:00,a,b\n")
    assert problems == [
        "line 2: has 5 values but the header names 4 columns (a value with a comma or "
        "semicolon in it goes in double quotes)"
    ]


# --- hostile input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "commentary",
    [
        '=HYPERLINK("https://evil.test","click")',
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "-2+3",
        "<script>alert(1)</script> {title} \\ | [x](y)",
    ],
)
def test_formulas_and_markup_in_commentary_are_only_text(session, acme, articles, commentary):
    quoted = '"' + commentary.replace('"', '""') + '"'
    run(session, HEADER + f"{articles[0].id},Acme Page,2026-03-10 09:00,{quoted}\n")
    assert posts(session)[0].commentary == commentary


def test_formula_cells_in_other_columns_are_just_not_found(session, acme, articles):
    problems = refused(session, HEADER + '=1+1,"=cmd|\' /C calc\'!A0",2026-03-10 09:00,a\n')
    assert problems[0] == (
        "line 2: article '=1+1' not found; give its URL, its number or its public id"
    )
    assert problems[1].startswith("line 2: target \"=cmd|' /C calc'!A0\" not found")


def test_the_example_file_checks_clean(session, acme, articles):
    text = bulk.example_csv(session, now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), site_url=SITE)
    report = run(session, text, dry_run=True)
    assert report.summary == "3 rows: 3 to schedule, 0 already scheduled"
    assert [r.next_slot for r in report.rows] == [False, True, False]


def test_the_example_file_names_a_target_by_id_when_its_name_is_a_formula(
    session, make_target, articles
):
    target = make_target(display_name="=HYPERLINK(1)")
    text = bulk.example_csv(session, now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), site_url=SITE)
    assert "HYPERLINK" not in text
    report = run(session, text, dry_run=True)
    assert {r.target.id for r in report.rows} == {target.id}
