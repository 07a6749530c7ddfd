"""Job processes start lean: `syndicate posts dispatch` builds no pages, API or templates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from syndicate import create_app, migrate
from syndicate.db import make_engine

ROOT = Path(__file__).resolve().parents[1]
# What the web app imports and a job process has no use for: views, forms, the API's
# pydantic schemas, feed building, HTML cleaning, Markdown, OAuth, the Jinja setup.
WEB_ONLY = (
    "syndicate.api.views",
    "syndicate.api.schemas",
    "syndicate.posts.views",
    "syndicate.articles.views",
    "syndicate.sharing.views",
    "syndicate.feeds.views",
    "syndicate.web.views",
    "syndicate.web.templating",
    "pydantic",
    "feedgen",
    "lxml",
    "markdown",
    "nh3",
    "wtforms",
    "authlib",
    "flask_limiter",
)
# Runs the command as the `syndicate` console script does, then lists what it imported.
PROGRAM = """
import json, sys
from syndicate.cli import main
try:
    main(["posts", "dispatch", "--until-idle"])
except SystemExit as exit:
    assert not exit.code, exit.code
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_dispatch(tmp_path: Path) -> set[str]:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    env = {
        **os.environ,
        "SYNDICATE_ENV": "testing",
        "SYNDICATE_DATABASE_URL": url,
        "SYNDICATE_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROGRAM],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout.strip().splitlines()
    assert output[0] == "nothing due"
    return set(json.loads(output[-1]))


def test_dispatch_command_imports_no_pages_api_or_templates(tmp_path):
    modules = _modules_after_dispatch(tmp_path)
    assert "syndicate.posts.dispatcher" in modules  # it did run the dispatcher
    imported = [name for name in WEB_ONLY if name in modules]
    assert imported == []


def test_the_job_app_has_the_collaborators_and_commands_but_no_pages(tmp_path):
    config = {"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    jobs, web = create_app(config, web=False), create_app(config)
    for name in ("clock", "token_vault", "linkedin_client", "fetcher", "mailer", "database"):
        assert name in jobs.extensions
    assert set(jobs.cli.commands) == set(web.cli.commands)
    assert not jobs.blueprints and "api" in web.blueprints
    assert jobs.config["SITE_URL"] == web.config["SITE_URL"]
