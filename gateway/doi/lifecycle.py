"""DataCite's rules for a DOI's life, for the registrars that keep DOIs themselves (the
local one and the tests' fake), so they answer as DataCite does.

A ``PUT`` merges the attributes it is given into those held (an attribute left out keeps
its value); its ``event`` moves the state (``publish``: draft or registered → findable;
``register``: draft → registered; ``hide``: findable → registered), and an event the state
does not allow changes nothing, as DataCite's state machine does. A DOI leaving the draft
state needs a URL and metadata valid under kernel 4.5 (refused as DataCite's 422). Only a
draft can be deleted (DataCite's 405).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.doi.metadata import normalise_doi, schema_problems
from gateway.doi.registrar import DoiState, PermanentRegistrarError, RegisteredDoi

__all__ = ["EVENTS", "after_put", "check_deletable", "own_doi"]

EVENTS: dict[str, dict[DoiState, DoiState]] = {
    "publish": {DoiState.DRAFT: DoiState.FINDABLE, DoiState.REGISTERED: DoiState.FINDABLE},
    "register": {DoiState.DRAFT: DoiState.REGISTERED},
    "hide": {DoiState.FINDABLE: DoiState.REGISTERED},
}


def own_doi(prefix: str, doi: str) -> str:
    """``doi`` normalised, if it is under ``prefix``; else refused as DataCite does."""
    normal = normalise_doi(doi)
    if not normal.startswith(prefix.lower() + "/"):
        raise PermanentRegistrarError(f"{doi} is not under the prefix {prefix}", status=422)
    return normal


def after_put(
    held: RegisteredDoi | None,
    doi: str,
    attributes: Mapping[str, Any],
    *,
    event: str | None = None,
    url: str | None = None,
) -> RegisteredDoi:
    """What a ``PUT`` of ``attributes`` (with ``event`` and ``url``) makes of ``held``."""
    state = DoiState.DRAFT if held is None else held.state
    if event is not None and event not in EVENTS:
        raise PermanentRegistrarError(f"event {event!r} is not one of DataCite's", status=422)
    merged = {
        **(_own_attributes(held.attributes) if held else {}),
        **{key: value for key, value in attributes.items() if key != "event"},
        "doi": doi,
    }
    if url is not None:
        merged["url"] = url
    new_state = EVENTS[event].get(state, state) if event else state
    if new_state is not DoiState.DRAFT:
        problems = list(schema_problems(merged))
        if not merged.get("url"):
            problems.append("url: can't be blank")
        if problems:
            raise PermanentRegistrarError(
                f"{doi} cannot be {new_state}: " + "; ".join(problems)[:300], status=422
            )
    return RegisteredDoi(
        doi=doi,
        state=new_state,
        url=merged.get("url"),
        attributes={**merged, "state": str(new_state)},
    )


def check_deletable(held: RegisteredDoi) -> None:
    """Refuse to delete a DOI that is not a draft."""
    if held.state is not DoiState.DRAFT:
        raise PermanentRegistrarError(
            f"{held.doi} is {held.state}: only a draft can be deleted", status=405
        )


def _own_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Held attributes without the registrar's own (``state``)."""
    return {key: value for key, value in attributes.items() if key != "state"}
