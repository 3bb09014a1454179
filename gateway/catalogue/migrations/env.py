"""Alembic's environment: the gateway passes its own connection (see ../migrate.py)."""

from __future__ import annotations

from alembic import context

from gateway.catalogue.gateway_tables import VERSION_TABLE
from gateway.catalogue.migrate import own_schema

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the gateway's migrations with `icat-gateway migrate`")
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    version_table_schema=own_schema(),
    transactional_ddl=connection.dialect.name == "postgresql",
)
with context.begin_transaction():
    context.run_migrations()
