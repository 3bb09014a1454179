"""Field-level authorization in the schema: DATA fields of embargoed sessions.

The decision itself is taken in SQL (``gateway.catalogue.visibility``) and arrives with each
row as ``data_visible``; a field of class DATA asked for on a row the caller may not read
resolves to null with a FORBIDDEN error at its path. Nothing is raised for fields that
were not asked for.
"""

from __future__ import annotations

from typing import TypeVar

from gateway.errors import Forbidden

T = TypeVar("T")

EMBARGOED = (
    "This field of an experiment session under embargo is visible only to its team, "
    "the beamline's scientists and facility staff."
)


def embargoed(visible: bool, value: T) -> T:
    """The value if the caller may read the session's data, FORBIDDEN otherwise."""
    if not visible:
        raise Forbidden(EMBARGOED, reason="EMBARGOED")
    return value
