"""Access requests and the audit trail of access (grants, revocations, requests, decisions).

Revision ID: 0004_access_requests
Revises: 0003_local_registrar
Create Date: 2026-12-01

Tables the models already made (``create_all`` in an older test set-up) are adopted as
they are, as in 0001.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import own_schema, table_exists

revision = "0004_access_requests"
down_revision = "0003_local_registrar"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    schema = own_schema()
    if not table_exists("GATEWAY_ACCESS_REQUEST"):
        _create_requests(schema)
    if not table_exists("GATEWAY_ACCESS_EVENT"):
        _create_events(schema)


def _create_requests(schema: str | None) -> None:
    op.create_table(
        "GATEWAY_ACCESS_REQUEST",
        sa.Column("ID", _ID, primary_key=True, autoincrement=True),
        sa.Column("INVESTIGATION_ID", sa.BigInteger, nullable=False),
        sa.Column("REQUESTER", sa.String(255), nullable=False),
        sa.Column("REQUESTER_ID", sa.BigInteger, nullable=False),
        sa.Column("MESSAGE", sa.String(2000)),
        sa.Column("STATE", sa.String(16), nullable=False),
        sa.Column("PENDING", sa.SmallInteger),
        sa.Column("CREATED_AT", sa.DateTime, nullable=False),
        sa.Column("DECIDED_BY", sa.String(255)),
        sa.Column("DECIDED_AT", sa.DateTime),
        sa.Column("REPLY", sa.String(2000)),
        sa.UniqueConstraint(
            "REQUESTER_ID", "INVESTIGATION_ID", "PENDING", name="GATEWAY_AR_ONE_PENDING"
        ),
        schema=schema,
    )
    op.create_index(
        "GATEWAY_AR_INVESTIGATION",
        "GATEWAY_ACCESS_REQUEST",
        ["INVESTIGATION_ID", "PENDING"],
        schema=schema,
    )


def _create_events(schema: str | None) -> None:
    op.create_table(
        "GATEWAY_ACCESS_EVENT",
        sa.Column("ID", _ID, primary_key=True, autoincrement=True),
        sa.Column("AT", sa.DateTime, nullable=False),
        sa.Column("ACTION", sa.String(16), nullable=False),
        sa.Column("ACTOR", sa.String(255), nullable=False),
        sa.Column("SUBJECT", sa.String(255), nullable=False),
        sa.Column("INVESTIGATION_ID", sa.BigInteger, nullable=False),
        sa.Column("REQUEST_ID", sa.BigInteger),
        sa.Column("ROLE", sa.String(255)),
        sa.Column("REASON", sa.String(2000)),
        schema=schema,
    )
    for name, columns in (
        ("GATEWAY_AE_INVESTIGATION", ["INVESTIGATION_ID", "ID"]),
        ("GATEWAY_AE_SUBJECT", ["SUBJECT", "ID"]),
        ("GATEWAY_AE_ACTOR", ["ACTOR", "ID"]),
    ):
        op.create_index(name, "GATEWAY_ACCESS_EVENT", columns, schema=schema)


def downgrade() -> None:
    schema = own_schema()
    for name in ("GATEWAY_AE_ACTOR", "GATEWAY_AE_SUBJECT", "GATEWAY_AE_INVESTIGATION"):
        op.drop_index(name, "GATEWAY_ACCESS_EVENT", schema=schema)
    op.drop_table("GATEWAY_ACCESS_EVENT", schema=schema)
    op.drop_index("GATEWAY_AR_INVESTIGATION", "GATEWAY_ACCESS_REQUEST", schema=schema)
    op.drop_table("GATEWAY_ACCESS_REQUEST", schema=schema)
