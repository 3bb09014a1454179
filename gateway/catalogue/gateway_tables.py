"""Tables the gateway owns, kept apart from ICAT's (own metadata, ``GATEWAY_`` prefix).

The gateway never alters ICAT's tables: what it needs to remember that ICAT has no place
for (who changed a release date and why, DOI registrations in progress) lives here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class GatewayBase(DeclarativeBase):
    """Declarative base of the gateway's own tables."""


class ReleaseDateChange(GatewayBase):
    """One change of a session's release date (an embargo extended or shortened)."""

    __tablename__ = "GATEWAY_RELEASE_DATE_CHANGE"

    # SQLite autoincrements only INTEGER PRIMARY KEY columns.
    id: Mapped[int] = mapped_column(
        "ID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    investigation_id: Mapped[int] = mapped_column("INVESTIGATION_ID", BigInteger, nullable=False)
    old_release_date: Mapped[datetime | None] = mapped_column("OLD_RELEASE_DATE", DateTime)
    new_release_date: Mapped[datetime | None] = mapped_column("NEW_RELEASE_DATE", DateTime)
    changed_by: Mapped[str] = mapped_column("CHANGED_BY", String(255), nullable=False)
    reason: Mapped[str] = mapped_column("REASON", String(1023), nullable=False)
    changed_at: Mapped[datetime] = mapped_column("CHANGED_AT", DateTime, nullable=False)

    __table_args__ = (Index("GATEWAY_RDC_INVESTIGATION", "INVESTIGATION_ID"),)


class StoredSecret(GatewayBase):
    """A secret the gateway made for itself and every worker must share (the development
    issuer's signing key): made once by the first process that needs it."""

    __tablename__ = "GATEWAY_SECRET"

    name: Mapped[str] = mapped_column("NAME", String(64), primary_key=True)
    value: Mapped[str] = mapped_column("VALUE", Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column("CREATED_AT", DateTime, nullable=False)
