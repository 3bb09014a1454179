"""Strings no database of ours can store: refused as the user's error, before any statement.

PostgreSQL refuses a NUL character (U+0000) in text, whether it is compared or stored
(``invalid byte sequence for encoding "UTF8": 0x00``): a NUL in a DOI, a search, a cursor
or a grant's reason answered ``INTERNAL_SERVER_ERROR``, and through a kept operation plan
an HTTP 500. SQLite and MariaDB store it, but no identifier, name or message of the
catalogue holds one, so it is refused on every database alike: the same request has the
same answer whatever the backend. Lone surrogates cannot reach here (the JSON decoder and
the URL decoder refuse or replace them).

The check reads every argument of the operation (literals of the document, and the
variables they name) and refuses the first string holding such a character, naming the
argument (and the variable, if it came from one).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)

from gateway.gate.hooks import Refusal

BAD_USER_INPUT = "BAD_USER_INPUT"

REFUSED = frozenset({"\x00"})
"""Characters a dialect of ours refuses in text (PostgreSQL: NUL)."""


def refused_character(value: Any) -> tuple[str, str] | None:
    """The first refused character in a string found anywhere in ``value`` (a coerced
    variable: strings, lists, input objects) and where (``.title``, ``[2].name``), or
    None."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        current, where = pending.pop()
        if isinstance(current, str):
            for character in REFUSED:
                if character in current:
                    return character, where
        elif isinstance(current, list | tuple):
            pending.extend((item, f"{where}[{i}]") for i, item in enumerate(current))
        elif isinstance(current, Mapping):
            pending.extend((item, f"{where}.{key}") for key, item in current.items())
    return None


def _refusal(character: str, subject: str, **details: Any) -> Refusal:
    return Refusal(
        BAD_USER_INPUT,
        f"{subject} holds a character that cannot be stored or searched (U+{ord(character):04X}).",
        status=0,
        **details,
    )


def check_strings(document: DocumentNode, variables: Mapping[str, Any]) -> None:
    """Refuse (``BAD_USER_INPUT``) the first argument of ``document`` whose string value,
    given literally or by a variable, holds a character no database of ours stores."""
    for argument, node in _arguments(document):
        for value, at in _values(node):
            if isinstance(value, VariableNode):
                name = value.name.value
                found = refused_character(variables.get(name))
                if found is not None:
                    character, inside = found
                    path = argument + at + inside
                    raise _refusal(
                        character,
                        f'The argument "{path}" (variable ${name})',
                        argument=path,
                        variable=name,
                    )
            elif character := next((c for c in REFUSED if c in value.value), ""):
                path = argument + at
                raise _refusal(character, f'The argument "{path}"', argument=path)
    for name, value in variables.items():
        found = refused_character(value)  # a variable no argument uses
        if found is not None:
            raise _refusal(found[0], f"The variable ${name}{found[1]}", variable=name)


def _arguments(document: DocumentNode) -> Iterator[tuple[str, ValueNode]]:
    """Every argument of every field and directive of the document, with its name (each
    definition read once: a fragment is not expanded where it is spread)."""
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        arguments: tuple[ArgumentNode, ...] = tuple(getattr(node, "arguments", None) or ())
        for argument in arguments:
            yield argument.name.value, argument.value
        for directive in getattr(node, "directives", None) or ():
            for argument in directive.arguments or ():
                yield argument.name.value, argument.value
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)


def _values(node: ValueNode) -> Iterator[tuple[StringValueNode | VariableNode, str]]:
    """The strings and variables of an argument's value, at any depth, and where they
    are in it (``.parameters[0].name``)."""
    pending: list[tuple[ValueNode, str]] = [(node, "")]
    while pending:
        current, where = pending.pop()
        if isinstance(current, StringValueNode | VariableNode):
            yield current, where
        elif isinstance(current, ListValueNode):
            pending.extend((item, f"{where}[{i}]") for i, item in enumerate(current.values))
        elif isinstance(current, ObjectValueNode):
            pending.extend((field.value, f"{where}.{field.name.value}") for field in current.fields)
