"""One event log (the transactional outbox), the delivery worker's deliveries, and the
people's notification settings; the access audit trail moves into the log.

Revision ID: 08_h25a_events
Revises: 0007_search_documents
Create Date: 2026-12-06

``GATEWAY_ACCESS_EVENT``'s rows are copied into ``GATEWAY_EVENT`` (as dispatched: they
were never meant to notify anyone) and the old table is dropped: ``accessEvents`` is now
read from the log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import own_schema, table_exists

revision = "08_h25a_events"
down_revision = "0007_search_documents"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    schema = own_schema()
    if not table_exists("GATEWAY_EVENT"):
        _create_events(schema)
        if table_exists("GATEWAY_ACCESS_EVENT"):
            _move_access_events()
    if not table_exists("GATEWAY_DELIVERY"):
        _create_deliveries(schema)
    if not table_exists("GATEWAY_NOTIFICATION_SETTING"):
        op.create_table(
            "GATEWAY_NOTIFICATION_SETTING",
            sa.Column("USER_NAME", sa.String(255), primary_key=True),
            sa.Column("EMAIL", sa.SmallInteger, nullable=False),
            sa.Column("UPDATED_AT", sa.DateTime, nullable=False),
            schema=schema,
        )


def _create_events(schema: str | None) -> None:
    op.create_table(
        "GATEWAY_EVENT",
        sa.Column("ID", _ID, primary_key=True, autoincrement=True),
        sa.Column("TYPE", sa.String(64), nullable=False),
        sa.Column("OCCURRED_AT", sa.DateTime, nullable=False),
        sa.Column("ACTOR", sa.String(255), nullable=False),
        sa.Column("SUBJECT_KIND", sa.String(32), nullable=False),
        sa.Column("SUBJECT_ID", sa.String(255), nullable=False),
        sa.Column("INVESTIGATION_ID", sa.BigInteger),
        sa.Column("PERSON", sa.String(255)),
        sa.Column("REQUEST_ID", sa.BigInteger),
        sa.Column("ROLE", sa.String(255)),
        sa.Column("REASON", sa.String(2000)),
        sa.Column("BEFORE", sa.Text),
        sa.Column("AFTER", sa.Text),
        sa.Column("DISPATCHED_AT", sa.DateTime),
        schema=schema,
    )
    for name, columns in (
        ("GATEWAY_EV_INVESTIGATION", ["INVESTIGATION_ID", "ID"]),
        ("GATEWAY_EV_PERSON", ["PERSON", "ID"]),
        ("GATEWAY_EV_ACTOR", ["ACTOR", "ID"]),
        ("GATEWAY_EV_TYPE", ["TYPE", "ID"]),
        ("GATEWAY_EV_DISPATCH", ["DISPATCHED_AT", "ID"]),
    ):
        op.create_index(name, "GATEWAY_EVENT", columns, schema=schema)


def _move_access_events() -> None:
    """The access audit trail's rows, in their order, as dispatched events."""
    schema = own_schema()
    old = sa.table(
        "GATEWAY_ACCESS_EVENT",
        *(
            sa.column(name)
            for name in ("ID", "AT", "ACTION", "ACTOR", "SUBJECT", "INVESTIGATION_ID")
        ),
        sa.column("REQUEST_ID"),
        sa.column("ROLE"),
        sa.column("REASON"),
        schema=schema,
    )
    names = (
        "TYPE", "OCCURRED_AT", "ACTOR", "SUBJECT_KIND", "SUBJECT_ID", "INVESTIGATION_ID",
        "PERSON", "REQUEST_ID", "ROLE", "REASON", "DISPATCHED_AT",
    )  # fmt: skip
    events = sa.table("GATEWAY_EVENT", *(sa.column(name) for name in names), schema=schema)
    c = old.c
    by_request = c.REQUEST_ID.is_(None)
    rows = sa.select(
        sa.literal("access.") + sa.cast(c.ACTION, sa.String(16)),
        c.AT,
        c.ACTOR,
        sa.case((by_request, "investigation"), else_="access_request"),
        sa.case(
            (by_request, sa.cast(c.INVESTIGATION_ID, sa.String(20))),
            else_=sa.cast(c.REQUEST_ID, sa.String(20)),
        ),
        c.INVESTIGATION_ID,
        c.SUBJECT,
        c.REQUEST_ID,
        c.ROLE,
        c.REASON,
        c.AT,
    ).order_by(c.ID)
    op.execute(sa.insert(events).from_select(list(names), rows))
    for name in ("GATEWAY_AE_ACTOR", "GATEWAY_AE_SUBJECT", "GATEWAY_AE_INVESTIGATION"):
        op.drop_index(name, "GATEWAY_ACCESS_EVENT", schema=schema)
    op.drop_table("GATEWAY_ACCESS_EVENT", schema=schema)


def _create_deliveries(schema: str | None) -> None:
    op.create_table(
        "GATEWAY_DELIVERY",
        sa.Column("ID", _ID, primary_key=True, autoincrement=True),
        sa.Column("EVENT_ID", sa.BigInteger, nullable=False),
        sa.Column("CHANNEL", sa.String(16), nullable=False),
        sa.Column("TARGET", sa.String(255), nullable=False),
        sa.Column("ORDER_KEY", sa.String(320)),
        sa.Column("STATE", sa.String(16), nullable=False),
        sa.Column("ATTEMPTS", sa.Integer, nullable=False),
        sa.Column("NEXT_AT", sa.DateTime, nullable=False),
        sa.Column("LEASE_OWNER", sa.String(64)),
        sa.Column("LEASE_UNTIL", sa.DateTime),
        sa.Column("LAST_STATUS", sa.Integer),
        sa.Column("LAST_ERROR", sa.String(1023)),
        sa.Column("CREATED_AT", sa.DateTime, nullable=False),
        sa.Column("DELIVERED_AT", sa.DateTime),
        schema=schema,
    )
    for name, columns in (
        ("GATEWAY_DLV_DUE", ["STATE", "NEXT_AT"]),
        ("GATEWAY_DLV_ORDER", ["ORDER_KEY", "STATE", "EVENT_ID"]),
        ("GATEWAY_DLV_EVENT", ["EVENT_ID"]),
    ):
        op.create_index(name, "GATEWAY_DELIVERY", columns, schema=schema)


def downgrade() -> None:
    schema = own_schema()
    op.drop_table("GATEWAY_NOTIFICATION_SETTING", schema=schema)
    op.drop_table("GATEWAY_DELIVERY", schema=schema)
    op.drop_table("GATEWAY_EVENT", schema=schema)
