"""Shared fixtures: a demo catalogue on each database that answers, and a GraphQL client.

Databases: SQLite always; PostgreSQL and MariaDB when reachable (skipped with a reason
otherwise, or a failure when ICAT_GATEWAY_TEST_REQUIRE_ALL is set, as in CI).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import gc
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from gateway.app import now_utc
from gateway.auth.policy import Caller
from gateway.catalogue.database import create_engine, drop_schema
from gateway.catalogue.demo import DemoSize, seed_demo
from gateway.catalogue.visibility import Access
from gateway.resolvers.context import RequestContext
from gateway.schema.build import create_schema
from gateway.settings import Settings
from tests.support.server import TEST_MAX_OVERFLOW, TEST_POOL_SIZE

GIVEN_URLS = {
    "postgresql": os.environ.get(
        "ICAT_GATEWAY_TEST_POSTGRESQL_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get(
        "ICAT_GATEWAY_TEST_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306/test"
    ),
}
# pytest-xdist runs the suite on several workers (scripts/test: -n 2): the first keeps the
# given databases, each other works in a database of its own named after it (``test_gw1``),
# made at its first use, since the tests drop and recreate the tables of theirs.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def _for_this_worker(url: str) -> str:
    if url == "off" or WORKER == "gw0":
        return url
    given = make_url(url)
    return given.set(database=f"{given.database}_{WORKER}").render_as_string(hide_password=False)


SERVER_URLS = {backend: _for_this_worker(url) for backend, url in GIVEN_URLS.items()}
REQUIRE_ALL = os.environ.get("ICAT_GATEWAY_TEST_REQUIRE_ALL") == "1"
DEMO_SEED = 7
DEMO_SIZE = DemoSize.for_sessions(60, datasets_per_session=4, files_per_dataset=3)
STAFF = "esrf/staff1"


def team_names(session: Mapping[str, Any]) -> set[str]:
    """The user names on a session's team as a query's `team(first: 10) { totalCount
    nodes { user { name } } }` answered it, the page holding the whole team (the demo's
    largest holds 8). Lists of every session ask 10 of each team over HTTP: a default page
    (50) of each of 1000 sessions' teams would cost more than the gate allows."""
    team = session["team"]
    assert team["totalCount"] == len(team["nodes"]), team["totalCount"]
    return {member["user"]["name"] for member in team["nodes"]}


