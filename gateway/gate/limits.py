"""The query limits: what a document and its variables may ask before anything runs.

Two kinds, both checked by the gate before a plan or strawberry sees the request:

- *Static* limits, of the document alone (kept with the parsed document): depth, with
  introspection fields counted like any other (strawberry's depth limiter skips ``__``
  fields, so ``__schema { types { fields { type { ofType ... } } } }`` nested freely
  there) against a limit of their own, as deep as the standard introspection query
  (15) needs and no deeper; aliases; directives on one field; root fields of the
  operation; the size of the operation once its fragments are spread. Every one is
  computed without expanding a fragment: each fragment's size and depth once.
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

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
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
TOO_MANY_SELECTIONS = "TOO_MANY_SELECTIONS"
PAGE_TOO_LARGE = "PAGE_TOO_LARGE"
LIST_TOO_LONG = "LIST_TOO_LONG"
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"

INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})

OWN_LIST_CAPS = frozenset({("_entities", "representations")})
"""(field, argument) lists capped where they are read instead: a router sends all the
references of a step of its plan in one ``_entities`` call (``gateway.schema.entities``
caps them at its ``MAX_REPRESENTATIONS``); the cost still counts each of them."""

FILTER_LIST_COSTS = {"parameters": 100}
"""Lists in a filter whose every item the database pays for apart: each parameter range
is a condition over the dataset parameters of its type (as many as a page of 100)."""

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
    max_selections: int
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
            max_selections=settings.max_selections,
            max_page_size=settings.max_page_size,
            default_page_size=settings.default_page_size,
            max_input_list_length=settings.max_input_list_length,
            max_cost=settings.max_query_cost,
            assumed_list_size=settings.assumed_list_size,
        )


# --------------------------------------------------------------------------------------
# Tokens, before parsing
# --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'#[^\n\r]*|"""(?:\\"""|[\s\S])*?"""|"(?:[^"\\\n\r]|\\.)*"|\.\.\.'
    r"|[A-Za-z_][A-Za-z0-9_]*|-?[0-9][A-Za-z0-9_.+-]*|[!$&()\[\]{}:=@|]"
)
"""GraphQL's lexical tokens, roughly (comments matched to be skipped, numbers loosely)."""


def check_tokens(text: str, limit: int, max_nesting: int = 64) -> None:
    """Refuse a document of more than ``limit`` tokens before the parser sees it: the
    parser stops at its own ``max_tokens`` too, but only after building the tree up to
    there (tens of milliseconds for 2,000 tokens); this count is a regular expression's.
    Braces and brackets nested deeper than ``max_nesting`` are refused here too
    (QUERY_TOO_DEEP): the parser took 17 ms to refuse 650 levels."""
    count = 0
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token.startswith("#"):
            continue
        count += 1
        if count > limit:
            raise LimitExceeded(
                TOO_MANY_TOKENS, f"The document has more than {limit} tokens.", limit
            )
        if token in ("{", "["):
            depth += 1
            if depth > max_nesting:
                raise LimitExceeded(
                    QUERY_TOO_DEEP,
                    f"The document nests more than {max_nesting} levels of braces.",
                    max_nesting,
                )
        elif token in ("}", "]"):
            depth -= 1


# --------------------------------------------------------------------------------------
# Static limits
# --------------------------------------------------------------------------------------


def check_static(
    limits: Limits, document: DocumentNode, operation: OperationDefinitionNode
) -> None:
    """Raise :class:`LimitExceeded` for the first static limit the operation passes.

    Every figure is computed in time linear in the document: a fragment's expanded size
    and depth are worked out once and remembered, never by expanding its spreads (a
    fragment that spreads the next one twice, twenty deep, expands to a million fields
    from a few hundred bytes)."""
    try:
        _check_static(limits, document, operation)
    except RecursionError:
        # Nesting that deep (only a raised token limit allows it) is too deep anyway.
        raise LimitExceeded(
            QUERY_TOO_DEEP,
            f"The operation nests deeper than {limits.max_depth} levels.",
            limits.max_depth,
        ) from None


