"""The techniques of each session's datasets, kept with the search documents.

Revision ID: 09_h21q_session_techniques
Revises: 08_h21_dataset_search
Create Date: 2026-12-07

``GATEWAY_SESSION_TECHNIQUE`` holds one row per session and technique of its datasets
(ICAT's DATASETTECHNIQUE by way of DATASET), which the technique facet reads instead of
every dataset of the matches (``gateway.catalogue.facets``). The refresh that builds the
search documents builds it, and a session's document now counts its datasets' technique
links among its children (a deleted link is seen by the incremental refresh). The search
state is cleared so that the next refresh is a full one: until then the facet reads the
datasets, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import own_schema, qualified, table_exists

revision = "09_h21q_session_techniques"
down_revision = "08_h21_dataset_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not table_exists("GATEWAY_SESSION_TECHNIQUE"):
        op.create_table(
            "GATEWAY_SESSION_TECHNIQUE",
            sa.Column("INVESTIGATION_ID", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("TECHNIQUE_ID", sa.BigInteger, primary_key=True, autoincrement=False),
            schema=own_schema(),
        )
        # Built by a full refresh (and the documents' child counts with it): the next one is.
        op.execute(sa.text(f"DELETE FROM {qualified('GATEWAY_SEARCH_STATE')}"))


def downgrade() -> None:
    op.drop_table("GATEWAY_SESSION_TECHNIQUE", schema=own_schema())
