"""The orderings clients may ask for, as keyset sort keys (the id always last, for ties)."""

from __future__ import annotations

from typing import Any

from gateway.catalogue.models import Datafile, Dataset, Instrument, Investigation
from gateway.catalogue.pagination import SortKey
from gateway.catalogue.queries import instrument_name_key
from gateway.catalogue.visibility import Access

NEWEST_FIRST = ("START_DATE", True)
"""Sessions' default order (``InvestigationOrder``'s defaults say the same)."""
RELEVANCE = "RELEVANCE"
"""The order of a search's matches by their relevance (the default when searching)."""


def relevance_keys(relevance: Any, descending: bool) -> list[SortKey]:
    """Sort keys for sessions by a search's relevance (``text_search.TextMatch``), ties by
    id."""
    return [SortKey(relevance, descending), SortKey(Investigation.id, descending)]


def investigation_keys(field: str, descending: bool, access: Access) -> list[SortKey]:
    """Sort keys for sessions: by date, proposal (then visit), beamline (one the caller
    could list on it), title, release."""
    if field == "PROPOSAL":
        return [
            SortKey(Investigation.name, descending),
            SortKey(Investigation.visit_id, descending),
            SortKey(Investigation.id, descending),
        ]
    if field == "INSTRUMENT":  # a subquery: built only when asked for
        return [
            SortKey(instrument_name_key(access), descending, True),
            SortKey(Investigation.id, descending),
        ]
    expression, nullable = {
        "START_DATE": (Investigation.start_date, True),
        "END_DATE": (Investigation.end_date, True),
        "RELEASE_DATE": (Investigation.release_date, True),
        "TITLE": (Investigation.title, False),
    }[field]
    return [SortKey(expression, descending, nullable), SortKey(Investigation.id, descending)]


def dataset_keys(field: str, descending: bool) -> list[SortKey]:
    """Sort keys for datasets."""
    expression, nullable = {
        "START_DATE": (Dataset.start_date, True),
        "END_DATE": (Dataset.end_date, True),
        "NAME": (Dataset.name, False),
    }[field]
    return [SortKey(expression, descending, nullable), SortKey(Dataset.id, descending)]


def datafile_keys(field: str, descending: bool) -> list[SortKey]:
    """Sort keys for datafiles."""
    expression, nullable = {
        "NAME": (Datafile.name, False),
        "CREATE_TIME": (Datafile.datafile_create_time, True),
        "FILE_SIZE": (Datafile.file_size, True),
    }[field]
    return [SortKey(expression, descending, nullable), SortKey(Datafile.id, descending)]


def instrument_keys() -> list[SortKey]:
    return [SortKey(Instrument.name), SortKey(Instrument.id)]
