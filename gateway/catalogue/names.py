"""ICAT's names as the connected database spells them: one map per engine.

The models name ICAT's tables and columns as EclipseLink writes them in its DDL, upper
case and unquoted (``INVESTIGATION``, ``RELEASEDATE``). An unquoted name is folded by the
database: PostgreSQL stores ``investigation``, Oracle ``INVESTIGATION``; MariaDB keeps
table names as written (and compares them case-sensitively on Linux) but compares column
names in any case. Only ``SHIFT."COMMENT"`` is quoted by icat.server and keeps its case
everywhere. A real ICAT on PostgreSQL is thus all lower case, and a statement naming
``"INVESTIGATION"`` fails there.

So each engine reads, when it first connects, how the database spells each of ICAT's
names (its own catalogue: ``information_schema``, or Oracle's ``user_tab_columns``), or
takes the case from ``ICAT_GATEWAY_ICAT_NAMES``, and installs an identifier preparer that
writes every identifier of the models in that spelling. The preparer is the one place
SQLAlchemy turns a name into SQL (tables, columns, labels, DDL, the compiled path's
templates), so every statement, built or hand-written through SQLAlchemy constructs, uses
the real names; nothing else in the gateway spells an ICAT identifier in SQL text.

An older ICAT lacks columns a newer one added (ICAT 6.2's INSTRUMENT.STARTDATE...): where
the database's catalogue was read, the dialect's statement compiler writes such a column as
NULL (typed on PostgreSQL), so every statement reading it answers null there without
knowing it; :mod:`gateway.catalogue.icat_check` decides which absences the gateway serves.

The map is keyed by the identifier alone, so a column of the gateway's own tables spelled
like one of ICAT's (``ID``, ``INVESTIGATION_ID``) is written the same way in every
statement, DDL included: consistent within the gateway, which is all its tables need.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.compiler import IdentifierPreparer, SQLCompiler
from sqlalchemy.sql.elements import ColumnClause

from gateway.catalogue.models import IcatBase

log = logging.getLogger(__name__)

NAME_MODES = ("auto", "upper", "lower")
"""``ICAT_GATEWAY_ICAT_NAMES``: read the spelling from the database, or assume one."""

QUOTED = frozenset({"COMMENT"})
"""Names icat.server quotes in its DDL (a reserved word on Oracle): they keep their case."""


def model_names() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """ICAT's tables as the models name them, with their columns; and every such name."""
    tables = {
        name: tuple(str(column.name) for column in table.columns)
        for name, table in IcatBase.metadata.tables.items()
    }
    every = frozenset(tables) | frozenset(c for columns in tables.values() for c in columns)
    return tables, every


@dataclass
class IcatNames:
    """How the connected database spells the models' names, and what it lacks."""

    spelling: dict[str, str] = field(default_factory=dict)
    """Model name -> the database's, only where they differ."""
    present: dict[str, frozenset[str]] | None = None
    """The ICAT tables found (model names) with their columns (model names); None when
    the spelling was set, not read."""
    conflicts: tuple[str, ...] = ()
    """Names spelt two ways in two tables (then no single spelling serves every statement)."""
    ids: Any = None
    """How ids are allocated there (``sequence.IdAllocation``), once first needed."""
    spare_ids: list[int] = field(default_factory=list)
    """The rest of the last block taken from SEQ_GEN_SEQUENCE (this engine's own)."""

    def real(self, name: str) -> str:
        """The database's spelling of a model name."""
        return self.spelling.get(name, name)

    def lacks_table(self, table: str) -> bool:
        """Whether the database lacks an ICAT table (model name; never where the spelling
        was set, not read)."""
        return self.present is not None and table not in self.present

    def lacks_column(self, table: str, column: str) -> bool:
        """Whether the database has the table but not this column of it (model names)."""
        held = None if self.present is None else self.present.get(table)
        return held is not None and column not in held


def assumed(mode: str) -> IcatNames:
    """The spelling an explicit ``ICAT_GATEWAY_ICAT_NAMES`` gives (``upper``: the models')."""
    if mode == "upper":
        return IcatNames()
    _, every = model_names()
    return IcatNames(spelling={name: name.lower() for name in every if name not in QUOTED})


def read_from(found: Iterable[tuple[str, str]]) -> IcatNames:
    """The spelling from the database's own (table, column) pairs."""
    columns_of: dict[str, dict[str, str]] = {}
    table_spelling: dict[str, str] = {}
    for table, column in found:
        key = table.upper()
        table_spelling.setdefault(key, table)
        columns_of.setdefault(key, {}).setdefault(column.upper(), column)
    tables, _ = model_names()
    spelling: dict[str, str] = {}
    conflicts: set[str] = set()
    present: dict[str, frozenset[str]] = {}

    def spell(model: str, real: str) -> None:
        if model == real:
            return
        if spelling.setdefault(model, real) != real:
            conflicts.add(model)

    for table, columns in tables.items():
        real_table = table_spelling.get(table.upper())
        if real_table is None:
            continue
        spell(table, real_table)
        real_columns = columns_of[table.upper()]
        present[table] = frozenset(c for c in columns if c.upper() in real_columns)
        for column in columns:
            if column.upper() in real_columns:
                spell(column, real_columns[column.upper()])
    # A name spelt as the models spell it in one table and otherwise in another conflicts
    # too: the map cannot tell the tables apart.
    for table, columns in tables.items():
        real_table = table_spelling.get(table.upper())
        if real_table is None:
            continue
        for column in columns:
            real = columns_of[table.upper()].get(column.upper())
            if real == column and column in spelling:
                conflicts.add(column)
    return IcatNames(spelling=spelling, present=present, conflicts=tuple(sorted(conflicts)))


