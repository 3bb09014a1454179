"""``icat-gateway export FILE``: the catalogue, or a part of it, as an ICAT dump file.

Written by python-icat's own writers (:class:`icat.dumpfile_yaml.YAMLDumpFileWriter`,
:class:`icat.dumpfile_xml.XMLDumpFileWriter`; ``.xml`` gives XML, anything else YAML), so
the file is one that python-icat's ``icatingest`` (and ``icat-gateway ingest``) reads. The
rows become python-icat entity objects of the offline client
(:mod:`gateway.catalogue.dumpfiles`), with their many-to-one relations set, so that the
writer derives each object's key as icatdump does; and the data chunks follow icatdump's
partition (:mod:`icat.dump_queries`): authorization, static objects, funding references,
one chunk per session, data collections, one chunk per data publication, the rest. The
objects icatdump nests in their parent (a session's team, a dataset's parameters, ...:
``dumpfiles.NESTED``) are nested the same way.

A selection (a proposal's sessions, one session, one data publication) writes those objects
with everything below them (datasets, datafiles, parameters, team, ...; for a data
publication its data collection and the datasets and datafiles in it) and everything they
refer to (facility, types, users, beamlines, ...), so that the file loads into an empty
catalogue. Data collections, jobs and publications that merely contain a selected dataset
are left out, and so are authorization rules and public steps (they are the facility's).
Everything is read in one transaction and held in memory while the file is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icat.dumpfile_xml import XMLDumpFileWriter
from icat.dumpfile_yaml import YAMLDumpFileWriter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.database import create_engine
from gateway.catalogue.dumpfiles import ENUMS, NESTED, EntityInfo, OfflineClient, icat_schema
from gateway.catalogue.models import Investigation
from gateway.catalogue.queries import normalise_doi
from gateway.settings import Settings

_IN_CHUNK = 500
"""Ids per IN (...) list."""

_AUTHORIZATION = ("User", "Grouping", "Rule", "PublicStep")
_STATIC = (
    "Technique",
    "Facility",
    "Instrument",
    "ParameterType",
    "DataPublicationType",
    "InvestigationType",
    "SampleType",
    "DatasetType",
    "DatafileFormat",
    "FacilityCycle",
    "Application",
)
_OTHER = ("Study", "RelatedDatafile", "Job")

_LINKS = frozenset(
    {"DataCollectionDataset", "DataCollectionDatafile", "DataCollectionInvestigation"}
)
"""Objects that belong to a data collection: a selection reaches them from one only."""
_NOT_BELOW = frozenset({"Job", "DataPublication"})
"""Objects that refer to a selected one without being part of it."""


class ExportError(Exception):
    """The selection names nothing in the catalogue; no file was written."""


@dataclass(frozen=True)
class Selection:
    """What to export: everything, or a proposal's sessions, a session, a data publication."""

    proposal: str | None = None
    session: int | None = None
    data_publication: str | None = None
    """Its PID (a DOI: with or without ``doi:`` or a resolver, in any case)."""

    @property
    def everything(self) -> bool:
        return self.proposal is None and self.session is None and self.data_publication is None


