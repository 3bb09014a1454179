"""The exported SDL: `schema.graphql` at the repository root must equal this."""

from __future__ import annotations

from gateway.schema.build import create_schema


def export_sdl() -> str:
    """The schema as SDL, with the federation directives a supergraph composer needs."""
    return create_schema().as_str() + "\n"
