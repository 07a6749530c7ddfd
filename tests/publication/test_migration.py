"""0013_first_run: targets that saved the old default template follow the new default."""

from datetime import UTC, datetime

from sqlalchemy import text

from syndicate import migrate
from syndicate.db import make_engine

OLD_DEFAULT = "{title}\n\n{summary}\n\n{link}\n\n{hashtags}"
CUSTOM = "{title}\n\n{link}"


def test_the_saved_old_default_is_cleared_and_custom_templates_are_kept(fresh_database):
    engine = make_engine(fresh_database)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        migrate.downgrade(engine, "0011_staff_sessions")
        with engine.begin() as db:
            db.execute(
                text(
                    "INSERT INTO linkedin_connections (id, member_urn, name, scopes, state,"
                    " state_reason, created_at, updated_at)"
                    " VALUES (1, 'urn:li:person:a', 'A', '', 'active', '', :now, :now)"
                ),
                {"now": now},
            )
            for n, template in enumerate((OLD_DEFAULT, CUSTOM, ""), start=1):
                db.execute(
                    text(
                        "INSERT INTO linkedin_targets (id, connection_id, urn, kind,"
                        " display_name, time_zone, queue_slots, template, needs_approval,"
                        " is_active, created_at, updated_at) VALUES (:id, 1, :urn, 'member',"
                        " 'A', 'UTC', '[]', :template, false, true, :now, :now)"
                    ),
                    {"id": n, "urn": f"urn:li:person:{n}", "template": template, "now": now},
                )
        migrate.upgrade(engine)
        with engine.connect() as db:
            templates = db.execute(text("SELECT template FROM linkedin_targets ORDER BY id"))
            assert [row[0] for row in templates] == ["", CUSTOM, ""]
        migrate.downgrade(engine, "0011_staff_sessions")
        migrate.upgrade(engine)
    finally:
        engine.dispose()
