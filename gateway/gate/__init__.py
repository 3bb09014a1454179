"""The request gate: one place every GraphQL request crosses, planned or not.

Operation plans (``gateway.compiled.operations``) answer requests before strawberry
runs, so a limit written as a strawberry extension would not apply to them. The gate
(:class:`Gate`, the ASGI app at ``/graphql``) does everything about what a request may be,
once, in this order, and only then dispatches to a plan or to strawberry:

1. HTTP (``gateway.gate.http``): the method (GET for queries, POST; 405 with ``Allow``
   otherwise), ``Accept`` (406), ``Content-Type`` (``application/json`` only: 415, which
   is also the CSRF defence), the body size (413, refused from ``Content-Length`` or as
   soon as the bytes read pass it, before parsing), the JSON (400).
2. The request's members (``query``, ``operationName``, ``variables``, ``extensions``;
   a JSON array, a batch, is refused: ``BATCHING_NOT_SUPPORTED``), the variables'
   nesting.
3. **Hook: ``received`` checks** (persisted queries: may fill in ``request.query``).
4. Parsing with a token limit, through a cache keyed by the text's hash and bounded by
   bytes (``gateway.gate.documents``).
5. The static limits (depth with introspection counted, aliases, directives per field,
   root fields), then validation (introspection refused unless enabled; no "Did you
   mean" suggestions unless enabled), both kept with the cached document.
6. Variable coercion, then the dynamic limits (``gateway.gate.limits``): page sizes,
   list lengths, the computed cost against the budget.
7. **Hook: ``validated`` checks** (rate limiting by cost, an allow-list).
8. Execution within the request's time budget (``gateway.gate.budget``): an operation
   plan if one answers, strawberry otherwise (with the gate's document: it neither
   parses nor validates again). Statements are cancelled when the budget runs out or
   the client disconnects.
9. The response, in ``application/graphql-response+json`` or ``application/json`` with
   the statuses of the GraphQL-over-HTTP draft, and an ``X-Request-ID`` header.
10. **Hook: observers**, with an :class:`Observation`: request id, operation name and
    type, path taken (``planned``, ``standard`` or ``refused``), HTTP status, duration,
    error codes, cost, and whether the client left.

Hooks
-----
Plug in with ``create_app(settings, hooks=Hooks(...))`` or by appending to
``app.state.gate.hooks`` before serving::

    async def rate_limit(request: GateRequest) -> None:
        if over_budget(request.principal, request.client, request.cost):
            raise Refusal("RATE_LIMITED", "Too many requests.", status=429,
                          headers={"Retry-After": "3"}, always=True)

    def metrics(observation: Observation) -> None:
        REQUESTS.labels(observation.operation_name, observation.path).inc()

    hooks = Hooks(validated=[rate_limit], observers=[metrics])

A check is ``async (GateRequest) -> None`` and refuses by raising :class:`Refusal`
(``code``, ``message``, ``status``, ``headers``, ``always``: keep the status for
``application/json`` clients too, as HTTP-level refusals such as 429 must; extra keyword
arguments go into the error's ``extensions``). ``received`` checks run before parsing
(``request.query`` may be None; a check may set it), ``validated`` checks after the
limits, with ``request.document``, ``request.operation_type`` and ``request.cost`` set.
An observer is ``(Observation) -> None``, called once per request after its response
went out; an exception in one is logged and ignored. ``GateRequest.state`` is a dict for
checks to leave notes to observers.
"""

from gateway.gate.gate import Gate
from gateway.gate.hooks import Check, GateRequest, Hooks, Observation, Observer, Refusal

__all__ = ["Check", "Gate", "GateRequest", "Hooks", "Observation", "Observer", "Refusal"]
