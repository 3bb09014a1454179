"""Reading DOIs: lookups in every spelling, the Publications list (filters, order, pages),
a publication's creators, dates, state and registration, and DataCite metadata that
validates for every session and publication of the catalogue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from datacite import schema45
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import now_utc
from gateway.auth.policy import Caller
from gateway.catalogue.visibility import Access
from gateway.resolvers.context import RequestContext
from gateway.schema.node import global_id
from gateway.settings import Settings
from gateway.usecases.dois import DoiResult, DoiUseCases
from tests.conftest import Client
from tests.support.doi_catalogue import (
    PI1,
    PiSessions,
    caller,
    description,
    pi_sessions,
    remove_doi_rows,
    sagas_for,
    use_cases,
)
from tests.support.fake_registrar import FakeRegistrar

ORCID = "0000-0002-1825-0097"


@pytest.fixture
async def minted(
    catalogue: AsyncEngine, settings: Settings
) -> AsyncIterator[tuple[DoiUseCases, PiSessions, DoiResult, DoiResult]]:
    await remove_doi_rows(catalogue)
    pi = await pi_sessions(catalogue)
    dois = use_cases(sagas_for(catalogue, FakeRegistrar(registers=False)), settings)
    published = await dois.mint(
        caller(PI1, settings),
        key="read-m",
        dataset_ids=[pi.bm29[-1], pi.embargoed[-1]],
        description=description("Zeolites at ID23: data"),
    )
    reserved = await dois.reserve(
        caller(PI1, settings), key="read-r", dataset_ids=[pi.embargoed[-2]], title="Reserved"
    )
    yield dois, pi, published, reserved
    await remove_doi_rows(catalogue)


async def run(
    client: Client, dois: DoiUseCases, query: str, variables: dict[str, Any], user: str | None
) -> Any:
    """A query with the DOI use cases in its context, as the app gives them."""
    access = Access(Caller(user_name=user), now_utc())
    context = RequestContext(
        engine=client.engine, settings=client.settings, access=access, dois=dois
    )
    result = await client.schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    return result.data


PUBLICATION = """query($doi: String!) { doi(doi: $doi) { __typename ... on DataPublication {
  doi title state registered isPublished publicationDate
  contributors { fullName orcid orderKey affiliations { name ror } }
  dates { dateType date } relatedItems { identifier relationType }
  datasets { totalCount } dataCiteMetadata } } }"""


async def test_a_publication_resolves_in_every_spelling_and_shows_what_it_is(
    client: Client, minted: tuple[DoiUseCases, PiSessions, DoiResult, DoiResult]
) -> None:
    dois, _, published, reserved = minted
    for spelling in (
        published.doi.upper(),
        f"doi:{published.doi}",
        f"https://doi.org/{published.doi}",
    ):
        found = (await run(client, dois, PUBLICATION, {"doi": spelling}, None))["doi"]
        assert found["doi"] == published.doi and found["state"] == "PUBLISHED"
    assert found["registered"] is False  # the local registrar's: registered nowhere
    assert [c["fullName"] for c in found["contributors"]] == ["Anna Kowalczyk", "Jonas Lindberg"]
    assert found["contributors"][0]["orcid"] == ORCID
    assert found["contributors"][0]["affiliations"] == [
        {"name": "ESRF", "ror": "https://ror.org/02550n020"}
    ]
    assert {d["dateType"] for d in found["dates"]} == {"Created", "Issued"}
    assert found["datasets"]["totalCount"] == 2
    metadata = found["dataCiteMetadata"]
    assert metadata["doi"] == published.doi and metadata["url"].endswith(published.doi)
    assert schema45.validate(metadata)
    relations = {
        (r["relatedIdentifier"], r["relationType"]) for r in metadata["relatedIdentifiers"]
    }
    assert ("10.1107/s2052252519001234", "IsSupplementTo") in {(i.lower(), t) for i, t in relations}
    assert any(t == "IsPartOf" for _, t in relations)

    # A reservation resolves for its team, shows RESERVED; anonymous: nothing.
    mine = (await run(client, dois, PUBLICATION, {"doi": reserved.doi}, PI1))["doi"]
    assert mine["state"] == "RESERVED" and mine["isPublished"] is False
    assert "url" not in mine["dataCiteMetadata"]
    assert (await run(client, dois, PUBLICATION, {"doi": reserved.doi}, None))["doi"] is None


LIST = """query($filter: PublicationFilter, $order: PublicationOrder, $after: String) {
  publications(filter: $filter, orderBy: $order, first: 2, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { doi title publicationDate } } }"""


async def test_publications_lists_public_ones_filtered_sorted_and_paged(
    client: Client, minted: tuple[DoiUseCases, PiSessions, DoiResult, DoiResult]
) -> None:
    dois, _, published, reserved = minted
    year = now_utc().year

    async def listed(filter: dict[str, Any] | None = None, **more: Any) -> list[str]:
        out: list[str] = []
        after = None
        while True:
            data = await run(client, dois, LIST, {"filter": filter, "after": after, **more}, None)
            page = data["publications"]
            out.extend(node["doi"].lower() for node in page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                return out
            after = page["pageInfo"]["endCursor"]

    everything = await listed()
    assert published.doi in everything and reserved.doi not in everything
    assert everything[0] == published.doi  # newest first
    assert await listed({"creatorOrcid": f"https://orcid.org/{ORCID}"}) == [published.doi]
    assert await listed({"search": "zeolites"}) == [published.doi]
    assert published.doi in await listed({"year": year, "beamline": "BM29"})
    assert published.doi not in await listed({"year": year - 30})
    assert published.doi not in await listed({"beamline": "ID23-1"})
    by_title = await listed(None, order={"field": "TITLE", "direction": "ASC"})
    assert sorted(by_title) == sorted(everything) and len(by_title) == len(set(by_title))


SESSIONS = """query($after: String) { investigations(first: 50, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { doi dataCiteMetadata } } }"""
PUBLICATIONS = """query($after: String) { dataPublications(first: 50, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { doi dataCiteMetadata } } }"""


async def test_datacite_metadata_validates_for_every_session_and_publication(
    client: Client, minted: tuple[DoiUseCases, PiSessions, DoiResult, DoiResult]
) -> None:
    dois, pi, published, _ = minted
    checked = 0
    for query, field in ((SESSIONS, "investigations"), (PUBLICATIONS, "dataPublications")):
        after = None
        while True:
            data = (await run(client, dois, query, {"after": after}, "esrf/staff1"))[field]
            for node in data["nodes"]:
                if node["doi"] is None:
                    continue
                assert schema45.validate(node["dataCiteMetadata"]), node["doi"]
                checked += 1
            if not data["pageInfo"]["hasNextPage"]:
                break
            after = data["pageInfo"]["endCursor"]
    assert checked > 60
    # A session's metadata names the published DOIs drawn from it.
    session = await run(
        client,
        dois,
        "query($id: ID!) { dataset(id: $id) { investigation { dataCiteMetadata } } }",
        {"id": global_id("Dataset", pi.bm29[-1])},
        PI1,
    )
    related = session["dataset"]["investigation"]["dataCiteMetadata"]["relatedIdentifiers"]
    assert {
        "relatedIdentifier": published.doi,
        "relatedIdentifierType": "DOI",
        "relationType": "HasPart",
    } in related


CITED = """query($doi: String!) { doi(doi: $doi) { __typename
  ... on Investigation { dataCiteMetadata jsonLd apa: citation
    ieee: citation(style: "ieee") german: citation(style: "chicago-author-date", locale: "de-DE")
    bibtex: citation(format: BIBTEX) ris: citation(format: RIS) csl: citation(format: CSL_JSON) }
  ... on DataPublication { dataCiteMetadata jsonLd apa: citation
    ieee: citation(style: "ieee") german: citation(style: "chicago-author-date", locale: "de-DE")
    bibtex: citation(format: BIBTEX) ris: citation(format: RIS) csl: citation(format: CSL_JSON) }
} }"""


async def test_a_session_and_a_publication_are_cited_in_every_format_style_and_locale(
    client: Client, minted: tuple[DoiUseCases, PiSessions, DoiResult, DoiResult]
) -> None:
    """``citation``'s arguments reach the renderings on both citable types: the same
    DataCite metadata the field answers, in the format, style and locale asked."""
    import orjson

    from gateway.doi import renderings

    dois, pi, published, _ = minted
    session = await run(
        client,
        dois,
        "query($id: ID!) { dataset(id: $id) { investigation { doi } } }",
        {"id": global_id("Dataset", pi.bm29[-1])},
        PI1,
    )
    cited = {}
    for doi in (session["dataset"]["investigation"]["doi"], published.doi):
        found = (await run(client, dois, CITED, {"doi": doi}, PI1))["doi"]
        attributes = found["dataCiteMetadata"]
        name = attributes["doi"]
        assert found["apa"] == renderings.formatted_citation(name, attributes)
        assert found["ieee"] == renderings.formatted_citation(name, attributes, "ieee")
        chicago = "chicago-author-date"
        assert found["german"] == renderings.formatted_citation(name, attributes, chicago, "de-DE")
        # Not vacuous: each argument changes the text.
        assert found["german"] != renderings.formatted_citation(name, attributes, chicago)
        assert found["ieee"] != found["apa"]
        assert found["bibtex"] == renderings.bibtex(name, attributes)
        assert found["ris"] == renderings.ris(name, attributes)
        assert orjson.loads(found["csl"]) == renderings.csl_json(name, attributes)
        assert found["jsonLd"]["@id"].lower().endswith(name.lower())
        cited[found["__typename"]] = found
    assert set(cited) == {"Investigation", "DataPublication"}
