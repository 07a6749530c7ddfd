"""``syndicate posts import-csv FILE [--dry-run]``: schedule the posts of a CSV file.

Exit status: 0 when every row is scheduled (or would be, with --dry-run) or was already,
1 when any row or the file itself has a problem (then nothing is scheduled), 2 for a usage
error (no such file, no such staff member).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, BinaryIO

import click
from flask import current_app
from flask.cli import with_appcontext

from syndicate.db import get_database

if TYPE_CHECKING:
    from syndicate.posts.bulk import Row


@click.command("import-csv")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check every row and say what would happen; schedule nothing.",
)
@click.option(
    "--as",
    "as_email",
    metavar="EMAIL",
    default=None,
    help="The staff member the posts are made by (their role decides whether posts to "
    "targets that need approval wait for it). Default: no one, so those posts wait.",
)
@with_appcontext
def import_csv_command(file: BinaryIO, dry_run: bool, as_email: str | None) -> None:
    """Schedule the posts of FILE, a CSV file with the columns article, target, time,
    commentary (see docs/posts-import.md); '-' reads standard input.

    Every row is checked first; any problem schedules nothing. Importing the same file
    again schedules nothing twice.
    """
    from syndicate.posts import bulk
    from syndicate.staff.services import find_user_by_email

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    data = file.read(bulk.MAX_BYTES + 1)  # one byte more says the file is too large
    now = app.extensions["clock"].now()
    try:
        with get_database(app).write_transaction() as session:
            user = find_user_by_email(session, as_email) if as_email else None
            if as_email and (user is None or not user.is_active):
                raise click.BadParameter(
                    f"no active staff member has the email {as_email!r}", param_hint="--as"
                )
            report = bulk.import_posts(
                session,
                data,
                user=user,
                now=now,
                site_url=app.config["SITE_URL"],
                campaign=app.config["UTM_CAMPAIGN"],
                dry_run=dry_run,
            )
            lines = [_line(row) for row in report.rows]
    except bulk.ImportRefused as refused:
        for problem in refused.report.problems:
            click.echo(str(problem), err=True)
        click.echo(refused.report.summary, err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)
    click.echo(report.summary + (" (dry run: nothing was scheduled)." if dry_run else "."))


def _line(row: Row) -> str:
    return f"{row.where}: “{row.article_text}” → {row.target_text}, {row.time_text}: {row.outcome}"
