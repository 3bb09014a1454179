"""The search documents: a session's words in the gateway's own table, indexed per database.

Free text reaches a session's title, proposal, visit, beamlines and DOI (its landing
facts) and its summary, keywords, samples' and datasets' names (its data); those live in
six of ICAT's tables, and a real ICAT's schema is not the gateway's to index. So the words
are copied, one row per session, into ``GATEWAY_SEARCH_DOCUMENT`` (the gateway's own
table), which each database indexes its own way (made by the migrations): PostgreSQL's
full text (a stored ``tsvector`` column beside each text, GIN over it, ``STORED_VECTORS``)
and trigrams (``pg_trgm``),
MariaDB's InnoDB ``FULLTEXT``, SQLite's FTS5 (kept in step by triggers on the gateway's
table). Who may read what is decided when searching (``gateway.catalogue.text_search``),
never stored: a release date that passes changes nothing here.

Keeping them current: the demo and ``icat-gateway ingest`` refresh what they write;
against a facility's ICAT, ``icat-gateway search-index refresh`` (from cron) refreshes
the sessions whose rows changed since its last run (ICAT's ``MOD_TIME``) or lost a child
row (a deleted keyword, sample, dataset or beamline link leaves no ``MOD_TIME``: each
document keeps the count of child rows it was built from, and a count that differs
rebuilds it) and drops the documents of deleted sessions; ``--full`` rebuilds everything.

Datasets have documents of their own (``GATEWAY_DATASET_DOCUMENT``: name and description,
one row per dataset), rebuilt with their session's; so are the techniques of a session's
datasets (``GATEWAY_SESSION_TECHNIQUE``, one row per session and technique), which the
technique facet reads instead of every dataset of the matches (``facets``). A technique
link added has a ``MOD_TIME`` of its own; one deleted lowers the session's count of child
rows, which counts the links too. Between two refreshes against a facility's ICAT, that
facet therefore counts the techniques as the last refresh read them, as free text finds
the words it read.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.catalogue.gateway_tables import (
    OWN_SCHEMA,
    DatasetSearchDocument,
    GatewayBase,
    SearchDocument,
    SearchState,
    SessionTechnique,
)
from gateway.catalogue.models import (
    Dataset,
    DatasetTechnique,
    Instrument,
    Investigation,
    InvestigationInstrument,
    Keyword,
    Sample,
)

log = logging.getLogger(__name__)

STATE_NAME = "sessions"
BATCH = 500
MARGIN = timedelta(minutes=1)
"""Changes are read from a minute before the last refresh started: a row written while it
ran, with a clock a little behind, is not missed."""
FTS_TABLE = "GATEWAY_SEARCH_FTS"
"""SQLite's FTS5 table over the documents (external content: it stores only the index)."""

DOCUMENTS: Table = GatewayBase.metadata.tables[f"{OWN_SCHEMA}.GATEWAY_SEARCH_DOCUMENT"]
DATASET_DOCUMENTS: Table = GatewayBase.metadata.tables[f"{OWN_SCHEMA}.GATEWAY_DATASET_DOCUMENT"]
STATES: Table = GatewayBase.metadata.tables[f"{OWN_SCHEMA}.GATEWAY_SEARCH_STATE"]
SESSION_TECHNIQUES: Table = GatewayBase.metadata.tables[f"{OWN_SCHEMA}.GATEWAY_SESSION_TECHNIQUE"]

_WORD = re.compile(r"[^\W_]+")


def words(*texts: str | None) -> str:
    """Texts as the documents hold them: lower-case letters and digits, single spaces
    between words. Every database then splits them alike (PostgreSQL's parser would read
    ``MX-2345`` as ``mx`` and the number ``-2345``, MariaDB ``_`` as a letter)."""
    return " ".join(word for text in texts if text for word in _WORD.findall(text.lower()))


def _distinct_words(*texts: str | None) -> str:
    """``words``, each once (a session's thousand dataset names repeat most of theirs)."""
    return " ".join(dict.fromkeys(words(*texts).split()))


