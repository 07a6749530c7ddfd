"""`syndicate posts import-csv FILE [--dry-run]`: the lines it prints and its exit status
(0 scheduled or nothing to do, 1 a problem and nothing scheduled, 2 a usage error)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from syndicate.posts.models import Post, PostState
from syndicate.staff.models import Role

HEADER = "article,target,time,commentary\n"


@pytest.fixture
def acme(make_target):
    return make_target(
        display_name="Acme Page",
        time_zone="Europe/Berlin",
        queue_slots=[{"weekday": 2, "time": "12:30"}],
    )


@pytest.fixture
def csv_file(tmp_path, make_article, session, acme):
    one = make_article(title="First story")
    two = make_article(title="Second story")
    session.commit()
    path = tmp_path / "posts.csv"
    path.write_text(
        HEADER
        + f"{one.id},Acme Page,2026-03-10 14:00,Hello\n"
        + f"{two.id},acme page,next slot,\n",
        encoding="utf-8",
    )
    return path


def posts(session) -> list[Post]:
    session.expire_all()
    return list(session.scalars(select(Post).order_by(Post.id)))


def import_csv(runner, *args: str):
    return runner.invoke(args=["posts", "import-csv", *args])


def test_a_dry_run_prints_a_line_per_row_and_schedules_nothing(runner, session, csv_file):
    result = import_csv(runner, str(csv_file), "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "line 2: “First story” → Acme Page, 2026-03-10 14:00 CET (Europe/Berlin): to schedule",
        "line 3: “Second story” → Acme Page, 2026-03-04 12:30 CET (Europe/Berlin), the next "
        "free slot: to schedule",
        "2 rows: 2 to schedule, 0 already scheduled (dry run: nothing was scheduled).",
    ]
    assert posts(session) == []


def test_importing_schedules_every_row_and_importing_again_nothing(runner, session, csv_file):
    first = import_csv(runner, str(csv_file))
    assert first.exit_code == 0, first.output
    made = posts(session)
    assert [p.state for p in made] == [PostState.SCHEDULED, PostState.SCHEDULED]
    assert first.stdout.splitlines()[-1] == "2 rows: 2 scheduled, 0 already scheduled."
    again = import_csv(runner, str(csv_file))
    assert again.exit_code == 0, again.output
    assert f"already scheduled (post #{made[0].id})" in again.stdout
    assert again.stdout.splitlines()[-1] == "2 rows: 0 scheduled, 2 already scheduled."
    assert posts(session) == made


def test_a_problem_exits_1_names_the_line_and_schedules_nothing(runner, session, csv_file):
    csv_file.write_text(
        csv_file.read_text() + "999999,Nowhere,2026-03-29 02:30,\n", encoding="utf-8"
    )
    result = import_csv(runner, str(csv_file))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        "line 4: article '999999' not found; give its URL, its number or its public id",
        "line 4: target 'Nowhere' not found; known targets: Acme Page (id "
        f"{posts_target_id(session)})",
    ]
    assert result.stderr.splitlines()[-1] == (
        "3 rows: 1 row with problems (2 problems); nothing was scheduled."
    )
    assert result.stdout == ""
    assert posts(session) == []


def posts_target_id(session) -> int:
    from syndicate.linkedin.models import LinkedInTarget

    return session.scalar(select(LinkedInTarget.id).where(LinkedInTarget.display_name == "Acme Page"))


def test_a_file_that_cannot_be_read_exits_1(runner, session, tmp_path, acme):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = import_csv(runner, str(path))
    assert result.exit_code == 1
    assert "The file is empty." in result.stderr


def test_standard_input_is_read_for_a_dash(runner, session, csv_file):
    result = runner.invoke(
        args=["posts", "import-csv", "-", "--dry-run"], input=csv_file.read_bytes()
    )
    assert result.exit_code == 0, result.output
    assert "2 rows: 2 to schedule" in result.stdout


def test_as_names_the_staff_member_whose_role_decides_approval(
    runner, session, csv_file, acme, make_user
):
    acme.needs_approval = True
    session.commit()
    editor = make_user(email="ed@example.test", role=Role.EDITOR)
    session.commit()
    result = import_csv(runner, str(csv_file), "--as", "ed@example.test")
    assert result.exit_code == 0, result.output
    made = posts(session)
    assert {(p.state, p.created_by_id) for p in made} == {
        (PostState.AWAITING_APPROVAL, editor.id)
    }


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "Missing argument 'FILE'"),
        (["no-such-file.csv"], "No such file or directory"),
        (["{csv}", "--as", "nobody@example.test"], "no active staff member"),
        (["{csv}", "--dry-rum"], "No such option"),
    ],
)
def test_usage_errors_exit_2_and_schedule_nothing(runner, session, csv_file, args, message):
    result = import_csv(runner, *[a.replace("{csv}", str(csv_file)) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert posts(session) == []
