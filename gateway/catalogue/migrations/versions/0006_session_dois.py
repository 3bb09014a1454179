"""Session DOIs registered by `icat-gateway doi register-sessions`.

Revision ID: 0006_session_dois
Revises: 0005_downloads
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import own_schema, table_exists

revision = "0006_session_dois"
down_revision = "0005_downloads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if table_exists("GATEWAY_SESSION_DOI"):
        return
    op.create_table(
        "GATEWAY_SESSION_DOI",
        sa.Column("INVESTIGATION_ID", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("DOI", sa.String(255), nullable=False),
        sa.Column("DIGEST", sa.String(64), nullable=False),
        sa.Column("REGISTERED_AT", sa.DateTime, nullable=False),
        schema=own_schema(),
    )


def downgrade() -> None:
    op.drop_table("GATEWAY_SESSION_DOI", schema=own_schema())
