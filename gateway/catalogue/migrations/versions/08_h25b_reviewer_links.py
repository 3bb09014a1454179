"""Reviewer links (secret, expiring, read-only links to embargoed data) and the expiry
of collaborators' grants (ICAT's INVESTIGATIONUSER has no column for it).

Revision ID: 08_h25b_reviewer_links
Revises: 0007_search_documents
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import own_schema, table_exists

revision = "08_h25b_reviewer_links"
down_revision = "08_h25a_events"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    schema = own_schema()
    if not table_exists("GATEWAY_GRANT_EXPIRY"):
        op.create_table(
            "GATEWAY_GRANT_EXPIRY",
            sa.Column("INVESTIGATIONUSER_ID", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("EXPIRES_AT", sa.DateTime, nullable=False),
            schema=schema,
        )
    if not table_exists("GATEWAY_REVIEWER_LINK"):
        op.create_table(
            "GATEWAY_REVIEWER_LINK",
            sa.Column("ID", _ID, primary_key=True, autoincrement=True),
            sa.Column("TOKEN_HASH", sa.String(64), nullable=False),
            sa.Column("CREATED_BY", sa.String(255), nullable=False),
            sa.Column("CREATED_AT", sa.DateTime, nullable=False),
            sa.Column("EXPIRES_AT", sa.DateTime, nullable=False),
            sa.Column("REVOKED_AT", sa.DateTime),
            sa.Column("REVOKED_BY", sa.String(255)),
            sa.Column("NOTE", sa.String(2000)),
            sa.Column("USE_COUNT", sa.BigInteger, nullable=False),
            sa.Column("LAST_USED_AT", sa.DateTime),
            sa.UniqueConstraint("TOKEN_HASH", name="GATEWAY_RL_TOKEN"),
            schema=schema,
        )
    if not table_exists("GATEWAY_REVIEWER_LINK_ITEM"):
        op.create_table(
            "GATEWAY_REVIEWER_LINK_ITEM",
            sa.Column("ID", _ID, primary_key=True, autoincrement=True),
            sa.Column("LINK_ID", sa.BigInteger, nullable=False),
            sa.Column("INVESTIGATION_ID", sa.BigInteger),
            sa.Column("DATASET_ID", sa.BigInteger),
            schema=schema,
        )
        op.create_index(
            "GATEWAY_RLI_LINK", "GATEWAY_REVIEWER_LINK_ITEM", ["LINK_ID"], schema=schema
        )
        op.create_index(
            "GATEWAY_RLI_INVESTIGATION",
            "GATEWAY_REVIEWER_LINK_ITEM",
            ["INVESTIGATION_ID"],
            schema=schema,
        )


def downgrade() -> None:
    schema = own_schema()
    op.drop_index("GATEWAY_RLI_INVESTIGATION", "GATEWAY_REVIEWER_LINK_ITEM", schema=schema)
    op.drop_index("GATEWAY_RLI_LINK", "GATEWAY_REVIEWER_LINK_ITEM", schema=schema)
    op.drop_table("GATEWAY_REVIEWER_LINK_ITEM", schema=schema)
    op.drop_table("GATEWAY_REVIEWER_LINK", schema=schema)
    op.drop_table("GATEWAY_GRANT_EXPIRY", schema=schema)
