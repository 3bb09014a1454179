"""The gate's hook points: checks that may refuse a request, observers that see each one.

A *check* is an async callable taking the :class:`GateRequest`; it refuses by raising
:class:`Refusal` (a stable code, a message, an HTTP status and headers) and lets the
request through by returning. Checks run at two stages:

- ``received``: the request's JSON (or GET parameters) is decoded, nothing is parsed yet.
  ``request.query`` may be None (a persisted-query hash only); a check may set it (an APQ
  store that knows the hash) before the gate parses it. ``request.extensions`` holds the
  request's ``extensions`` member.
- ``validated``: the document parsed and validated, the limits passed, the variables
  coerced. ``request.operation_type``, ``request.operation_name`` and ``request.cost`` are
  known (rate limiting by cost, an allow-list of operations).

An *observer* is a plain callable taking an :class:`Observation` once the response is
sent (or the client left): metrics and logs. It must not raise; if it does, the gate
logs it and goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from graphql import DocumentNode
from starlette.types import Scope

from gateway.auth.principal import Principal

Path = Literal["planned", "standard", "refused"]
"""How a request was answered: by an operation plan, by strawberry, or by the gate."""


class Refusal(Exception):
    """A request the gate (or one of its checks) does not run.

    ``status`` is the HTTP status when the client accepts
    ``application/graphql-response+json`` (0: the gate's validation-failure status); a
    client of the legacy ``application/json`` gets 200 for every well-formed request, as
    the GraphQL-over-HTTP draft asks, unless ``always``: a refusal about HTTP itself
    (413, 415, 429 with ``Retry-After`` in ``headers``...) has its status whatever the
    media type. ``details`` go into the error's ``extensions`` beside ``code``.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
        always: bool = False,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.always = always
        self.code = code
        self.message = message
        self.status = status
        self.headers = dict(headers or {})
        self.details = details


@dataclass
class GateRequest:
    """One GraphQL request as the gate sees it, filled in stage by stage."""

    request_id: str
    scope: Scope
    method: str
    principal: Principal
    client: str | None
    """The client's address (as the ASGI server reports it; behind a proxy, the proxy's)."""
    body_bytes: int = 0
    query: str | None = None
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None
    document: DocumentNode | None = None
    operation_type: str | None = None
    """``query`` or ``mutation`` once parsed."""
    cost: int | None = None
    """The computed cost (page sizes multiplied down the tree) once validated."""
    state: dict[str, Any] = field(default_factory=dict)
    """Room for checks to leave something for observers (a rate limit's remaining
    budget, a persisted query's status)."""


@dataclass(frozen=True)
class Observation:
    """What happened to one request: for metrics and logs."""

    request_id: str
    path: Path
    status: int
    duration: float
    """Seconds from the first byte read to the last byte sent."""
    operation_name: str | None
    operation_type: str | None
    error_codes: tuple[str, ...]
    cost: int | None
    request: GateRequest
    disconnected: bool = False
    """The client left before its answer was sent (its statements were cancelled)."""


Check = Callable[[GateRequest], Awaitable[None]]
Observer = Callable[[Observation], None]


@dataclass
class Hooks:
    """The checks and observers of one gate; add to the lists before the app serves."""

    received: list[Check] = field(default_factory=list)
    validated: list[Check] = field(default_factory=list)
    observers: list[Observer] = field(default_factory=list)
