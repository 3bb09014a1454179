"""The gateway's read pool: connections in autocommit that send nothing but the reads.

Closing a SQLAlchemy connection "rolls back" its transaction; in autocommit SQLAlchemy
calls the driver's ``rollback()`` all the same unless told not to, and on MariaDB that is
a ROLLBACK sent to the server: one more round trip for every statement the gateway reads
with (a plan's, a loader's).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url

from gateway.app import create_app
from gateway.settings import Settings


async def test_reads_send_no_rollback(settings: Settings) -> None:
    app = create_app(settings)
    reads = app.state.read_engine
    try:
        dialect = reads.sync_engine.dialect
        async with reads.connect() as connection:
            raw = await connection.get_raw_connection()
            # Every read connection is in autocommit, so rollbacks are skipped for it.
            assert dialect.skip_autocommit_rollback
            assert dialect.detect_autocommit_setting(raw.dbapi_connection)
        if make_url(settings.database_url).get_backend_name() != "mysql":
            return
        # On MariaDB, the server's own count of ROLLBACKs on the pool's connection.
        counts = []
        for _ in range(4):
            async with reads.connect() as connection:
                row = (
                    await connection.execute(text("SHOW SESSION STATUS LIKE 'Com_rollback'"))
                ).one()
                counts.append(int(row[1]))
        assert reads.sync_engine.pool.checkedin() == 1  # one connection, reused
        assert counts == [counts[0]] * 4, counts
    finally:
        await reads.dispose()
        await app.state.engine.dispose()
