"""Search documents: a session's words in the gateway's own table, with full-text indexes.

Revision ID: 0007_search_documents
Revises: 0006_session_dois
Create Date: 2026-12-06

The indexes are each database's own (``search_documents.search_index_ddl``): GIN over
``to_tsvector`` on PostgreSQL (and a trigram index where ``pg_trgm`` can be created),
InnoDB FULLTEXT on MariaDB, an FTS5 table kept in step by triggers on SQLite.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.gateway_tables import LONG_TEXT
from gateway.catalogue.migrate import own_schema, qualified, table_exists
from gateway.catalogue.search_documents import TRIGRAM_DDL, search_index_ddl

revision = "0007_search_documents"
down_revision = "0006_session_dois"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def upgrade() -> None:
    schema = own_schema()
    dialect = op.get_bind().dialect.name
    if not table_exists("GATEWAY_SEARCH_DOCUMENT"):
        op.create_table(
            "GATEWAY_SEARCH_DOCUMENT",
            sa.Column("INVESTIGATION_ID", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("LANDING", sa.Text, nullable=False),
            sa.Column("DATA", LONG_TEXT, nullable=False),
            sa.Column("REFRESHED_AT", sa.DateTime, nullable=False),
            schema=schema,
        )
        table = qualified("GATEWAY_SEARCH_DOCUMENT")
        if dialect == "sqlite":
            op.execute("DROP TABLE IF EXISTS GATEWAY_SEARCH_FTS")  # a reset's leftover
        for statement in search_index_ddl(dialect, table):
            op.execute(statement)
        if dialect == "postgresql":
            _trigram_index(table)
    if not table_exists("GATEWAY_SEARCH_STATE"):
        op.create_table(
            "GATEWAY_SEARCH_STATE",
            sa.Column("NAME", sa.String(32), primary_key=True),
            sa.Column("STARTED_AT", sa.DateTime, nullable=False),
            sa.Column("REFRESHED_AT", sa.DateTime, nullable=False),
            sa.Column("DOCUMENTS", sa.BigInteger, nullable=False),
            schema=schema,
        )


def _trigram_index(table: str) -> None:
    """The trigram index, where the extension is there or may be created (a savepoint:
    a refusal leaves the migration's transaction usable)."""
    bind = op.get_bind()
    savepoint = bind.begin_nested()
    try:
        for statement in TRIGRAM_DDL:
            bind.exec_driver_sql(statement.format(table=table))
    except sa.exc.DBAPIError as error:
        savepoint.rollback()
        log.warning("no trigram index on the search documents (pg_trgm: %s)", error.orig)
    else:
        savepoint.commit()


def downgrade() -> None:
    schema = own_schema()
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS GATEWAY_SEARCH_FTS")
    op.drop_table("GATEWAY_SEARCH_STATE", schema=schema)
    op.drop_table("GATEWAY_SEARCH_DOCUMENT", schema=schema)
