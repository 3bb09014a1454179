"""ORCID iDs: how people are matched across facilities.

ICAT keeps ``USER_.ORCIDID`` as the facility typed it: bare (``0000-0002-1825-0097``) or
as the iD's URL. Lookups compare the bare iD and its URL forms by index equality.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select

from gateway.catalogue.models import User
from gateway.catalogue.queries import columns_of
from gateway.errors import BadUserInput

ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")


def orcid_key(value: str | None) -> str | None:
    """The bare iD of a stored value, or None where it is not an ORCID iD."""
    found = ORCID.match(value.strip()) if value else None
    return found.group(1) if found else None


def normalise_orcid(value: str) -> str:
    """The bare iD of a client's value; BAD_USER_INPUT when it is not an ORCID iD."""
    key = orcid_key(value)
    if key is None:
        raise BadUserInput(f"`{value}` is not an ORCID iD (e.g. 0000-0002-1825-0097).")
    return key


def orcid_variants(orcids: Sequence[str]) -> list[str]:
    """The stored forms of bare iDs, for ``ORCIDID IN (...)``."""
    return sorted(
        {
            f
            for orcid in orcids
            for f in (orcid, f"https://orcid.org/{orcid}", f"http://orcid.org/{orcid}")
        }
    )


def users_by_orcid(orcids: Sequence[str]) -> Select[Any]:
    """The USER_ rows holding any of these (bare) iDs, oldest first."""
    return (
        select(*columns_of(User)).where(User.orcid_id.in_(orcid_variants(orcids))).order_by(User.id)
    )
