"""Statements over access requests (``GATEWAY_ACCESS_REQUEST``), each keeping only the
requests the caller may see (``visibility.access_request_visible``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select, true

from gateway.auth.policy import AccessRules
from gateway.catalogue.gateway_tables import AccessRequest
from gateway.catalogue.queries import columns_of
from gateway.catalogue.sql_text import same_name
from gateway.catalogue.visibility import (
    Access,
    access_request_visible,
    managed_investigation_ids,
)


def access_requests(access: Access, rules: AccessRules, state: str | None = None) -> Select[Any]:
    """The requests the caller may see, in a state (None: any), unordered."""
    statement = select(*columns_of(AccessRequest)).where(access_request_visible(access, rules))
    if state is not None:
        statement = statement.where(AccessRequest.state == state)
    return statement


def own_access_requests(access: Access, state: str | None) -> Select[Any] | None:
    """The requests the caller made; None when anonymous."""
    name = access.caller.user_name
    if name is None:
        return None
    statement = select(*columns_of(AccessRequest)).where(same_name(AccessRequest.requester, name))
    if state is not None:
        statement = statement.where(AccessRequest.state == state)
    return statement


def access_requests_to_decide(access: Access, rules: AccessRules) -> Select[Any] | None:
    """The pending requests of the sessions whose access the caller manages (every
    session, for staff); None when anonymous."""
    name = access.caller.user_name
    if name is None:
        return None
    managed = (
        true()
        if access.is_staff
        else AccessRequest.investigation_id.in_(managed_investigation_ids(name, rules, access.now))
    )
    return select(*columns_of(AccessRequest)).where(AccessRequest.pending == 1, managed)
