"""Facets of a search: how many of the caller's matches have each value, for a filter panel.

One statement counts every facet asked for (``UNION ALL`` of one ``GROUP BY`` each) over
the matched sessions' ids, a CTE of the list's own statement: the same filters, the same
policy, so a count never includes a session the list would not show, and the technique
facet counts a session only through datasets the caller may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    case,
    cast,
    extract,
    func,
    literal_column,
    select,
    union_all,
)

from gateway.catalogue.models import (
    Dataset,
    DatasetParameter,
    DatasetTechnique,
    DatasetType,
    Instrument,
    Investigation,
    InvestigationInstrument,
    InvestigationType,
    ParameterType,
    Technique,
)
from gateway.catalogue.visibility import Access, dataset_row_visible, released

SESSION_FACETS = ("instrument", "year", "type", "released", "technique")
DATASET_FACETS = ("technique", "type", "parameter")


def _facet(name: str, value: Any, counted: Any, statement: Select[Any]) -> Select[Any]:
    return (
        statement.with_only_columns(
            literal_column(f"'{name}'").label("facet"),
            cast(value, String).label("value"),
            func.count(func.distinct(counted)).label("count"),
            maintain_column_froms=True,
        )
        .where(value.is_not(None))
        .group_by(value)
    )


def session_facets(access: Access, matched: Select[Any], names: Sequence[str]) -> Select[Any]:
    """The counts of the facets ``names`` (of ``SESSION_FACETS``) over the sessions of
    ``matched`` (a statement over INVESTIGATION): rows (facet, value, count)."""
    ids = (
        matched.with_only_columns(Investigation.id.label("id"), maintain_column_froms=True)
        .order_by(None)
        .cte("facet_sessions")
    )
    sessions = select(ids.c.id).join(Investigation, Investigation.id == ids.c.id)
    parts: list[Select[Any]] = []
    for name in names:
        if name == "instrument":
            statement = select(ids.c.id).join(
                InvestigationInstrument, InvestigationInstrument.investigation_id == ids.c.id
            )
            statement = statement.join(
                Instrument, Instrument.id == InvestigationInstrument.instrument_id
            )
            parts.append(_facet(name, Instrument.name, ids.c.id, statement))
        elif name == "year":
            year = cast(extract("year", Investigation.start_date), Integer)
            parts.append(_facet(name, year, ids.c.id, sessions))
        elif name == "type":
            typed = sessions.join(InvestigationType, InvestigationType.id == Investigation.type_id)
            parts.append(_facet(name, InvestigationType.name, ids.c.id, typed))
        elif name == "released":
            state = case(
                (released(Investigation.release_date, access.now), literal_column("'true'")),
                else_=literal_column("'false'"),
            )
            parts.append(_facet(name, state, ids.c.id, sessions))
        elif name == "technique":
            used = (
                select(ids.c.id)
                .join(Dataset, Dataset.investigation_id == ids.c.id)
                .join(DatasetTechnique, DatasetTechnique.dataset_id == Dataset.id)
                .join(Technique, Technique.id == DatasetTechnique.technique_id)
                # Row by row: the matched sessions' datasets are few next to every
                # session whose data the caller may read (which dataset_visible hashes).
                .where(dataset_row_visible(access))
            )
            parts.append(_facet(name, Technique.name, ids.c.id, used))
        else:
            raise ValueError(f"no session facet {name}")
    return _ordered(parts)


def dataset_facets(matched: Select[Any], names: Sequence[str]) -> Select[Any]:
    """The counts of the facets ``names`` (of ``DATASET_FACETS``) over the datasets of
    ``matched`` (a statement over DATASET that applies the caller's visibility)."""
    ids = (
        matched.with_only_columns(Dataset.id.label("id"), maintain_column_froms=True)
        .order_by(None)
        .cte("facet_datasets")
    )
    parts: list[Select[Any]] = []
    for name in names:
        if name == "technique":
            statement = (
                select(ids.c.id)
                .join(DatasetTechnique, DatasetTechnique.dataset_id == ids.c.id)
                .join(Technique, Technique.id == DatasetTechnique.technique_id)
            )
            parts.append(_facet(name, Technique.name, ids.c.id, statement))
        elif name == "type":
            statement = (
                select(ids.c.id)
                .join(Dataset, Dataset.id == ids.c.id)
                .join(DatasetType, DatasetType.id == Dataset.type_id)
            )
            parts.append(_facet(name, DatasetType.name, ids.c.id, statement))
        elif name == "parameter":
            statement = (
                select(ids.c.id)
                .join(DatasetParameter, DatasetParameter.dataset_id == ids.c.id)
                .join(ParameterType, ParameterType.id == DatasetParameter.parameter_type_id)
            )
            parts.append(_facet(name, ParameterType.name, ids.c.id, statement))
        else:
            raise ValueError(f"no dataset facet {name}")
    return _ordered(parts)


def _ordered(parts: list[Select[Any]]) -> Select[Any]:
    counted = union_all(*parts).subquery("facet_counts")
    return select(counted).order_by(counted.c.facet, counted.c["count"].desc(), counted.c.value)