SEARCH_INDEXES = frozenset(
    {
        "GATEWAY_SD_LANDING_FTS",
        "GATEWAY_SD_DATA_FTS",
        "GATEWAY_SD_LANDING_TRGM",
        "GATEWAY_DD_WORDS_FTS",
    }
)
"""The dialect-specific full-text indexes over the documents (no model declares them)."""

DATASET_FTS_TABLE = "GATEWAY_DATASET_FTS"
"""SQLite's FTS5 table over the datasets' documents."""


def search_index_ddl(dialect: str, table: str) -> list[str]:
    """The full-text indexes over the sessions' documents on a dialect, ``table`` the
    documents' qualified, quoted name, as revision ``0007_search_documents`` makes them
    (on PostgreSQL, revision ``10_h21_stored_vectors`` replaces its two with
    ``stored_vector_ddl``'s). They are the gateway's own."""
    if dialect == "postgresql":
        return [
            f'CREATE INDEX "GATEWAY_SD_LANDING_FTS" ON {table} '
            "USING gin (to_tsvector('simple'::regconfig, \"LANDING\"))",
            f'CREATE INDEX "GATEWAY_SD_DATA_FTS" ON {table} '
            "USING gin (to_tsvector('simple'::regconfig, \"DATA\"))",
        ]
    if dialect in ("mysql", "mariadb"):
        return [
            f"CREATE FULLTEXT INDEX GATEWAY_SD_LANDING_FTS ON {table} (LANDING)",
            f"CREATE FULLTEXT INDEX GATEWAY_SD_DATA_FTS ON {table} (DATA)",
        ]
    if dialect == "sqlite":
        return _fts5_ddl(
            FTS_TABLE, "GATEWAY_SEARCH_DOCUMENT", "INVESTIGATION_ID", ("LANDING", "DATA"), "SD"
        )
    return []


def dataset_index_ddl(dialect: str, table: str) -> list[str]:
    """The full-text index over the datasets' documents, as ``search_index_ddl`` (as
    revision ``08_h21_dataset_search`` makes it)."""
    if dialect == "postgresql":
        return [
            f'CREATE INDEX "GATEWAY_DD_WORDS_FTS" ON {table} '
            "USING gin (to_tsvector('simple'::regconfig, \"WORDS\"))"
        ]
    if dialect in ("mysql", "mariadb"):
        return [f"CREATE FULLTEXT INDEX GATEWAY_DD_WORDS_FTS ON {table} (WORDS)"]
    if dialect == "sqlite":
        return _fts5_ddl(
            DATASET_FTS_TABLE, "GATEWAY_DATASET_DOCUMENT", "DATASET_ID", ("WORDS",), "DD"
        )
    return []


STORED_VECTORS: dict[str, dict[str, str]] = {
    "GATEWAY_SEARCH_DOCUMENT": {"LANDING": "GATEWAY_SD_LANDING_FTS", "DATA": "GATEWAY_SD_DATA_FTS"},
    "GATEWAY_DATASET_DOCUMENT": {"WORDS": "GATEWAY_DD_WORDS_FTS"},
}
"""PostgreSQL: the texts of the documents that have a stored ``tsvector`` beside them
(``vector_name``), by table, each with the name of its GIN index. PostgreSQL ranks a
match (``ts_rank``) from a vector: from a stored one it reads it, from the text it
parses the text again for every match (65 ms against 0.5 ms for 1,120 matches at 1M
datasets). The columns are generated by the database, so no writer of the documents
knows of them (and no model declares them: MariaDB and SQLite have none)."""

VECTOR_SUFFIX = "_VECTOR"


def vector_name(text_column: str) -> str:
    """The name of the stored ``tsvector`` of a document's text column (PostgreSQL)."""
    return text_column + VECTOR_SUFFIX


VECTOR_COLUMNS = frozenset(
    vector_name(text_column) for texts in STORED_VECTORS.values() for text_column in texts
)
"""The stored vectors' column names (no model declares them)."""


def stored_vector(text_column: Any) -> Any:
    """The stored ``tsvector`` of a document's text column (a column of its table, as
    SQLAlchemy names it in a statement), which matching and ranking read (PostgreSQL)."""
    from sqlalchemy import column
    from sqlalchemy.dialects.postgresql import TSVECTOR

    return column(vector_name(text_column.name), TSVECTOR(), _selectable=text_column.table)


