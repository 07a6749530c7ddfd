"""The ``syndicate`` command group (also reachable as ``flask --app syndicate``)."""

from __future__ import annotations

import getpass
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from functools import update_wrapper
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from syndicate.db import get_database
from syndicate.doctor import doctor_command
from syndicate.posts.cli import import_csv_command
from syndicate.staff.models import Role


def _create_app(*, web: bool = True) -> Flask:
    from syndicate import create_app
    from syndicate.config import ConfigError

    try:
        return create_app(web=web)
    except ConfigError as exc:  # a setting to fix: say which, without a traceback
        raise click.ClickException(str(exc)) from None


F = TypeVar("F", bound=Callable[..., Any])


def with_job_app(f: F) -> F:
    """Flask's ``with_appcontext`` for job commands: started as ``syndicate …``, the command
    builds the lean app of job processes (``create_app(web=False)``), not the web app.

    Another entry point brings its own app and that one is used: ``flask --app syndicate``
    has built the full app already, the tests' runner passes theirs. The command must also be
    on ``main`` itself (see the end of this module), or looking it up builds the web app.
    """

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        if not current_app:
            info = ctx.ensure_object(ScriptInfo)
            app = _create_app(web=False) if info.create_app is _create_app else info.load_app()
            ctx.with_resource(app.app_context())
        return ctx.invoke(f, *args, **kwargs)

    return update_wrapper(decorator, f)  # type: ignore[return-value]


class _SyndicateGroup(FlaskGroup):
    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Our own commands without loading Flask's plugin commands first: those import
        their packages (flask-limiter's ``limiter`` command, with rich) on every start of a
        job process, for commands it does not run."""
        return click.Group.get_command(self, ctx, name) or super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """``--help`` with settings to fix: the commands that work without them, and what to
        fix (Flask would print the traceback of anything but its own loading errors)."""
        try:
            ctx.ensure_object(ScriptInfo).load_app()
        except click.ClickException as exc:
            click.secho(f"Error: {exc.format_message()}\n", err=True, fg="red")
            return sorted(self.commands)
        return super().list_commands(ctx)


@click.group(
    cls=_SyndicateGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
)
def main() -> None:
    """syndicate: feeds, LinkedIn posts and share permissions for your articles."""


def init_app(app: Flask) -> None:
    for command in (
        db_group,
        users_group,
        serve,
        scheduler,
        demo,
        import_command,
        sources_group,
        settings_command,
        tokens_group,
        sharing_group,
        linkedin_sandbox,
        posts_group,
        doctor_command,
    ):
        app.cli.add_command(command)


# --- database -----------------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """Database schema migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Bring the schema to REVISION (default: the newest)."""
    from syndicate import migrate

    migrate.upgrade(get_database().engine, revision)
    click.echo(f"Database at revision {migrate.current_revision(get_database().engine)}.")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Take the schema back to REVISION ('base' removes every table)."""
    from syndicate import migrate

    migrate.downgrade(get_database().engine, revision)
    click.echo(f"Database at revision {migrate.current_revision(get_database().engine)}.")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the schema's revision and whether it is the newest."""
    from syndicate import migrate

    current = migrate.current_revision(get_database().engine)
    head = migrate.head_revision()
    click.echo(f"{current or 'empty'} ({'up to date' if current == head else f'newest is {head}'})")


# --- users --------------------------------------------------------------------------------


@click.group("users")
def users_group() -> None:
    """Staff accounts."""


@users_group.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.EDITOR.value,
    show_default=True,
)
@click.option("--name", default="")
@click.option("--time-zone", default=None, help="IANA zone; default: SYNDICATE_TIME_ZONE.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(
    email: str, role: str, name: str, time_zone: str | None, password_stdin: bool
) -> None:
    """Create a staff account that can sign in at /login."""
    from syndicate.staff.services import StaffError, create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise click.ClickException("The passwords differ.")
    database = get_database()
    try:
        with database.transaction() as session:
            user = create_user(
                session,
                email,
                password,
                role=Role(role),
                name=name,
                time_zone=time_zone or current_app.config["TIME_ZONE"],
                now=current_app.extensions["clock"].now(),
            )
            click.echo(f"Created {user.role.value} {user.email}.")
    except StaffError as exc:
        raise click.ClickException(str(exc)) from None


