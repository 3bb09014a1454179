"""The local registrar's DOIs (the embedded default registrar, registered nowhere).

Revision ID: 0003_local_registrar
Revises: 0002_doi_saga
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import own_schema, table_exists

revision = "0003_local_registrar"
down_revision = "0002_doi_saga"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if table_exists("GATEWAY_LOCAL_DOI"):  # made by create_all before migrations
        return
    op.create_table(
        "GATEWAY_LOCAL_DOI",
        sa.Column("DOI", sa.String(255), primary_key=True),
        sa.Column("STATE", sa.String(16), nullable=False),
        sa.Column("URL", sa.String(2048)),
        sa.Column("ATTRIBUTES", sa.Text, nullable=False),
        sa.Column("CREATED_AT", sa.DateTime, nullable=False),
        sa.Column("UPDATED_AT", sa.DateTime, nullable=False),
        schema=own_schema(),
    )


def downgrade() -> None:
    op.drop_table("GATEWAY_LOCAL_DOI", schema=own_schema())