def stored_vector_ddl(table: str, text_column: str, index: str) -> list[str]:
    """PostgreSQL: the stored ``tsvector`` of a document's text column, generated by the
    database from the text as the search reads it (``'simple'``: the words as the
    documents hold them, no stemming, no stopwords), and its GIN index; ``table`` the
    documents' qualified, quoted name (revision ``10_h21_stored_vectors``)."""
    vector = f'"{vector_name(text_column)}"'
    return [
        f"ALTER TABLE {table} ADD COLUMN {vector} tsvector GENERATED ALWAYS AS "
        f"(to_tsvector('simple'::regconfig, \"{text_column}\")) STORED",
        f'CREATE INDEX "{index}" ON {table} USING gin ({vector})',
    ]


def _fts5_ddl(fts: str, source: str, key: str, columns: tuple[str, ...], prefix: str) -> list[str]:
    """An external-content FTS5 table over ``source`` and the triggers keeping it in step."""
    names = ", ".join(columns)
    new = ", ".join(f"new.{name}" for name in (key, *columns))
    old = ", ".join(f"old.{name}" for name in (key, *columns))
    insert_new = f"INSERT INTO {fts}(rowid, {names}) VALUES ({new});"
    delete_old = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', {old});"
    trigger = f"CREATE TRIGGER GATEWAY_{prefix}_FTS"
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{source}', "
        f"content_rowid='{key}')",
        f"{trigger}_INSERT AFTER INSERT ON {source} BEGIN {insert_new} END",
        f"{trigger}_DELETE AFTER DELETE ON {source} BEGIN {delete_old} END",
        f"{trigger}_UPDATE AFTER UPDATE ON {source} BEGIN {delete_old} {insert_new} END",
    ]


TRIGRAM_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    'CREATE INDEX "GATEWAY_SD_LANDING_TRGM" ON {table} USING gin ("LANDING" gin_trgm_ops)',
)
"""PostgreSQL's trigram index (proposal numbers and parts of words): made where the
extension can be created; without it, landing facts match by whole words and prefixes."""


def drop_fts_table(connection: Connection) -> None:
    """SQLite: drop the FTS5 tables with the documents (tests and ``demo --reset``)."""
    forget_index_states()
    if connection.dialect.name == "sqlite":
        for fts in (FTS_TABLE, DATASET_FTS_TABLE):
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {fts}")


# Building the documents -------------------------------------------------------------


@dataclass
class _Words:
    """What the documents of a batch of sessions are built from."""

    landing: dict[int, list[str | None]] = field(default_factory=lambda: defaultdict(list))
    data: dict[int, list[str | None]] = field(default_factory=lambda: defaultdict(list))
    children: Counter[int] = field(default_factory=Counter)
    datasets: list[dict[str, Any]] = field(default_factory=list)
    techniques: set[tuple[int, int]] = field(default_factory=set)
    """(session, technique) of the sessions' datasets' technique links."""


async def _documents(connection: AsyncConnection, ids: Sequence[int]) -> _Words:
    """The words of these sessions and of their datasets."""
    found = _Words()
    sessions = await connection.execute(
        select(
            Investigation.id,
            Investigation.title,
            Investigation.name,
            Investigation.visit_id,
            Investigation.doi,
            Investigation.summary,
        ).where(Investigation.id.in_(ids))
    )
    for id_, title, name, visit, doi, summary in sessions:
        found.landing[id_] += [title, name, visit, doi]
        found.data[id_].append(summary)
    beamlines = select(InvestigationInstrument.investigation_id, Instrument.name).join(
        Instrument, Instrument.id == InvestigationInstrument.instrument_id
    )
    for id_, name in await connection.execute(
        beamlines.where(InvestigationInstrument.investigation_id.in_(ids))
    ):
        found.landing[id_].append(name)
        found.children[id_] += 1
    for model in (Keyword, Sample):
        rows = await connection.execute(
            select(model.investigation_id, model.name)
            .where(model.investigation_id.in_(ids))
            .order_by(model.investigation_id, model.id)
        )
        for id_, name in rows:
            found.data[id_].append(name)
            found.children[id_] += 1
    datasets = await connection.execute(
        select(Dataset.investigation_id, Dataset.id, Dataset.name, Dataset.description)
        .where(Dataset.investigation_id.in_(ids))
        .order_by(Dataset.investigation_id, Dataset.id)
    )
    for id_, dataset, name, description in datasets:
        found.data[id_].append(name)
        found.children[id_] += 1
        found.datasets.append(
            {"DATASET_ID": dataset, "INVESTIGATION_ID": id_, "WORDS": words(name, description)}
        )
    links = _technique_links().where(Dataset.investigation_id.in_(ids))
    for id_, technique in await connection.execute(links):
        found.techniques.add((id_, technique))
        found.children[id_] += 1
    return found


