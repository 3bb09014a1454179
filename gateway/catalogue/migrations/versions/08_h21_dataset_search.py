"""Datasets' search documents, and the child count that lets a refresh see deletions.

Revision ID: 08_h21_dataset_search
Revises: 0007_search_documents
Create Date: 2026-12-06

``GATEWAY_DATASET_DOCUMENT`` holds each dataset's words with each database's full-text
index over them (``search_documents.dataset_index_ddl``); ``GATEWAY_SEARCH_DOCUMENT``
gains ``CHILDREN``, the count of child rows a session's document was read from (NULL in
documents made before: the next refresh rebuilds them). The search state is cleared so
that the next refresh is a full one, which builds the datasets' documents.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import column_names, own_schema, qualified, table_exists
from gateway.catalogue.search_documents import dataset_index_ddl

revision = "08_h21_dataset_search"
down_revision = "08_h24_doi_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = own_schema()
    dialect = op.get_bind().dialect.name
    if not table_exists("GATEWAY_DATASET_DOCUMENT"):
        op.create_table(
            "GATEWAY_DATASET_DOCUMENT",
            sa.Column("DATASET_ID", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("INVESTIGATION_ID", sa.BigInteger, nullable=False),
            sa.Column("WORDS", sa.Text, nullable=False),
            schema=schema,
        )
        op.create_index(
            "GATEWAY_DD_INVESTIGATION",
            "GATEWAY_DATASET_DOCUMENT",
            ["INVESTIGATION_ID"],
            schema=schema,
        )
        if dialect == "sqlite":
            op.execute("DROP TABLE IF EXISTS GATEWAY_DATASET_FTS")  # a reset's leftover
        for statement in dataset_index_ddl(dialect, qualified("GATEWAY_DATASET_DOCUMENT")):
            op.execute(statement)
        # The datasets' documents are built by a full refresh: the next one is.
        op.execute(sa.text(f"DELETE FROM {qualified('GATEWAY_SEARCH_STATE')}"))
    if "CHILDREN" not in column_names("GATEWAY_SEARCH_DOCUMENT"):
        # A plain ALTER TABLE on every database (SQLite's FTS5 triggers stay on the table).
        op.add_column(
            "GATEWAY_SEARCH_DOCUMENT",
            sa.Column("CHILDREN", sa.BigInteger, nullable=True),
            schema=schema,
        )


def downgrade() -> None:
    schema = own_schema()
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS GATEWAY_DATASET_FTS")
    with op.batch_alter_table("GATEWAY_SEARCH_DOCUMENT", schema=schema) as batch:
        batch.drop_column("CHILDREN")
    op.drop_table("GATEWAY_DATASET_DOCUMENT", schema=schema)