_CATALOGUE_QUERIES = {
    "postgresql": (
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema()"
    ),
    "mysql": (
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = DATABASE()"
    ),
    "mariadb": (
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = DATABASE()"
    ),
    # Oracle (untested): the tables of the connecting user, as EclipseLink made them.
    "oracle": "SELECT table_name, column_name FROM user_tab_columns",
}


def _read_catalogue(dbapi_connection: Any, dialect_name: str) -> IcatNames:
    query = _CATALOGUE_QUERIES.get(dialect_name)
    if query is None:  # SQLite compares names in any case: the models' spelling serves
        return IcatNames()
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(query)
        rows = [(str(table), str(column)) for table, column in cursor.fetchall()]
    finally:
        cursor.close()
    return read_from(rows)


def _preparer_class(base: type[IdentifierPreparer]) -> type[IdentifierPreparer]:
    class SpellingPreparer(base):  # type: ignore[valid-type,misc]
        """The dialect's preparer, writing each model name as the database spells it."""

        icat_names: IcatNames

        def quote(self, ident: str, force: Any = None) -> str:
            real = self.icat_names.spelling.get(ident)
            quoted: str = super().quote(ident if real is None else real, force)
            return quoted

    return SpellingPreparer


def _compiler_class(base: type[SQLCompiler]) -> type[SQLCompiler]:
    class AbsentColumnsCompiler(base):  # type: ignore[valid-type,misc]
        """The dialect's compiler, writing a column the database lacks as NULL."""

        def visit_column(self, column: ColumnClause[Any], **kwargs: Any) -> str:
            written: str = super().visit_column(column, **kwargs)  # also maps the result
            table = column.table
            table = getattr(table, "element", table)  # an alias of an ICAT table
            name = getattr(table, "name", None)
            if not isinstance(name, str) or not names_of(self.dialect).lacks_column(
                name, str(column.name)
            ):
                return written
            null = "NULL"
            if self.dialect.name == "postgresql":  # typed, for comparisons and JSON
                null = f"CAST(NULL AS {self.dialect.type_compiler_instance.process(column.type)})"
            if kwargs.get("within_columns_clause") and not kwargs.get("within_label_clause"):
                null += " AS " + self.preparer.quote(str(column.name))
            return null

    return AbsentColumnsCompiler


def install(dialect: Dialect, names: IcatNames) -> None:
    """Make every statement the dialect compiles use these spellings (and NULL for the
    columns the database lacks)."""
    preparer: Any = _preparer_class(type(dialect.identifier_preparer))(dialect)
    preparer.icat_names = names
    dialect.identifier_preparer = preparer
    if names.present is not None and any(
        names.lacks_column(table, column)
        for table, columns in model_names()[0].items()
        for column in columns
    ):
        dialect.statement_compiler = _compiler_class(dialect.statement_compiler)
    if names.spelling:
        log.info(
            "ICAT's names as this database spells them: %d differ from the models'",
            len(names.spelling),
        )


def names_of(dialect: Dialect) -> IcatNames:
    """The spellings an engine's dialect uses (the models' where none were installed)."""
    names: IcatNames | None = getattr(dialect.identifier_preparer, "icat_names", None)
    return names if names is not None else IcatNames()


def spell_on_connect(engine: AsyncEngine, mode: str) -> None:
    """Install the spellings when the engine first connects (before any statement is
    compiled): read from the database (``auto``) or assumed (``upper``, ``lower``)."""
    if mode not in NAME_MODES:
        raise ValueError(f"ICAT names {mode!r}: use one of {', '.join(NAME_MODES)}")
    dialect = engine.sync_engine.dialect

    def first_connect(dbapi_connection: Any, _record: Any) -> None:
        if mode == "auto":
            install(dialect, _read_catalogue(dbapi_connection, dialect.name))
        else:
            install(dialect, assumed(mode))

    # After the dialect's own initialisation on the first connection (a "connect" listener
    # of the engine's, which runs first): MySQL's replaces the identifier preparer there.
    event.listen(engine.sync_engine, "connect", first_connect, once=True)


async def ensure_spelled(engine: AsyncEngine) -> None:
    """Connect once if the engine has not yet: statements compiled ahead of execution
    (the compiled path's templates, operation plans) need the spellings installed first."""
    if getattr(engine.sync_engine.dialect.identifier_preparer, "icat_names", None) is None:
        async with engine.connect():
            pass
