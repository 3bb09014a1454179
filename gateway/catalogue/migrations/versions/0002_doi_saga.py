"""The DOI saga's recorded steps and the DOI mutations' idempotency keys.

(Tables that ``create_all`` made already, in tests, are adopted as they are.)

Revision ID: 0002_doi_saga
Revises: 0001_gateway_base
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import own_schema, table_exists

revision = "0002_doi_saga"
down_revision = "0001_gateway_base"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    schema = own_schema()
    if not table_exists("GATEWAY_DOI_SAGA"):
        _create_saga(schema)
    if not table_exists("GATEWAY_DOI_REQUEST"):
        _create_request(schema)


def _create_saga(schema: str | None) -> None:
    op.create_table(
        "GATEWAY_DOI_SAGA",
        sa.Column("ID", _ID, primary_key=True, autoincrement=True),
        sa.Column("DOI", sa.String(255), nullable=False),
        sa.Column("FACILITY_ID", sa.BigInteger, nullable=False),
        sa.Column("DATACOLLECTION_ID", sa.BigInteger, nullable=False),
        sa.Column("DATAPUBLICATION_ID", sa.BigInteger, nullable=False),
        sa.Column("STEP", sa.String(32), nullable=False),
        sa.Column("GOAL", sa.String(32), nullable=False),
        sa.Column("REQUEST", sa.Text, nullable=False),
        sa.Column("LEASE_OWNER", sa.String(64)),
        sa.Column("LEASE_UNTIL", sa.DateTime),
        sa.Column("REVISION", sa.Integer, nullable=False),
        sa.Column("LAST_ERROR", sa.String(1023)),
        sa.Column("CREATED_BY", sa.String(255), nullable=False),
        sa.Column("CREATED_AT", sa.DateTime, nullable=False),
        sa.Column("UPDATED_AT", sa.DateTime, nullable=False),
        sa.UniqueConstraint("DOI", name="GATEWAY_DOI_SAGA_DOI"),
        sa.UniqueConstraint("DATAPUBLICATION_ID", name="GATEWAY_DOI_SAGA_PUBLICATION"),
        schema=schema,
    )
    op.create_index("GATEWAY_DOI_SAGA_STEP", "GATEWAY_DOI_SAGA", ["STEP"], schema=schema)


def _create_request(schema: str | None) -> None:
    op.create_table(
        "GATEWAY_DOI_REQUEST",
        sa.Column("CALLER", sa.String(255), primary_key=True),
        sa.Column("IDEMPOTENCY_KEY", sa.String(255), primary_key=True),
        sa.Column("OPERATION", sa.String(32), nullable=False),
        sa.Column("DIGEST", sa.String(64), nullable=False),
        sa.Column("SAGA_ID", sa.BigInteger, nullable=False),
        sa.Column("OUTCOME", sa.Text),
        sa.Column("CREATED_AT", sa.DateTime, nullable=False),
        schema=schema,
    )


def downgrade() -> None:
    schema = own_schema()
    op.drop_table("GATEWAY_DOI_REQUEST", schema=schema)
    op.drop_index("GATEWAY_DOI_SAGA_STEP", "GATEWAY_DOI_SAGA", schema=schema)
    op.drop_table("GATEWAY_DOI_SAGA", schema=schema)