async def create_worker_database(url: str) -> None:
    """Make a worker's own database where it is missing, through the given one."""
    backend = "postgresql" if url.startswith("postgresql") else "mariadb"
    given = GIVEN_URLS[backend]
    if url == given:
        return
    name = make_url(url).database
    engine = create_async_engine(given, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            if backend == "mariadb":
                await connection.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}`"))
            elif not await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ):
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


def _reachable(url: str) -> str | None:
    """None if a server answers at the URL, else why not."""

    async def probe() -> None:
        await create_worker_database(url)
        engine = create_engine(Settings(database_url=url))
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()

    try:
        # In a thread of its own: the fixture may be first asked for under a running loop
        # (Playwright's), where asyncio.run cannot start another.
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, asyncio.wait_for(probe(), timeout=5)).result()
    except Exception as error:
        return f"{type(error).__name__}: {error}".splitlines()[0][:200]
    return None


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A test that runs the CLI configures the process's logging as a deployment's
    (``gateway.ops.request_log.configure_logging``); the next test gets pytest's back."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.fixture(scope="session", params=["sqlite", "postgresql", "mariadb"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a scratch catalogue on each backend."""
    backend = request.param
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('catalogue') / 'test.sqlite3'}"
    url = SERVER_URLS[backend]
    if url == "off":
        pytest.skip(f"{backend}: switched off")
    problem = _reachable(url)
    if problem is not None:
        if REQUIRE_ALL:
            pytest.fail(f"{backend} unreachable at {url}: {problem}")
        pytest.skip(f"{backend} unreachable at {url}: {problem}")
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        staff_users=frozenset({STAFF}),
        graphiql=True,
        database_pool_size=TEST_POOL_SIZE,
        database_max_overflow=TEST_MAX_OVERFLOW,
    )


@dataclass
class StatementCounter:
    """Counts the SQL statements an engine runs (the no-N+1 tests read it)."""

    statements: list[str] = field(default_factory=list)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture(scope="session")
async def catalogue(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The demo catalogue (seeded once per backend) behind a fresh engine."""
    await seed_demo(settings, seed=DEMO_SEED, size=DEMO_SIZE, reset=True)
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def statement_counter(catalogue: AsyncEngine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(catalogue.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(catalogue.sync_engine, "before_cursor_execute", counter)


@pytest.fixture(scope="session")
def schema() -> Any:
    return create_schema()


@dataclass
class Client:
    """Runs GraphQL operations in-process as a given caller (no HTTP)."""

    engine: AsyncEngine
    settings: Settings
    schema: Any

    def using(self, **settings: Any) -> Client:
        """The same client with some settings changed (``compiled_sql=False``...)."""
        return Client(self.engine, dataclasses.replace(self.settings, **settings), self.schema)

    @contextlib.contextmanager
    def own_loop(self) -> Iterator[tuple[asyncio.AbstractEventLoop, Client]]:
        """A new event loop and this client on an engine of that loop's own, for tests that
        hypothesis drives synchronously (a server's pool belongs to the session's loop)."""
        loop = asyncio.new_event_loop()
        engine = create_engine(self.settings)
        try:
            yield loop, Client(engine, self.settings, self.schema)
        finally:
            # Let batches that errors left scheduled finish before the loop goes, and the
            # batches those start in turn (a shielded loader's batch outlives its caller).
            async def drain() -> None:
                while pending := asyncio.all_tasks(loop) - {asyncio.current_task()}:
                    await asyncio.gather(*pending, return_exceptions=True)

            loop.run_until_complete(drain())
            loop.run_until_complete(engine.dispose())
            # Connections dropped without being returned are closed when collected; their
            # driver threads answer on this loop, so it must still be running then.
            gc.collect()
            loop.run_until_complete(asyncio.sleep(0.05))
            loop.close()

    async def access(self, user_name: str | Caller | None, now: datetime | None = None) -> Access:
        """The access of a user name (staff by the settings), or of a policy caller as
        given (a reviewer link's: ``Caller(reviewer_link=...)``)."""
        if isinstance(user_name, Caller):
            return Access(caller=user_name, now=now or now_utc())
        caller = Caller(user_name=user_name, is_staff=user_name in self.settings.staff_users)
        return Access(caller=caller, now=now or now_utc())

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        user: str | Caller | None = None,
    ) -> Any:
        context = RequestContext(
            engine=self.engine, settings=self.settings, access=await self.access(user)
        )
        return await self.schema.execute(query, variable_values=variables, context_value=context)

    async def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        user: str | Caller | None = None,
    ) -> Any:
        """The data of an operation that must succeed without errors."""
        result = await self.execute(query, variables, user=user)
        assert result.errors is None, result.errors
        return result.data


@pytest.fixture(scope="session")
def client(catalogue: AsyncEngine, settings: Settings, schema: Any) -> Client:
    return Client(catalogue, settings, schema)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings of an empty SQLite catalogue of a test's own."""
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'own.sqlite3'}")


async def reset(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await drop_schema(engine)
    finally:
        await engine.dispose()


REDIS_URL = os.environ.get("ICAT_GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class RedisScratch:
    """A Redis database and a key prefix of one test's own (its keys are deleted after)."""

    url: str
    prefix: str


def _redis_problem(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError) as error:
        return f"{type(error).__name__}: {error}"[:200]
    return None


@contextlib.contextmanager
def redis_prefix() -> Iterator[RedisScratch]:
    """A fresh key prefix in Redis at ICAT_GATEWAY_TEST_REDIS_URL, its keys deleted after;
    skipped (failed in CI) when no Redis answers."""
    import uuid

    import redis

    if REDIS_URL == "off":
        pytest.skip("redis: switched off")
    problem = _redis_problem(REDIS_URL)
    if problem is not None:
        if REQUIRE_ALL:
            pytest.fail(f"redis unreachable at {REDIS_URL}: {problem}")
        pytest.skip(f"redis unreachable at {REDIS_URL}: {problem}")
    scratch = RedisScratch(REDIS_URL, f"icat-gateway-test-{uuid.uuid4().hex[:12]}:")
    try:
        yield scratch
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=scratch.prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def redis_scratch() -> Iterator[RedisScratch]:
    """A Redis key prefix of the test's own (see ``redis_prefix``)."""
    with redis_prefix() as scratch:
        yield scratch


def pytest_configure(config: pytest.Config) -> None:
    """The garbage collector's first generation is collected every 50,000 allocations
    instead of 700: the suite builds answers of several megabytes (the sentinel test's
    full selections: about 9 MB and 400,000 live objects each), during which CPython's
    default thresholds ran some 1,400 collections per answer and the survivors' growth kept
    triggering full ones. Measured on the SQLite part of ``test_sentinel_leaks``'s full
    selections: 167 s of CPU with the defaults, 109 s with this; older generations keep
    their defaults, so cyclic garbage (engines, loops) is still freed as it was."""
    gc.set_threshold(50_000, 10, 10)
