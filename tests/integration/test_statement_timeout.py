"""Every statement of the serving engines is bounded on the server by the request's time
budget: ``statement_timeout`` on PostgreSQL, ``max_statement_time`` on MariaDB, a progress
handler on SQLite; the error it raises is recognised as a timeout (``QUERY_TIMEOUT``, not
an internal error)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gateway.catalogue.database import create_engine, is_statement_timeout
from gateway.settings import Settings

SLOW = {
    "postgresql": "SELECT pg_sleep(30)",
    # A count over a cross join that takes minutes; MariaDB's SLEEP() is not a statement
    # the limit interrupts with an error.
    "mysql": "SELECT COUNT(*) FROM information_schema.columns a, information_schema.columns b,"
    " information_schema.columns c",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)"
    " SELECT COUNT(*) FROM n",
}


async def test_a_slow_statement_is_cancelled_by_the_server(settings: Settings) -> None:
    engine = create_engine(settings, statement_timeout=0.2)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(text(SLOW[engine.dialect.name]))
        assert is_statement_timeout(raised.value), raised.value
        async with engine.connect() as connection:  # the engine serves on
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_without_a_timeout_nothing_is_bounded(settings: Settings) -> None:
    """The same engine without ``statement_timeout`` (seeding, migrations) sets none."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                value = (await connection.execute(text("SHOW statement_timeout"))).scalar()
                assert value == "0"
            elif engine.dialect.name == "mysql":
                value = (await connection.execute(text("SELECT @@max_statement_time"))).scalar_one()
                assert float(value) == 0
    finally:
        await engine.dispose()