def _check_static(
    limits: Limits, document: DocumentNode, operation: OperationDefinitionNode
) -> None:
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
    shapes = _Shapes(fragments, limits.max_selections + 1)
    selections = shapes.size(operation.selection_set)
    if selections > limits.max_selections:
        raise LimitExceeded(
            TOO_MANY_SELECTIONS,
            f"The operation selects more than {limits.max_selections} fields once its "
            "fragments are spread.",
            limits.max_selections,
        )
    roots = len(_root_keys(operation.selection_set, fragments))
    if roots > limits.max_root_fields:
        raise LimitExceeded(
            TOO_MANY_ROOT_FIELDS,
            f"The operation selects {roots} root fields; at most {limits.max_root_fields} "
            "are allowed.",
            limits.max_root_fields,
            roots,
        )
    depth, introspection = shapes.root_depths(operation.selection_set)
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


def _root_keys(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> set[str]:
    """The response keys of an operation's root: each fragment spread there is read once,
    however often it is spread."""
    keys: set[str] = set()
    seen: set[str] = set()
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                keys.add((selection.alias or selection.name).value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    pending.append(fragment.selection_set)
    return keys


class _Shapes:
    """Sizes and depths of selection sets, each fragment's worked out once.

    A fragment spread inside its own expansion (a cycle, which validation refuses later)
    counts nothing the second time. Sizes are capped at ``cap`` so that the arithmetic
    stays on small numbers whatever the fan-out."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode], cap: int) -> None:
        self.fragments = fragments
        self.cap = cap
        self._sizes: dict[str, int] = {}
        self._depths: dict[str, int] = {}
        self._root: dict[str, tuple[int, int]] = {}
        self._open: set[tuple[str, str]] = set()

    def _fragment(self, kind: str, name: str) -> FragmentDefinitionNode | None:
        fragment = self.fragments.get(name)
        if fragment is None or (kind, name) in self._open:
            return None
        return fragment

    def size(self, selection_set: SelectionSetNode) -> int:
        """Fields selected once every fragment is spread (at most ``cap``)."""
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1
                if selection.selection_set is not None:
                    total += self.size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += self.size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment_size(selection.name.value)
            if total >= self.cap:
                return self.cap
        return total

    def _fragment_size(self, name: str) -> int:
        known = self._sizes.get(name)
        if known is not None:
            return known
        fragment = self._fragment("size", name)
        if fragment is None:
            return 0
        self._open.add(("size", name))
        try:
            found = self.size(fragment.selection_set)
        finally:
            self._open.discard(("size", name))
        self._sizes[name] = found
        return found

    def depth(self, selection_set: SelectionSetNode) -> int:
        """How many fields deep the selection set nests, fragments included."""
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = 0
                if selection.selection_set is not None:
                    inner = self.depth(selection.selection_set)
                deepest = max(deepest, 1 + inner)
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self._fragment_depth(selection.name.value))
        return deepest

    def _fragment_depth(self, name: str) -> int:
        known = self._depths.get(name)
        if known is not None:
            return known
        fragment = self._fragment("depth", name)
        if fragment is None:
            return 0
        self._open.add(("depth", name))
        try:
            found = self.depth(fragment.selection_set)
        finally:
            self._open.discard(("depth", name))
        self._depths[name] = found
        return found

    def root_depths(self, selection_set: SelectionSetNode) -> tuple[int, int]:
        """The depth of an operation's root selection outside and inside introspection
        (under ``__schema`` or ``__type``), each field counted."""
        plain = introspection = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = 0
                if selection.selection_set is not None:
                    inner = self.depth(selection.selection_set)
                if selection.name.value in INTROSPECTION_ROOTS:
                    introspection = max(introspection, 1 + inner)
                else:
                    plain = max(plain, 1 + inner)
            else:
                if isinstance(selection, InlineFragmentNode):
                    found = self.root_depths(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    found = self._fragment_root_depths(selection.name.value)
                else:
                    continue
                plain, introspection = max(plain, found[0]), max(introspection, found[1])
        return plain, introspection

    def _fragment_root_depths(self, name: str) -> tuple[int, int]:
        known = self._root.get(name)
        if known is not None:
            return known
        fragment = self._fragment("root", name)
        if fragment is None:
            return 0, 0
        self._open.add(("root", name))
        try:
            found = self.root_depths(fragment.selection_set)
        finally:
            self._open.discard(("root", name))
        self._root[name] = found
        return found


# --------------------------------------------------------------------------------------
# Dynamic limits: page sizes, list lengths, cost
# --------------------------------------------------------------------------------------


@dataclass
class _Costing:
    limits: Limits
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: VariableValues
    spread_costs: dict[tuple[str, str, int | None], int] = field(default_factory=dict)
    """Each fragment's cost once per type and page it is spread on: a fragment spread
    twice by each of twenty fragments is costed twenty times, not a million."""


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
    costing: _Costing,
    parent: Any,
    selection_set: SelectionSetNode,
    spread: tuple[str, ...],
    page: int | None = None,
) -> int:
    """The cost of a selection set on ``parent``; ``page``: the page size of the
    connection whose fields these are (its ``nodes`` and ``edges`` hold that many)."""
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += _field_cost(costing, parent, selection, spread, page)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = costing.schema.get_type(condition.name.value) if condition else parent
            total += _selection_cost(
                costing, target or parent, selection.selection_set, spread, page
            )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = costing.fragments.get(name)
            if fragment is None or name in spread:
                continue
            target = costing.schema.get_type(fragment.type_condition.name.value) or parent
            key = (name, getattr(target, "name", ""), page)
            known = costing.spread_costs.get(key)
            if known is None:
                known = _selection_cost(
                    costing, target, fragment.selection_set, (*spread, name), page
                )
                costing.spread_costs[key] = known
            total += known
        if total > costing.limits.max_cost:
            return total  # no need to count the rest
    return total


def _field_cost(
    costing: _Costing, parent: Any, node: FieldNode, spread: tuple[str, ...], page: int | None
) -> int:
    """Every object a field may return counts 1, with what is selected of it; a count
    (``totalCount``) counts 1; a column's value nothing."""
    name = node.name.value
    definition = _field(parent, name)
    if definition is None:
        return 0  # __typename, introspection: nothing to load
    arguments = _arguments(definition, node, costing.variables)
    for argument, value in arguments.items():
        if (name, argument) not in OWN_LIST_CAPS:
            _check_lists(costing.limits, value)
    if node.selection_set is None:
        return 1 if name in COUNTED_LEAVES else 0
    named = get_named_type(definition.type)
    own = 1 + _filter_cost(arguments)
    if _is_connection(named):
        size = _page_size(costing.limits, arguments)
        return own + _selection_cost(costing, named, node.selection_set, spread, size)
    inner = own - 1 + _selection_cost(costing, named, node.selection_set, spread)
    items = 1
    if page is not None and name in ("nodes", "edges"):
        items = page
    elif _is_list(definition.type):
        items = costing.limits.assumed_list_size
        for value in arguments.values():
            if isinstance(value, list):
                items = len(value)  # _entities: one per representation
    return items * (1 + inner)


def _filter_cost(arguments: Mapping[str, Any]) -> int:
    """What the lists of ``FILTER_LIST_COSTS`` in the arguments' input objects cost."""
    cost = 0
    pending: list[Any] = list(arguments.values())
    while pending:
        current = pending.pop()
        if isinstance(current, Mapping):
            for key, value in current.items():
                if key in FILTER_LIST_COSTS and isinstance(value, list):
                    cost += FILTER_LIST_COSTS[key] * len(value)
                else:
                    pending.append(value)
        elif isinstance(current, list):
            pending.extend(current)
    return cost


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
