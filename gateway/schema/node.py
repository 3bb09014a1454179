"""Global object identification: every catalogue object has an opaque, global `id`."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

import strawberry

from gateway.errors import BadUserInput


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Global, opaque id (the type name and the ICAT id, encoded)."
    )


T = TypeVar("T")


def instance(cls: type[T], **values: Any) -> T:
    """A strawberry object built without its dataclass ``__init__``.

    Pages build thousands of these per request, and the generated ``__init__`` (with its
    defaults and field machinery) costs several times a plain attribute assignment. The
    callers pass every field, as they would to ``__init__``.
    """
    built = cls.__new__(cls)
    built.__dict__.update(values)
    return built


def global_id(type_name: str, icat_id: int) -> strawberry.ID:
    """The global id of an ICAT row of a type."""
    return strawberry.ID(base64.b64encode(f"{type_name}:{icat_id}".encode()).decode())


def parse_global_id(value: str, *expected: str) -> tuple[str, int]:
    """The type name and ICAT id in a global id; BAD_USER_INPUT if malformed or not of an
    expected type."""
    try:
        type_name, _, raw = base64.b64decode(value, validate=True).decode().partition(":")
        icat_id = int(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadUserInput(f"`{value}` is not a valid id.") from None
    if expected and type_name not in expected:
        raise BadUserInput(f"`{value}` is not the id of a {' or '.join(expected)}.")
    return type_name, icat_id
