"""Enums shared by several types."""

from __future__ import annotations

import enum
from typing import Any, NewType

import strawberry

from gateway.fields.declaration import ValueKind


@strawberry.enum(description="Sort direction.")
class SortDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


ParameterValueKind = strawberry.enum(
    ValueKind,
    name="ParameterValueKind",
    description="The kind of value a parameter holds (ICAT PARAMETERTYPE.VALUETYPE).",
)


Long = NewType("Long", int)
"""A 64-bit integer, such as a size in bytes (GraphQL's Int is 32-bit)."""

SCALARS: dict[object, Any] = {
    Long: strawberry.scalar(
        name="Long",
        description="A 64-bit integer, such as a size in bytes (a JSON number).",
        serialize=int,
        parse_value=int,
    )
}
