"""The delivery worker: turns the outbox's new events into deliveries (the e-mails and
webhook calls each one owes) and makes the deliveries that are due, with retries and
backoff. It runs in every gateway process (started by the application's lifespan);
replicas share the work through the database (``gateway.catalogue.deliveries``): each
event is dispatched once and each delivery is made by the one worker that claimed it,
and only marked delivered after it went out, so a mail server that is down delays
messages and loses none.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.policy import AccessRules
from gateway.catalogue import deliveries as store
from gateway.catalogue.deliveries import EMAIL, WEBHOOK, NewDelivery
from gateway.catalogue.models import Investigation
from gateway.notify.mail import Mailer, MailRefused, MailUnavailable
from gateway.notify.messages import SUBJECTS, Letterhead, compose
from gateway.notify.subscriptions import Subscription
from gateway.notify.webhooks import WebhookRefused, WebhookSender, WebhookUnavailable, cloud_event

log = logging.getLogger(__name__)

BATCH = 50
"""Events dispatched, and deliveries claimed, per look at the outbox."""

MAX_BACKOFF = 3600.0


@dataclass(frozen=True)
class WorkerConfig:
    poll_interval: float
    backoff: float
    max_attempts: int
    lease: timedelta
    rules: AccessRules
    letterhead: Letterhead
    source: str
    """The CloudEvents ``source`` of this gateway's events."""


class DeliveryWorker:
    """One process's worker; ``tick`` does one round, ``run`` repeats it until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        config: WorkerConfig,
        *,
        mailer: Mailer | None,
        webhooks: WebhookSender | None,
        subscriptions: tuple[Subscription, ...],
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.config = config
        self.mailer = mailer
        self.webhooks = webhooks
        self.subscriptions = {s.id: s for s in subscriptions}
        self.clock = clock
        self.owner = f"worker-{uuid.uuid4().hex[:12]}"

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database outage: try again at the next tick
                log.warning("the delivery worker's round failed", exc_info=True)
            await asyncio.sleep(self.config.poll_interval)

    async def tick(self) -> int:
        """Dispatch new events, then make the deliveries that are due; how many were tried.
        Another round follows at once only while rounds come back full (a failed delivery
        is not due again before its backoff)."""
        while await self.dispatch() == BATCH:
            pass
        tried = 0
        while True:
            done = await self.deliver_due()
            tried += done
            if done < BATCH:
                return tried

    # -- dispatch ----------------------------------------------------------------------

    async def dispatch(self) -> int:
        """Turn up to a batch of new events into their deliveries; how many events."""
        count = 0
        async with self.engine.begin() as connection:
            events = await store.undispatched(connection, BATCH)
            now = self.clock()
            for event in events:
                if not await store.claim_event(connection, event.id, now):
                    continue  # another replica's
                targets = await self._deliveries_of(connection, event)
                await store.add_deliveries(connection, event.id, targets, now)
                count += 1
        return count

    async def _deliveries_of(self, connection: Any, event: Any) -> list[NewDelivery]:
        found: list[NewDelivery] = []
        if self.mailer is not None and event.type in SUBJECTS:
            for address in await self._recipients(connection, event):
                found.append(NewDelivery(EMAIL, address))
        if self.webhooks is not None:
            for subscription in self.subscriptions.values():
                if subscription.wants(event.type):
                    key = f"{subscription.id}|{event.subject_kind}:{event.subject_id}"
                    found.append(NewDelivery(WEBHOOK, subscription.id, key[:320]))
        return found

    async def _recipients(self, connection: Any, event: Any) -> list[str]:
        """Who is told by e-mail: the deciders of a new request, the requester of a
        decision, the grantee of a grant (not one that answers a request: the decision's
        message says it) or revocation, the team of a published DOI's session or of a
        session whose release date changed or comes soon."""
        kind, session = event.type, event.investigation_id
        if kind == "access.request" and session is not None:
            return await store.decider_addresses(connection, session, self.config.rules)
        if kind in ("access.approve", "access.decline", "access.revoke") and event.person:
            return await store.person_addresses(connection, event.person)
        if kind == "access.grant" and event.person and event.request_id is None:
            return await store.person_addresses(connection, event.person)
        if kind in ("doi.publish", "release_date.change", "release_date.reminder") and session:
            return await store.team_addresses(connection, session)
        return []

    # -- delivery ------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Claim up to a batch of due deliveries and make them; how many were tried."""
        now = self.clock()
        claimed: list[int] = []
        async with self.engine.begin() as connection:
            for delivery_id in await store.due(connection, now, BATCH):
                if await store.claim_delivery(
                    connection, delivery_id, self.owner, now, self.config.lease
                ):
                    claimed.append(delivery_id)
        # One subject's webhook deliveries in event order, the rest side by side.
        for delivery_id in claimed:
            await self._deliver(delivery_id)
        return len(claimed)

    async def _deliver(self, delivery_id: int) -> None:
        async with self.engine.connect() as connection:
            row = await store.delivery_with_event(connection, delivery_id)
            session = None
            if row.investigation_id is not None:
                session = (
                    await connection.execute(
                        select(
                            Investigation.name.label("name"), Investigation.title.label("title")
                        ).where(Investigation.id == row.investigation_id)
                    )
                ).first()
        status: int | None = None
        error: str | None = None
        retry = True
        try:
            if row.delivery_channel == EMAIL:
                assert self.mailer is not None
                message = compose(row, row.delivery_target, self.config.letterhead, session)
                await self.mailer.send(message)
            else:
                status = await self._post(row)
        except (MailUnavailable, WebhookUnavailable) as failure:
            error = str(failure)
            status = getattr(failure, "status", None)
        except (MailRefused, WebhookRefused, LookupError) as failure:
            error, retry = str(failure), False
            status = getattr(failure, "status", None)
        except Exception as failure:  # a bug must not hold the lease: tried again later
            log.exception("delivery %s could not be made", delivery_id)
            error = f"{type(failure).__name__}: {failure}"
        now = self.clock()
        attempts = int(row.delivery_attempts) + 1
        retry_at = None
        if error is not None and retry and attempts < self.config.max_attempts:
            delay = min(self.config.backoff * 2 ** (attempts - 1), MAX_BACKOFF)
            retry_at = now + timedelta(seconds=delay)
        if error is not None:
            log.warning(
                "delivery %s (%s to %s) failed, try %s: %s",
                delivery_id,
                row.delivery_channel,
                row.delivery_target,
                attempts,
                error,
            )
        async with self.engine.begin() as connection:
            await store.settle(
                connection,
                delivery_id,
                self.owner,
                now,
                delivered=error is None,
                status=status,
                error=error,
                retry_at=retry_at,
            )

    async def _post(self, row: Any) -> int:
        subscription = self.subscriptions.get(row.delivery_target)
        if subscription is None or self.webhooks is None:
            raise LookupError(f"no webhook subscription {row.delivery_target} any more")
        return await self.webhooks.send(subscription, cloud_event(row, self.config.source))
