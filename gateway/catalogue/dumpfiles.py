"""python-icat's dump files without an ICAT server: ICAT's schema from the models.

Reading and writing are python-icat's own: its :mod:`icat.dumpfile_yaml` and
:mod:`icat.dumpfile_xml` readers parse a file, resolve the references between objects by
their keys (``Facility_name-ESRF``) and yield :class:`icat.entity.Entity` objects in dump
order, nested one-to-many children included; its writers turn such objects back into a
file. :mod:`gateway.catalogue.ingest` turns the objects read into rows,
:mod:`gateway.catalogue.export` rows into objects to write.

Without an ICAT server. The readers and writers need an :class:`icat.client.Client` for
three things: the entity classes (``client.typemap``, ``client.new``, ``getEntityInfo``),
new entity instances, and ``searchUniqueKey`` for keys that are not defined earlier in the
file. A stock ``Client`` cannot be built offline: its constructor downloads the WSDL with
suds and asks the server ``getApiVersion``, ``getEntityNames`` and ``getEntityInfo`` (since
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

Fields. Attributes map to the model attributes of the same name in snake_case, many-to-one
relations to their ``*_id`` columns (see ``_FIELD_NAMES`` for the few exceptions). Columns
icat.server keeps for itself and does not show in its API (``RULE_``'s compiled JPQL and
flags) are not fields (``_NOT_IN_API``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
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
)
from suds.sudsobject import Factory  # type: ignore[import-untyped]

from gateway.catalogue.models import (
    EntityBase,
    IcatBase,
    ParameterValueType,
    StudyStatus,
)

ICAT_VERSION = "6.2.0"
"""The ICAT schema the models (and so the offline client) describe."""

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

NESTED: dict[str, tuple[str, ...]] = {
    # The one-to-many relations whose objects icatdump writes nested in their parent (the
    # include clauses of python-icat's icat.dump_queries); every other object is written
    # at the top of a data chunk, with a reference to its parent.
    "Grouping": ("userGroups",),
    "Instrument": ("instrumentScientists",),
    "ParameterType": ("permissibleStringValues",),
    "Investigation": (
        "investigationInstruments",
        "shifts",
        "keywords",
        "publications",
        "investigationUsers",
        "parameters",
        "investigationGroups",
        "investigationFacilityCycles",
        "fundingReferences",
    ),
    "Sample": ("parameters",),
    "Dataset": ("parameters", "datasetInstruments", "datasetTechniques"),
    "Datafile": ("parameters",),
    "DataCollection": (
        "dataCollectionDatasets",
        "dataCollectionDatafiles",
        "parameters",
        "dataCollectionInvestigations",
    ),
    "DataPublication": ("dates", "fundingReferences", "relatedItems", "subjects"),
    "DataPublicationUser": ("affiliations",),
    "Study": ("studyInvestigations",),
}

_MAPPED_BY: dict[tuple[str, str], str] = {
    # The child's field back to the parent, where the child has more than one to it.
    ("Datafile", "sourceDatafiles"): "sourceDatafile",
    ("Datafile", "destDatafiles"): "destDatafile",
    ("DataCollection", "jobsAsInput"): "inputDataCollection",
    ("DataCollection", "jobsAsOutput"): "outputDataCollection",
}

ENUMS: dict[tuple[str, str], type[enum.IntEnum]] = {
    # Stored by ordinal; python-icat writes the name.
    ("ParameterType", "valueType"): ParameterValueType,
    ("Study", "status"): StudyStatus,
}

_AUDIT = frozenset({"id", "create_id", "create_time", "mod_id", "mod_time"})

_NOT_IN_API: dict[str, frozenset[str]] = {
    # Columns icat.server fills from other fields and keeps out of its API (@XmlTransient
    # in Rule.java): no dump file holds them.
    "Rule": frozenset(
        {
            "bean",
            "attribute",
            "crud_jpql",
            "search_jpql",
            "include_jpql",
            "c",
            "r",
            "u",
            "d",
            "restricted",
        }
    ),
}


@dataclass(frozen=True)
class Field:
    """An attribute or a many-to-one relation of an ICAT entity, and its column."""

    name: str
    column: Column[Any]
    target: str | None = None
    """The related entity, for a many-to-one relation."""


@dataclass(frozen=True)
class EntityInfo:
    name: str
    table: Table
    attributes: dict[str, Field]
    relations: dict[str, Field]
    one_to_many: dict[str, tuple[str, str]]
    """Field -> (related entity, its many-to-one field back to this entity)."""
    constraint: tuple[str, ...]
    comment: str


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


@cache
def icat_schema() -> dict[str, EntityInfo]:
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
    fields: dict[str, tuple[dict[str, Field], dict[str, Field]]] = {}
    for name, mapper in mappers.items():
        attributes: dict[str, Field] = {}
        relations: dict[str, Field] = {}
        for prop in mapper.column_attrs:
            if prop.key in _AUDIT or prop.key in _NOT_IN_API.get(name, ()):
                continue
            column = prop.columns[0]
            assert isinstance(column, Column)
            renamed = _FIELD_NAMES.get((name, prop.key)) or _FIELD_NAMES.get((None, prop.key))
            if column.foreign_keys:
                (foreign_key,) = column.foreign_keys
                field = renamed or _camel(prop.key.removesuffix("_id"))
                target = by_table[foreign_key.column.table.name]
                relations[field] = Field(field, column, target)
            else:
                field = renamed or _camel(prop.key)
                attributes[field] = Field(field, column)
        fields[name] = (attributes, relations)

    schema: dict[str, EntityInfo] = {}
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
        schema[name] = EntityInfo(
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


def _java_type(entity: str, field: Field) -> str:
    if (entity, field.name) in ENUMS:
        return ENUMS[entity, field.name].__name__
    for sql_type, java in _JAVA_TYPES:
        if isinstance(field.column.type, sql_type):
            return java
    return "String"


def _entity_field(name: str, type_: str, rel_type: str, not_nullable: bool) -> Any:
    return Factory.object(
        "entityField",
        {"name": name, "type": type_, "relType": rel_type, "notNullable": not_nullable},
    )


def _entity_info(info: EntityInfo, fields: list[Any]) -> Any:
    values: dict[str, Any] = {"fields": fields, "classComment": info.comment}
    if info.constraint:
        values["constraints"] = [Factory.object("constraint", {"fieldNames": info.constraint})]
    return Factory.object("entityInfo", values)


def _icat_entity_info(info: EntityInfo) -> Any:
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


def _parameter_entity_info(schema: dict[str, EntityInfo]) -> Any:
    """The abstract ``Parameter``: the fields the five parameter entities share."""
    dataset_parameter = schema["DatasetParameter"]
    info = EntityInfo(
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
        schema = icat_schema()
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


class Reader:
    """A dump file reader that remembers where the reader is in the file, for error messages."""

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


class _YAMLReader(Reader, YAMLDumpFileReader):  # type: ignore[misc]
    def getdata(self) -> Iterator[Any]:
        """python-icat's ``yaml.safe_load_all``, with libyaml's parser where PyYAML has it
        (the same safe constructor, so the same data; parsing is most of an ingest's time)."""
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        chunks: Iterator[Any] = yaml.load_all(self.infile, Loader=loader)
        return chunks


class _XMLReader(Reader, XMLDumpFileReader):  # type: ignore[misc]
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


def reader_class(path: Path) -> type[_YAMLReader] | type[_XMLReader]:
    """python-icat's reader for the file: by its suffix, else by its first bytes."""
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


def convert(value: Any, entity: str, field: Field) -> Any:
    """A value as python-icat read it (YAML scalar or XML text) -> the column's type."""
    if value is None:
        return None
    enum_type = ENUMS.get((entity, field.name))
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
