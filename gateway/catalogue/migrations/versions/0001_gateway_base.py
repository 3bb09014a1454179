"""The gateway's first tables: release-date changes and stored secrets.

Revision ID: 0001_gateway_base
Revises:
Create Date: 2026-12-01

Databases that an earlier version set up without migrations already have these tables:
they are adopted as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import own_schema, table_exists

revision = "0001_gateway_base"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    schema = own_schema()
    if not table_exists("GATEWAY_RELEASE_DATE_CHANGE"):
        op.create_table(
            "GATEWAY_RELEASE_DATE_CHANGE",
            sa.Column("ID", _ID, primary_key=True, autoincrement=True),
            sa.Column("INVESTIGATION_ID", sa.BigInteger, nullable=False),
            sa.Column("OLD_RELEASE_DATE", sa.DateTime),
            sa.Column("NEW_RELEASE_DATE", sa.DateTime),
            sa.Column("CHANGED_BY", sa.String(255), nullable=False),
            sa.Column("REASON", sa.String(1023), nullable=False),
            sa.Column("CHANGED_AT", sa.DateTime, nullable=False),
            schema=schema,
        )
        op.create_index(
            "GATEWAY_RDC_INVESTIGATION",
            "GATEWAY_RELEASE_DATE_CHANGE",
            ["INVESTIGATION_ID"],
            schema=schema,
        )
    if not table_exists("GATEWAY_SECRET"):
        op.create_table(
            "GATEWAY_SECRET",
            sa.Column("NAME", sa.String(64), primary_key=True),
            sa.Column("VALUE", sa.Text, nullable=False),
            sa.Column("CREATED_AT", sa.DateTime, nullable=False),
            schema=schema,
        )


def downgrade() -> None:
    schema = own_schema()
    op.drop_table("GATEWAY_SECRET", schema=schema)
    op.drop_index("GATEWAY_RDC_INVESTIGATION", "GATEWAY_RELEASE_DATE_CHANGE", schema=schema)
    op.drop_table("GATEWAY_RELEASE_DATE_CHANGE", schema=schema)