# --- processes ----------------------------------------------------------------------------


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--with-scheduler", is_flag=True, help="Also start `syndicate scheduler`.")
@with_appcontext
def serve(host: str, port: int, with_scheduler: bool) -> None:
    """Serve the web app (development server; use gunicorn in production)."""
    from werkzeug.serving import run_simple

    _configure_logging()
    child = None
    if with_scheduler:
        child = subprocess.Popen([sys.executable, "-m", "syndicate", "scheduler"])  # noqa: S603
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(f"syndicate on http://{host}:{port}/ (Ctrl-C stops it)")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        # Ctrl-C reaches every process of the terminal's group, often twice: stop once.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if child is not None:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=30)  # it says that it stopped
        else:
            click.echo("web server stopped")


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run every due job once, then exit.")
@with_job_app
def scheduler(once: bool) -> None:
    """Run the periodic jobs (source sync, ...). Any number may run at once."""
    from syndicate.jobs import build_scheduler, run_all_once

    _configure_logging()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        for name, result in run_all_once(app).items():
            click.echo(f"{name}: {result}")
        return
    sched = build_scheduler(app)
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        # Ctrl-C signals every process of the terminal's group and `serve` then sends its
        # scheduler SIGTERM too: the first signal stops, later ones find nothing to do.
        nonlocal stopping
        if stopping:
            return
        stopping = True
        if not sched.running:
            raise SystemExit(0)  # not started yet: nothing to wait for
        sched.shutdown(wait=True)  # lets running jobs finish their transaction

    # The handlers go in before the first line, so a signal that follows it is always ours.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        click.echo(f"scheduler {os.getpid()} running: " + ", ".join(j.id for j in sched.get_jobs()))
        sched.start()
    finally:
        click.echo(f"scheduler {os.getpid()} stopped")


def _configure_logging() -> None:
    from syndicate.web.logging import configure_logging

    configure_logging(current_app.config)


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    # Turn SIGTERM into a normal exit so that `finally` stops the scheduler child too.
    raise SystemExit(0)


# --- content ------------------------------------------------------------------------------


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when articles exist already.")
@with_appcontext
def demo(if_empty: bool) -> None:
    """Load demo content and a demo admin (development only)."""
    from syndicate.demo import load_demo

    if current_app.config["ENV"] == "production":
        raise click.ClickException("Demo content is not for production.")
    report = load_demo(current_app._get_current_object(), only_if_empty=if_empty)  # type: ignore[attr-defined]
    click.echo(report)


@click.command("import")
@click.argument("url")
@click.option(
    "--kind",
    type=click.Choice(["auto", "feed", "sitemap", "page"]),
    default="auto",
    show_default=True,
)
@click.option(
    "--every",
    "interval",
    type=int,
    default=None,
    help="Keep the source and sync it every N minutes.",
)
@with_appcontext
def import_command(url: str, kind: str, interval: int | None) -> None:
    """Import articles from URL (RSS/Atom feed, sitemap or one article page)."""
    from syndicate.articles.jobs import run_import_command

    code = run_import_command(current_app._get_current_object(), url, kind, interval)  # type: ignore[attr-defined]
    if code:
        sys.exit(code)


@click.group("sources")
def sources_group() -> None:
    """Sources that articles are imported from."""


