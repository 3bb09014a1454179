"""The catalogue's database engine: one per process, created from settings.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) and MariaDB (asyncmy)
are the production targets. In embedded mode the gateway creates ICAT's schema; in every
mode its own migrations (migrate.py) make its own tables (prefixed ``GATEWAY_``), beside
ICAT's or in a schema of their own; it writes ICAT's tables only through its mutations.
"""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import sys
import time
import weakref
from contextvars import ContextVar
from typing import Any

import greenlet
import orjson
from sqlalchemy import Column, Connection, MetaData, String, Table, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_only

from gateway.catalogue.gateway_tables import OWN_SCHEMA, VERSION_TABLE, GatewayBase, translate_map
from gateway.catalogue.icat_check import IcatSchemaError, check_icat_schema
from gateway.catalogue.indexes import create_gateway_indexes
from gateway.catalogue.models import IcatBase
from gateway.catalogue.names import names_of, spell_on_connect
from gateway.catalogue.search_documents import drop_fts_table, forget_index_states
from gateway.catalogue.sequence import NoIdScheme, id_allocation
from gateway.settings import Settings

STATEMENT_DEADLINE: ContextVar[float | None] = ContextVar("statement_deadline", default=None)
"""The ``time.monotonic()`` by which the current request's statements must end (set by
the request gate; SQLite's progress handler reads it)."""

_DEADLINE = "gateway_deadline"

SQLITE_BUSY_SECONDS = 30
"""How long a SQLite connection waits for another's write lock before it gives up."""


def create_engine(
    settings: Settings, *, statement_timeout: float | None = None, **options: Any
) -> AsyncEngine:
    """The async engine for the configured catalogue, tuned per dialect.

    ``statement_timeout`` (seconds) bounds every statement of the engine on the server:
    ``statement_timeout`` on PostgreSQL, ``max_statement_time`` on MariaDB
    (``max_execution_time`` on MySQL), a progress handler on SQLite that interrupts a
    statement past the request's deadline (:data:`STATEMENT_DEADLINE`, else the timeout
    from the statement's start).
    """
    url = make_url(settings.database_url)
    kwargs: dict[str, Any] = {
        "pool_pre_ping": settings.database_pre_ping,
        # JSON the database renders (gateway.compiled) is decoded by orjson, not json.
        "json_deserializer": orjson.loads,
        # The gateway's own tables name a placeholder schema: the configured one, or none.
        "execution_options": {"schema_translate_map": translate_map(settings.gateway_schema)},
    }
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise ValueError("an in-memory SQLite catalogue is not shared between connections")
        # A pool of connections, each opened once (its aiosqlite thread and its PRAGMAs
        # paid once): in WAL, any number of them read while one writes. Writers queue on
        # SQLite's own lock (BEGIN IMMEDIATE, below) for up to ``timeout`` seconds.
        kwargs["poolclass"] = AsyncAdaptedQueuePool
        kwargs["pool_size"] = settings.database_pool_size
        kwargs["max_overflow"] = settings.database_max_overflow
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS}
    else:
        kwargs["pool_size"] = settings.database_pool_size
        kwargs["max_overflow"] = settings.database_max_overflow
        kwargs["pool_recycle"] = 1800
    if statement_timeout is not None and url.get_backend_name() == "postgresql":
        server_settings = {"statement_timeout": str(max(1, round(statement_timeout * 1000)))}
        kwargs["connect_args"] = {"server_settings": server_settings}
    kwargs.update(options)
    engine = create_async_engine(url, **kwargs)
    # ICAT's names as this database spells them, read when the engine first connects.
    spell_on_connect(engine, settings.icat_names)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "before_cursor_execute", _SqliteWriters().begin)
        event.listen(engine.sync_engine, "connect", sqlite_functions)
    if statement_timeout is not None:
        _bound_statements(engine, url.get_backend_name(), statement_timeout)
    return engine


def _bound_statements(engine: AsyncEngine, backend: str, timeout: float) -> None:
    if backend == "mysql":

        def session_limit(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"SET SESSION max_statement_time = {timeout:.3f}")
            except Exception:  # MySQL: its own name, in milliseconds, for SELECTs
                cursor.execute(f"SET SESSION max_execution_time = {round(timeout * 1000)}")
            cursor.close()

        event.listen(engine.sync_engine, "connect", session_limit)
    elif backend == "sqlite":

        def progress_handler(dbapi_connection: Any, record: Any) -> None:
            deadline: list[float] = [0.0]
            record.info[_DEADLINE] = deadline

            def interrupt() -> int:
                return 1 if deadline[0] and time.monotonic() > deadline[0] else 0

            await_only(dbapi_connection._connection.set_progress_handler(interrupt, 10_000))

        def deadline(conn: Any, *_: Any) -> None:
            holder = conn.connection.info.get(_DEADLINE)
            if holder is not None:
                holder[0] = STATEMENT_DEADLINE.get() or time.monotonic() + timeout

        event.listen(engine.sync_engine, "connect", progress_handler)
        event.listen(engine.sync_engine, "before_cursor_execute", deadline)


