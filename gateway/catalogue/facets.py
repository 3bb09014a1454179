"""Facets of a search: how many of the caller's matches have each value, for a filter panel.

One statement counts every facet asked for (``UNION ALL`` of one ``GROUP BY`` each) over
the matched sessions' ids, a CTE of the list's own statement: the same filters, the same
policy, so a count never includes a session the list would not show, and the technique
facet counts a session only through datasets the caller may see. Under ICAT's rules a
value is read as its list field reaches it (``Investigation.instruments``, ``Dataset.
techniques``...: :func:`reached`), so a facet counts only what the caller could list.

A search counts its sessions' facets inside the page's own statement, over the CTE of
matches that its page and total read (``session_facet_counts``;
``gateway.schema.facets.facets_over``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    join,
    literal,
    literal_column,
    select,
    true,
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
from gateway.catalogue.visibility import (
    Access,
    dataset_visible_beside_session,
    related_by_rules,
    released,
)
from gateway.fields.catalogue import TYPES
from gateway.fields.declaration import Relation

SESSION_FACETS = ("instrument", "year", "type", "released", "technique")
DATASET_FACETS = ("technique", "type", "parameter")


def reached(access: Access, type_name: str, field: str) -> list[ColumnElement[bool]]:
    """Under ICAT's rules, the conditions on the rows a facet reads past its session or
    dataset (link rows, beamlines, techniques, parameters) as the list field
    ``type_name.field`` reaches them (``visibility.related_by_rules``); none under the
    built-in policy, where they follow their parent."""
    if access.rules is None:
        return []
    relation = TYPES[type_name].field(field)
    assert isinstance(relation, Relation)
    return related_by_rules(access, relation)


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
    return _ordered(session_facet_counts(access, ids, names))


def session_facets_in_one_pass(
    access: Access, matched: Select[Any], names: Sequence[str]
) -> Select[Any]:
    """:func:`session_facets`' counts, the sessions of ``matched`` read once: each matched
    session is joined to one row per facet asked (a constant list of their names) and,
    through outer joins that hold only on its facet's row, to its values there. For
    MariaDB, which fills a CTE again for each place that reads it (a search per facet)."""
    ids = (
        matched.with_only_columns(Investigation.id.label("id"), maintain_column_froms=True)
        .order_by(None)
        .subquery("facet_sessions")
    )
    kinds = union_all(*(select(literal(name).label("facet")) for name in names)).subquery(
        "facet_kinds"
    )
    kind = kinds.c.facet
    year = cast(cast(extract("year", Investigation.start_date), Integer), String)
    state = case(
        (released(Investigation.release_date, access.now), literal_column("'true'")),
        else_=literal_column("'false'"),
    )
    # A value the rules do not reach is NULL, as a kind's outer joins that found nothing.
    value = case(
        (and_(kind == "instrument", *reached(access, "Investigation", "instruments")),
         Instrument.name),
        (kind == "year", year),
        (and_(kind == "type", *reached(access, "Investigation", "type")),
         InvestigationType.name),
        (kind == "released", state),
        (and_(kind == "technique", *reached(access, "Dataset", "techniques")), Technique.name),
    )  # fmt: skip
    # One FROM clause built as a whole (a join on true names no left side for
    # ``Select.join`` to find), the sessions' rows times the facets' first.
    rows = (
        join(ids, kinds, true())
        .join(Investigation, Investigation.id == ids.c.id)
        .outerjoin(
            InvestigationInstrument,
            and_(kind == "instrument", InvestigationInstrument.investigation_id == ids.c.id),
        )
        .outerjoin(Instrument, Instrument.id == InvestigationInstrument.instrument_id)
        .outerjoin(
            InvestigationType,
            and_(kind == "type", InvestigationType.id == Investigation.type_id),
        )
        .outerjoin(
            Dataset,
            and_(
                kind == "technique",
                Dataset.investigation_id == ids.c.id,
                dataset_visible_beside_session(access),
            ),
        )
        .outerjoin(DatasetTechnique, DatasetTechnique.dataset_id == Dataset.id)
        .outerjoin(Technique, Technique.id == DatasetTechnique.technique_id)
    )
    statement = (
        select(
            kind.label("facet"),
            value.label("value"),
            func.count(func.distinct(ids.c.id)).label("count"),
        )
        .select_from(rows)
        .where(value.is_not(None))
        .group_by(kind, value)
    )
    counted = statement.subquery("facet_counts")
    return select(counted).order_by(*facet_order(counted))


def session_facet_counts(access: Access, ids: Any, names: Sequence[str]) -> list[Select[Any]]:
    """One statement per facet of ``names`` (rows facet, value, count) over the sessions
    whose ids are ``ids.c.id`` (a CTE: the list's matches, evaluated once), to be united."""
    sessions = select(ids.c.id).join(Investigation, Investigation.id == ids.c.id)
    parts: list[Select[Any]] = []
    for name in names:
        if name == "instrument":
            statement = select(ids.c.id).join(
                InvestigationInstrument, InvestigationInstrument.investigation_id == ids.c.id
            )
            statement = statement.join(
                Instrument, Instrument.id == InvestigationInstrument.instrument_id
            ).where(*reached(access, "Investigation", "instruments"))
            parts.append(_facet(name, Instrument.name, ids.c.id, statement))
        elif name == "year":
            year = cast(extract("year", Investigation.start_date), Integer)
            parts.append(_facet(name, year, ids.c.id, sessions))
        elif name == "type":
            typed = sessions.join(
                InvestigationType, InvestigationType.id == Investigation.type_id
            ).where(*reached(access, "Investigation", "type"))
            parts.append(_facet(name, InvestigationType.name, ids.c.id, typed))
        elif name == "released":
            state = case(
                (released(Investigation.release_date, access.now), literal_column("'true'")),
                else_=literal_column("'false'"),
            )
            parts.append(_facet(name, state, ids.c.id, sessions))
        elif name == "technique":
            # Each join reads the next table by its index from the row before (``+ 0``
            # on the side already read: SQLite, which knows no size of the matches,
            # would otherwise start from TECHNIQUE to skip sorting the groups and read
            # every dataset's techniques).
            used = (
                select(ids.c.id)
                .join(Investigation, Investigation.id == ids.c.id + 0)
                .join(Dataset, Dataset.investigation_id == Investigation.id + 0)
                .join(DatasetTechnique, DatasetTechnique.dataset_id == Dataset.id + 0)
                .join(Technique, Technique.id == DatasetTechnique.technique_id + 0)
                # On the joined session row: the matched sessions' datasets are few next
                # to every session whose data the caller may read (which dataset_visible
                # hashes), and a subquery per dataset would repeat each session's check.
                .where(
                    dataset_visible_beside_session(access),
                    *reached(access, "Dataset", "techniques"),
                )
            )
            parts.append(_facet(name, Technique.name, ids.c.id, used))
        else:
            raise ValueError(f"no session facet {name}")
    return parts


def dataset_facets(access: Access, matched: Select[Any], names: Sequence[str]) -> Select[Any]:
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
                .where(*reached(access, "Dataset", "techniques"))
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
                .where(*reached(access, "Dataset", "parameters"))
            )
            parts.append(_facet(name, ParameterType.name, ids.c.id, statement))
        else:
            raise ValueError(f"no dataset facet {name}")
    return _ordered(parts)


def _ordered(parts: list[Select[Any]]) -> Select[Any]:
    counted = union_all(*parts).subquery("facet_counts")
    return select(counted).order_by(*facet_order(counted))


def facet_order(counted: Any) -> list[Any]:
    """The order of the counts (``facet_counts``' columns): by facet, most frequent
    first, then by value."""
    return [counted.c.facet, counted.c["count"].desc(), counted.c.value]
