"""schema.graphql, the exported SDL, is a subgraph the routers' composers accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.schema.export import export_sdl
from gateway.schema.keys import FEDERATION_VERSION
from tests.federation.routers import Subgraph, compose

SCHEMA = Path(__file__).resolve().parents[2] / "schema.graphql"
COMPOSERS = ("apollo", "hive")


def test_schema_graphql_links_the_pinned_federation_version() -> None:
    first = SCHEMA.read_text().splitlines()[0]
    assert f'@link(url: "https://specs.apollo.dev/federation/v{FEDERATION_VERSION}"' in first


@pytest.mark.parametrize("composer", COMPOSERS)
def test_schema_graphql_composes(composer: str) -> None:
    composed = compose(
        [Subgraph("icat", "http://127.0.0.1:1/graphql", SCHEMA.read_text())], composer
    )
    assert composed.errors == []
    assert composed.hints == []
    assert composed.supergraph_sdl is not None
    assert '@join__type(graph: ICAT, key: "doi")' in composed.supergraph_sdl


@pytest.mark.parametrize("composer", COMPOSERS)
def test_a_namespaced_schema_composes(composer: str) -> None:
    composed = compose([Subgraph("ill", "http://127.0.0.1:1/graphql", export_sdl("ill"))], composer)
    assert composed.errors == []
    assert composed.supergraph_sdl is not None and "illInvestigations" in composed.supergraph_sdl


def test_why_the_version_is_pinned() -> None:
    """strawberry links the newest Federation version by default (2.11 with the installed
    strawberry); Hive's composer (which Hive Gateway uses) refuses it."""
    newest = SCHEMA.read_text().replace(f"federation/v{FEDERATION_VERSION}", "federation/v2.11", 1)
    composed = compose([Subgraph("icat", "http://127.0.0.1:1/graphql", newest)], "hive")
    assert composed.errors == [
        "[icat] Invalid version v2.11 for the federation feature in @link directive on schema"
    ]
