"""Searching sessions: the filters of the root list and of "My data", as SQL conditions.

The filter comes from the API (``gateway.schema.inputs.InvestigationFilter``) but is read
here only through :class:`SessionSearch`, so that the standard path and the operation
plans (``gateway.compiled.operations``) build the same conditions.
"""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import aliased

from gateway.catalogue import queries
from gateway.catalogue.models import Instrument as InstrumentRow
from gateway.catalogue.models import Investigation as InvestigationRow
from gateway.catalogue.models import InvestigationType as InvestigationTypeRow
from gateway.catalogue.relations import column, related_rows
from gateway.catalogue.visibility import (
    Access,
    investigation_listed,
    listed_by_rules,
    released,
    rows_by_rules,
)
from gateway.errors import BadUserInput
from gateway.fields.catalogue import TYPES
from gateway.fields.declaration import Relation


class Interval(Protocol):
    """An interval of time with open ends, checked (and made naive UTC) on demand."""

    def checked(self) -> Interval: ...

    @property
    def since(self) -> datetime | None: ...

    @property
    def until(self) -> datetime | None: ...


class SessionSearch(Protocol):
    """What a search of sessions may say (every condition must hold)."""

    @property
    def proposal(self) -> str | None: ...

    @property
    def visit_id(self) -> str | None: ...

    @property
    def instrument(self) -> str | None: ...

    @property
    def dates(self) -> Interval | None: ...

    @property
    def search(self) -> str | None: ...

    @property
    def released(self) -> bool | None: ...

    @property
    def type(self) -> str | None: ...


def like_pattern(text: str) -> str:
    """A case-insensitive LIKE pattern: the words in order, anything between them."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise BadUserInput("A search text must not be empty.", argument="search")
    if len(cleaned) > 200:
        raise BadUserInput("A search text is at most 200 characters.", argument="search")
    # Words match in order with anything between; LIKE's own wildcards are dropped.
    words = cleaned.replace("\\", " ").replace("%", " ").replace("_", " ").split()
    if not words:
        raise BadUserInput("A search text must contain a word.", argument="search")
    return "%" + "%".join(words) + "%"


def spellings(value: str) -> list[str]:
    """A name as typed, in upper and in lower case: what an exact, indexed comparison
    with a name stored in one of them should try."""
    return queries.doi_variants(value.strip())  # DOIs are compared the same way


def investigation_conditions(access: Access, filter: SessionSearch) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions on sessions, for this caller, all but its free text:
    that is a join on the search index (``text_search.session_text_match``), which the
    caller applies (and ranks by)."""
    conditions: list[ColumnElement[bool]] = []
    if filter.proposal is not None:
        # In the spellings people type (mx-2345, MX-2345): still index equalities, each
        # a bind parameter of its own (an operation plan binds them; an IN list expands).
        conditions.append(
            or_(*(InvestigationRow.name == spelling for spelling in spellings(filter.proposal)))
        )
    if filter.visit_id is not None:
        conditions.append(InvestigationRow.visit_id == filter.visit_id)
    if filter.instrument is not None:
        # Beamlines are few: their names are compared in any case (id30a-1, ID30A-1).
        named = aliased(InstrumentRow)  # (the rules' conditions read INSTRUMENT itself)
        beamline = select(named.id).where(
            func.lower(named.name) == filter.instrument.strip().lower()
        )
        conditions.append(queries.investigations_of_instrument(access, beamline))
    if filter.dates is not None:
        dates = filter.dates.checked()
        conditions.append(
            queries.date_overlap(
                InvestigationRow.start_date, InvestigationRow.end_date, dates.since, dates.until
            )
        )
    if filter.released is not None:
        is_released = released(InvestigationRow.release_date, access.now)
        conditions.append(is_released if filter.released else ~is_released)
    if filter.type is not None:
        # Found only where ``Investigation.type`` would name it for the caller (under
        # ICAT's rules the type's own: ``visibility.listed_by_rules``), as the facet counts.
        conditions.append(
            InvestigationRow.type_id.in_(
                select(InvestigationTypeRow.id).where(
                    func.lower(InvestigationTypeRow.name) == filter.type.strip().lower(),
                    *listed_by_rules(access, "Investigation", "type"),
                )
            )
        )
    return conditions


NAMED: dict[str, tuple[type[InstrumentRow] | type[InvestigationTypeRow], str]] = {
    "instrument": (InstrumentRow, "instruments"),
    "type": (InvestigationTypeRow, "type"),
}
"""The filter arguments that name a row of a reference table: that table, and the field of
``Investigation`` the filter finds a session by."""


def named_values(access: Access, argument: str) -> Select[Any] | None:
    """The names a filter argument is compared with, where they are few enough to offer
    the nearest to a value that names none (beamlines, session types); None otherwise.
    Only names the caller may read: under the built-in policy every one (public landing
    facts); under ICAT's rules those of the rows their own rules open
    (``visibility.rows_by_rules``, what a search of the entity would answer in
    icat.server), and those a session the caller lists names in the field the filter
    reads (``relations.related_rows``: hop by hop as ``Investigation.instruments`` or
    ``.type`` lists them, a PUBLICSTEP opening what it reaches). A suggestion must not
    tell a name the rules hide; it names no more than the sessions show."""
    named = NAMED.get(argument)
    if named is None:
        return None
    model, field = named
    if access.rules is None:
        return select(model.name).distinct()
    relation = TYPES["Investigation"].field(field)
    assert isinstance(relation, Relation)
    children, owner = related_rows(relation, access)
    sessions = select(column(InvestigationRow, relation.parent_key)).where(
        investigation_listed(access)
    )
    # Its own statement of the table (not correlated with the names read below).
    reached = (
        children.with_only_columns(column(model, "id"), maintain_column_froms=True)
        .where(owner.in_(sessions))
        .correlate(None)
    )
    return (
        select(model.name)
        .where(or_(*rows_by_rules(access, model), model.id.in_(reached)))
        .distinct()
    )


def nearest(value: str, names: list[str], count: int = 3) -> list[str] | None:
    """None where ``value`` names one of ``names`` (in any case); else the nearest names,
    most alike first (a typo: ``ID30A1`` -> ``ID30A-1``)."""
    wanted = value.strip().lower()
    by_folded = {name.lower(): name for name in names}
    if wanted in by_folded:
        return None
    close = difflib.get_close_matches(wanted, list(by_folded), n=count, cutoff=0.5)
    return [by_folded[name] for name in close]
