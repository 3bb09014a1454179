"""PostgreSQL: a stored ``tsvector`` beside each text of the search documents, indexed.

Revision ID: 10_h21_stored_vectors
Revises: 09_h21q_session_techniques
Create Date: 2026-12-07

The GIN indexes were over ``to_tsvector('simple', "LANDING")`` (and ``DATA``, ``WORDS``):
matching read the index, but ranking (``ts_rank``) parsed each match's text into a vector
again. Each text now has a generated column holding its vector
(``search_documents.STORED_VECTORS``), the GIN index of the same name is over that column,
and the search matches and ranks by it. MariaDB and SQLite are unchanged (their indexes
rank by themselves). Adding a generated column rewrites the table: at a million datasets,
a few minutes under an exclusive lock (searches wait), once.
"""

from __future__ import annotations

from alembic import op

from gateway.catalogue.migrate import column_names, qualified
from gateway.catalogue.search_documents import (
    STORED_VECTORS,
    dataset_index_ddl,
    search_index_ddl,
    stored_vector_ddl,
    vector_name,
)

revision = "10_h21_stored_vectors"
down_revision = "09_h21q_session_techniques"
branch_labels = None
depends_on = None


def _drop_index(name: str) -> None:
    op.execute(f"DROP INDEX IF EXISTS {qualified(name)}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, texts in STORED_VECTORS.items():
        held = column_names(table)
        for text_column, index in texts.items():
            if vector_name(text_column) in held:
                continue
            _drop_index(index)  # the index over the expression, of the same name
            for statement in stored_vector_ddl(qualified(table), text_column, index):
                op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, texts in STORED_VECTORS.items():
        for text_column, index in texts.items():
            _drop_index(index)
            op.execute(f'ALTER TABLE {qualified(table)} DROP COLUMN "{vector_name(text_column)}"')
    # The indexes over the expressions, as the earlier revisions made them.
    sessions = qualified("GATEWAY_SEARCH_DOCUMENT")
    datasets = qualified("GATEWAY_DATASET_DOCUMENT")
    for statement in [
        *search_index_ddl("postgresql", sessions),
        *dataset_index_ddl("postgresql", datasets),
    ]:
        op.execute(statement)
