"""``icat-gateway ingest FILE...``: load ICAT dump files into the catalogue.

The files are those python-icat's ``icatdump`` writes (YAML or XML, ICAT 4.4 to 6.2;
``icatingest`` reads the same files into an ICAT server), read by python-icat's own readers
through :mod:`gateway.catalogue.dumpfiles`. This module turns the objects read into rows.
Every entity is kept, the authorization ones included (``Grouping``, ``UserGroup``,
``Rule``, ``PublicStep``, ``InvestigationGroup``), so that a facility's own rules travel
with its data; ``RULE_``'s columns that icat.server derives for itself are left NULL, but
for its C/R/U/D flags, taken from CRUDFLAGS.

Duplicates, as icatingest's ``--duplicate`` (:class:`Duplicate`): an object already in the
catalogue (same uniqueness constraint; for the few entities without one, same values,
same references and, for a data collection or study, the same nested objects) is an
error (``THROW``, the default, as in icatingest), or kept as it is (``IGNORE``), or
compared (``CHECK``: an attribute of the file that differs is an error), or updated with
the file's attributes (``OVERWRITE``). Unlike icatingest, the three latter also apply to
objects with nested ones: each nested object is then checked on its own. So ingesting a
file a second time with ``IGNORE`` or ``CHECK`` changes nothing, and the report says so.

Ids are allocated as icat.server allocates them on the database
(:mod:`gateway.catalogue.sequence`): in blocks of ``SEQ_GEN_SEQUENCE`` (PostgreSQL, Oracle)
or of the ``SEQUENCE`` table, taken by :func:`_allocate_ids`, the rows then written in
batches; with ``AUTO_INCREMENT`` (MariaDB/MySQL), where no id exists before its row, each
row is inserted at once and its id read back. In embedded mode the ``SEQUENCE`` table's
counter (SEQ_GEN) is first raised above every id in use. Into an ICAT database the gateway
did not create (``ICAT_GATEWAY_EMBEDDED=false``) only with ``into_icat`` (``--into-icat``);
into an ICAT before 6.2, an object of a table or a value of a column it lacks is an error
naming it (a 5.0 dump fits).
Audit columns say ``ingest`` and now. All files are loaded in one transaction: any failure
rolls it all back and raises :class:`IngestError` naming the object.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Double,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.dumpfiles import (
    NESTED,
    EntityInfo,
    Field,
    OfflineClient,
    convert,
    icat_schema,
    reader_class,
)
from gateway.catalogue.models import IcatBase
from gateway.catalogue.models import Sequence as SequenceTable
from gateway.catalogue.names import names_of
from gateway.catalogue.release_rule import (
    ReleaseDatePlan,
    ReleaseRule,
    apply_release_dates,
    plan_release_dates,
)
from gateway.catalogue.search_documents import naive_utc_now, refresh
from gateway.catalogue.sequence import SEQ_GEN, IdScheme, allocate_ids, id_allocation
from gateway.settings import Settings

CREATOR = "ingest"
"""CREATE_ID and MOD_ID of ingested rows."""

BATCH_ROWS = 2_000
"""Rows buffered before they are written (the whole ingest is still one transaction)."""

INDEX_ROWS = 20_000
"""A table with up to so many rows is read once to find duplicates, a larger one queried
object by object."""

ID_BLOCK = 50
"""Ids taken at a time (EclipseLink's default preallocation)."""


class Duplicate(enum.StrEnum):
    """What to do with an object already in the catalogue (icatingest's ``--duplicate``)."""

    THROW = "THROW"
    IGNORE = "IGNORE"
    CHECK = "CHECK"
    OVERWRITE = "OVERWRITE"


class IngestError(Exception):
    """The dump files could not be loaded; nothing was written."""


@dataclass
class IngestReport:
    """What an ingest found, per ICAT entity, in dump order."""

    duplicate: Duplicate
    new: dict[str, int] = field(default_factory=dict)
    """Objects that were not in the catalogue: inserted."""
    unchanged: dict[str, int] = field(default_factory=dict)
    """Objects already in the catalogue with the same values."""
    differing: dict[str, int] = field(default_factory=dict)
    """Objects already in the catalogue with other values: kept as they are (IGNORE) or
    updated (OVERWRITE)."""
    release_dates: ReleaseDatePlan | None = None
    investigation_ids: set[int] = field(default_factory=set)
    """The sessions of the files, new or already there."""

    @property
    def changed(self) -> bool:
        updated = self.duplicate is Duplicate.OVERWRITE and bool(self.differing)
        released = self.release_dates is not None and bool(self.release_dates.dates)
        return bool(self.new) or updated or released

    def lines(self) -> list[str]:
        """The report as a person reads it."""
        differing = "updated" if self.duplicate is Duplicate.OVERWRITE else "kept as they are"
        lines = []
        for title, counts in (
            ("new", self.new),
            ("already there", self.unchanged),
            (f"already there with other values ({differing})", self.differing),
        ):
            if counts:
                total = sum(counts.values())
                lines.append(f"{title}: {total} ({_counted(counts)})")
        if self.release_dates is not None:
            lines.append(self.release_dates.summary())
        if not self.changed:
            lines.append("nothing changed: every object of the files is in the catalogue already")
        return lines


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {entity}" for entity, n in counts.items())


def _describe(obj: Any) -> str:
    """``Instrument(name='E2', facility=Facility(name='ESRF'))``, for messages."""
    info = icat_schema()[obj.BeanName]
    parts = []
    for field_ in (*info.attributes.values(), *info.relations.values()):
        value = getattr(obj, field_.name)
        if value is not None:
            parts.append(f"{field_.name}=" + (_describe(value) if field_.target else repr(value)))
    return f"{info.name}({', '.join(parts)})"


class _BatchFailed(Exception):
    """A batched INSERT was refused; which row it was is found by loading row by row."""


async def ingest_files(
    settings: Settings,
    paths: Sequence[Path],
    *,
    duplicate: Duplicate = Duplicate.THROW,
    into_icat: bool = False,
    release_rule: ReleaseRule | None = None,
    progress: Callable[[int], object] | None = None,
) -> IngestReport:
    """Load python-icat dump files (YAML or XML) into the catalogue, in one transaction.

    ``into_icat`` allows a database the gateway did not create (embedded mode off).
    ``release_rule``: then set the missing release dates of the files' sessions by it.
    ``progress`` is called with 1 after each object of the files is read.
    """
    if not settings.embedded and not into_icat:
        raise IngestError(
            "this is an ICAT database the gateway did not create (ICAT_GATEWAY_EMBEDDED=false): "
            "to write into it anyway, with ids allocated as icat.server allocates them, pass "
            "--into-icat (or load the files through icat.server with python-icat's icatingest)"
        )
    paths = [Path(path) for path in paths]
    for path in paths:
        if not path.is_file():
            raise IngestError(f"{path}: no such file")
    engine = create_engine(settings)
    options = _Options(duplicate, settings.embedded, release_rule)
    try:
        # ICAT's tables in embedded mode, and the gateway's own: release-date changes are
        # recorded there, and the new sessions' search documents are kept there.
        await create_schema(engine, embedded=settings.embedded)
        try:
            counts = await _load(engine, paths, options, BATCH_ROWS, commit=True, progress=progress)
            # The new sessions' words (and those of sessions it added datasets to).
            await refresh(engine, naive_utc_now())
            return counts
        except _BatchFailed as failure:
            # Nothing was written. Load again row by row (and roll back) to name the object.
            try:
                await _load(engine, paths, options, batch_rows=1, commit=False)
            except IngestError as exact:
                raise exact from exact.__cause__
            raise IngestError(str(failure)) from failure.__cause__
    finally:
        await engine.dispose()


async def ingest_file(
    settings: Settings,
    path: Path,
    progress: Callable[[int], object] | None = None,
    *,
    duplicate: Duplicate = Duplicate.THROW,
) -> IngestReport:
    """One file: :func:`ingest_files`."""
    return await ingest_files(settings, [path], duplicate=duplicate, progress=progress)


@dataclass(frozen=True)
class _Options:
    duplicate: Duplicate
    embedded: bool
    release_rule: ReleaseRule | None


async def _load(
    engine: AsyncEngine,
    paths: list[Path],
    options: _Options,
    batch_rows: int,
    *,
    commit: bool,
    progress: Callable[[int], object] | None = None,
) -> IngestReport:
    report = IngestReport(options.duplicate)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            loader = _Loader(connection, options, batch_rows, report)
            await loader.start()
            for path in paths:
                try:
                    await _load_file(loader, path, progress)
                    await loader.flush()
                except IngestError as error:
                    raise IngestError(f"{path}: {error}") from error.__cause__
            if options.release_rule is not None:
                plan = await plan_release_dates(
                    connection, options.release_rule, report.investigation_ids
                )
                await apply_release_dates(connection, plan, now=loader.now)
                report.release_dates = plan
        except BaseException:
            await transaction.rollback()
            raise
        if commit:
            await transaction.commit()
        else:
            await transaction.rollback()
    return report


async def _load_file(loader: _Loader, path: Path, progress: Callable[[int], object] | None) -> None:
    loader.client = OfflineClient()  # each file resolves its own keys
    await loader.start_file()
    with reader_class(path)(loader.client, path) as reader:
        objects = reader.getobjs()
        while True:
            try:
                obj = next(objects)
            except StopIteration:
                break
            except Exception as error:
                raise IngestError(f"reading failed {reader.where()}: {_reason(error)}") from error
            label = (
                f"{obj.BeanName} {reader.last_key!r}"
                if reader.last_key
                else f"{obj.BeanName} (data chunk {reader.chunk}, object {reader.ordinal})"
            )
            await loader.add(obj, label)
            if progress is not None:
                progress(1)


def _reason(error: BaseException) -> str:
    reason = str(error) or type(error).__name__
    cause = error.__cause__
    if cause is not None and str(cause) and str(cause) not in reason:
        reason = f"{reason} ({cause})"
    return reason


async def _allocate_ids(connection: AsyncConnection, table: Table, count: int) -> list[int]:
    """Fresh ids for rows of ``table`` inserted in this transaction, as icat.server
    allocates them, where ids exist before their rows (not ``AUTO_INCREMENT``: see
    :meth:`_Loader._insert_now`): one counter (sequence object or SEQUENCE table) serves
    every table."""
    return await allocate_ids(connection, count)


async def _ensure_sequence(connection: AsyncConnection) -> None:
    """Embedded mode: make sure SEQ_GEN exists and is at or above every id in use."""
    highest = 0
    for table in IcatBase.metadata.sorted_tables:
        if "ID" in table.c:
            highest = max(highest, int(await connection.scalar(select(func.max(table.c.ID))) or 0))
    current = (
        await connection.execute(
            select(SequenceTable.seq_count).where(SequenceTable.seq_name == SEQ_GEN)
        )
    ).first()
    if current is None:
        await connection.execute(
            insert(SequenceTable).values(seq_name=SEQ_GEN, seq_count=Decimal(highest))
        )
    elif int(current[0] or 0) < highest:
        await connection.execute(
            update(SequenceTable)
            .where(SequenceTable.seq_name == SEQ_GEN)
            .values(seq_count=Decimal(highest))
        )


def _same(column_type: Any, ours: Any, theirs: Any) -> bool:
    """Whether a value of the file equals the catalogue's, as the database gives it back."""
    if ours is None or theirs is None:
        return ours is theirs
    if isinstance(column_type, Boolean):
        return bool(ours) == bool(theirs)
    if isinstance(column_type, Double):
        return float(ours) == float(theirs)
    if isinstance(column_type, DateTime) and isinstance(theirs, datetime):
        # A database without fractional seconds (MariaDB's DATETIME) drops them.
        return ours == theirs or (theirs.microsecond == 0 and ours.replace(microsecond=0) == theirs)
    return bool(ours == theirs)


class _Loader:
    """Turns entity objects into rows; finds those already there; writes the new ones."""

    def __init__(
        self,
        connection: AsyncConnection,
        options: _Options,
        batch_rows: int,
        report: IngestReport,
    ):
        self.connection = connection
        self.options = options
        self.client = OfflineClient()
        self.batch_rows = batch_rows
        self.report = report
        self.schema = icat_schema()
        self.now = datetime.now(UTC).replace(tzinfo=None)
        self._ids: dict[Table, list[int]] = {}
        self._found: dict[str, int] = {}
        self._order = {table: n for n, table in enumerate(IcatBase.metadata.sorted_tables)}
        self._buffers: dict[Table, list[tuple[dict[str, Any], str]]] = {}
        self._buffered = 0
        self._populated: set[Table] = set()
        """Tables that may hold a duplicate: rows before the file."""
        self._indexes: dict[tuple[Table, tuple[str, ...]], dict[tuple[Any, ...], list[Any]]] = {}
        """Rows of small tables by the values an object is matched on (as at file start)."""
        self._large: set[Table] = set()
        self._claimed: set[tuple[str, int]] = set()
        """Rows of entities without a constraint that an object of the file matched (each
        file is matched as if ingested on its own)."""
        self._identity = False
        """Ids come from the insert itself (AUTO_INCREMENT): each row is written at once."""
        self._absent: dict[Table, frozenset[str]] = {}
        """Per table, the keys of the columns an older ICAT lacks (ICAT 6.2's additions)."""

    async def start(self) -> None:
        if self.options.embedded:
            await _ensure_sequence(self.connection)
        scheme = (await id_allocation(self.connection)).scheme
        self._identity = scheme is IdScheme.AUTO_INCREMENT
        names = names_of(self.connection.dialect)
        for info in self.schema.values():
            table = info.table
            if names.lacks_table(str(table.name)):
                self._absent[table] = frozenset(c.key for c in table.columns)
            else:
                self._absent[table] = frozenset(
                    c.key for c in table.columns if names.lacks_column(str(table.name), c.name)
                )

    async def start_file(self) -> None:
        """Note the tables that may hold an object of the next file (a duplicate within
        one file is the database's to refuse)."""
        await self.flush()
        self._populated.clear()
        self._indexes.clear()
        self._claimed.clear()
        for info in self.schema.values():
            if "ID" in self._absent[info.table]:  # a table this (older) ICAT lacks
                continue
            if await self.connection.scalar(select(info.table.c.ID).limit(1)) is not None:
                self._populated.add(info.table)

    # objects -> rows ------------------------------------------------------------------

    async def add(self, obj: Any, label: str, parent: tuple[str, int, bool] | None = None) -> None:
        """Insert (or match) an object and its nested (one-to-many) objects.

        ``parent``: for a nested object, its field back to the parent, the parent's id and
        whether the parent is new (then the object cannot be in the catalogue yet)."""
        entity = obj.BeanName
        obj.id = None  # ids are the catalogue's; a file's own are ignored
        info = self.schema[entity]  # the offline client knows no other entities
        row = await self._row(obj, info, label, parent)
        existing = None
        if (parent is None or not parent[2]) and info.table in self._populated:
            existing = await self._existing(obj, info, row, label)
        if existing is None:
            await self._insert(obj, info, row, label)
        else:
            obj.id = existing
        if entity == "Investigation":
            self.report.investigation_ids.add(int(obj.id))
        for field_name, (_child, back) in info.one_to_many.items():
            for n, child in enumerate(getattr(obj, field_name), 1):
                await self.add(
                    child, f"{label} / {field_name} #{n}", (back, obj.id, existing is None)
                )

    async def _row(
        self, obj: Any, info: EntityInfo, label: str, parent: tuple[str, int, bool] | None
    ) -> dict[str, Any]:
        """The object's columns (no id or audit columns), references resolved."""
        absent = self._absent[info.table]
        if "ID" in absent:
            raise IngestError(f"{label}: this ICAT's database has no table {info.table.name}")
        row: dict[str, Any] = {}
        for field_ in info.attributes.values():
            try:
                row[field_.column.key] = convert(getattr(obj, field_.name), info.name, field_)
            except (ValueError, TypeError, KeyError) as error:
                raise IngestError(f"{label}: invalid {field_.name}: {_reason(error)}") from error
        for field_ in info.relations.values():
            if parent is not None and field_.name == parent[0]:
                row[field_.column.key] = parent[1]
                continue
            related = getattr(obj, field_.name)
            row[field_.column.key] = (
                None if related is None else await self._id_of(related, label, field_)
            )
        for key in absent:  # kept as None: compared as the NULL the database answers
            if row.get(key) is not None:
                column = info.table.c[key].name
                raise IngestError(
                    f"{label}: this ICAT's database has no column {info.table.name}.{column} "
                    "(an ICAT before 6.2)"
                )
        return row

    async def _insert(self, obj: Any, info: EntityInfo, row: dict[str, Any], label: str) -> None:
        # Checked only now: an object already in the catalogue may name just its key.
        for field_ in (*info.attributes.values(), *info.relations.values()):
            if row[field_.column.key] is None and not field_.column.nullable:
                if isinstance(field_.column.type, Boolean):
                    row[field_.column.key] = False  # a Java boolean: ICAT's default
                else:
                    raise IngestError(f"{label}: {field_.name} is required but not given")
        if info.name == "Rule":
            # icat.server derives these from CRUDFLAGS (the JPQL columns it compiles from
            # WHAT are left NULL: the gateway does not evaluate ICAT's rules).
            flags = str(row["CRUDFLAGS"]).upper()
            row.update({letter: letter in flags for letter in "CRUD"})
        for key in self._absent[info.table]:
            row.pop(key, None)
        row["CREATE_ID"] = row["MOD_ID"] = CREATOR
        row["CREATE_TIME"] = row["MOD_TIME"] = self.now
        _count(self.report.new, info.name)
        if self._identity:
            obj.id = await self._insert_now(info.table, row, label)
            return
        obj.id = row["ID"] = await self._next_id(info.table)
        self._buffers.setdefault(info.table, []).append((row, label))
        self._buffered += 1
        if self._buffered >= self.batch_rows:
            await self.flush()

    # already there? ---------------------------------------------------------------------

    async def _existing(
        self, obj: Any, info: EntityInfo, row: dict[str, Any], label: str
    ) -> int | None:
        """The id of the object's row if it is in the catalogue; applies the duplicate
        mode to it."""
        if self._buffered:
            await self.flush()
        found = await self._matching_row(obj, info, row)
        if found is None:
            return None
        existing = int(found.ID)
        mode = self.options.duplicate
        if mode is Duplicate.THROW:
            raise IngestError(
                f"{label} is in the catalogue already (nothing was written): to keep, check "
                "or overwrite what is there, ingest with --duplicate IGNORE, CHECK or OVERWRITE"
            )
        differences = {
            field_.column.key: value
            for field_ in info.attributes.values()
            if (value := row[field_.column.key]) is not None
            and not _same(field_.column.type, value, found._mapping[field_.column.key])
        }
        if not differences:
            _count(self.report.unchanged, info.name)
            return existing
        if mode is Duplicate.CHECK:
            column, value = next(iter(differences.items()))
            raise IngestError(
                f"{label} is in the catalogue already with other values ({column}: "
                f"{found._mapping[column]!r} there, {value!r} in the file): nothing was written"
            )
        _count(self.report.differing, info.name)
        if mode is Duplicate.OVERWRITE:
            await self.connection.execute(
                update(info.table)
                .where(info.table.c["ID"] == existing)
                .values(**differences, MOD_ID=CREATOR, MOD_TIME=self.now)
            )
        return existing

    async def _matching_row(self, obj: Any, info: EntityInfo, row: dict[str, Any]) -> Any:
        """The catalogue's row for the object: by its uniqueness constraint; for an entity
        without one, by all its values and nested objects (each row matched once)."""
        fields = {f.name: f for f in (*info.attributes.values(), *info.relations.values())}
        if info.constraint:
            keys = [fields[name].column.key for name in info.constraint]
        else:
            keys = [f.column.key for f in fields.values()]
        candidates = await self._candidates(info.table, keys, row)
        if info.constraint:
            return candidates[0] if candidates else None
        for candidate in candidates:
            claim = (info.name, int(candidate.ID))
            if claim not in self._claimed and await self._same_children(obj, info, candidate.ID):
                self._claimed.add(claim)
                return candidate
        return None

    async def _candidates(self, table: Table, keys: list[str], row: dict[str, Any]) -> list[Any]:
        """The table's rows with these values in these columns, oldest first: from one
        read of the whole table where it is small, else by a query."""
        index = self._indexes.get((table, tuple(keys)))
        if index is None and table not in self._large:
            count = int(await self.connection.scalar(select(func.count()).select_from(table)) or 0)
            if count > INDEX_ROWS:
                self._large.add(table)
            else:
                index = {}
                for held in await self.connection.execute(select(table).order_by(table.c.ID)):
                    index.setdefault(tuple(held._mapping[key] for key in keys), []).append(held)
                self._indexes[table, tuple(keys)] = index
        if index is not None:
            return index.get(tuple(row[key] for key in keys), [])
        conditions: list[ColumnElement[bool]] = [
            table.c[key].is_(None) if row[key] is None else table.c[key] == row[key] for key in keys
        ]
        statement = select(table).where(*conditions).order_by(table.c.ID)
        return list((await self.connection.execute(statement)).all())

    async def _same_children(self, obj: Any, info: EntityInfo, parent_id: int) -> bool:
        """Whether the catalogue's row has exactly the object's nested objects (those a
        dump nests: the others are written with their own parent)."""
        for field_name in NESTED.get(info.name, ()):
            child_entity, back = info.one_to_many[field_name]
            children = getattr(obj, field_name)
            child = self.schema[child_entity]
            back_column = child.relations[back].column
            held = await self.connection.scalar(
                select(func.count()).select_from(child.table).where(back_column == parent_id)
            )
            if int(held or 0) != len(children):
                return False
            for nested in children:
                row = await self._row(nested, child, "", (back, parent_id, False))
                if await self._matching_row(nested, child, row) is None:
                    return False
        return True

    # references -----------------------------------------------------------------------

    async def _id_of(self, related: Any, label: str, field_: Field) -> int:
        """The catalogue id of a related object."""
        if related.id is not None:
            return int(related.id)
        external = self.client.external.get(id(related.instance))
        if external is None:
            raise IngestError(f"{label}: {field_.name} refers to an object not loaded before it")
        found = await self._look_up(related, external[1], label)
        related.id = found
        return found

    async def _look_up(self, obj: Any, key: str | None, label: str) -> int:
        """Find an object that is not in the file in the catalogue, by its attributes."""
        if key is not None and key in self._found:
            return self._found[key]
        info = self.schema[obj.BeanName]
        described = key or _describe(obj)
        conditions = []
        for field_ in info.attributes.values():
            value = getattr(obj, field_.name)
            if value is not None:
                try:
                    converted = convert(value, info.name, field_)
                except (ValueError, TypeError, KeyError) as error:
                    raise IngestError(
                        f"{label}: reference {described}: invalid {field_.name}: {_reason(error)}"
                    ) from error
                conditions.append(field_.column == converted)
        for field_ in info.relations.values():
            related = getattr(obj, field_.name)
            if related is not None:
                conditions.append(field_.column == await self._id_of(related, label, field_))
        if not conditions:
            raise IngestError(f"{label}: reference {described} names no attributes")
        await self.flush()  # objects of earlier data chunks must be in the database
        found = (
            await self.connection.execute(select(info.table.c.ID).where(*conditions).limit(2))
        ).all()
        if len(found) != 1:
            problem = "is not in the catalogue" if not found else "is ambiguous"
            raise IngestError(
                f"{label}: reference {described} {problem} (and not defined before it in the file)"
            )
        if key is not None:
            self._found[key] = int(found[0][0])
        return int(found[0][0])

    async def _next_id(self, table: Table) -> int:
        pool = self._ids.setdefault(table, [])
        if not pool:
            pool.extend(reversed(await _allocate_ids(self.connection, table, ID_BLOCK)))
        return pool.pop()

    # rows -> database -----------------------------------------------------------------

    async def _insert_now(self, table: Table, row: dict[str, Any], label: str) -> int:
        """Insert one row without an id, as icat.server does on an AUTO_INCREMENT table
        (one counter per table), and answer the id the database gave it."""
        try:
            # NULL into an AUTO_INCREMENT column takes the counter's next value.
            result = await self.connection.execute(insert(table).values({"ID": None, **row}))
        except DBAPIError as error:
            refusal = str(error.orig).strip() or type(error.orig).__name__
            raise IngestError(f"{label}: the database refused it: {refusal}") from error
        return int(result.lastrowid)

    async def flush(self) -> None:
        """Write the buffered rows, parent tables first."""
        for table in sorted(self._buffers, key=self._order.__getitem__):
            rows = self._buffers[table]
            if not rows:
                continue
            try:
                await self.connection.execute(insert(table), [row for row, _ in rows])
            except DBAPIError as error:
                refusal = str(error.orig).strip() or type(error.orig).__name__
                if len(rows) == 1:
                    raise IngestError(
                        f"{rows[0][1]}: the database refused it: {refusal}"
                    ) from error
                raise _BatchFailed(
                    f"inserting {len(rows)} {table.name} rows ({rows[0][1]} ... {rows[-1][1]}) "
                    f"failed: {refusal}"
                ) from error
            self._buffers[table] = []
        self._buffered = 0


def _count(counts: dict[str, int], entity: str) -> None:
    counts[entity] = counts.get(entity, 0) + 1
