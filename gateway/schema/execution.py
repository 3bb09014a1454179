"""A faster executor: plain leaf fields are read straight off the object.

graphql-core resolves every field through a resolver with a fresh ``ResolveInfo``, and
strawberry wraps each resolver again; for a page of 1,000 files with seven scalar fields
that is 7,000 such calls, most of the time of the request. A field that strawberry would
resolve as a plain attribute read (no resolver, no arguments, no permission classes or
field extensions) and whose type is a scalar or an enum is read and serialised here
directly. Anything else, and any value that does not serialise cleanly (a null in a
non-null field, say), goes the standard way, so errors are reported exactly as before.

A :class:`Completed` value (JSON rendered by the database, ``gateway.compiled``) is
returned as it is: its fields are not resolved again.

Work that never starts is closed. graphql-core makes a coroutine for each async field
(the resolver's, and the one completing it) before it runs them together; when a request
is cancelled (the gate's budget, a client gone) or a sibling's error cancels them, some
never start and would be dropped unawaited: Python then warns, at whatever moment the
collector finds them, and the warning lands in an unrelated request's log (or test). Once
the operation is over and its background work settled, the coroutines it made that never
started are closed. Nothing is lost: they had not begun.
"""

from __future__ import annotations

from collections.abc import Coroutine
from types import CoroutineType
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.compiled.completed import Completed

_SLOW = object()
_PLAN = "gateway-leaf-plan"


def _object_plan(parent_type: GraphQLObjectType, grouped_field_set: Any) -> list[Any] | None:
    """How to complete an object in one loop, if every selected field is a plain leaf."""
    plan = []
    for response_name, field_details_list in grouped_field_set.items():
        node = field_details_list[0].node
        if node.name.value == _TYPENAME:
            plan.append((response_name, _TYPENAME, None, False))
            continue
        if node.arguments:
            return None
        field = parent_type.fields.get(node.name.value)
        leaf = _plain_leaf(field) if field is not None else None
        if leaf is None:
            return None
        plan.append((response_name, *leaf))
    return plan


def _plain_leaf(field: GraphQLField) -> tuple[str, Any, bool] | None:
    """(attribute, leaf type, nullable) when the field is a plain attribute read."""
    definition = (field.extensions or {}).get("strawberry-definition")
    if definition is None or definition.base_resolver is not None:
        return None
    if definition.permission_classes or definition.extensions or field.args:
        return None
    graphql_type: Any = field.type
    nullable = not isinstance(graphql_type, GraphQLNonNull)
    if not nullable:
        graphql_type = graphql_type.of_type
    if not isinstance(graphql_type, GraphQLScalarType | GraphQLEnumType):
        return None
    return definition.python_name, graphql_type, nullable


_TYPENAME = "__typename"


def _close_unstarted(coroutines: list[Coroutine[Any, Any, Any]]) -> None:
    """Close each coroutine not yet started (neither running, suspended nor done)."""
    for coroutine in coroutines:
        if coroutine.cr_frame is not None and not (  # type: ignore[attr-defined]
            coroutine.cr_running or coroutine.cr_suspended  # type: ignore[attr-defined]
        ):
            coroutine.close()
    coroutines.clear()


class FastLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the plain-leaf shortcuts.

    Two levels: an object whose selected fields are all plain leaves (a file of a page of
    files) is completed in one loop without per-field paths; otherwise each plain leaf
    field is still read directly. One instance serves one request.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core reuses one grouped field set for every item of a list, so a plan
        # per (field set, type) is made once per request and list.
        self._object_plans: dict[tuple[int, str], Any] = {}
        # The coroutines this request's fields made, to close those that never start.
        self._coroutines: list[Coroutine[Any, Any, Any]] = []

    def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        result = super().execute_operation(*args, **kwargs)
        if not self.is_awaitable(result):
            return result

        async def settled() -> Any:
            try:
                return await result
            finally:
                self._close_unstarted()

        return settled()

    def _close_unstarted(self) -> None:
        """Close the coroutines that never started, once background work is settled."""
        pending = {future for future in self.background_futures if not future.done()}
        if not pending:
            _close_unstarted(self._coroutines)
            return

        def settled(future: Any) -> None:
            pending.discard(future)
            if not pending:
                _close_unstarted(self._coroutines)

        for future in pending:
            future.add_done_callback(settled)

    def complete_awaitable_value(self, *args: Any, **kwargs: Any) -> Any:
        # args[4] is the resolver's result: a coroutine of an async resolver.
        result = args[4] if len(args) > 4 else kwargs.get("result")
        if type(result) is CoroutineType:
            self._coroutines.append(result)
        completing = super().complete_awaitable_value(*args, **kwargs)
        self._coroutines.append(completing)
        return completing

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any = None,
    ) -> Any:
        key = (id(grouped_field_set), parent_type.name)
        plan: Any = self._object_plans.get(key)
        if plan is None:
            plan = _object_plan(parent_type, grouped_field_set) or _SLOW
            self._object_plans[key] = plan
        if plan is not _SLOW:
            results: dict[str, Any] = {}
            for response_name, attribute, leaf_type, nullable in plan:
                if attribute is _TYPENAME:
                    results[response_name] = parent_type.name
                    continue
                value = getattr(source_value, attribute, None)
                if value is None:
                    if not nullable:
                        break
                    results[response_name] = None
                    continue
                try:
                    results[response_name] = leaf_type.serialize(value)
                except Exception:  # report it the standard way
                    break
            else:
                return results
        fields = super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )
        if type(fields) is CoroutineType:
            self._coroutines.append(fields)
        return fields

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any = None,
    ) -> Any:
        if type(result) is Completed:
            return result.value
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any = None,
    ) -> Any:
        node = field_details_list[0].node
        field = parent_type.fields.get(node.name.value)
        if field is not None and not node.arguments:
            # The plan lives on the field itself, as long as its schema does.
            plan = field.extensions.get(_PLAN)
            if plan is None:
                plan = _plain_leaf(field) or _SLOW
                field.extensions[_PLAN] = plan
            if plan is not _SLOW:
                attribute, leaf_type, nullable = plan
                value = getattr(source, attribute, None)
                if value is None:
                    if nullable:
                        return None
                else:
                    try:
                        return leaf_type.serialize(value)
                    except Exception:  # report it the standard way
                        pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
