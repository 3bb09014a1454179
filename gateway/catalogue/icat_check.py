"""At start-up: does the ICAT database have every table and column the gateway reads?

An ICAT too old, or a database holding only some of ICAT's tables, would otherwise answer
``INTERNAL_SERVER_ERROR`` on the first query that needs what is missing. The gateway
compares the database's own catalogue (SQLAlchemy's inspector: PostgreSQL, MariaDB/MySQL,
Oracle alike, in any case) with the tables below and every column their models map, and
stops with one message naming all that is missing and the ICAT version that added it.

What ICAT 6.2 added (:data:`SINCE_6_2`, from icat.server's release notes: 6.0 and 6.1
changed no table) is not needed: on ICAT 5.0 to 6.1 the fields that read those columns
answer null (:mod:`gateway.catalogue.names` writes an absent column as NULL), DOI keywords
live in DATAPUBLICATION.SUBJECT alone (no SUBJECT table), and the start-up logs what is
absent. ICAT 5.0's additions (the data publications, the sizes of sessions and datasets)
are needed: an ICAT before 5.0 is refused.

``READ`` lists the models the gateway's statements name; ``tests/unit/test_icat_check.py``
fails when a module of the gateway uses a model that is not in it, so a newly served
entity is checked from the day it is served.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Table, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue import models

READ: tuple[type[models.IcatBase], ...] = (
    models.Facility,
    models.Instrument,
    models.InvestigationType,
    models.DatasetType,
    models.DatafileFormat,
    models.SampleType,
    models.ParameterType,
    models.Technique,
    models.User,
    models.Investigation,
    models.InvestigationUser,
    models.InvestigationInstrument,
    models.InstrumentScientist,
    models.Keyword,
    models.Sample,
    models.Dataset,
    models.DatasetTechnique,
    models.Datafile,
    models.InvestigationParameter,
    models.DatasetParameter,
    models.SampleParameter,
    models.DataCollection,
    models.DataCollectionDataset,
    models.DataCollectionDatafile,
    models.DataPublication,
    models.DataPublicationUser,
    models.DataPublicationDate,
    models.Affiliation,
    models.RelatedItem,
    models.Subject,
    # the entities sessions, datasets, files and publications show (gateway.catalogue.details)
    models.Shift,
    models.Publication,
    models.Study,
    models.StudyInvestigation,
    models.FacilityCycle,
    models.InvestigationFacilityCycle,
    models.FundingReference,
    models.InvestigationFunding,
    models.DataPublicationFunding,
    models.DataCollectionParameter,
    models.DatasetInstrument,
    models.DatafileParameter,
    models.RelatedDatafile,
    models.DataPublicationType,
    # ICAT's authorization, read under ``icat-rules`` (gateway.catalogue.icat_rules)
    models.Rule,
    models.PublicStep,
    models.Grouping,
    models.UserGroup,
    models.InvestigationGroup,
)
"""The ICAT tables the gateway reads or writes (by model)."""

SINCE_6_2: frozenset[tuple[str, str | None]] = frozenset(
    {
        ("SUBJECT", None),
        ("INSTRUMENT", "STARTDATE"),
        ("INSTRUMENT", "ENDDATE"),
        ("DATAPUBLICATION", "INTERNALID"),
        ("FUNDINGREFERENCE", "ACKNOWLEDGEMENT"),
    }
)
SINCE_5_0_TABLES = frozenset(
    {
        "TECHNIQUE",
        "DATASETTECHNIQUE",
        "DATASETINSTRUMENT",
        "DATAPUBLICATION",
        "DATAPUBLICATIONTYPE",
        "DATAPUBLICATIONUSER",
        "DATAPUBLICATIONDATE",
        "DATAPUBLICATIONFUNDING",
        "AFFILIATION",
        "RELATEDITEM",
        "FUNDINGREFERENCE",
        "INVESTIGATIONFUNDING",
        "DATACOLLECTIONINVESTIGATION",
        "INVESTIGATIONFACILITYCYCLE",
    }
)
SINCE_5_0_COLUMNS = frozenset(
    {
        ("INVESTIGATION", "FILESIZE"),
        ("INVESTIGATION", "FILECOUNT"),
        ("DATASET", "FILESIZE"),
        ("DATASET", "FILECOUNT"),
    }
)


OPTIONAL = SINCE_6_2
"""What the gateway serves without: (table, None) for a table, (table, column)."""

log = logging.getLogger(__name__)


class IcatSchemaError(RuntimeError):
    """The database lacks tables or columns the gateway reads: it refuses to start."""


def missing_from(found: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    """What the gateway reads that ``found`` (upper-cased table -> upper-cased columns)
    lacks: the tables, and the columns of tables present (``TABLE.COLUMN``)."""
    tables: list[str] = []
    columns: list[str] = []
    for model in READ:
        table = model.__table__
        assert isinstance(table, Table)
        name = str(table.name)
        if name not in found:
            tables.append(name)
            continue
        columns.extend(
            f"{name}.{column.name}"
            for column in table.columns
            if str(column.name).upper() not in found[name]
        )
    return tables, columns


def message(tables: list[str], columns: list[str], conflicts: tuple[str, ...] = ()) -> str:
    """One sentence naming everything missing, and the ICAT version that would have it."""
    parts = []
    if tables:
        parts.append(f"table{'s' if len(tables) > 1 else ''} {', '.join(tables)}")
    if columns:
        parts.append(f"column{'s' if len(columns) > 1 else ''} {', '.join(columns)}")
    text = "ICAT's database lacks what the gateway reads: " + "; ".join(parts)
    newest = {(t, None) for t in tables} | {tuple(c.split(".", 1)) for c in columns}
    if newest and all(
        item in SINCE_6_2
        or (item[1] is None and item[0] in SINCE_5_0_TABLES)
        or item in SINCE_5_0_COLUMNS
        for item in newest
    ):
        version = "6.2" if newest & SINCE_6_2 else "5.0"
        text += f" (ICAT {version} added them: the gateway needs ICAT {version} or later)"
    else:
        text += " (is this ICAT's database, and its schema the connection's default one?)"
    if conflicts:
        text += f"; and names spelt differently in two tables: {', '.join(conflicts)}"
    return text + "."


def _found(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    found: dict[str, set[str]] = {}
    for (_schema, table), columns in inspector.get_multi_columns().items():
        found[table.upper()] = {str(column["name"]).upper() for column in columns}
    return found


async def check_icat_schema(engine: AsyncEngine) -> None:
    """Stop (:class:`IcatSchemaError`) unless ICAT's database has what the gateway reads."""
    from gateway.catalogue.names import names_of

    async with engine.connect() as connection:
        found = await connection.run_sync(_found)
        conflicts = names_of(connection.dialect).conflicts
    tables, columns = missing_from(found)
    absent = [t for t in tables if (t, None) in OPTIONAL] + [
        c for c in columns if tuple(c.split(".", 1)) in OPTIONAL
    ]
    tables = [t for t in tables if t not in absent]
    columns = [c for c in columns if c not in absent]
    if tables or columns or conflicts:
        raise IcatSchemaError(message(tables, columns, conflicts))
    if absent:
        log.warning(
            "ICAT's database lacks what ICAT 6.2 added: %s; the fields that read them "
            "answer null (an ICAT before 6.2)",
            ", ".join(absent),
        )