def _technique_links() -> Any:
    """The sessions' datasets' technique links (DATASETTECHNIQUE), one row each, by session:
    (session, technique)."""
    return select(Dataset.investigation_id, DatasetTechnique.technique_id).join(
        DatasetTechnique, DatasetTechnique.dataset_id == Dataset.id
    )


async def refresh_sessions(connection: AsyncConnection, ids: Iterable[int], now: datetime) -> int:
    """Rebuild the documents of these sessions and of their datasets (in the caller's
    transaction): the ingest's and the demo's hook. A session or a dataset that no longer
    exists loses its document."""
    count = 0
    ids = sorted(set(ids))
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        found = await _documents(connection, batch)
        await connection.execute(
            delete(SearchDocument).where(SearchDocument.investigation_id.in_(batch))
        )
        # By session, and by dataset too: a dataset moved from a session of a later batch
        # still has its document under the old session.
        moved = select(Dataset.id).where(Dataset.investigation_id.in_(batch))
        await connection.execute(
            delete(DatasetSearchDocument).where(
                or_(
                    DatasetSearchDocument.investigation_id.in_(batch),
                    DatasetSearchDocument.dataset_id.in_(moved),
                )
            )
        )
        if found.landing:
            await connection.execute(
                insert(DOCUMENTS),
                [
                    {
                        "INVESTIGATION_ID": id_,
                        "LANDING": words(*texts),
                        "DATA": _distinct_words(*found.data[id_]),
                        "REFRESHED_AT": now,
                        "CHILDREN": found.children[id_],
                    }
                    for id_, texts in found.landing.items()
                ],
            )
        if found.datasets:
            await connection.execute(insert(DATASET_DOCUMENTS), found.datasets)
        await connection.execute(
            delete(SessionTechnique).where(SessionTechnique.investigation_id.in_(batch))
        )
        if found.techniques:
            await connection.execute(
                insert(SESSION_TECHNIQUES),
                [
                    {"INVESTIGATION_ID": id_, "TECHNIQUE_ID": technique}
                    for id_, technique in sorted(found.techniques)
                ],
            )
        count += len(found.landing)
    return count


@dataclass(frozen=True)
class Refreshed:
    """What a refresh did."""

    documents: int
    """Documents rebuilt."""
    removed: int
    """Documents of sessions that no longer exist, dropped."""
    full: bool


def _children_changed() -> Any:
    """Sessions whose count of child rows differs from their document's: a child deleted
    (which leaves no ``MOD_TIME``) since the document was built. A child added or moved
    has a ``MOD_TIME`` of its own, so a deletion and an addition in the same interval are
    found either way. Reads the ``investigation_id`` indexes of the four tables, and the
    datasets' technique links."""
    links = _technique_links().subquery("technique_links")
    children = union_all(
        select(InvestigationInstrument.investigation_id.label("id")),
        *(select(model.investigation_id) for model in (Keyword, Sample, Dataset)),
        select(links.c.investigation_id),
    ).subquery("children")
    counts = (
        select(children.c.id, func.count().label("n")).group_by(children.c.id).subquery("counts")
    )
    return (
        select(SearchDocument.investigation_id.label("id"))
        .outerjoin(counts, counts.c.id == SearchDocument.investigation_id)
        .where(
            or_(
                SearchDocument.children.is_(None),
                func.coalesce(counts.c.n, 0) != SearchDocument.children,
            )
        )
    )


