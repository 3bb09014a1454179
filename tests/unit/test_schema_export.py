"""The exported SDL is the API contract: it must equal what the code builds."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema

from gateway.schema.export import export_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_matches_the_code() -> None:
    exported = (ROOT / "schema.graphql").read_text()
    assert exported == export_sdl(), (
        "schema.graphql is stale: run `icat-gateway export-schema --output schema.graphql`"
    )


def test_every_field_and_type_has_a_description() -> None:
    sdl = export_sdl()
    schema = build_schema(
        sdl.replace(
            '@link(url: "https://specs.apollo.dev/federation/v2.11", import: ["@key"])', ""
        ),
        assume_valid=True,
    )
    missing = []
    for name, graphql_type in schema.type_map.items():
        if (
            name.startswith("__")
            or name.startswith("_")
            or name in {"String", "Int", "Float", "Boolean", "ID", "Query"}
        ):
            continue
        if not getattr(graphql_type, "description", None):
            missing.append(name)
        for field_name, field in getattr(graphql_type, "fields", {}).items():
            if field_name.startswith("_"):
                continue
            if not field.description:
                missing.append(f"{name}.{field_name}")
    for field_name, field in schema.query_type.fields.items():  # type: ignore[union-attr]
        if not field_name.startswith("_") and not field.description:
            missing.append(f"Query.{field_name}")
    assert missing == []
