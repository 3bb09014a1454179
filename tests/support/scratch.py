"""Databases of a test module's own beside the configured ones (PostgreSQL, MariaDB)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.engine import make_url

from gateway.catalogue.database import create_engine
from gateway.settings import Settings


def scratch_url(database_url: str, suffix: str) -> str:
    """The URL of the database ``<configured>_<suffix>`` on the same server, created if
    missing; a SQLite URL is returned as it is (the caller passes a file of its own)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return str(url)
    scratch = f"{url.database}_{suffix}"

    async def create() -> None:
        engine = create_engine(Settings(database_url=database_url))
        try:
            async with engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                if url.get_backend_name() == "postgresql":
                    present = await connection.scalar(
                        text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": scratch}
                    )
                    if not present:
                        await connection.execute(text(f'CREATE DATABASE "{scratch}"'))
                else:
                    await connection.execute(text(f"CREATE DATABASE IF NOT EXISTS `{scratch}`"))
        finally:
            await engine.dispose()

    asyncio.run(create())
    return url.set(database=scratch).render_as_string(hide_password=False)
