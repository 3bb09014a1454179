"""What a query asks of an object: its fields, merged across fragments, with their arguments.

graphql-core collects fields itself while it executes; the compiler needs the same answer
up front, for a whole subtree, before any resolver runs. This follows the spec's
CollectFields: fields are keyed by response name (alias), fragments and inline fragments
apply when their type condition matches, ``@skip`` and ``@include`` are honoured, and
fields of the same response name are merged. Anything the compiler does not handle (any
other directive, an abstract type) raises :class:`Unsupported`, and the query runs the
standard way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLSkipDirective,
    GraphQLUnionType,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import (
    VariableValues,
    get_argument_values,
    get_directive_values,
)


class Unsupported(Exception):
    """This selection cannot be compiled: resolve it the standard way."""


TYPENAME = "__typename"


@dataclass(frozen=True)
class Field:
    """One selected field: response key, field name, coerced arguments, sub-selection."""

    key: str
    name: str
    arguments: Mapping[str, Any]
    children: tuple[Field, ...] = ()
    type_name: str = ""
    """The named type of the field's value (the item type for lists)."""


@dataclass(frozen=True)
class Request:
    """What collection needs from the operation: schema, fragments and variables."""

    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Any
    """graphql-core's ``VariableValues`` of the operation."""

    @staticmethod
    def of(info: GraphQLResolveInfo[Any]) -> Request:
        variables: Any = info.variable_values
        if isinstance(variables, dict):  # strawberry hands resolvers the coerced dict
            variables = VariableValues({}, variables)
        return Request(info.schema, info.fragments, variables)


def collect(
    request: Request, parent: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
) -> tuple[Field, ...]:
    """The fields selected on an object of type ``parent`` by these selection sets."""
    grouped: dict[str, list[FieldNode]] = {}
    for selection_set in selection_sets:
        _gather(request, parent, selection_set, grouped, set())
    fields = []
    for key, nodes in grouped.items():
        name = nodes[0].name.value
        if name == TYPENAME:
            fields.append(Field(key, name, {}, (), "String"))
            continue
        definition = parent.fields.get(name)
        if definition is None:
            raise Unsupported(name)  # introspection (__schema, __type) and the like
        named = get_named_type(definition.type)
        arguments = get_argument_values(definition, nodes[0], request.variables)
        children: tuple[Field, ...] = ()
        if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            raise Unsupported(f"{parent.name}.{name} is abstract")
        if isinstance(named, GraphQLObjectType):
            children = collect(
                request, named, [node.selection_set for node in nodes if node.selection_set]
            )
        fields.append(Field(key, name, arguments, children, named.name))
    return tuple(fields)


def gather(
    request: Request, parent: GraphQLObjectType, selection_set: SelectionSetNode
) -> list[tuple[str, list[FieldNode]]]:
    """The field nodes selected on a ``parent`` by a selection set, grouped by response
    key, in order (the first step of :func:`collect`, for callers that handle each
    field themselves: the root fields of an operation)."""
    grouped: dict[str, list[FieldNode]] = {}
    _gather(request, parent, selection_set, grouped, set())
    return list(grouped.items())


def _gather(
    request: Request,
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode,
    grouped: dict[str, list[FieldNode]],
    spread: set[str],
) -> None:
    for selection in selection_set.selections:
        if not _included(request, selection):
            continue
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            grouped.setdefault(key, []).append(selection)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is None or _applies(request, condition.name.value, parent):
                _gather(request, parent, selection.selection_set, grouped, spread)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = request.fragments.get(name)
            if name in spread or fragment is None:
                continue
            spread.add(name)
            if _applies(request, fragment.type_condition.name.value, parent):
                _gather(request, parent, fragment.selection_set, grouped, spread)


def _included(request: Request, node: Any) -> bool:
    variables = request.variables
    for directive in node.directives or ():
        if directive.name.value not in ("skip", "include"):
            raise Unsupported(f"@{directive.name.value}")
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip["if"] is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include is not None and include["if"] is False)


def _applies(request: Request, condition: str, parent: GraphQLObjectType) -> bool:
    if condition == parent.name:
        return True
    conditional = request.schema.get_type(condition)
    if isinstance(conditional, GraphQLInterfaceType):
        return any(interface.name == condition for interface in parent.interfaces)
    if isinstance(conditional, GraphQLUnionType):
        return any(member.name == parent.name for member in conditional.types)
    return False


def connection_nodes(info: GraphQLResolveInfo[Any]) -> tuple[GraphQLObjectType, tuple[Field, ...]]:
    """The item type of a connection field being resolved, and what is asked of its items
    (under ``nodes``, or under ``edges { node }``, not both)."""
    request = Request.of(info)
    connection = get_named_type(info.return_type)
    if not isinstance(connection, GraphQLObjectType):
        raise Unsupported("not a connection")
    fields = collect(
        request, connection, [node.selection_set for node in info.field_nodes if node.selection_set]
    )
    found: list[Field] = []
    for field in fields:
        if field.name == "nodes":
            found.append(field)
        elif field.name == "edges":
            found.extend(child for child in field.children if child.name == "node")
    item = request.schema.get_type(found[0].type_name) if found else None
    if len(found) != 1 or not isinstance(item, GraphQLObjectType):
        raise Unsupported("no single item selection")
    return item, found[0].children
