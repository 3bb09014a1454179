"""What a field's own query asks of it, read from the document's nodes one level at a time.

strawberry's ``info.selected_fields`` converts the field's whole subtree (every nested
field, argument and directive) on each call. A connection resolver asks it once per
parent row, so a list of sessions with their datasets' files converted the same subtree
thousands of times: most of a large query's time. These helpers read only the levels they
are asked about, through inline fragments and fragment spreads alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionNode


def _fields(info: Any, selections: Iterable[SelectionNode]) -> Iterator[FieldNode]:
    fragments = info._raw_info.fragments
    for selection in selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(info, selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(info, fragment.selection_set.selections)


def selected(info: Any) -> Iterator[FieldNode]:
    """The fields the query selects on the resolver's own field (every occurrence of it
    in the document merged), through fragments."""
    for node in info._raw_info.field_nodes:
        if node.selection_set is not None:
            yield from _fields(info, node.selection_set.selections)


def selected_under(info: Any, field: FieldNode) -> Iterator[FieldNode]:
    """The fields selected on ``field`` (one of :func:`selected`'s or below), through
    fragments."""
    if field.selection_set is not None:
        yield from _fields(info, field.selection_set.selections)


def selected_names(info: Any) -> set[str]:
    """The names of the fields selected on the resolver's own field."""
    return {field.name.value for field in selected(info)}