@sources_group.command("sync")
@with_appcontext
def sources_sync() -> None:
    """Sync every source that is due now (what the scheduler does periodically)."""
    from syndicate.articles.jobs import sync_due_sources

    summary = sync_due_sources(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(summary)


# --- LinkedIn -----------------------------------------------------------------------------


@click.group("tokens")
def tokens_group() -> None:
    """Encryption keys for tokens at rest."""


@tokens_group.command("new-key")
def tokens_new_key() -> None:
    """Print a new key; put it first in SYNDICATE_TOKEN_KEYS, then run `tokens rotate`."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@tokens_group.command("rotate")
@with_appcontext
def tokens_rotate() -> None:
    """Re-encrypt every stored token with the newest key of SYNDICATE_TOKEN_KEYS."""
    from syndicate.linkedin.services import rotate_tokens

    with get_database().transaction() as session:
        rotated, failed = rotate_tokens(session, vault=current_app.extensions["token_vault"])
    click.echo(f"Re-encrypted {rotated} token(s) with the newest key.")
    if failed:
        click.echo(
            f"{failed} token(s) could not be decrypted with any configured key; "
            "their connections will ask to be reconnected.",
            err=True,
        )


# --- share permissions --------------------------------------------------------------------


@click.group("sharing")
def sharing_group() -> None:
    """Share permissions: the key that signs their public records."""


@sharing_group.command("new-key")
def sharing_new_key() -> None:
    """Print a new signing key for SYNDICATE_SHARING_SIGNING_KEY."""
    from syndicate.sharing.signing import new_private_key

    click.echo(new_private_key())


@sharing_group.command("re-sign")
@with_appcontext
def sharing_resign() -> None:
    """Sign every permission record again with SYNDICATE_SHARING_SIGNING_KEY.

    Run it after changing the key: until then the records that the old key signed do not
    verify against the key the site publishes. Each batch commits on its own, so it may be
    stopped and run again, and the site keeps serving meanwhile.
    """
    from syndicate.sharing.context import Sharing
    from syndicate.sharing.records import records_by_key, resign_records

    database, clock = get_database(), current_app.extensions["clock"]
    ctx = Sharing.for_app(current_app)
    with database.sessions() as session:
        _, total = records_by_key(session, ctx.signer.key_id)
    resigned = after_id = 0
    with click.progressbar(length=total, label="Signing permission records again") as bar:
        while True:
            with database.write_transaction() as session:  # reads, then writes
                count, last_id = resign_records(
                    session, ctx=ctx, now=clock.now(), after_id=after_id
                )
            if last_id is None:
                break
            resigned, after_id = resigned + count, last_id
            bar.update(count)
    click.echo(f"Signed {resigned} record(s) again with key {ctx.signer.key_id}.")
    with database.sessions() as session:
        _, left = records_by_key(session, ctx.signer.key_id)
    if left:
        click.echo(
            f"{left} record(s) are still signed with another key: a process that still has "
            "the old SYNDICATE_SHARING_SIGNING_KEY changed them meanwhile. Restart every web "
            "and scheduler process with the new key, then run this again.",
            err=True,
        )
        sys.exit(1)


@click.group("posts")
def posts_group() -> None:
    """Scheduled LinkedIn posts."""


@posts_group.command("dispatch")
@click.option("--until-idle", is_flag=True, help="Keep going until no post is due.")
@with_job_app
def posts_dispatch(until_idle: bool) -> None:
    """Publish the posts that are due now (what the scheduler does every tick)."""
    from syndicate.posts.dispatcher import sender
    from syndicate.posts.jobs import make_dispatcher

    dispatcher = make_dispatcher(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        sender=sender("syndicate posts dispatch"),
    )
    result = dispatcher.run_until_idle() if until_idle else dispatcher.run_once()
    click.echo(str(result) or "nothing due")


@posts_group.group("stats")
def posts_stats_group() -> None:
    """How published posts did on LinkedIn."""


@posts_stats_group.command("refresh")
@click.option("--once", is_flag=True, help="One batch only, instead of until none is due.")
@with_appcontext
def posts_stats_refresh(once: bool) -> None:
    """Fetch the LinkedIn figures that are due now (what the scheduler does every tick)."""
    from syndicate.linkedin.jobs import make_stats_refresher

    refresher = make_stats_refresher(current_app._get_current_object())  # type: ignore[attr-defined]
    result = refresher.run_once() if once else refresher.run_until_idle()
    click.echo(str(result) or "nothing due")
    for error in dict.fromkeys(result.errors):
        click.echo(f"  {error}", err=True)


posts_group.add_command(import_csv_command)


@click.command("linkedin-sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5001, show_default=True, type=int)
def linkedin_sandbox(host: str, port: int) -> None:
    """Run the LinkedIn sandbox alone (a fake LinkedIn for development and tests)."""
    from syndicate.linkedin_sandbox.app import serve_sandbox

    click.echo(
        f"LinkedIn sandbox (not LinkedIn) on http://{host}:{port}/sandbox/ ; point "
        f"SYNDICATE_LINKEDIN_AUTH_BASE and SYNDICATE_LINKEDIN_API_BASE at "
        f"http://{host}:{port}"
    )
    serve_sandbox(host, port)


@click.command("settings")
@click.option("--markdown", is_flag=True, help="Print the README's settings table.")
def settings_command(markdown: bool) -> None:
    """List every setting, its default and what it does."""
    from syndicate.config import SETTINGS

    first = [
        "ENV",
        "SECRET_KEY",
        "SITE_URL",
        "SITE_NAME",
        "DATABASE_URL",
        "TOKEN_KEYS",
        "SHARING_SIGNING_KEY",
        "TIME_ZONE",
    ]
    ordered = sorted(
        SETTINGS,
        key=lambda s: (s.name not in first, first.index(s.name) if s.name in first else 0, s.name),
    )
    for s in ordered:
        default = (
            "(required in production)"
            if s.required_in_production and s.default is None
            else str(s.default)
            if isinstance(s.default, timedelta)
            else repr(s.default)
        )
        if markdown:
            click.echo(f"| `SYNDICATE_{s.name}` | {default} | {s.doc} |")
        else:
            click.echo(f"SYNDICATE_{s.name} = {default}\n    {s.doc}")


# Reachable without building the app, so even when settings are broken or missing, which
# is when they are needed most: the doctor, and the commands that make the keys those
# settings want (their other commands build the app when they run). The job processes too:
# they build the lean app when they run (``with_job_app``), not the web app to be found.
for _command in (doctor_command, tokens_group, sharing_group, scheduler, posts_group):
    main.add_command(_command)
