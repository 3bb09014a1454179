"""Finding one object: by global id (Relay `node`, federation references) or by DOI."""

from __future__ import annotations

from typing import Any

from gateway.catalogue import queries
from gateway.catalogue.models import Datafile as DatafileRow
from gateway.catalogue.models import DataPublication as PublicationRow
from gateway.catalogue.models import Dataset as DatasetRow
from gateway.catalogue.models import Investigation as InvestigationRow
from gateway.compiled.items import object_renderer
from gateway.resolvers.loaders import fetch_all
from gateway.schema.dataset import Datafile, Dataset
from gateway.schema.facility import Facility, Instrument
from gateway.schema.info import Info
from gateway.schema.investigation import Investigation
from gateway.schema.listing import root_object
from gateway.schema.node import Node, parse_global_id
from gateway.schema.people import User
from gateway.schema.publication import DataPublication
from gateway.schema.sample import Sample, Technique

NODE_TYPES = (
    "Investigation",
    "Dataset",
    "Datafile",
    "Instrument",
    "Facility",
    "User",
    "DataPublication",
    "Sample",
    "Technique",
)


async def load_node(info: Info, id: str, *expected: str) -> Node | None:
    """The object behind a global id, or None if it does not exist or is hidden."""
    type_name, icat_id = parse_global_id(id, *(expected or NODE_TYPES))
    loaders = info.context.loaders
    now = info.context.now
    if type_name == "Investigation":
        row = await loaders.investigation.load(icat_id)
        return Investigation.from_row(row, now) if row else None
    if type_name == "Dataset":
        row = await loaders.dataset.load(icat_id)
        return Dataset.from_row(row) if row else None
    if type_name == "Datafile":
        row = await loaders.datafile.load(icat_id)
        return Datafile.from_row(row) if row else None
    if type_name == "DataPublication":
        row = await loaders.data_publication.load(icat_id)
        return DataPublication.from_row(row) if row else None
    if type_name == "Sample":
        # A sample is DATA of its session: only through a visible session or dataset.
        row = await loaders.sample.load(icat_id)
        if row is None:
            return None
        investigation = await loaders.investigation.load(row.investigation_id)
        return Sample.from_row(row) if investigation and investigation.data_visible else None
    converters: dict[str, tuple[str, Any]] = {
        "Instrument": ("instrument", Instrument.from_row),
        "Facility": ("facility", Facility.from_row),
        "User": ("user", User.from_row),
        "Technique": ("technique", Technique.from_row),
    }
    kind, convert = converters[type_name]
    row = await loaders.reference(kind).load(icat_id)
    return convert(row) if row else None


async def find_by_doi(
    info: Info, doi: str
) -> Investigation | Dataset | Datafile | DataPublication | None:
    """Whatever the catalogue knows under a DOI: a session, a dataset, a file or a data
    publication, as the caller may see it. One statement per kind, all by index."""
    context = info.context
    access = context.access
    variants = queries.doi_variants(queries.normalise_doi(doi))
    engine = context.engine
    now = context.now
    session = await root_object(
        engine,
        queries.investigations(access).where(InvestigationRow.doi.in_(variants)),
        lambda row: Investigation.from_row(row, now),
        object_renderer(info, "Investigation"),
    )
    if session is not None:
        return session
    rows = await fetch_all(
        engine, queries.data_publications(access).where(PublicationRow.pid.in_(variants)).limit(1)
    )
    if rows:
        return DataPublication.from_row(rows[0])
    rows = await fetch_all(
        engine, queries.datasets(access).where(DatasetRow.doi.in_(variants)).limit(1)
    )
    if rows:
        return Dataset.from_row(rows[0])
    rows = await fetch_all(
        engine, queries.datafiles(access).where(DatafileRow.doi.in_(variants)).limit(1)
    )
    if rows:
        return Datafile.from_row(rows[0])
    return None
