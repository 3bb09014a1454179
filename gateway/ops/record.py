"""What one request did, filled in on its way through and read once it is answered.

The request-log middleware (``gateway.ops.request_log``) puts a record in the ASGI scope
before anything else runs; the gate and the GraphQL endpoint write into it (the operation's
name, whether a plan answered, the error codes, the cost); the access log line and the
metrics are made from it when the response has gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.types import Scope

SCOPE_KEY = "gateway.record"


@dataclass
class RequestRecord:
    request_id: str
    operation: str | None = None
    """The operation's name as the client gave it (None: anonymous or not GraphQL)."""
    path: str | None = None
    """How the GraphQL endpoint answered: ``planned`` (an operation plan,
    ``gateway.compiled.operations``), ``standard`` (strawberry) or ``refused`` (by the
    gate, before either); None when it was not a GraphQL request."""
    codes: list[str] = field(default_factory=list)
    """The ``extensions.code`` of each error in the response."""
    cost: int | None = None
    status: int = 0


def record_of(scope: Scope) -> RequestRecord | None:
    """The scope's record (None outside the middleware, as in some unit tests)."""
    record = scope.get(SCOPE_KEY)
    return record if isinstance(record, RequestRecord) else None
