"""Enums shared by several types."""

from __future__ import annotations

import enum
from typing import Any, NewType

import strawberry


@strawberry.enum(description="Sort direction.")
class SortDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum(description="The kind of value a parameter holds (ICAT PARAMETERTYPE.VALUETYPE).")
class ParameterValueKind(enum.Enum):
    DATE_AND_TIME = 0
    NUMERIC = 1
    STRING = 2


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
