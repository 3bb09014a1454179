"""The operational services plugged into the gate's hooks (``gateway.gate.hooks``), so that
they apply to every GraphQL request, answered by an operation plan or by strawberry.

- ``received`` (decoded, not parsed): the request budget of the caller and of its address,
  then the persisted query (a hash becomes its text before the gate parses it).
- ``validated`` (parsed, limits passed, cost known): the cost budget.
- observer: what happened goes into the request's record, from which the access line and
  the metrics are written (``gateway.ops.request_log``).
"""

from __future__ import annotations

from graphql import OperationDefinitionNode

from gateway.gate.hooks import Check, GateRequest, Hooks, Observation, Refusal
from gateway.ops.persisted import PersistedQueries, PersistedQueryRefusal
from gateway.ops.rate_limits import RATE_LIMITED, RateLimits
from gateway.ops.rate_limits import Refusal as LimitRefusal
from gateway.ops.record import record_of
from gateway.ops.services import OpsServices

UNKNOWN_ADDRESS = "unknown"


def plug_in(hooks: Hooks, ops: OpsServices) -> None:
    """Add the services' checks and observer to a gate's hooks."""
    if ops.rate_limits.enabled:
        hooks.received.append(_admit(ops.rate_limits))
    hooks.received.append(_persisted(ops.persisted))
    if ops.rate_limits.cost:
        hooks.validated.append(_charge(ops.rate_limits))
    hooks.observers.append(_record)


def _too_many(refusal: LimitRefusal) -> Refusal:
    return Refusal(
        RATE_LIMITED,
        refusal.message,
        status=429,
        always=True,
        headers={"Retry-After": str(refusal.retry_after)},
        retryAfter=refusal.retry_after,
        budget=refusal.budget,
    )


def _admit(limits: RateLimits) -> Check:
    async def admit(request: GateRequest) -> None:
        refusal = await limits.admit(request.principal.user_name, request.client or UNKNOWN_ADDRESS)
        if refusal is not None:
            raise _too_many(refusal)

    return admit


def _charge(limits: RateLimits) -> Check:
    async def charge(request: GateRequest) -> None:
        if request.cost is None:
            return
        address = request.client or UNKNOWN_ADDRESS
        refusal = await limits.charge(request.principal.user_name, address, request.cost)
        if refusal is not None:
            raise _too_many(refusal)

    return charge


def _persisted(persisted: PersistedQueries) -> Check:
    async def resolve(request: GateRequest) -> None:
        payload = {"query": request.query, "extensions": request.extensions}
        try:
            resolved = await persisted.resolve(payload)
        except PersistedQueryRefusal as refusal:
            raise Refusal(refusal.code, refusal.message, status=refusal.status) from None
        request.query = resolved.get("query")
        request.extensions = resolved.get("extensions")

    return resolve


def _record(observation: Observation) -> None:
    record = record_of(observation.request.scope)
    if record is None:
        return
    record.path = observation.path
    record.operation = observation.operation_name or _only_operation(observation.request)
    record.codes = list(observation.error_codes)
    record.cost = observation.cost


def _only_operation(request: GateRequest) -> str | None:
    """The name of the document's operation when the client named none (it has one)."""
    if request.document is None:
        return None
    operations = [d for d in request.document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) == 1 and operations[0].name is not None:
        return operations[0].name.value
    return None