def is_statement_timeout(error: BaseException) -> bool:
    """Whether a database error is a statement cancelled by its time limit."""
    if not isinstance(error, exc.DBAPIError):
        return False
    text = f"{type(error.orig).__name__} {error.orig}".lower()
    return (
        "querycancelederror" in text  # PostgreSQL: statement_timeout, or a cancel request
        or "max_statement_time" in text  # MariaDB: 1969
        or "max_execution_time" in text  # MySQL: 3024
        or "interrupted" in text  # SQLite's progress handler
    )


def is_deadlock(error: BaseException) -> bool:
    """Whether a database error is this transaction chosen as a deadlock's victim and
    rolled back, to be run again: MariaDB's and MySQL's 1213 (two transactions that each
    locked the gap where a missing row goes, then insert it), PostgreSQL's 40P01."""
    if not isinstance(error, exc.DBAPIError):
        return False
    orig = error.orig
    if getattr(orig, "sqlstate", None) == "40P01":  # asyncpg
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] == 1213


def is_database_unavailable(error: BaseException) -> bool:
    """Whether an error says the database cannot be reached or used right now (a refused
    or dropped connection, a pool with no connection to give): the client should retry
    later, nothing is wrong with its request. Not a statement timeout (its own answer)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, exc.TimeoutError):
            return True  # QueuePool: no connection within pool_timeout
        if isinstance(current, exc.DBAPIError):
            if is_statement_timeout(current):
                return False
            if current.connection_invalidated or isinstance(current, exc.InterfaceError):
                return True
            if isinstance(current, exc.OperationalError):
                # Only a connection's failure: "no such table" is an OperationalError too.
                said = f"{type(current.orig).__name__} {current.orig}".lower()
                if any(word in said for word in _CONNECTION_WORDS):
                    return True
        if isinstance(current, ConnectionError | OSError) and not isinstance(
            current, FileNotFoundError | PermissionError
        ):
            return True
        name = type(current).__name__
        if name in _UNAVAILABLE_DRIVER_ERRORS:
            return True
        current = current.__cause__ or current.__context__
    return False


_CONNECTION_WORDS = (
    "connect",  # can't connect, connection refused / reset / closed / lost
    "gone away",  # MySQL server has gone away
    "lost",
    "shutdown",
    "database is locked",  # SQLite: a writer held the lock past the busy timeout
)

_UNAVAILABLE_DRIVER_ERRORS = frozenset(
    {
        # asyncpg
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionFailureError",
        "TooManyConnectionsError",
        "AdminShutdownError",
        "CrashShutdownError",
        "InterfaceError",
    }
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver opens no transaction by itself (it would BEGIN DEFERRED before the first
    # write, too late to wait for the lock): the engine's "begin" says how.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while a mutation writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class _SqliteWriters:
    """Takes SQLite's write lock for a transaction at its first write, and remembers who
    holds it, so that a writer that waits it out can say who did.

    A transaction takes the lock with ``BEGIN IMMEDIATE``, waiting for it up to the busy
    timeout, and reads never take it. The driver opens no transaction itself
    (``_sqlite_pragmas``); reads before a transaction's first write run outside it, as the
    driver has always run them, so a connection that only reads, for as long as it is
    held, never blocks a writer. A transaction begun by reading (``BEGIN DEFERRED``) would
    upgrade to a writer at its first write, and SQLite refuses that at once ("database is
    locked", SQLITE_BUSY_SNAPSHOT: no busy timeout helps) when another connection
    committed since its read; begun at the write, the lock is waited for and every writer
    runs alone. Connections in autocommit (the read pool) begin nothing.

    The ``BEGIN IMMEDIATE`` runs in a ``before_cursor_execute`` listener, outside the
    statement's own error handling: a lock waited out there is raised as the
    ``OperationalError`` SQLAlchemy would have raised (``is_database_unavailable`` knows
    it), naming the engine's transactions that held the lock meanwhile (task, where it
    took the lock, since when).
    """

    def __init__(self) -> None:
        # aiosqlite connection -> (monotonic time, who) of its BEGIN IMMEDIATE; an entry
        # whose connection is out of its transaction again is stale, and ignored.
        self._holders: weakref.WeakKeyDictionary[Any, tuple[float, str]] = (
            weakref.WeakKeyDictionary()
        )

    def begin(
        self, connection: Connection, cursor: Any, statement: str, *_: Any
    ) -> tuple[str, Any] | None:
        # aiosqlite's connection, under SQLAlchemy's adapter: is a transaction open?
        driver = getattr(connection.connection.dbapi_connection, "_connection", None)
        if (
            driver is None
            or driver.in_transaction
            or connection._is_autocommit_isolation()
            or not statement.lstrip()[:7].upper().startswith(_WRITES)
        ):
            return None
        started = time.monotonic()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise exc.OperationalError(
                f"BEGIN IMMEDIATE (waited {time.monotonic() - started:.1f} s; "
                f"{self._held_by(driver)}) before: {statement.lstrip()[:80]}",
                None,
                error,
            ) from error
        self._holders[driver] = (time.monotonic(), _writer())
        return None

    def _held_by(self, waiting: Any) -> str:
        now = time.monotonic()
        held = [
            f"{who}, for {now - since:.1f} s"
            for driver, (since, who) in list(self._holders.items())
            if driver is not waiting and _in_transaction(driver)
        ]
        if not held:
            return "held by no transaction of this engine: another engine or process"
        return "held by " + "; ".join(held)


def _in_transaction(driver: Any) -> bool:
    try:
        return bool(driver.in_transaction)
    except ValueError:  # closed meanwhile
        return False


_NOT_THE_WRITER = ("/sqlalchemy/", "/asyncio/", "/greenlet/", "/contextlib.py", __file__)


def _writer() -> str:
    """The task and the gateway's code that take the write lock (for the message of a
    writer that waits it out)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    # The statement runs in SQLAlchemy's greenlet; its caller's frames are those of the
    # greenlet it was spawned from (the task's coroutines).
    spawned_from = greenlet.getcurrent().parent
    frame: Any = spawned_from.gr_frame if spawned_from is not None else sys._getframe(2)
    where = "?"
    while frame is not None:
        name = frame.f_code.co_filename
        if not any(part in name for part in _NOT_THE_WRITER):
            where = f"{name.rpartition('/')[2]}:{frame.f_lineno} {frame.f_code.co_name}"
            break
        frame = frame.f_back
    return f"task {task.get_name() if task else '-'} at {where}"