async def export_file(settings: Settings, path: Path, selection: Selection) -> dict[str, int]:
    """Write the selection to ``path``; returns the objects written per entity."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection, connection.begin():
            rows = await _read(connection, selection)
    finally:
        await engine.dispose()
    return _write(Path(path), rows)


# --------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------

_Rows = dict[str, dict[int, Any]]
"""Entity -> id -> row."""


async def _read(connection: AsyncConnection, selection: Selection) -> _Rows:
    schema = icat_schema()
    rows: _Rows = {name: {} for name in schema}
    if selection.everything:
        for name, info in schema.items():
            for row in (await connection.execute(select(info.table))).all():
                rows[name][int(row.ID)] = row
        return rows
    reader = _Reader(connection, rows)
    await reader.select(selection)
    await reader.complete()
    return rows


class _Reader:
    """Reads a selection: the seeds, what is below them, what they all refer to."""

    def __init__(self, connection: AsyncConnection, rows: _Rows):
        self.connection = connection
        self.rows = rows
        self.schema = icat_schema()

    async def select(self, selection: Selection) -> None:
        if selection.session is not None:
            found = await self._fetch("Investigation", Investigation.id == selection.session)
            if not found:
                raise ExportError(f"no session with id {selection.session}")
            await self._below("Investigation", found)
        if selection.proposal is not None:
            found = await self._fetch("Investigation", Investigation.name == selection.proposal)
            if not found:
                raise ExportError(f"no session of proposal {selection.proposal!r}")
            await self._below("Investigation", found)
        if selection.data_publication is not None:
            await self._select_publication(selection.data_publication)

    async def _select_publication(self, pid: str) -> None:
        table = self.schema["DataPublication"].table
        # A DOI in any case, bare or as ICAT may store it (a one-off scan: no index needed).
        bare = normalise_doi(pid).lower()
        spellings = sorted({pid.lower(), bare, f"doi:{bare}", f"https://doi.org/{bare}"})
        found = await self._fetch("DataPublication", func.lower(table.c.PID).in_(spellings))
        if not found:
            raise ExportError(f"no data publication {pid!r}")
        await self._below("DataPublication", found)
        collections = {int(self.rows["DataPublication"][i].DATACOLLECTION_ID) for i in found}
        await self._fetch_ids("DataCollection", collections)
        await self._below("DataCollection", collections)
        datasets = {int(r.DATASET_ID) for r in self.rows["DataCollectionDataset"].values()}
        datafiles = {int(r.DATAFILE_ID) for r in self.rows["DataCollectionDatafile"].values()}
        await self._fetch_ids("Dataset", datasets)
        await self._below("Dataset", datasets)
        await self._fetch_ids("Datafile", datafiles)
        await self._below("Datafile", datafiles)

    async def _below(self, entity: str, ids: set[int]) -> None:
        """Everything below these rows: their one-to-many objects, recursively."""
        if not ids:
            return
        info = self.schema[entity]
        for _field, (child, back) in info.one_to_many.items():
            if child in _NOT_BELOW or (child in _LINKS and entity != "DataCollection"):
                continue
            column = self.schema[child].relations[back].column
            found: set[int] = set()
            for chunk in _chunks(ids):
                found |= await self._fetch(child, column.in_(chunk))
            await self._below(child, found)

    async def complete(self) -> None:
        """Add every row a held row refers to, until nothing is missing."""
        while True:
            missing: dict[str, set[int]] = {}
            for name, held in self.rows.items():
                for field in self.schema[name].relations.values():
                    assert field.target is not None
                    for row in held.values():
                        value = row._mapping[field.column.key]
                        if value is not None and int(value) not in self.rows[field.target]:
                            missing.setdefault(field.target, set()).add(int(value))
            if not missing:
                return
            for name, ids in missing.items():
                await self._fetch_ids(name, ids)

    async def _fetch_ids(self, entity: str, ids: Iterable[int]) -> None:
        table = self.schema[entity].table
        for chunk in _chunks(set(ids) - set(self.rows[entity])):
            await self._fetch(entity, table.c.ID.in_(chunk))

    async def _fetch(self, entity: str, condition: Any) -> set[int]:
        table = self.schema[entity].table
        found = set()
        for row in (await self.connection.execute(select(table).where(condition))).all():
            self.rows[entity][int(row.ID)] = row
            found.add(int(row.ID))
        return found


def _chunks(ids: set[int]) -> list[list[int]]:
    ordered = sorted(ids)
    return [ordered[start : start + _IN_CHUNK] for start in range(0, len(ordered), _IN_CHUNK)]


# --------------------------------------------------------------------------------------
# Objects and the file
# --------------------------------------------------------------------------------------


class _Objects:
    """python-icat entity objects for rows, each made once, relations set."""

    def __init__(self, client: OfflineClient, rows: _Rows):
        self.client = client
        self.rows = rows
        self.schema = icat_schema()
        self.made: dict[tuple[str, int], Any] = {}
        self.written: set[tuple[str, int]] = set()
        self.counts: dict[str, int] = {}
        self.nested_in = {
            self.schema[parent].one_to_many[field][0]: (parent, field)
            for parent, fields in NESTED.items()
            for field in fields
        }
        self.children: dict[tuple[str, str], dict[int, list[int]]] = {}
        for child, (parent, field) in self.nested_in.items():
            back = self.schema[parent].one_to_many[field][1]
            column = self.schema[child].relations[back].column.key
            by_parent: dict[int, list[int]] = {}
            for child_id, row in sorted(rows[child].items()):
                by_parent.setdefault(int(row._mapping[column]), []).append(child_id)
            self.children[parent, field] = by_parent

    def top(self, entity: str, ids: Iterable[int] | None = None) -> list[Any]:
        chosen = sorted(self.rows[entity]) if ids is None else sorted(ids)
        return [self.of(entity, row_id, top=True) for row_id in chosen]

    def of(self, entity: str, row_id: int, *, top: bool = False, back: str | None = None) -> Any:
        info = self.schema[entity]
        made = self.made.get((entity, row_id))
        if made is not None:
            if top and (entity, row_id) not in self.written:
                self._written(info, made, row_id)
            return made
        row = self.rows[entity][row_id]
        obj = self.client.new(entity)
        obj.id = row_id
        self.made[entity, row_id] = obj
        for field in info.attributes.values():
            value = row._mapping[field.column.key]
            enum_type = ENUMS.get((entity, field.name))
            if value is not None and enum_type is not None:
                value = enum_type(int(value)).name
            setattr(obj, field.name, value)
        for field in info.relations.values():
            value = row._mapping[field.column.key]
            if value is not None and field.name != back:
                assert field.target is not None
                setattr(obj, field.name, self.of(field.target, int(value)))
        if top or back is not None:
            self._written(info, obj, row_id)
        return obj

    def _written(self, info: EntityInfo, obj: Any, row_id: int) -> None:
        self.written.add((info.name, row_id))
        self.counts[info.name] = self.counts.get(info.name, 0) + 1
        self._nest(info, obj, row_id)

    def _nest(self, info: EntityInfo, obj: Any, row_id: int) -> None:
        for field in NESTED.get(info.name, ()):
            child, back = info.one_to_many[field]
            for child_id in self.children[info.name, field].get(row_id, ()):
                nested = self._nested(child, child_id, back)
                getattr(obj, field).append(nested)

    def _nested(self, entity: str, row_id: int, back: str) -> Any:
        # A nested object is its own object: written inside its parent, without the
        # reference back to it (python-icat's reader sets that).
        self.made.pop((entity, row_id), None)
        return self.of(entity, row_id, back=back)


def _write(path: Path, rows: _Rows) -> dict[str, int]:
    client = OfflineClient()
    objects = _Objects(client, rows)
    writer_class = XMLDumpFileWriter if path.suffix.lower() == ".xml" else YAMLDumpFileWriter
    investigation = icat_schema()["Investigation"]
    by_session: dict[str, dict[int, list[int]]] = {"Sample": {}, "Dataset": {}, "Datafile": {}}
    for entity in ("Sample", "Dataset"):
        for row_id, row in sorted(rows[entity].items()):
            by_session[entity].setdefault(int(row.INVESTIGATION_ID), []).append(row_id)
    for row_id, row in sorted(rows["Datafile"].items()):
        dataset = rows["Dataset"][int(row.DATASET_ID)]
        by_session["Datafile"].setdefault(int(dataset.INVESTIGATION_ID), []).append(row_id)
    chunks: list[list[list[Any]]] = [
        [objects.top(name) for name in _AUTHORIZATION],
        [objects.top(name) for name in _STATIC],
        [objects.top("FundingReference")],
    ]
    for session in sorted(rows[investigation.name]):
        chunk = [objects.top("Investigation", [session])]
        chunk += [objects.top(name, by_session[name].get(session, [])) for name in by_session]
        chunks.append(chunk)
    chunks.append([objects.top("DataCollection")])
    for publication in sorted(rows["DataPublication"]):
        users = [
            row_id
            for row_id, row in sorted(rows["DataPublicationUser"].items())
            if int(row.DATAPUBLICATION_ID) == publication
        ]
        chunks.append(
            [
                objects.top("DataPublication", [publication]),
                objects.top("DataPublicationUser", users),
            ]
        )
    chunks.append([objects.top(name) for name in _OTHER])
    with writer_class(client, path) as writer:
        for chunk in chunks:
            if any(chunk):
                writer.writedata([part for part in chunk if part])
    return {name: n for name, n in objects.counts.items() if n}
