"""The exported SDL: `schema.graphql` at the repository root must equal this."""

from __future__ import annotations

from gateway.schema.build import create_schema


def export_sdl(namespace: str | None = None) -> str:
    """The schema as SDL, with the federation directives a supergraph composer needs
    (under a facility's federation ``namespace`` if given; schema.graphql has none)."""
    return create_schema(namespace=namespace).as_str() + "\n"