SQLITE_BASE64 = "gw_base64"
SQLITE_FLOAT = "gw_float"


def _base64(text: str | None) -> str | None:
    return None if text is None else base64.b64encode(text.encode()).decode()


def _float(value: float | None) -> str | None:
    return None if value is None else orjson.dumps(float(value)).decode()


def sqlite_functions(dbapi_connection: Any, _record: Any = None) -> None:
    """Functions SQLite lacks that the compiled renderer needs (``gateway.compiled``):
    base64 (global ids) and a float written as the response's JSON writes it (SQLite's
    own JSON keeps 15 digits)."""
    dbapi_connection.create_function(SQLITE_BASE64, 1, _base64, deterministic=True)
    dbapi_connection.create_function(SQLITE_FLOAT, 1, _float, deterministic=True)


async def create_icat_schema(engine: AsyncEngine) -> None:
    """Embedded mode: create ICAT's tables and the gateway's indexes on them, if missing."""
    async with engine.begin() as conn:
        await conn.run_sync(IcatBase.metadata.create_all)
        await conn.run_sync(create_gateway_indexes)
    # Every table is the gateway's own making now: none lacks (what the first connection
    # read of the database's catalogue may have been before they existed).
    names_of(engine.sync_engine.dialect).present = None


async def create_schema(engine: AsyncEngine, *, embedded: bool, writes: bool = True) -> None:
    """Create ICAT's tables and the gateway's indexes on them (embedded mode only), and
    migrate the gateway's own tables to the newest revision.

    Outside embedded mode nothing is created in ICAT's schema: its tables and columns are
    checked against what the gateway reads, and, unless the gateway is read-only, that it
    allocates ids in a way the gateway can share (:mod:`gateway.catalogue.sequence`); a
    shortfall stops the start with one message (:class:`IcatSchemaError`).
    """
    if embedded:
        await create_icat_schema(engine)
    else:
        await check_icat_schema(engine)
        if writes:
            async with engine.connect() as conn:
                try:
                    await id_allocation(conn)
                except NoIdScheme as error:
                    raise IcatSchemaError(str(error)) from None
    from gateway.catalogue.migrate import upgrade  # Alembic: loaded by those who migrate

    await upgrade(engine)


async def drop_schema(engine: AsyncEngine) -> None:
    """Drop every table the gateway may have created (tests and `demo --reset`)."""
    await drop_gateway_tables(engine)
    async with engine.begin() as conn:
        await conn.run_sync(IcatBase.metadata.drop_all)


async def drop_gateway_tables(engine: AsyncEngine) -> None:
    """Drop the gateway's own tables and its migrations' record of them."""
    async with engine.begin() as conn:
        await conn.run_sync(GatewayBase.metadata.drop_all)
        await conn.run_sync(drop_fts_table)
        await conn.run_sync(_drop_version_table)
    forget_index_states()


def _drop_version_table(connection: Connection) -> None:
    # The placeholder schema is translated by the connection, like the models'.
    version = Table(VERSION_TABLE, MetaData(schema=OWN_SCHEMA), Column("version_num", String(32)))
    version.drop(connection, checkfirst=True)
