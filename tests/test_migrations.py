"""The Alembic scripts build the same schema as the models, both ways, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import syndicate.all_models  # noqa: F401
from syndicate import migrate
from syndicate.db import Base, make_engine


def test_upgrade_to_head_then_downgrade_to_base_on_empty_database(fresh_database):
    engine = make_engine(fresh_database)
    try:
        # fresh_database is already at head: go down to nothing and back up again.
        migrate.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"users", "articles", "events", "sources", "slug_history"} <= tables
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_migrations_match_the_models(fresh_database):
    engine = make_engine(fresh_database)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_history_is_one_line_with_a_single_head():
    from alembic.script import ScriptDirectory

    from syndicate.migrate import _config

    assert len(ScriptDirectory.from_config(_config()).get_heads()) == 1
