"""Scheduling many posts at once from a CSV file: read it, check every row, then make every
post through ``composing.create_post`` or none at all.

The file has a header naming the columns ``article`` (its URL, number or public id),
``target`` (its id, URN or display name), ``time`` (``2026-12-04 14:00`` in the target's
zone, optionally followed by another zone, or ``next slot``) and ``commentary`` (empty: the
target's template). Every problem of every row is reported with its line at once.

Re-importing a file schedules nothing twice, without an import key: a row whose article
and target already have a live post with the same commentary (and, for a row with a time,
the same scheduled time) is that post, reported as already scheduled. Posts are unique per
article and target anyway (``uq_posts_article_target``), so such a post is the only one it
could be; one that differs is a conflict the row reports.

A dry run does exactly what the real run does (queue slots taken in turn, daily caps,
approval) inside a savepoint it then rolls back, so the check shows what scheduling will do.
The caller owns the transaction; nothing here commits.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.articles.models import Article, SlugHistory
from syndicate.linkedin.models import LinkedInTarget
from syndicate.linkedin.text import MAX_COMMENTARY
from syndicate.posts import composing, scheduling
from syndicate.posts.context import PostError, PostExists
from syndicate.posts.models import Post, PostState
from syndicate.staff.models import User
from syndicate.wording import count

MAX_BYTES = 1024 * 1024
MAX_ROWS = 500
COLUMNS = ("article", "target", "time", "commentary")
REQUIRED = ("article", "target", "time")
NEXT_SLOT = "next slot"
TIME_FORMAT = "2026-12-04 14:00"

# What people write in the header for each column (compared case-insensitively).
_ALIASES = {
    "article": ("article", "article url", "article id", "article url or id", "url"),
    "target": ("target", "target id", "target name"),
    "time": ("time", "local time", "when", "local time or next slot", "scheduled at"),
    "commentary": ("commentary", "text"),
}
_COLUMN_OF = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_DELIMITERS = (",", ";", "\t")
_TIME = re.compile(
    r"(?P<day>\d{4}-\d{1,2}-\d{1,2})[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::\d{2})?"
    r"(?:\s+(?P<zone>\S+))?"
)
# A live post: it will go out, is going out or went out.
_LIVE = frozenset(
    {PostState.SCHEDULED, PostState.AWAITING_APPROVAL, PostState.SENDING, PostState.PUBLISHED}
)


# --- what a run reports ------------------------------------------------------------------


@dataclass
class Problem:
    """Something that keeps the file from being scheduled, at a line when it has one."""

    message: str
    line: int | None = None
    where: str = ""  # "line 6 (row 5)" when the line and the spreadsheet row differ

    def __str__(self) -> str:
        return f"{self.where or f'line {self.line}'}: {self.message}" if self.line else self.message


@dataclass
class Row:
    """One row of the file: what it says, what it refers to, and what will happen."""

    line: int  # the file's line where the row starts (the header is line 1)
    number: int  # the row as a spreadsheet numbers it (the header is row 1)
    cells: dict[str, str]
    article: Article | None = None
    target: LinkedInTarget | None = None
    zone: str = ""  # the zone the time is read in (the target's unless the row names one)
    when: datetime | None = None  # the time asked for; None: the next free slot
    next_slot: bool = False
    note: str = ""  # how DST bent the time
    data: composing.PostInput | None = None
    existing: Post | None = None  # the post this row already made (a re-import)
    due: datetime | None = None  # when it goes out: the time asked for, or the slot taken
    state: PostState | None = None
    post_id: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        if self.number == self.line:
            return f"line {self.line}"
        return f"line {self.line} (row {self.number})"

    @property
    def article_text(self) -> str:
        return self.article.title if self.article is not None else self.cells["article"]

    @property
    def target_text(self) -> str:
        return self.target.display_name if self.target is not None else self.cells["target"]

    @property
    def time_text(self) -> str:
        """The local time with its zone: asked for, or the slot taken ("next slot" before)."""
        zone = self.zone or (self.target.time_zone if self.target is not None else "UTC")
        if self.due is not None:
            shown = local_text(self.due, zone)
            return f"{shown}, the next free slot" if self.next_slot else shown
        if self.when is not None:
            return local_text(self.when, zone)
        return NEXT_SLOT if self.next_slot else self.cells["time"]

    @property
    def outcome(self) -> str:
        """What happens to the row, in words: "to schedule", "already scheduled (post #4)"."""
        if self.problems:
            return "; ".join(self.problems)
        if self.existing is not None:
            done = "published" if self.existing.state is PostState.PUBLISHED else "scheduled"
            return f"already {done} (post #{self.existing.id})"
        waits = self.state is PostState.AWAITING_APPROVAL
        made = f"post #{self.post_id}" if self.post_id is not None else ""
        if made:
            return f"scheduled ({made}), awaiting approval" if waits else f"scheduled ({made})"
        return "to schedule, awaiting an administrator's approval" if waits else "to schedule"


@dataclass
class ImportReport:
    """Every row and every problem of one file; ``done`` once its posts were made."""

    rows: list[Row] = field(default_factory=list)
    file_problems: list[Problem] = field(default_factory=list)
    dry_run: bool = True
    done: bool = False

    @property
    def problems(self) -> list[Problem]:
        found = list(self.file_problems)
        for row in self.rows:
            found += [Problem(message, row.line, row.where) for message in row.problems]
        return found

    @property
    def to_schedule(self) -> list[Row]:
        return [r for r in self.rows if not r.problems and r.existing is None]

    @property
    def already(self) -> list[Row]:
        return [r for r in self.rows if not r.problems and r.existing is not None]

    @property
    def summary(self) -> str:
        """'12 rows: 10 to schedule, 2 already scheduled' (or '10 scheduled' once done)."""
        if self.file_problems:
            return f"The file cannot be read: {count(len(self.file_problems), 'problem')}."
        head = count(len(self.rows), "row")
        wrong = [r for r in self.rows if r.problems]
        if wrong:
            return (
                f"{head}: {count(len(wrong), 'row')} with problems "
                f"({count(len(self.problems), 'problem')}); nothing was scheduled."
            )
        verb = "scheduled" if self.done else "to schedule"
        return f"{head}: {len(self.to_schedule)} {verb}, {len(self.already)} already scheduled"


class ImportRefused(PostError):
    """The file, or some of its rows, cannot be scheduled; nothing was."""

    code = "import_refused"

    def __init__(self, report: ImportReport) -> None:
        problems = report.problems
        shown = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"Nothing was scheduled. {shown}{more}", "file")
        self.report = report

    def details(self) -> list[dict[str, Any]]:
        return [{"line": p.line, "message": p.message} for p in self.report.problems]


# --- reading the file --------------------------------------------------------------------


def read_rows(data: bytes) -> ImportReport:
    """The rows of a CSV file, or the problems that keep it from being read at all."""
    report = ImportReport()
    text, problem = _decode(data)
    if problem is not None:
        report.file_problems.append(problem)
        return report
    header_line, _, _ = text.partition("\n")
    delimiter, columns, header_problems = _header(header_line)
    if header_problems:
        report.file_problems += header_problems
        return report
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line_after = 0  # the last line of the previous record
    try:
        for number, cells in enumerate(reader, start=1):
            line, line_after = line_after + 1, reader.line_num
            if number == 1:
                continue  # the header
            if not any(c.strip() for c in cells):
                continue  # blank lines, and the empty rows spreadsheets leave
            report.rows.append(_row(line, number, cells, columns))
    except csv.Error as exc:
        report.rows = []
        report.file_problems.append(_malformed(exc, line_after + 1, reader.line_num))
        return report
    if not report.rows:
        report.file_problems.append(Problem("The file has a header but no rows below it."))
    elif len(report.rows) > MAX_ROWS:
        report.file_problems.append(
            Problem(
                f"The file has {len(report.rows)} rows; at most {MAX_ROWS} can be scheduled "
                "at a time. Split it into several files."
            )
        )
        report.rows = []
    return report


def _decode(data: bytes) -> tuple[str, Problem | None]:
    if len(data) > MAX_BYTES:
        return "", Problem(
            f"The file is larger than {MAX_BYTES // 1024} KB ({MAX_BYTES:,} bytes); split it."
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "", Problem(
            "The file is UTF-16 text; save it as “CSV UTF-8 (comma delimited)” instead."
        )
    if b"\x00" in data:
        return "", Problem("This is not a CSV text file (it contains binary data).")
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return "", Problem(
            f"the file is not UTF-8 (byte 0x{data[exc.start]:02X} is not UTF-8 text); save "
            "it as “CSV UTF-8 (comma delimited)”.",
            line,
        )
    if not text.strip():
        return "", Problem("The file is empty.")
    return text, None


def _header(line: str) -> tuple[str, list[str | None], list[Problem]]:
    """The delimiter and the column of each position, read from the header line.

    European spreadsheets write ';' between values (the comma is their decimal mark): the
    delimiter is the one that splits the header into known column names.
    """
    best: tuple[int, str, list[str]] = (-1, ",", [])
    for delimiter in _DELIMITERS:
        try:
            names = next(csv.reader([line.rstrip("\r")], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        known = sum(1 for n in names if _column(n) is not None)
        if known > best[0]:
            best = (known, delimiter, names)
    _, delimiter, names = best
    columns = [_column(n) for n in names]
    problems = []
    unknown = [n.strip() for n, c in zip(names, columns, strict=True) if c is None and n.strip()]
    missing = [c for c in REQUIRED if c not in columns]
    repeated = sorted({c for c in columns if c is not None and columns.count(c) > 1})
    if missing:
        problems.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    if unknown:
        problems.append("unknown: " + ", ".join(repr(u[:40]) for u in unknown[:5]))
    if repeated:
        problems.append("more than once: " + ", ".join(repeated))
    if not problems:
        return delimiter, columns, []
    return delimiter, columns, [
        Problem(
            f"the first line must name the columns {','.join(COLUMNS)} (commentary may be left "
            "out; separated by commas or semicolons); " + "; ".join(problems),
            1,
        )
    ]


def _column(name: str) -> str | None:
    return _COLUMN_OF.get(" ".join(name.replace('"', "").split()).casefold())


def _malformed(exc: csv.Error, start: int, line: int) -> Problem:
    """What is wrong, at the line where it went wrong (where the record began for a quote
    left open, since the reader only notices at the end of the file)."""
    reason = str(exc)
    if "unexpected end of data" in reason:
        return Problem(
            "a value opened with a double quote on this line is never closed; write a quote "
            'inside a value as ""',
            start,
        )
    if "field larger than field limit" in reason:
        return Problem("a value is far too long to be commentary", line)
    return Problem(f"this is not valid CSV ({reason}); put values with quotes in double quotes "
                   'and write a quote inside one as ""', line)


def _row(line: int, number: int, cells: list[str], columns: list[str | None]) -> Row:
    values = {name: "" for name in COLUMNS}
    row = Row(line, number, values)
    for position, cell in enumerate(cells):
        name = columns[position] if position < len(columns) else None
        if name is not None:
            values[name] = cell
        elif cell.strip():
            row.problems.append(
                f"has {len(cells)} values but the header names {len(columns)} columns "
                "(a value with a comma or semicolon in it goes in double quotes)"
            )
            break
    for name in ("article", "target", "time"):
        values[name] = values[name].strip()
    return row


# --- checking and scheduling -----------------------------------------------------------------


@dataclass(frozen=True)
class ImportContext:
    """Who imports, when, and what links in posts look like."""

    user: User | None
    now: datetime
    site_url: str
    campaign: str


def import_posts(
    session: Session,
    data: bytes,
    *,
    user: User | None,
    now: datetime,
    site_url: str,
    campaign: str,
    dry_run: bool,
) -> ImportReport:
    """Check every row of the file, then schedule all its new posts or (any problem) none.

    Raises ``ImportRefused`` with the whole report when anything is wrong. A dry run makes
    the posts in a savepoint and rolls it back: it reports what scheduling would do.
    """
    ctx = ImportContext(user, now, site_url.rstrip("/"), campaign)
    report = read_rows(data)
    report.dry_run = dry_run
    if report.file_problems:
        raise ImportRefused(report)
    _check_rows(session, report.rows, ctx)
    if report.problems:
        raise ImportRefused(report)
    savepoint = session.begin_nested()
    try:
        for row in report.to_schedule:
            _schedule(session, row, ctx)
    except BaseException:
        savepoint.rollback()
        raise
    if report.problems:
        savepoint.rollback()
        raise ImportRefused(report)
    if dry_run:
        for row in report.to_schedule:
            row.post_id = None
        savepoint.rollback()
    else:
        savepoint.commit()
        report.done = True
    return report


def _schedule(session: Session, row: Row, ctx: ImportContext) -> None:
    assert row.article is not None and row.target is not None and row.data is not None
    try:
        post = composing.create_post(
            session,
            row.article,
            row.target,
            row.data,
            user=ctx.user,
            now=ctx.now,
            site_url=ctx.site_url,
            campaign=ctx.campaign,
            source="import",
        )
    except PostExists as exc:
        row.problems.append(_exists_message(exc.existing, row))
        return
    except PostError as exc:
        row.problems.append(exc.message)
        return
    row.due, row.state, row.post_id = post.due_at, post.state, post.id


def _check_rows(session: Session, rows: list[Row], ctx: ImportContext) -> None:
    """Resolve and check every row, collecting every problem of each."""
    articles = _ArticleFinder(session, ctx.site_url)
    targets = _TargetFinder(session)
    for row in rows:
        if row.problems:
            continue  # the values are misplaced: reading them would only add noise
        row.article = articles.find(row.cells["article"], row.problems)
        row.target = targets.find(row.cells["target"], row.problems)
        _read_time(row, ctx)
        _compose(row, ctx)
    _match_existing(session, rows, ctx)


def _read_time(row: Row, ctx: ImportContext) -> None:
    raw = row.cells["time"]
    if " ".join(raw.split()).casefold() in (NEXT_SLOT, "next free slot"):
        row.next_slot = True
        row.zone = row.target.time_zone if row.target is not None else ""
        if row.target is not None and not scheduling.format_slots(row.target.queue_slots):
            row.problems.append(
                f"{row.target.display_name} has no queue slots for “next slot”; add some on "
                "its settings page or give a time"
            )
        return
    match = _TIME.fullmatch(raw.strip())
    if not raw:
        row.problems.append(f"no time given: write one such as {TIME_FORMAT}, or “next slot”")
        return
    if match is None:
        row.problems.append(
            f"time {raw[:60]!r} is not understood: write {TIME_FORMAT} (year-month-day "
            "hour:minute), optionally followed by a time zone such as Europe/Berlin, "
            "or “next slot”"
        )
        return
    try:
        year, month, day = (int(p) for p in match["day"].split("-"))
        when_day = date(year, month, day)
        when_time = time(int(match["hour"]), int(match["minute"]))
    except ValueError:
        row.problems.append(f"{raw[:60]!r} is not a date and time that exists")
        return
    if not 1900 <= when_day.year <= 2999:
        row.problems.append("give a date between the years 1900 and 2999")
        return
    if match["zone"]:
        row.zone = _zone(match["zone"], row.problems)
    elif row.target is not None:
        row.zone = row.target.time_zone
    if not row.zone:
        return
    local = scheduling.from_local(when_day, when_time, row.zone)
    shown = f"{when_day:%Y-%m-%d} {when_time:%H:%M}"
    if local.dst == "skipped":
        row.problems.append(f"{shown} does not exist in {row.zone} (clocks go forward)")
        return
    row.when, row.note = local.instant, local.note


def _zone(name: str, problems: list[str]) -> str:
    from syndicate.staff.services import StaffError, check_time_zone

    try:
        return check_time_zone(name)
    except StaffError:
        problems.append(f"unknown time zone {name[:60]!r}; use a name such as Europe/Berlin")
        return ""


def _compose(row: Row, ctx: ImportContext) -> None:
    """The post's text and card: the target's template unless the row gives commentary."""
    if row.article is None or row.target is None:
        return
    try:
        data = composing.compose_defaults(
            row.article, row.target, site_url=ctx.site_url, campaign=ctx.campaign
        )
    except PostError as exc:
        if row.cells["commentary"].strip():
            data = composing.PostInput(
                commentary="", card_title=row.article.title,
                card_description=row.article.summary,
            )
        else:
            row.problems.append(f"the commentary is empty and the target's template fails: "
                                f"{exc.message}")
            return
    if row.cells["commentary"].strip():
        data.commentary = row.cells["commentary"]
    data.commentary = data.commentary.replace("\r\n", "\n").replace("\r", "\n").strip()
    data.when = row.when
    shown = composing.preview(data.commentary)
    if shown.too_long:
        row.problems.append(
            f"the commentary is {shown.length:,} characters as LinkedIn counts them (escaped); "
            f"LinkedIn allows {MAX_COMMENTARY:,}"
        )
    elif not data.commentary:
        row.problems.append("the commentary is empty and the target's template gives none")
    row.data = data


def _match_existing(session: Session, rows: list[Row], ctx: ImportContext) -> None:
    """Rows already scheduled by an earlier import; rows that clash with a post or a row."""
    pairs = {(r.article.id, r.target.id) for r in rows if r.article and r.target}
    existing: dict[tuple[int, int], Post] = {}
    if pairs:
        for live in session.scalars(
            select(Post).where(
                Post.article_id.in_({a for a, _ in pairs}),
                Post.target_id.in_({t for _, t in pairs}),
                Post.is_reshare.is_(False),
                Post.state != PostState.CANCELLED,
            )
        ):
            existing[(live.article_id, live.target_id)] = live
    first_line: dict[tuple[int, int], Row] = {}
    for row in rows:
        if row.article is None or row.target is None:
            continue
        pair = (row.article.id, row.target.id)
        if pair in first_line:
            row.problems.append(
                f"{first_line[pair].where} already has “{row.article.title[:80]}” for "
                f"{row.target.display_name}; an article goes to a target once"
            )
            continue
        first_line[pair] = row
        post = existing.get(pair)
        if post is not None and _same(post, row):
            # Made by an earlier import of this file; that its time has passed since is fine.
            row.existing, row.due, row.state, row.post_id = post, post.due_at, post.state, post.id
            continue
        if post is not None:
            row.problems.append(_exists_message(post, row))
        if row.when is not None and row.when < ctx.now:
            row.problems.append(f"{local_text(row.when, row.zone)} is in the past")


def _same(post: Post, row: Row) -> bool:
    """Whether the post is what this row asks for (so an earlier import of it made it)."""
    if post.state not in _LIVE or row.data is None:
        return False
    if post.commentary != row.data.commentary:
        return False
    return row.next_slot or post.scheduled_at == row.when


def _exists_message(post: Post | None, row: Row) -> str:
    title = row.article.title[:80] if row.article is not None else "the article"
    target = row.target.display_name if row.target is not None else "the target"
    if post is None:
        return f"“{title}” already has a post for {target}"
    zone = row.target.time_zone if row.target is not None else "UTC"
    state = post.state.value.replace("_", " ")
    when = f" for {local_text(post.scheduled_at, zone)}" if post.scheduled_at else ""
    differs = " with another text or time" if post.state in _LIVE else ""
    return (
        f"“{title}” already has a post for {target} (post #{post.id}, {state}{when}){differs}; "
        f"an article goes to a target once: edit or cancel post #{post.id} first"
    )


def local_text(moment: datetime | None, zone: str) -> str:
    """'2026-12-04 14:00 CET (Europe/Berlin)': a time as the rows and reports show it."""
    if moment is None:
        return "—"
    local = moment.astimezone(ZoneInfo(zone))
    if zone == "UTC":
        return f"{local:%Y-%m-%d %H:%M} UTC"
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({zone})"


# --- finding what rows name ------------------------------------------------------------------


class _ArticleFinder:
    """Articles by number, public id, URL (canonical or ours, old slugs too) or slug."""

    def __init__(self, session: Session, site_url: str) -> None:
        self.session = session
        self.site = urlsplit(site_url)
        self.found: dict[str, Article | str] = {}

    def find(self, ref: str, problems: list[str]) -> Article | None:
        if not ref:
            problems.append("no article given: write its URL, its number or its public id")
            return None
        if ref not in self.found:
            self.found[ref] = self._lookup(ref)
        result = self.found[ref]
        if isinstance(result, str):
            problems.append(result)
            return None
        return result

    def _lookup(self, ref: str) -> Article | str:
        shown = repr(ref[:100])
        articles = self._candidates(ref)
        if not articles:
            return f"article {shown} not found; give its URL, its number or its public id"
        if len(articles) > 1:
            numbers = ", ".join(str(a.id) for a in articles[:5])
            return f"article {shown} matches several articles ({numbers}); give its number"
        article = articles[0]
        if not article.is_published:
            return f"article “{article.title[:80]}” is not published; publish it first"
        return article

    def _candidates(self, ref: str) -> list[Article]:
        if ref.isdigit():
            article = self.session.get(Article, int(ref)) if len(ref) < 18 else None
            return [article] if article is not None else []
        try:
            public_id = str(UUID(ref))
        except ValueError:
            pass
        else:
            return list(self.session.scalars(select(Article).where(Article.public_id == public_id)))
        if ref.startswith(("http://", "https://")):
            return self._by_url(ref)
        return self._by_slug(ref)

    def _by_url(self, ref: str) -> list[Article]:
        parts = urlsplit(ref)
        bare = urlunsplit(parts._replace(query="", fragment=""))
        variants = {ref, bare, bare.rstrip("/"), bare.rstrip("/") + "/"}
        found = list(
            self.session.scalars(
                select(Article).where(Article.canonical_url.in_(variants)).order_by(Article.id)
            )
        )
        if found:
            return found
        ours = (parts.scheme, parts.netloc) == (self.site.scheme, self.site.netloc)
        path = parts.path.rstrip("/")
        prefix = self.site.path.rstrip("/") + "/articles/"
        if ours and path.startswith(prefix) and "/" not in path[len(prefix):]:
            return self._by_slug(path[len(prefix):])
        return []

    def _by_slug(self, slug: str) -> list[Article]:
        article = self.session.scalar(select(Article).where(Article.slug == slug))
        if article is None:
            moved = self.session.scalar(select(SlugHistory).where(SlugHistory.slug == slug))
            article = self.session.get(Article, moved.article_id) if moved else None
        return [article] if article is not None else []


class _TargetFinder:
    """Targets by id, URN or display name (case-insensitive)."""

    def __init__(self, session: Session) -> None:
        self.targets = list(
            session.scalars(select(LinkedInTarget).order_by(LinkedInTarget.display_name))
        )

    def find(self, ref: str, problems: list[str]) -> LinkedInTarget | None:
        if not ref:
            problems.append("no target given: write its name, its id or its URN")
            return None
        name = " ".join(ref.split()).casefold()
        matches = [
            t
            for t in self.targets
            if ref in (str(t.id), t.urn) or " ".join(t.display_name.split()).casefold() == name
        ]
        if not matches:
            problems.append(f"target {ref[:100]!r} not found; known targets: {self.known()}")
            return None
        if len(matches) > 1:
            ids = ", ".join(f"{t.id} ({t.urn})" for t in matches[:5])
            problems.append(f"target {ref[:100]!r} names several targets: {ids}; give the id")
            return None
        target = matches[0]
        if not target.is_active:
            problems.append(
                f"{target.display_name} cannot be posted to right now (its connection is gone "
                "or lost the page role); reconnect it first"
            )
        return target

    def known(self) -> str:
        active = [t for t in self.targets if t.is_active]
        if not active:
            return "none yet (connect a LinkedIn account first)"
        names = ", ".join(f"{t.display_name} (id {t.id})" for t in active[:20])
        return names + (f" and {len(active) - 20} more" if len(active) > 20 else "")


# --- the example file ------------------------------------------------------------------------

# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def example_csv(session: Session, *, now: datetime, site_url: str) -> str:
    """An example file built from the newest articles and the first target, so that checking
    it shows the format at work; placeholders where there are none yet."""
    from syndicate.articles.models import ArticleStatus

    articles = list(
        session.scalars(
            select(Article)
            .where(Article.status == ArticleStatus.PUBLISHED)
            .order_by(Article.published_at.desc(), Article.id.desc())
            .limit(3)
        )
    )
    target = session.scalar(
        select(LinkedInTarget).where(LinkedInTarget.is_active).order_by(LinkedInTarget.id)
    )
    name = target.display_name if target is not None else "Acme Page"
    if name.startswith(_FORMULA_START):
        name = str(target.id) if target is not None else "1"
    zone = target.time_zone if target is not None else "Europe/Berlin"
    day = (now.astimezone(ZoneInfo(zone)) + timedelta(days=7)).date()
    site_url = site_url.rstrip("/")
    first = composing.article_url(articles[0], site_url) if articles else (
        f"{site_url}/articles/an-article"
    )
    second = str(articles[1].id) if len(articles) > 1 else "42"
    third = articles[2].public_id if len(articles) > 2 else "6f1c1f7e-4d2b-4a53-9d7e-2c4b8c1f0a11"
    has_slots = target is not None and bool(scheduling.format_slots(target.queue_slots))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow(
        [first, name, f"{day:%Y-%m-%d} 09:00", 'New on the site: "a story", with a comma; read it']
    )
    writer.writerow([second, name.upper(), NEXT_SLOT if has_slots else f"{day:%Y-%m-%d} 12:30", ""])
    writer.writerow(
        [third, target.urn if target is not None else "urn:li:organization:1234",
         f"{day + timedelta(days=1):%Y-%m-%d} 17:30 Europe/London", ""]
    )
    return out.getvalue()
