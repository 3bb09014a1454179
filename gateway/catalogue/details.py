"""Statements for the detailed metadata a portal shows beside a file or a data
publication that no declared relation (``gateway.fields``) reaches: a file's related files
(rows built from the link row itself) and a publication's data collection's parameters
(two of ICAT's steps, through the collection). Shifts, papers, grants, studies, facility
cycles, a dataset's beamlines and a file's parameters are declared relations now, their
statements ``gateway.catalogue.relations.related_statement``.

Each takes the ids of the owners and selects the owner's id as ``owner_key`` (for
:func:`gateway.resolvers.loaders.grouped_loader`): one statement per batch of owners. Under
the built-in policy they filter nothing: the field that lists them is DATA and guarded by
its owner's row (a session's ``data_visible``; datasets, files and publications are only
read where visible). Under ICAT's rules each names the steps it follows from its owner,
filtered as icat.server filters an INCLUDE (``visibility.along_by_rules``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select

from gateway.catalogue.models import (
    DataCollection,
    DataCollectionParameter,
    DataPublication,
    RelatedDatafile,
)
from gateway.catalogue.queries import parameters_of
from gateway.catalogue.visibility import Access, along_by_rules


def parameters_by_publication(ids: Sequence[int], access: Access) -> Select[Any]:
    """The parameters of each publication's data collection (ICAT ``content``)."""
    return (
        parameters_of(DataCollectionParameter, DataPublication.id, ids, access)
        .join(DataCollection, DataCollection.id == DataCollectionParameter.data_collection_id)
        .join(DataPublication, DataPublication.data_collection_id == DataCollection.id)
        .where(
            *along_by_rules(
                access,
                ("DataPublication", "content", DataCollection),
                ("DataCollection", "parameters", DataCollectionParameter),
            )
        )
    )


def related_by_datafile(ids: Sequence[int], access: Access) -> Select[Any]:
    return (
        select(
            RelatedDatafile.source_datafile_id.label("owner_key"),
            RelatedDatafile.id.label("id"),
            RelatedDatafile.relation.label("relation"),
            RelatedDatafile.dest_datafile_id.label("datafile_id"),
        )
        .where(RelatedDatafile.source_datafile_id.in_(ids))
        .where(*along_by_rules(access, ("Datafile", "destDatafiles", RelatedDatafile)))
        .order_by(RelatedDatafile.source_datafile_id, RelatedDatafile.id)
    )