def _changed_since(since: datetime) -> Any:
    """Sessions whose words may have changed since then (ICAT's MOD_TIME on each table the
    documents read; GW_*_MODTIME indexes serve them)."""
    return union(
        select(Investigation.id.label("id")).where(Investigation.mod_time >= since),
        select(InvestigationInstrument.investigation_id).where(
            InvestigationInstrument.mod_time >= since
        ),
        *(
            select(model.investigation_id).where(model.mod_time >= since)
            for model in (Keyword, Sample, Dataset)
        ),
        select(Dataset.investigation_id)
        .join(DatasetTechnique, DatasetTechnique.dataset_id == Dataset.id)
        .where(DatasetTechnique.mod_time >= since),
        _children_changed(),
    )


async def refresh(engine: AsyncEngine, now: datetime, *, full: bool = False) -> Refreshed:
    """Bring the documents up to date: those of sessions changed since the last refresh
    (all of them the first time, or with ``full``), in batches of their own transaction."""
    async with engine.connect() as connection:
        state = await built(connection)
        full = full or state is None
        changed = (
            select(Investigation.id)
            if full or state is None
            else select(_changed_since(state.started_at - MARGIN).subquery().c.id)
        )
        ids = sorted(await connection.scalars(changed))
        await connection.commit()
    count = 0
    for start in range(0, len(ids), BATCH * 10):
        async with engine.begin() as connection:
            count += await refresh_sessions(connection, ids[start : start + BATCH * 10], now)
    async with engine.begin() as connection:
        gone = delete(SearchDocument).where(
            SearchDocument.investigation_id.not_in(select(Investigation.id))
        )
        removed = (await connection.execute(gone)).rowcount or 0
        await connection.execute(
            delete(DatasetSearchDocument).where(
                DatasetSearchDocument.investigation_id.not_in(select(Investigation.id))
            )
        )
        await connection.execute(
            delete(SessionTechnique).where(
                SessionTechnique.investigation_id.not_in(select(Investigation.id))
            )
        )
        if full and connection.dialect.name == "sqlite":
            # The FTS5 indexes from their content tables, whatever happened to them before.
            for fts in (FTS_TABLE, DATASET_FTS_TABLE):
                await connection.exec_driver_sql(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
        total = int(await connection.scalar(select(func.count()).select_from(SearchDocument)) or 0)
        await connection.execute(delete(SearchState).where(SearchState.name == STATE_NAME))
        await connection.execute(
            insert(STATES).values(
                NAME=STATE_NAME, STARTED_AT=now, REFRESHED_AT=now, DOCUMENTS=total
            )
        )
    forget_index_states()  # this process's searches see the new state at once
    if full and engine.dialect.name in ("mysql", "mariadb"):
        # InnoDB counts deleted documents in its full-text statistics (the ranks) until the
        # table is optimized: a full rebuild starts them afresh.
        translated = engine.get_execution_options().get("schema_translate_map") or {}
        schema = translated.get(DOCUMENTS.schema)
        table = f"`{schema}`.`{DOCUMENTS.name}`" if schema else f"`{DOCUMENTS.name}`"
        async with engine.connect() as connection:
            await connection.exec_driver_sql(f"OPTIMIZE TABLE {table}")
    log.info("search documents refreshed: %d rebuilt, %d removed", count, removed)
    return Refreshed(count, removed, full)


@dataclass(frozen=True)
class IndexState:
    """The last refresh of the documents."""

    started_at: datetime
    refreshed_at: datetime
    documents: int


async def built(connection: AsyncConnection) -> IndexState | None:
    """The state of the last refresh, or None if the documents were never built."""
    state, _ = await built_with(connection, literal(None).label("no_extra"))
    return state


async def built_with(connection: AsyncConnection, extra: Any) -> tuple[IndexState | None, Any]:
    """The state of the last refresh (None if never built) and the value of ``extra``, a
    labelled expression read in the same statement."""
    state = (
        select(SearchState.started_at, SearchState.refreshed_at, SearchState.documents)
        .where(SearchState.name == STATE_NAME)
        .subquery("state")
    )
    row = (
        await connection.execute(
            select(state.c.started_at, state.c.refreshed_at, state.c.documents, extra)
            .select_from(select(literal(1).label("single")).subquery("single_row"))
            .outerjoin(state, true())
        )
    ).one()
    if row[0] is None:
        return None, row[3]
    return IndexState(row[0], row[1], int(row[2])), row[3]


INDEX_STATE_SECONDS = 5.0
"""How long a process keeps what it read of the index's state (``IndexStates``)."""


class IndexStates:
    """What each engine's database offers free text (``text_search.TextIndex``), kept in
    the process so that a search does not read it again on every request.

    The rule: an entry is served for at most ``ttl`` seconds after it was read (by
    ``clock``), then read again; and ``forget`` drops every entry at once, which the
    gateway's own code paths that change the index call (``refresh``, ``drop_fts_table``,
    ``migrate.upgrade``). Replicas share no memory: a refresh, drop or DDL made by another
    process (another replica, a DBA running ``icat-gateway indexes``) is seen here within
    ``ttl`` seconds, and until then searches decide by the state read before it (the
    index's words, or the ``LIKE`` fallback). Entries are per engine (weakly held: a
    disposed engine's go with it)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._held: weakref.WeakKeyDictionary[Any, tuple[float, Any]] = weakref.WeakKeyDictionary()
        self._generation = 0

    def get(self, engine: AsyncEngine) -> Any | None:
        """The state held for ``engine`` if read less than ``ttl`` seconds ago, else None."""
        held = self._held.get(engine.sync_engine)
        if held is None or self.clock() - held[0] >= self.ttl:
            return None
        return held[1]

    def reading(self) -> tuple[float, int]:
        """Taken before reading a state: when, and which ``forget`` it follows."""
        return self.clock(), self._generation

    def put(self, engine: AsyncEngine, state: Any, reading: tuple[float, int]) -> None:
        """Hold ``state``, read since ``reading``; not if a ``forget`` came meanwhile (it
        may have been read before the change that ``forget`` announces)."""
        read_at, generation = reading
        if generation == self._generation:
            self._held[engine.sync_engine] = (read_at, state)

    def forget(self) -> None:
        self._generation += 1
        self._held.clear()


INDEX_STATES = IndexStates(INDEX_STATE_SECONDS)
"""The process's index states (``text_search.text_index`` reads through it)."""


def forget_index_states() -> None:
    """Read the index's state again on the next search, on every engine of this process:
    after changing the documents or their indexes (or their state row) other than through
    ``refresh``, e.g. a test deleting ``SearchState``."""
    INDEX_STATES.forget()


def naive_utc_now() -> datetime:
    """Now as ICAT's naive timestamps read it (UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


async def refresh_database(settings: object, *, full: bool = False) -> Refreshed:
    """``icat-gateway search-index refresh``: migrate the gateway's tables, then refresh."""
    from gateway.catalogue.database import create_engine
    from gateway.catalogue.migrate import upgrade
    from gateway.settings import Settings

    assert isinstance(settings, Settings)
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        return await refresh(engine, naive_utc_now(), full=full)
    finally:
        await engine.dispose()


async def refresh_if_never_built(engine: AsyncEngine) -> Refreshed | None:
    """Embedded mode's start-up: build the documents of a catalogue made before them."""
    async with engine.connect() as connection:
        state = await built(connection)
    if state is not None:
        return None
    return await refresh(engine, naive_utc_now(), full=True)


async def index_note(engine: AsyncEngine, seconds: float) -> dict[str, str]:
    """What ``/readyz`` says of free text: indexed (how many sessions, refreshed when), or
    that it reads every session."""
    try:
        async with asyncio.timeout(seconds), engine.connect() as connection:
            state = await built(connection)
    except Exception as error:  # a readiness check reports, it does not raise
        return {"search": f"unknown ({type(error).__name__})"}
    if state is None:
        return {
            "search": "no index: free text reads every session (slow); run "
            "`icat-gateway search-index refresh`"
        }
    refreshed = state.refreshed_at.isoformat(timespec="seconds")
    return {"search": f"indexed: {state.documents} sessions, refreshed {refreshed}Z"}
