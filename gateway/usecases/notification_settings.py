"""A person's notification settings (``setNotificationSettings``): e-mails on or off."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.policy import Caller
from gateway.catalogue.deliveries import set_email_enabled
from gateway.errors import Unauthenticated


async def change_notification_settings(
    engine: AsyncEngine, caller: Caller, *, email: bool, now: datetime
) -> None:
    """Store the caller's choice (the last of concurrent changes wins)."""
    name = caller.user_name
    if name is None:
        raise Unauthenticated("Log in to change your notification settings.")
    for attempt in range(2):
        try:
            async with engine.begin() as connection:
                await set_email_enabled(connection, name, email, now)
            return
        except IntegrityError:
            if attempt:  # a concurrent change inserted the row between our two statements
                raise
