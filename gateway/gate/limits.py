"""The query limits: what a document and its variables may ask before anything runs.

Two kinds, both checked by the gate before a plan or strawberry sees the request:

- *Static* limits, of the document alone (kept with the parsed document): depth, with
  introspection fields counted like any other (strawberry's depth limiter skips ``__``
  fields, so ``__schema { types { fields { type { ofType ... } } } }`` nested freely
  there) against a limit of their own, as deep as the standard introspection query
  (15) needs and no deeper; aliases; directives on one field; root fields of the
  operation. Fragments are expanded where they are spread.
- *Dynamic* limits, of the operation with its variables: the page size of every
  connection (``first``/``last``), the length of every list given as an argument (at any
  depth of an input object), and the computed *cost*: every object or count a field may
  return, with the page size of a connection (or ``assumed_list_size`` for a plain list)
  multiplied down the tree. Four aliases of six nested ``first: 1000`` connections cost
  4 x 1000^6: refused before any statement runs.

Each refusal has its own stable ``extensions.code`` and says which limit it hit, never
the input that hit it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values

from gateway.gate.hooks import Refusal
from gateway.settings import Settings

QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
TOO_MANY_DIRECTIVES = "TOO_MANY_DIRECTIVES"
TOO_MANY_ROOT_FIELDS = "TOO_MANY_ROOT_FIELDS"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
PAGE_TOO_LARGE = "PAGE_TOO_LARGE"
LIST_TOO_LONG = "LIST_TOO_LONG"
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"

INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})

COUNTED_LEAVES = frozenset({"totalCount"})
"""Leaf fields that cost a statement of their own (a count), unlike a column's value."""


class LimitExceeded(Refusal):
    """A query limit: a client error, refused like a validation failure."""

    def __init__(self, code: str, message: str, limit: int, found: int | None = None) -> None:
        details: dict[str, Any] = {"limit": limit}
        if found is not None:
            details["found"] = found
        super().__init__(code, message, status=0, **details)


@dataclass(frozen=True)
class Limits:
    """The limits of one gate, from the settings."""

    max_depth: int
    max_introspection_depth: int
    max_aliases: int
    max_directives_per_field: int
    max_root_fields: int
    max_page_size: int
    default_page_size: int
    max_input_list_length: int
    max_cost: int
    assumed_list_size: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_depth=settings.max_query_depth,
            max_introspection_depth=settings.max_introspection_depth,
            max_aliases=settings.max_aliases,
            max_directives_per_field=settings.max_directives_per_field,
            max_root_fields=settings.max_root_fields,
            max_page_size=settings.max_page_size,
            default_page_size=settings.default_page_size,
            max_input_list_length=settings.max_input_list_length,
            max_cost=settings.max_query_cost,
            assumed_list_size=settings.assumed_list_size,
        )


# --------------------------------------------------------------------------------------
# Static limits
# --------------------------------------------------------------------------------------


def check_static(
    limits: Limits, document: DocumentNode, operation: OperationDefinitionNode
) -> None:
    """Raise :class:`LimitExceeded` for the first static limit the operation passes."""
    fragments = _fragments(document)
    aliases = 0
    for definition in document.definitions:
        for node in _nodes(definition):
            if isinstance(node, FieldNode) and node.alias is not None:
                aliases += 1
            directives = getattr(node, "directives", None) or ()
            if len(directives) > limits.max_directives_per_field:
                raise LimitExceeded(
                    TOO_MANY_DIRECTIVES,
                    f"A selection has {len(directives)} directives; at most "
                    f"{limits.max_directives_per_field} are allowed on one.",
                    limits.max_directives_per_field,
                    len(directives),
                )
    if aliases > limits.max_aliases:
        raise LimitExceeded(
            TOO_MANY_ALIASES,
            f"The document has {aliases} aliases; at most {limits.max_aliases} are allowed.",
            limits.max_aliases,
            aliases,
        )
    roots = len(set(_response_keys(operation.selection_set, fragments, set())))
    if roots > limits.max_root_fields:
        raise LimitExceeded(
            TOO_MANY_ROOT_FIELDS,
            f"The operation selects {roots} root fields; at most {limits.max_root_fields} "
            "are allowed.",
            limits.max_root_fields,
            roots,
        )
    stop = max(limits.max_depth, limits.max_introspection_depth) + 1
    depth, introspection = _depths(operation.selection_set, fragments, stop)
    if depth > limits.max_depth:
        raise LimitExceeded(
            QUERY_TOO_DEEP,
            f"The operation nests deeper than {limits.max_depth} levels.",
            limits.max_depth,
        )
    if introspection > limits.max_introspection_depth:
        raise LimitExceeded(
            QUERY_TOO_DEEP,
            f"The introspection nests deeper than {limits.max_introspection_depth} levels.",
            limits.max_introspection_depth,
        )


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _nodes(root: Any) -> Iterator[Any]:
    """Every selection (and the operation or fragment itself) under a definition, without
    recursion (a deep document must not exhaust the stack)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)


def _response_keys(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode], seen: set[str]
) -> Iterator[str]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield (selection.alias or selection.name).value
        elif isinstance(selection, InlineFragmentNode):
            yield from _response_keys(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                yield from _response_keys(fragment.selection_set, fragments, seen | {name})


def _depths(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    stop: int,
) -> tuple[int, int]:
    """The depth of an operation's selections outside and inside introspection
    (``__schema``, ``__type``), every field counted, fragments expanded; each stops
    counting at ``stop``. A fragment cycle (refused by validation) is not followed round
    again."""
    deepest = [0, 0]
    pending: list[tuple[SelectionSetNode, int, int, tuple[str, ...]]] = [(selection_set, 0, 0, ())]
    while pending:
        current, level, kind, names = pending.pop()
        for selection in current.selections:
            if isinstance(selection, FieldNode):
                here = level + 1
                inner = kind
                if level == 0 and selection.name.value in INTROSPECTION_ROOTS:
                    inner = 1
                deepest[inner] = max(deepest[inner], here)
                if max(deepest) >= stop:
                    return deepest[0], deepest[1]
                if selection.selection_set is not None:
                    pending.append((selection.selection_set, here, inner, names))
            elif isinstance(selection, InlineFragmentNode):
                pending.append((selection.selection_set, level, kind, names))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in names:
                    pending.append((fragment.selection_set, level, kind, (*names, name)))
    return deepest[0], deepest[1]


# --------------------------------------------------------------------------------------
# Dynamic limits: page sizes, list lengths, cost
# --------------------------------------------------------------------------------------


@dataclass
class _Costing:
    limits: Limits
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: VariableValues


def cost_of(
    limits: Limits,
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: VariableValues,
) -> int:
    """The operation's cost with these (coerced) variables; raises :class:`LimitExceeded`
    for a page or a list too large, or a cost over the budget."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    costing = _Costing(limits, schema, _fragments(document), variables)
    cost = _selection_cost(costing, root, operation.selection_set, ())
    if cost > limits.max_cost:
        raise LimitExceeded(
            QUERY_TOO_COSTLY,
            f"The operation may return about {cost} objects; at most {limits.max_cost} are "
            "allowed in one request (ask for smaller pages, or fewer of them).",
            limits.max_cost,
            cost,
        )
    return cost


