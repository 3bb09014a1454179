"""Downloads: the record of every prepared download (who, what, when, how big, where).

Revision ID: 0005_downloads
Revises: 0004_access_requests
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import own_schema, table_exists

revision = "0005_downloads"
down_revision = "0004_access_requests"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    schema = own_schema()
    if table_exists("GATEWAY_DOWNLOAD"):
        return
    op.create_table(
        "GATEWAY_DOWNLOAD",
        sa.Column("ID", _ID, primary_key=True, autoincrement=True),
        sa.Column("CREATED_AT", sa.DateTime, nullable=False),
        sa.Column("CALLER", sa.String(255), nullable=False),
        sa.Column("USER_NAME", sa.String(255)),
        sa.Column("NAME", sa.String(255), nullable=False),
        sa.Column("BACKEND", sa.String(8), nullable=False),
        sa.Column("DATASET_IDS", sa.Text, nullable=False),
        sa.Column("DATAFILE_IDS", sa.Text, nullable=False),
        sa.Column("FILE_COUNT", sa.Integer, nullable=False),
        sa.Column("SIZE", sa.BigInteger, nullable=False),
        sa.Column("PREPARED_ID", sa.String(64)),
        sa.Column("EXPIRES_AT", sa.DateTime),
        sa.Column("FETCHED_AT", sa.DateTime),
        schema=schema,
    )
    op.create_index(
        "GATEWAY_DL_CALLER", "GATEWAY_DOWNLOAD", ["CALLER", "CREATED_AT"], schema=schema
    )
    op.create_index("GATEWAY_DL_CREATED", "GATEWAY_DOWNLOAD", ["CREATED_AT"], schema=schema)


def downgrade() -> None:
    schema = own_schema()
    op.drop_index("GATEWAY_DL_CREATED", "GATEWAY_DOWNLOAD", schema=schema)
    op.drop_index("GATEWAY_DL_CALLER", "GATEWAY_DOWNLOAD", schema=schema)
    op.drop_table("GATEWAY_DOWNLOAD", schema=schema)
