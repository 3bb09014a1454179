"""End to end, through real uvicorn servers with real OIDC tokens, the loopback DataCite
and the loopback IDS: a DOI's embargoed datasets become downloadable by anyone at the
moment the DOI is published, not before (a reservation releases nothing), through the
same call, from the gateway's own store and through IDS alike; the session's other
embargoed datasets stay refused."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.schema.node import global_id
from gateway.settings import Settings
from tests.e2e.test_authorization import Caller, caller
from tests.e2e.test_dois import CREATORS, RESERVE
from tests.e2e.test_downloads import PREPARE, content_of, icat_id, refusal
from tests.support.datacite_server import DataCiteServer
from tests.support.doi_catalogue import LANDING, PiSessions, pi_sessions, remove_doi_rows
from tests.support.ids_server import READER_SESSION, IDSServer
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

PUBLISH = """mutation($input: PublishDoiInput!) { publishDoi(input: $input) { doi state } }"""
LOOKUP = """query($id: ID!) { dataset(id: $id) { id name downloadSize
  datafiles(first: 100) { nodes { id name location fileSize } } } }"""


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider() as running:
        yield running


@pytest.fixture(scope="module")
def datacite(catalogue: AsyncEngine) -> Iterator[DataCiteServer]:
    with DataCiteServer() as running:
        yield running


@pytest.fixture(scope="module")
def ids() -> Iterator[IDSServer]:
    with IDSServer() as server:
        yield server


def configured(settings: Settings, provider: OIDCProvider, **more: Any) -> Settings:
    return replace(
        settings,
        oidc_issuer=provider.issuer,
        oidc_audience=DEFAULT_AUDIENCE,
        oidc_user_prefix="esrf/",
        staff_users=frozenset({"esrf/staff1"}),
        download_max_preparing=1000,
        **more,
    )


@pytest.fixture(scope="module")
def store(
    catalogue: AsyncEngine,
    settings: Settings,
    provider: OIDCProvider,
    datacite: DataCiteServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayServer]:
    """A gateway serving its own store that also publishes DOIs at the loopback DataCite."""
    with GatewayServer(
        configured(
            settings,
            provider,
            downloads="store",
            data_root=str(tmp_path_factory.mktemp("doi-data-root")),
            doi_registrar="datacite",
            doi_prefix=datacite.prefix,
            doi_landing_url=LANDING,
            datacite_api_url=datacite.base_url,
            datacite_repository_id=datacite.repository_id,
            datacite_password=datacite.password,
        )
    ) as server:
        yield server


@pytest.fixture(scope="module")
def via_ids(
    catalogue: AsyncEngine, settings: Settings, provider: OIDCProvider, ids: IDSServer
) -> Iterator[GatewayServer]:
    with GatewayServer(
        configured(
            settings,
            provider,
            downloads="ids",
            ids_url=ids.ids_url,
            ids_reader_session=READER_SESSION,
        )
    ) as server:
        yield server


@pytest.fixture
async def pi(catalogue: AsyncEngine) -> Any:
    await remove_doi_rows(catalogue)
    yield await pi_sessions(catalogue)
    await remove_doi_rows(catalogue)


def datasets_with_files(
    store: GatewayServer, provider: OIDCProvider, ids: IDSServer, dataset_ids: list[int]
) -> list[dict[str, Any]]:
    """The datasets as their team sees them, their files written under the store's root
    and given to IDS."""
    pi1 = caller(store.base_url, provider, "pi1")
    root = Path(store.app.state.settings.data_root)
    datasets = []
    for dataset_id in dataset_ids:
        dataset = pi1.data(LOOKUP, {"id": global_id("Dataset", dataset_id)})["dataset"]
        assert dataset["datafiles"]["nodes"], "a dataset of the demo without files"
        for file in dataset["datafiles"]["nodes"]:
            path = root / file["location"].lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content_of(file["location"]))
            ids.add_file(
                icat_id(file["id"]), dataset_id, file["name"], content_of(file["location"])
            )
        datasets.append(dataset)
    return datasets


def entries(url: str) -> dict[str, bytes]:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as unpacked:
        assert unpacked.testzip() is None
        return {name: unpacked.read(name) for name in unpacked.namelist()}


def test_a_dois_embargoed_datasets_become_downloadable_by_anyone_when_it_is_published(
    store: GatewayServer,
    via_ids: GatewayServer,
    provider: OIDCProvider,
    datacite: DataCiteServer,
    ids: IDSServer,
    pi: PiSessions,
) -> None:
    # Two embargoed sessions' datasets (not those a DOI of the demo has published), and
    # a dataset of the same session left out of the DOI.
    chosen = [pi.embargoed[-1], pi.bm29[-1]]
    left_out = pi.embargoed[-2]
    datasets = datasets_with_files(store, provider, ids, [*chosen, left_out])
    selection = {"d": [d["id"] for d in datasets[:2]], "n": "for-a-paper"}
    outside = {"d": [datasets[2]["id"]]}
    pi1 = caller(store.base_url, provider, "pi1")
    anonymous = {
        "store": Caller(store.base_url, None),
        "ids": Caller(via_ids.base_url, None),
    }

    def refused_to_anonymous(variables: dict[str, Any]) -> None:
        """Refused by either backend, as the datasets' lookup refuses them; IDS not asked."""
        asked = ids.requests("/ids/prepareData")
        for who in anonymous.values():
            lookup = refusal(who.run(LOOKUP, {"id": variables["d"][-1]}))
            assert lookup[0] == "NOT_FOUND"
            assert refusal(who.run(PREPARE, variables)) == lookup
        assert ids.requests("/ids/prepareData") == asked

    refused_to_anonymous(selection)
    doi = pi1.data(
        RESERVE,
        {"input": {"idempotencyKey": "dl-r", "datasetIds": selection["d"], "title": "T"}},
    )["reserveDoi"]["doi"]
    # A reservation releases nothing: the DOI can be cited, its data are not public yet.
    refused_to_anonymous(selection)

    published = pi1.data(
        PUBLISH,
        {
            "input": {
                "idempotencyKey": "dl-p",
                "doi": doi,
                "title": "Data for: a paper",
                "creators": CREATORS,
            }
        },
    )["publishDoi"]
    assert published["state"] == "PUBLISHED" and datacite.dois()[doi] == "findable"

    # The same call, from the moment of publication: the gateway's store...
    body = anonymous["store"].run(PREPARE, selection)
    assert "errors" not in body, body
    download = body["data"]["prepareDownload"]["download"]
    assert download["status"] == "READY" and download["name"] == "for-a-paper"
    expected = {
        f"{d['name']}/{f['name']}": content_of(f["location"])
        for d in datasets[:2]
        for f in d["datafiles"]["nodes"]
    }
    assert entries(download["url"]) == expected
    seen = anonymous["store"].data(LOOKUP, {"id": selection["d"][0]})["dataset"]
    assert seen["downloadSize"] == sum(f["fileSize"] for f in seen["datafiles"]["nodes"])

    # ...and IDS, prepared with the reader session; its prepared link is IDS's.
    body = anonymous["ids"].run(PREPARE, selection)
    assert "errors" not in body, body
    through_ids = body["data"]["prepareDownload"]["download"]
    assert through_ids["status"] == "READY"
    assert through_ids["url"].startswith(ids.ids_url + "/getData?preparedId=")
    assert through_ids["size"] == sum(len(content) for content in expected.values())
    with zipfile.ZipFile(io.BytesIO(httpx.get(through_ids["url"], timeout=30).content)) as z:
        assert len(z.namelist()) == len(expected)

    # The session's dataset the DOI left out is still under embargo.
    refused_to_anonymous(outside)
