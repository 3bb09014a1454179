"""Global object identification: every catalogue object has an opaque, global `id`."""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry

from gateway.fields.identity import MAX_ICAT_ID, global_id, parse_global_id


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


__all__ = ["MAX_ICAT_ID", "Node", "global_id", "instance", "parse_global_id"]
