"""A facility for the router tests: its own demo catalogue (SQLite), its gateway under
uvicorn, tokens from a loopback OIDC provider, and facts read from its catalogue by SQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from gateway.catalogue.database import create_engine
from gateway.catalogue.demo import seed_demo
from gateway.settings import Settings
from tests.conftest import DEMO_SIZE
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import GatewayServer


@dataclass
class Facility:
    settings: Settings
    url: str
    """The gateway's GraphQL endpoint."""


async def seeded(
    directory: Path, *, facility: str, seed: int, orcids: dict[str, str], **settings: Any
) -> Settings:
    """A demo catalogue of its own, with ORCID iDs given to some of its people."""
    configured = Settings(
        database_url=f"sqlite+aiosqlite:///{directory / f'{facility.lower()}.sqlite3'}",
        facility=facility,
        graphiql=False,
        **settings,
    )
    await seed_demo(configured, seed=seed, size=DEMO_SIZE, reset=True)
    engine = create_engine(configured)
    try:
        async with engine.begin() as connection:
            for name, orcid in orcids.items():
                await connection.execute(
                    text("UPDATE USER_ SET ORCIDID = :orcid WHERE NAME = :name"),
                    {"orcid": orcid, "name": name},
                )
    finally:
        await engine.dispose()
    return configured


@contextmanager
def serving(settings: Settings, provider: OIDCProvider) -> Iterator[Facility]:
    """The facility's gateway, accepting the provider's tokens."""
    configured = dataclasses.replace(
        settings,
        oidc_issuer=provider.issuer,
        oidc_audience=DEFAULT_AUDIENCE,
        oidc_user_prefix="esrf/",
        federation_sdl=True,  # the routers compose from the running gateways
    )
    with GatewayServer(configured) as server:
        yield Facility(configured, server.base_url + "/graphql")


def token(provider: OIDCProvider, login: str) -> str:
    """A bearer token for ``esrf/<login>``."""
    return provider.mint(provider.claims(preferred_username=login, groups=[]))


async def rows(settings: Settings, sql: str, **parameters: Any) -> list[Any]:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(text(sql), parameters)).all())
    finally:
        await engine.dispose()


async def sessions_of(settings: Settings, user: str, *, released: bool) -> set[str]:
    """The proposals/visits (``MX-1/v1``) of a person's sessions, released or under embargo
    now, by SQL: what the supergraph's answers are checked against."""
    found = await rows(
        settings,
        """SELECT DISTINCT i.NAME, i.VISIT_ID, i.RELEASEDATE FROM INVESTIGATION i
           JOIN INVESTIGATIONUSER iu ON iu.INVESTIGATION_ID = i.ID
           JOIN USER_ u ON u.ID = iu.USER_ID WHERE u.NAME = :user""",
        user=user,
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    return {
        f"{name}/{visit}"
        for name, visit, release in found
        if (release is not None and naive(release) <= now) == released
    }


def naive(value: Any) -> datetime:
    """A database's date as a naive UTC datetime (SQLite hands over text)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=None)