def _selection_cost(
    costing: _Costing, parent: Any, selection_set: SelectionSetNode, spread: tuple[str, ...]
) -> int:
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += _field_cost(costing, parent, selection, spread)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = costing.schema.get_type(condition.name.value) if condition else parent
            total += _selection_cost(costing, target or parent, selection.selection_set, spread)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = costing.fragments.get(name)
            if fragment is None or name in spread:
                continue
            target = costing.schema.get_type(fragment.type_condition.name.value) or parent
            total += _selection_cost(costing, target, fragment.selection_set, (*spread, name))
        if total > costing.limits.max_cost:
            return total  # no need to count the rest
    return total


def _field_cost(costing: _Costing, parent: Any, node: FieldNode, spread: tuple[str, ...]) -> int:
    name = node.name.value
    definition = _field(parent, name)
    if definition is None:
        return 0  # __typename, introspection: nothing to load
    arguments = _arguments(definition, node, costing.variables)
    for argument in arguments.values():
        _check_lists(costing.limits, argument)
    if node.selection_set is None:
        return 1 if name in COUNTED_LEAVES else 0
    named = get_named_type(definition.type)
    inner = _selection_cost(costing, named, node.selection_set, spread)
    multiplier = 1
    if _is_connection(named):
        multiplier = _page_size(costing.limits, arguments)
    elif _is_connection(parent) and name in ("nodes", "edges"):
        multiplier = 1  # the connection counted its page
    elif _is_list(definition.type):
        multiplier = costing.limits.assumed_list_size
        for argument in arguments.values():
            if isinstance(argument, list):
                multiplier = max(len(argument), 1)  # _entities: one per representation
    return 1 + multiplier * inner


def _field(parent: Any, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None  # a union has no fields of its own: its fragments name the type


def _arguments(
    definition: GraphQLField, node: FieldNode, variables: VariableValues
) -> dict[str, Any]:
    if not definition.args:
        return {}
    try:
        return get_argument_values(definition, node, variables)
    except GraphQLError:
        return {}  # execution reports it


def _is_connection(named: Any) -> bool:
    return (
        isinstance(named, GraphQLObjectType)
        and named.name.endswith("Connection")
        and "nodes" in named.fields
    )


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _page_size(limits: Limits, arguments: Mapping[str, Any]) -> int:
    sizes = [arguments[name] for name in ("first", "last") if isinstance(arguments.get(name), int)]
    if not sizes:
        return limits.default_page_size
    size = int(max(sizes))
    if size > limits.max_page_size:
        raise LimitExceeded(
            PAGE_TOO_LARGE,
            f"A page of {size} was asked for; pages hold at most {limits.max_page_size} items.",
            limits.max_page_size,
            size,
        )
    return max(size, 0)


def _check_lists(limits: Limits, value: Any) -> None:
    """Every list in an argument's value, at any depth, within the cap."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, list):
            if len(current) > limits.max_input_list_length:
                raise LimitExceeded(
                    LIST_TOO_LONG,
                    f"An argument lists {len(current)} values; at most "
                    f"{limits.max_input_list_length} are allowed in one list.",
                    limits.max_input_list_length,
                    len(current),
                )
            pending.extend(current)
        elif isinstance(current, dict):
            pending.extend(current.values())
