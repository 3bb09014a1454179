"""``icat-gateway ingest FILE``: load an ICAT dump file into the embedded catalogue.

The file is one that python-icat's ``icatdump`` writes (YAML or XML; ``icatingest`` reads
the same files into an ICAT server). Reading is python-icat's own: its
:class:`~icat.dumpfile_yaml.YAMLDumpFileReader` and :class:`~icat.dumpfile_xml.XMLDumpFileReader`
parse the file, resolve the references between objects by their keys
(``Facility_name-ESRF``) and yield :class:`icat.entity.Entity` objects in dump order, nested
one-to-many children included. This module only turns those objects into rows.

Reading without an ICAT server. The readers need an :class:`icat.client.Client` for three
things: the entity classes (``client.typemap``, ``client.new``, ``getEntityInfo``), new
entity instances, and ``searchUniqueKey`` for keys that are not defined earlier in the file.
A stock ``Client`` cannot be built offline: its constructor downloads the WSDL with suds and
asks the server ``getApiVersion``, ``getEntityNames`` and ``getEntityInfo`` (since
python-icat 0.17 the entity classes are created from those answers; python-icat ships
neither a WSDL nor a static schema, and the instances come from suds' WSDL-bound factory).
:class:`OfflineClient` is a ``Client`` that skips the suds constructor and answers those
calls itself: the entity information comes from the gateway's models (the ICAT 6.2 schema;
the dump formats of older ICAT versions are subsets of it), :func:`icat.entities.getTypeMap`
builds the classes from it as usual, and instances are plain suds objects. A key that is not
in the file becomes an *external reference* (an entity holding the attributes the key
names), which the loader looks up in the catalogue database by those attributes, as
icatingest would look it up in ICAT. XML references by attributes (``<facilityRef
name="ESRF"/>``) become external references the same way.

Rows. Attributes map to the model attributes of the same name in snake_case, many-to-one
relations to their ``*_id`` columns (see ``_FIELD_NAMES`` for the few exceptions). Ids come
from EclipseLink's ``SEQ_GEN`` counter (:func:`gateway.catalogue.sequence.allocate_ids`, in
blocks like icat.server), created if absent above the highest id in use. Audit columns say
``ingest`` and now. Everything happens in one transaction: any failure rolls it all back and
raises :class:`IngestError` naming the object. Authorization entities (``Rule``,
``Grouping``, ``UserGroup``, ``PublicStep``) are skipped with a warning, and so is what
depends on them (``InvestigationGroup``).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from icat.client import Client
from icat.dumpfile_xml import XMLDumpFileReader
from icat.dumpfile_yaml import YAMLDumpFileReader
from icat.entities import getTypeMap
from icat.exception import EntityTypeError
from icat.helper import Version, parse_attr_val, simpleqp_unquote
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Integer,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from suds.sudsobject import Factory  # type: ignore[import-untyped]

from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.models import (
    EntityBase,
    IcatBase,
    ParameterValueType,
    Sequence,
    StudyStatus,
)
from gateway.catalogue.search_documents import naive_utc_now, refresh
from gateway.catalogue.sequence import SEQ_GEN, allocate_ids
from gateway.settings import Settings

log = logging.getLogger(__name__)

ICAT_VERSION = "6.2.0"
"""The ICAT schema the models (and so the offline client) describe."""

CREATOR = "ingest"
"""CREATE_ID and MOD_ID of ingested rows."""

SKIPPED_ENTITIES = frozenset({"Rule", "Grouping", "UserGroup", "PublicStep"})
"""Authorization entities: the gateway has its own access policy and does not load them."""

BATCH_ROWS = 2_000
"""Rows buffered before they are written (the whole ingest is still one transaction)."""

ID_BLOCK = 50
"""Ids taken from SEQ_GEN at a time (EclipseLink's default preallocation)."""


class IngestError(Exception):
    """The dump file could not be loaded; nothing was written."""


# --------------------------------------------------------------------------------------
# The ICAT schema, derived from the models
# --------------------------------------------------------------------------------------

_FIELD_NAMES: dict[tuple[str | None, str], str] = {
    # (entity or None for all, model attribute) -> ICAT field, where snake_case -> camelCase
    # (without "_id" for a many-to-one) does not give the ICAT name.
    (None, "parameter_type_id"): "type",
    (None, "datetime_value"): "dateTimeValue",
    ("DataPublication", "data_collection_id"): "content",
    ("DataPublicationFunding", "data_publication_id"): "publication",
    ("Subject", "scheme_uri"): "schemeURI",
    ("Subject", "value_uri"): "valueURI",
}

_ONE_TO_MANY: dict[str, dict[str, str]] = {
    # ICAT's one-to-many relations (entity -> field -> related entity): in a dump file they
    # hold nested objects, created with the parent. From python-icat's icatdata-6.2.xsd.
    "User": {
        "dataPublicationUsers": "DataPublicationUser",
        "instrumentScientists": "InstrumentScientist",
        "investigationUsers": "InvestigationUser",
        "studies": "Study",
        "userGroups": "UserGroup",
    },
    "Grouping": {
        "investigationGroups": "InvestigationGroup",
        "rules": "Rule",
        "userGroups": "UserGroup",
    },
    "Technique": {"datasetTechniques": "DatasetTechnique"},
    "Facility": {
        "applications": "Application",
        "dataPublicationTypes": "DataPublicationType",
        "dataPublications": "DataPublication",
        "datafileFormats": "DatafileFormat",
        "datasetTypes": "DatasetType",
        "facilityCycles": "FacilityCycle",
        "instruments": "Instrument",
        "investigationTypes": "InvestigationType",
        "investigations": "Investigation",
        "parameterTypes": "ParameterType",
        "sampleTypes": "SampleType",
    },
    "Instrument": {
        "datasetInstruments": "DatasetInstrument",
        "instrumentScientists": "InstrumentScientist",
        "investigationInstruments": "InvestigationInstrument",
        "shifts": "Shift",
    },
    "ParameterType": {
        "dataCollectionParameters": "DataCollectionParameter",
        "datafileParameters": "DatafileParameter",
        "datasetParameters": "DatasetParameter",
        "investigationParameters": "InvestigationParameter",
        "permissibleStringValues": "PermissibleStringValue",
        "sampleParameters": "SampleParameter",
    },
    "DataPublicationType": {"dataPublications": "DataPublication"},
    "InvestigationType": {"investigations": "Investigation"},
    "SampleType": {"samples": "Sample"},
    "DatasetType": {"datasets": "Dataset"},
    "DatafileFormat": {"datafiles": "Datafile"},
    "FacilityCycle": {"investigationFacilityCycles": "InvestigationFacilityCycle"},
    "Application": {"jobs": "Job"},
    "FundingReference": {
        "investigations": "InvestigationFunding",
        "publications": "DataPublicationFunding",
    },
    "Investigation": {
        "dataCollectionInvestigations": "DataCollectionInvestigation",
        "datasets": "Dataset",
        "fundingReferences": "InvestigationFunding",
        "investigationFacilityCycles": "InvestigationFacilityCycle",
        "investigationGroups": "InvestigationGroup",
        "investigationInstruments": "InvestigationInstrument",
        "investigationUsers": "InvestigationUser",
        "keywords": "Keyword",
        "parameters": "InvestigationParameter",
        "publications": "Publication",
        "samples": "Sample",
        "shifts": "Shift",
        "studyInvestigations": "StudyInvestigation",
    },
    "Sample": {"datasets": "Dataset", "parameters": "SampleParameter"},
    "Dataset": {
        "dataCollectionDatasets": "DataCollectionDataset",
        "datafiles": "Datafile",
        "datasetInstruments": "DatasetInstrument",
        "datasetTechniques": "DatasetTechnique",
        "parameters": "DatasetParameter",
    },
    "Datafile": {
        "dataCollectionDatafiles": "DataCollectionDatafile",
        "destDatafiles": "RelatedDatafile",
        "parameters": "DatafileParameter",
        "sourceDatafiles": "RelatedDatafile",
    },
    "DataCollection": {
        "dataCollectionDatafiles": "DataCollectionDatafile",
        "dataCollectionDatasets": "DataCollectionDataset",
        "dataCollectionInvestigations": "DataCollectionInvestigation",
        "dataPublications": "DataPublication",
        "jobsAsInput": "Job",
        "jobsAsOutput": "Job",
        "parameters": "DataCollectionParameter",
    },
    "DataPublication": {
        "dates": "DataPublicationDate",
        "fundingReferences": "DataPublicationFunding",
        "relatedItems": "RelatedItem",
        "subjects": "Subject",
        "users": "DataPublicationUser",
    },
    "DataPublicationUser": {"affiliations": "Affiliation"},
    "Study": {"studyInvestigations": "StudyInvestigation"},
}

_MAPPED_BY: dict[tuple[str, str], str] = {
    # The child's field back to the parent, where the child has more than one to it.
    ("Datafile", "sourceDatafiles"): "sourceDatafile",
    ("Datafile", "destDatafiles"): "destDatafile",
    ("DataCollection", "jobsAsInput"): "inputDataCollection",
    ("DataCollection", "jobsAsOutput"): "outputDataCollection",
}

_ENUMS: dict[tuple[str, str], type[enum.IntEnum]] = {
    # Stored by ordinal; python-icat writes the name.
    ("ParameterType", "valueType"): ParameterValueType,
    ("Study", "status"): StudyStatus,
}

_AUDIT = frozenset({"id", "create_id", "create_time", "mod_id", "mod_time"})


@dataclass(frozen=True)
class _Field:
    """An attribute or a many-to-one relation of an ICAT entity, and its column."""

    name: str
    column: Column[Any]
    target: str | None = None
    """The related entity, for a many-to-one relation."""


@dataclass(frozen=True)
class _EntityInfo:
    name: str
    table: Table
    attributes: dict[str, _Field]
    relations: dict[str, _Field]
    one_to_many: dict[str, tuple[str, str]]
    """Field -> (related entity, its many-to-one field back to this entity)."""
    constraint: tuple[str, ...]
    comment: str


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


@cache
def _schema() -> dict[str, _EntityInfo]:
    """Every ICAT entity of the models, by name, with its fields."""
    mappers = {
        mapper.class_.__name__: mapper
        for mapper in IcatBase.registry.mappers
        if issubclass(mapper.class_, EntityBase)
    }
    tables: dict[str, Table] = {}
    for name, mapper in mappers.items():
        assert isinstance(mapper.local_table, Table)
        tables[name] = mapper.local_table
    by_table = {table.name: name for name, table in tables.items()}
    fields: dict[str, tuple[dict[str, _Field], dict[str, _Field]]] = {}
    for name, mapper in mappers.items():
        attributes: dict[str, _Field] = {}
        relations: dict[str, _Field] = {}
        for prop in mapper.column_attrs:
            if prop.key in _AUDIT:
                continue
            column = prop.columns[0]
            assert isinstance(column, Column)
            renamed = _FIELD_NAMES.get((name, prop.key)) or _FIELD_NAMES.get((None, prop.key))
            if column.foreign_keys:
                (foreign_key,) = column.foreign_keys
                field = renamed or _camel(prop.key.removesuffix("_id"))
                target = by_table[foreign_key.column.table.name]
                relations[field] = _Field(field, column, target)
            else:
                field = renamed or _camel(prop.key)
                attributes[field] = _Field(field, column)
        fields[name] = (attributes, relations)

    schema: dict[str, _EntityInfo] = {}
    for name, mapper in mappers.items():
        attributes, relations = fields[name]
        one_to_many: dict[str, tuple[str, str]] = {}
        for many, child in _ONE_TO_MANY.get(name, {}).items():
            back = _MAPPED_BY.get((name, many))
            if back is None:
                (back,) = (r.name for r in fields[child][1].values() if r.target == name)
            one_to_many[many] = (child, back)
        by_column = {f.column.name: f.name for f in (*attributes.values(), *relations.values())}
        constraint: tuple[str, ...] = ()
        for table_constraint in tables[name].constraints:
            if isinstance(table_constraint, UniqueConstraint):
                constraint = tuple(by_column[column.name] for column in table_constraint.columns)
        schema[name] = _EntityInfo(
            name=name,
            table=tables[name],
            attributes=attributes,
            relations=relations,
            one_to_many=one_to_many,
            constraint=constraint,
            comment=(mapper.class_.__doc__ or "").strip(),
        )
    return schema


_JAVA_TYPES: tuple[tuple[type[Any], str], ...] = (
    (BigInteger, "Long"),
    (Integer, "Integer"),
    (Double, "Double"),
    (Boolean, "boolean"),
    (DateTime, "Date"),
    (String, "String"),
)


def _java_type(entity: str, field: _Field) -> str:
    if (entity, field.name) in _ENUMS:
        return _ENUMS[entity, field.name].__name__
    for sql_type, java in _JAVA_TYPES:
        if isinstance(field.column.type, sql_type):
            return java
    return "String"


def _entity_field(name: str, type_: str, rel_type: str, not_nullable: bool) -> Any:
    return Factory.object(
        "entityField",
        {"name": name, "type": type_, "relType": rel_type, "notNullable": not_nullable},
    )


def _entity_info(info: _EntityInfo, fields: list[Any]) -> Any:
    values: dict[str, Any] = {"fields": fields, "classComment": info.comment}
    if info.constraint:
        values["constraints"] = [Factory.object("constraint", {"fieldNames": info.constraint})]
    return Factory.object("entityInfo", values)


def _icat_entity_info(info: _EntityInfo) -> Any:
    """What ICAT's ``getEntityInfo`` answers for this entity."""
    fields = [_entity_field("id", "Long", "ATTRIBUTE", False)]
    for field in info.attributes.values():
        java = _java_type(info.name, field)
        fields.append(_entity_field(field.name, java, "ATTRIBUTE", not field.column.nullable))
    for field in info.relations.values():
        assert field.target is not None
        fields.append(_entity_field(field.name, field.target, "ONE", not field.column.nullable))
    for many, (child, _back) in info.one_to_many.items():
        fields.append(_entity_field(many, child, "MANY", False))
    return _entity_info(info, fields)


def _parameter_entity_info(schema: dict[str, _EntityInfo]) -> Any:
    """The abstract ``Parameter``: the fields the five parameter entities share."""
    dataset_parameter = schema["DatasetParameter"]
    info = _EntityInfo(
        name="Parameter",
        table=dataset_parameter.table,
        attributes=dataset_parameter.attributes,
        relations={"type": dataset_parameter.relations["type"]},
        one_to_many={},
        constraint=(),
        comment="A parameter.",
    )
    return _icat_entity_info(info)


# --------------------------------------------------------------------------------------
# python-icat without a server
# --------------------------------------------------------------------------------------


class OfflineClient(Client):  # type: ignore[misc]
    """A python-icat client that knows ICAT's entities without asking a server.

    Good for what the dump file readers need (entity classes, new instances, references
    by key); any call that would go to ICAT fails, as no server is configured.
    """

    def __init__(self) -> None:
        # Client.__init__ would let suds download the WSDL and ask the server for the
        # entity information; set up the same attributes from the models instead.
        self.url = None
        self.kwargs: dict[str, Any] = {}
        self.apiversion = Version(ICAT_VERSION)
        schema = _schema()
        self.entityInfoCache = {name: _icat_entity_info(info) for name, info in schema.items()}
        self.entityInfoCache["Parameter"] = _parameter_entity_info(schema)
        self.typemap: dict[str, Any] = {}
        self.ids = None
        self.sessionId = None
        self.autoLogout = False
        self._schedule_auto_refresh("never")
        self.typemap = getTypeMap(self)
        self.external: dict[int, tuple[Any, str | None]] = {}
        """External references: id(instance) -> (entity, key or None)."""

    def getEntityNames(self) -> list[str]:
        return sorted(name for name in self.entityInfoCache if name != "Parameter")

    def getEntityInfo(self, beanName: str) -> Any:
        try:
            return self.entityInfoCache[beanName]
        except KeyError:
            raise EntityTypeError(f"Invalid entity type '{beanName}'.") from None

    def new(self, obj: Any, **kwargs: Any) -> Any:
        """A new entity object; with a type name, its instance is a plain suds object."""
        if not isinstance(obj, str):
            return super().new(obj, **kwargs)
        cls = self.typemap.get(obj.lower())
        if cls is None or cls.BeanName is None:
            raise EntityTypeError(f"Invalid instance type '{obj}'.")
        return cls(self, Factory.object(cls.getInstanceName()), **kwargs)

    def searchUniqueKey(self, key: str, objindex: Any = None) -> Any:
        """The object with this key: from the file, else an external reference."""
        if objindex is not None and key in objindex:
            return objindex[key]
        underscore = key.index("_")
        entity = self.getEntityClass(key[:underscore]).BeanName
        values = parse_attr_val(key[underscore + 1 :])
        obj = self.external_reference(entity, key)
        known = {field.name: field for field in self.getEntityInfo(entity).fields}
        for name, value in values.items():
            field = known.get(name)
            if field is None or field.relType == "MANY":
                raise ValueError(f"malformed key '{key}': invalid attribute '{name}'")
            if field.relType == "ATTRIBUTE":
                setattr(obj, name, simpleqp_unquote(value))
            else:
                setattr(obj, name, self.searchUniqueKey(f"{field.type}_{value}", objindex))
        if objindex is not None:
            objindex[key] = obj
        return obj

    def external_reference(self, entity: str, key: str | None = None) -> Any:
        """A new object standing for one that is not in the file (to be looked up)."""
        obj = self.new(entity)
        self.external[id(obj.instance)] = (obj, key)
        return obj

    def search(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"no ICAT server to search ({query})")


class _Tracking:
    """Remembers where the reader is in the file, for error messages."""

    chunk = 0
    last_key: str | None = None
    ordinal = 0

    def getobjs_from_data(self, data: Any, objindex: Any) -> Iterator[tuple[Any, Any]]:
        self.chunk += 1
        self.ordinal = 0
        for key, obj in super().getobjs_from_data(data, objindex):  # type: ignore[misc]
            self.ordinal += 1
            self.last_key = key
            yield key, obj

    def where(self) -> str:
        if self.chunk == 0:
            return "at the start of the file"
        if self.ordinal == 0:
            return f"at the start of data chunk {self.chunk}"
        key = f" ({self.last_key})" if self.last_key else ""
        return f"after object {self.ordinal}{key} of data chunk {self.chunk}"


class _YAMLReader(_Tracking, YAMLDumpFileReader):  # type: ignore[misc]
    def getdata(self) -> Iterator[Any]:
        """python-icat's ``yaml.safe_load_all``, with libyaml's parser where PyYAML has it
        (the same safe constructor, so the same data; parsing is most of an ingest's time)."""
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        chunks: Iterator[Any] = yaml.load_all(self.infile, Loader=loader)
        return chunks


class _XMLReader(_Tracking, XMLDumpFileReader):  # type: ignore[misc]
    def _searchByReference(self, element: Any, objtype: str, objindex: Any) -> Any:
        """A reference by key as python-icat does it; one by attributes looked up later."""
        if element.get("ref"):
            return super()._searchByReference(element, objtype, objindex)
        client: OfflineClient = self.client
        obj = client.external_reference(objtype)
        for name in set(element.keys()) - {"id", "ref"}:
            value = element.get(name)
            *path, last = name.split(".")
            target = obj
            for step in path if last != "ref" else path[:-1]:
                related = getattr(target, step)
                if related is None:
                    related = client.external_reference(target.getAttrType(step))
                    setattr(target, step, related)
                target = related
            if last == "ref":
                setattr(target, path[-1], client.searchUniqueKey(value, objindex))
            else:
                setattr(target, last, value)
        return obj


def _reader_class(path: Path) -> type[_YAMLReader] | type[_XMLReader]:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _YAMLReader
    if suffix == ".xml":
        return _XMLReader
    with path.open("rb") as head:
        start = head.read(256).lstrip()
    return _XMLReader if start.startswith(b"<") else _YAMLReader


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------


def _convert(value: Any, entity: str, field: _Field) -> Any:
    """A value as python-icat read it (YAML scalar or XML text) -> the column's type."""
    if value is None:
        return None
    enum_type = _ENUMS.get((entity, field.name))
    column_type = field.column.type
    if enum_type is not None:
        if isinstance(value, int):
            return int(enum_type(value))
        text = str(value).strip()
        return int(enum_type(int(text))) if text.isdigit() else int(enum_type[text.upper()])
    if isinstance(column_type, DateTime):
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment
    if isinstance(column_type, Boolean):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false", "1", "0"):
            raise ValueError(f"not a boolean: {value!r}")
        return text in ("true", "1")
    if isinstance(column_type, Integer):  # BigInteger too
        return int(value)
    if isinstance(column_type, Double):
        return float(value)
    text = value if isinstance(value, str) else str(value)
    length = getattr(column_type, "length", None)
    if length is not None and len(text) > length:
        raise ValueError(f"longer than {length} characters")
    return text


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def _describe(obj: Any) -> str:
    """``Instrument(name='E2', facility=Facility(name='ESRF'))``, for messages."""
    info = _schema()[obj.BeanName]
    parts = []
    for field in (*info.attributes.values(), *info.relations.values()):
        value = getattr(obj, field.name)
        if value is not None:
            parts.append(f"{field.name}=" + (_describe(value) if field.target else repr(value)))
    return f"{info.name}({', '.join(parts)})"


class _BatchFailed(Exception):
    """A batched INSERT was refused; which row it was is found by loading row by row."""


async def ingest_file(
    settings: Settings, path: Path, progress: Callable[[int], object] | None = None
) -> dict[str, int]:
    """Load a python-icat dump file (YAML or XML) into the embedded catalogue.

    Returns the number of rows inserted per ICAT entity, and under ``skipped`` how many
    objects of the file were not loaded (see the module docstring). ``progress`` is
    called with 1 after each object of the file is read.
    """
    if not settings.embedded:
        raise IngestError(
            "ingest writes to the embedded catalogue only; load a file into an ICAT server "
            "with python-icat's icatingest"
        )
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    engine = create_engine(settings)
    try:
        await create_schema(engine, embedded=True)
        try:
            counts = await _load(
                engine, path, batch_rows=BATCH_ROWS, commit=True, progress=progress
            )
            # The new sessions' words (and those of sessions it added datasets to).
            await refresh(engine, naive_utc_now())
            return counts
        except _BatchFailed as failure:
            # Nothing was written. Load again row by row (and roll back) to name the object.
            try:
                await _load(engine, path, batch_rows=1, commit=False)
            except IngestError as exact:
                raise exact from exact.__cause__
            raise IngestError(str(failure)) from failure.__cause__
    finally:
        await engine.dispose()


async def _load(
    engine: AsyncEngine,
    path: Path,
    *,
    batch_rows: int,
    commit: bool,
    progress: Callable[[int], object] | None = None,
) -> dict[str, int]:
    client = OfflineClient()
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await _ensure_sequence(connection)
            loader = _Loader(connection, client, batch_rows)
            with _reader_class(path)(client, path) as reader:
                objects = reader.getobjs()
                while True:
                    try:
                        obj = next(objects)
                    except StopIteration:
                        break
                    except Exception as error:
                        raise IngestError(
                            f"{path}: reading failed {reader.where()}: {_reason(error)}"
                        ) from error
                    label = (
                        f"{obj.BeanName} {reader.last_key!r}"
                        if reader.last_key
                        else f"{obj.BeanName} (data chunk {reader.chunk}, object {reader.ordinal})"
                    )
                    try:
                        await loader.add(obj, label)
                    except IngestError as error:
                        raise IngestError(f"{path}: {error}") from error.__cause__
                    if progress is not None:
                        progress(1)
            try:
                await loader.flush()
            except IngestError as error:
                raise IngestError(f"{path}: {error}") from error.__cause__
        except BaseException:
            await transaction.rollback()
            raise
        if commit:
            await transaction.commit()
        else:
            await transaction.rollback()
    loader.report_skipped()
    counts = dict(loader.counts)
    if loader.skipped_total:
        counts["skipped"] = loader.skipped_total
    return counts


def _reason(error: BaseException) -> str:
    reason = str(error) or type(error).__name__
    cause = error.__cause__
    if cause is not None and str(cause) and str(cause) not in reason:
        reason = f"{reason} ({cause})"
    return reason


async def _ensure_sequence(connection: AsyncConnection) -> None:
    """Make sure SEQ_GEN exists and is at or above every id in use."""
    highest = 0
    for table in IcatBase.metadata.sorted_tables:
        if "ID" in table.c:
            highest = max(highest, int(await connection.scalar(select(func.max(table.c.ID))) or 0))
    current = (
        await connection.execute(select(Sequence.seq_count).where(Sequence.seq_name == SEQ_GEN))
    ).first()
    if current is None:
        await connection.execute(
            insert(Sequence).values(seq_name=SEQ_GEN, seq_count=Decimal(highest))
        )
    elif int(current[0] or 0) < highest:
        await connection.execute(
            update(Sequence).where(Sequence.seq_name == SEQ_GEN).values(seq_count=Decimal(highest))
        )


class _Loader:
    """Turns entity objects into rows; buffers and writes them; looks up references."""

    def __init__(self, connection: AsyncConnection, client: OfflineClient, batch_rows: int):
        self.connection = connection
        self.client = client
        self.batch_rows = batch_rows
        self.schema = _schema()
        self.now = datetime.now(UTC).replace(tzinfo=None)
        self.counts: dict[str, int] = {}
        self.skipped: dict[str, tuple[int, str]] = {}
        self._skipped_objects: dict[int, Any] = {}
        self._ids: list[int] = []
        self._found: dict[str, int] = {}
        self._order = {table: n for n, table in enumerate(IcatBase.metadata.sorted_tables)}
        self._buffers: dict[Table, list[tuple[dict[str, Any], str]]] = {}
        self._buffered = 0

    @property
    def skipped_total(self) -> int:
        return sum(n for n, _ in self.skipped.values())

    # objects -> rows ------------------------------------------------------------------

    async def add(self, obj: Any, label: str, parent: tuple[str, int] | None = None) -> None:
        """Buffer the rows of an object and of its nested (one-to-many) objects."""
        entity = obj.BeanName
        obj.id = None  # ids are the catalogue's; a file's own are ignored
        info = self.schema.get(entity)
        if entity in SKIPPED_ENTITIES or info is None:
            reason = "authorization entity" if info is not None else "not in the gateway's models"
            self._skip(obj, reason)
            return
        row: dict[str, Any] = {}
        for field in info.attributes.values():
            try:
                row[field.column.key] = _convert(getattr(obj, field.name), entity, field)
            except (ValueError, TypeError, KeyError) as error:
                raise IngestError(f"{label}: invalid {field.name}: {_reason(error)}") from error
        for field in info.relations.values():
            if parent is not None and field.name == parent[0]:
                row[field.column.key] = parent[1]
                continue
            related = getattr(obj, field.name)
            related_id = None if related is None else await self._id_of(related, label, field)
            if related is not None and related_id is None:
                self._skip(obj, f"refers to a skipped {related.BeanName}")
                return
            row[field.column.key] = related_id
        for field in (*info.attributes.values(), *info.relations.values()):
            if row[field.column.key] is None and not field.column.nullable:
                if isinstance(field.column.type, Boolean):
                    row[field.column.key] = False  # a Java boolean: ICAT's default
                else:
                    raise IngestError(f"{label}: {field.name} is required but not given")
        obj.id = row["ID"] = await self._next_id()
        row["CREATE_ID"] = row["MOD_ID"] = CREATOR
        row["CREATE_TIME"] = row["MOD_TIME"] = self.now
        self._buffers.setdefault(info.table, []).append((row, label))
        self._buffered += 1
        self.counts[entity] = self.counts.get(entity, 0) + 1
        if self._buffered >= self.batch_rows:
            await self.flush()
        for field_name, (_child, back) in info.one_to_many.items():
            for n, child in enumerate(getattr(obj, field_name), 1):
                await self.add(child, f"{label} / {field_name} #{n}", (back, obj.id))

    def _skip(self, obj: Any, reason: str) -> None:
        self._skipped_objects[id(obj.instance)] = obj
        count, _ = self.skipped.get(obj.BeanName, (0, reason))
        self.skipped[obj.BeanName] = (count + 1, reason)
        info = self.schema.get(obj.BeanName)
        for field_name in info.one_to_many if info is not None else ():
            for child in getattr(obj, field_name):
                self._skip(child, f"nested in a skipped {obj.BeanName}")

    def report_skipped(self) -> None:
        for entity, (count, reason) in self.skipped.items():
            log.warning("skipped %d %s (%s)", count, entity, reason)

    async def _id_of(self, related: Any, label: str, field: _Field) -> int | None:
        """The catalogue id of a related object; None if it was skipped."""
        if related.id is not None:
            return int(related.id)
        if id(related.instance) in self._skipped_objects:
            return None
        external = self.client.external.get(id(related.instance))
        if external is None:
            raise IngestError(f"{label}: {field.name} refers to an object not loaded before it")
        if related.BeanName in SKIPPED_ENTITIES:
            self._skipped_objects[id(related.instance)] = related
            return None
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
        for field in info.attributes.values():
            value = getattr(obj, field.name)
            if value is not None:
                try:
                    converted = _convert(value, info.name, field)
                except (ValueError, TypeError, KeyError) as error:
                    raise IngestError(
                        f"{label}: reference {described}: invalid {field.name}: {_reason(error)}"
                    ) from error
                conditions.append(field.column == converted)
        for field in info.relations.values():
            related = getattr(obj, field.name)
            if related is not None:
                related_id = await self._id_of(related, label, field)
                if related_id is None:
                    raise IngestError(f"{label}: reference {described} needs a skipped object")
                conditions.append(field.column == related_id)
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

    async def _next_id(self) -> int:
        if not self._ids:
            self._ids = await allocate_ids(self.connection, ID_BLOCK)
            self._ids.reverse()
        return self._ids.pop()

    # rows -> database -----------------------------------------------------------------

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
