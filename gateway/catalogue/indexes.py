"""Indexes the gateway's queries need that icat.server does not create.

icat.server creates its primary keys, unique constraints and (on MariaDB, implicitly)
foreign-key indexes. The gateway also filters and sorts sessions by date, looks DOIs up,
and walks links from the "other" side (sessions of a beamline, team of a session). In
embedded mode these indexes are created with the schema; for a real ICAT database,
``icat-gateway indexes`` prints the DDL for the DBA to review and apply.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Connection, Index, Table, text
from sqlalchemy.schema import CreateIndex

from gateway.catalogue.models import IcatBase

# (index name, table, columns). Names are prefixed GW_ so they are recognisably ours.
GATEWAY_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("GW_INVESTIGATION_STARTDATE", "INVESTIGATION", ("STARTDATE", "ID")),
    ("GW_INVESTIGATION_RELEASEDATE", "INVESTIGATION", ("RELEASEDATE",)),
    ("GW_INVESTIGATION_DOI", "INVESTIGATION", ("DOI",)),
    ("GW_INVESTIGATIONUSER_INVESTIGATION", "INVESTIGATIONUSER", ("INVESTIGATION_ID",)),
    ("GW_INVESTIGATIONINSTRUMENT_INSTRUMENT", "INVESTIGATIONINSTRUMENT", ("INSTRUMENT_ID",)),
    ("GW_INSTRUMENTSCIENTIST_INSTRUMENT", "INSTRUMENTSCIENTIST", ("INSTRUMENT_ID",)),
    ("GW_DATASET_DOI", "DATASET", ("DOI",)),
    ("GW_DATASET_SAMPLE", "DATASET", ("SAMPLE_ID",)),
    # A session's datasets' ids from the index alone (a search's technique facet walks
    # from the matched sessions to their datasets' techniques); ICAT's unique
    # (INVESTIGATION_ID, NAME) holds the id only on MariaDB (InnoDB's primary key).
    ("GW_DATASET_INVESTIGATION", "DATASET", ("INVESTIGATION_ID", "ID")),
    ("GW_DATAFILE_DOI", "DATAFILE", ("DOI",)),
    # A dataset's files in the listing's order (name, then id): a keyset page is one
    # index range, in order, on every dialect (ICAT's unique (DATASET_ID, NAME) leaves
    # the id out, and PostgreSQL then sorts every file after the cursor).
    ("GW_DATAFILE_LISTING", "DATAFILE", ("DATASET_ID", "NAME", "ID")),
    ("GW_DATASETTECHNIQUE_TECHNIQUE", "DATASETTECHNIQUE", ("TECHNIQUE_ID",)),
    ("GW_DATASETPARAMETER_TYPE", "DATASETPARAMETER", ("PARAMETER_TYPE_ID", "NUMERIC_VALUE")),
    (
        "GW_DATASETPARAMETER_TYPE_DATASET",
        "DATASETPARAMETER",
        ("PARAMETER_TYPE_ID", "DATASET_ID", "NUMERIC_VALUE"),
    ),
    ("GW_DATACOLLECTIONDATASET_DATASET", "DATACOLLECTIONDATASET", ("DATASET_ID",)),
    ("GW_DATACOLLECTIONDATAFILE_DATAFILE", "DATACOLLECTIONDATAFILE", ("DATAFILE_ID",)),
    ("GW_DATAPUBLICATION_COLLECTION", "DATAPUBLICATION", ("DATACOLLECTION_ID",)),
    ("GW_DATAPUBLICATION_PID", "DATAPUBLICATION", ("PID",)),
    ("GW_KEYWORD_INVESTIGATION", "KEYWORD", ("INVESTIGATION_ID",)),
    # `search-index refresh` reads the rows changed since its last run (search_documents).
    ("GW_INVESTIGATION_MODTIME", "INVESTIGATION", ("MOD_TIME",)),
    ("GW_INVESTIGATIONINSTRUMENT_MODTIME", "INVESTIGATIONINSTRUMENT", ("MOD_TIME",)),
    ("GW_KEYWORD_MODTIME", "KEYWORD", ("MOD_TIME",)),
    ("GW_SAMPLE_MODTIME", "SAMPLE", ("MOD_TIME",)),
    ("GW_DATASET_MODTIME", "DATASET", ("MOD_TIME",)),
    # ... and the datasets' technique links it summarises per session (the technique facet).
    ("GW_DATASETTECHNIQUE_MODTIME", "DATASETTECHNIQUE", ("MOD_TIME",)),
)


@cache
def gateway_indexes() -> tuple[Index, ...]:
    """The indexes as SQLAlchemy objects (built once: an Index attaches to its table)."""
    indexes = []
    for name, table_name, columns in GATEWAY_INDEXES:
        table: Table = IcatBase.metadata.tables[table_name]
        indexes.append(Index(name, *(table.c[column] for column in columns)))
    return tuple(indexes)


@cache
def postgresql_indexes() -> tuple[Index, ...]:
    """PostgreSQL serves "newest sessions first, undated last" straight from this index.

    The portal's default order is by start date, descending, NULLs last; only PostgreSQL
    can store an index in that order (MariaDB has no NULLS LAST, SQLite no such index).
    The release date is a third key column: "released sessions, newest first" then skips
    the newest sessions, still under embargo, on the index alone, without reading their
    rows (at 1M datasets, 15,000 of them before the first released one).
    """
    investigation = IcatBase.metadata.tables["INVESTIGATION"]
    return (
        Index(
            "GW_INVESTIGATION_NEWEST",
            investigation.c.STARTDATE.desc().nulls_last(),
            investigation.c.ID.desc(),
            investigation.c.RELEASEDATE,
        ).ddl_if(dialect="postgresql"),  # it attaches to the table: keep create_all honest
    )


SUPERSEDED = {"postgresql": ("GW_INVESTIGATION_STARTDATE_DESC",)}
"""Indexes of earlier versions that an index above replaces: dropped in embedded mode."""


def indexes_for(dialect_name: str) -> tuple[Index, ...]:
    extra = postgresql_indexes() if dialect_name == "postgresql" else ()
    return gateway_indexes() + extra


def create_gateway_indexes(connection: Connection) -> None:
    """Create the indexes that do not exist yet, drop superseded ones (embedded mode)."""
    for index in indexes_for(connection.dialect.name):
        index.create(connection, checkfirst=True)
    quote = connection.dialect.identifier_preparer.quote
    for name in SUPERSEDED.get(connection.dialect.name, ()):
        connection.execute(text(f"DROP INDEX IF EXISTS {quote(name)}"))


def gateway_index_ddl(connection: Connection) -> list[str]:
    """The CREATE INDEX statements for the connected dialect, for a DBA to apply, in the
    database's own names (``ON investigation (startdate, id)`` on a real ICAT on
    PostgreSQL: the engine's identifier preparer spells them, see ``names.py``). (The
    full-text indexes of free text are on the gateway's own table, made by its migrations:
    see ``search_documents``.)"""
    return [
        str(CreateIndex(index).compile(dialect=connection.dialect)).strip() + ";"
        for index in indexes_for(connection.dialect.name)
    ]


async def print_index_ddl(settings: object) -> None:
    """Print the DDL for the configured database's dialect."""
    from gateway.catalogue.database import create_engine
    from gateway.settings import Settings

    assert isinstance(settings, Settings)
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            for statement in await connection.run_sync(gateway_index_ddl):
                print(statement)
    finally:
        await engine.dispose()
