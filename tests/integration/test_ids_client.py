"""The ICAT Data Service client (``gateway.downloads.ids``) against the loopback stand-in
speaking IDS's REST protocol: form-encoded prepareData, plain-text answers, JSON errors
mapped to the gateway's codes, a prepared link that works without a session, Range."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from gateway.downloads.ids import HttpDataService
from gateway.downloads.reader import ConfiguredSession, ICATLogin
from gateway.errors import DataMissing, UpstreamRefused, UpstreamUnavailable
from tests.support.icat_server import ICATServer
from tests.support.ids_server import READER_SESSION, IDSServer


@pytest.fixture
def ids() -> Iterator[IDSServer]:
    with IDSServer() as server:
        server.add_file(1, 10, "a.h5", b"A" * 1000)
        server.add_file(2, 10, "b.h5", b"B" * 500)
        server.add_file(3, 11, "c.cbf", b"C" * 300)
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        yield client


def client(
    ids: IDSServer, http: httpx.AsyncClient, session: str = READER_SESSION
) -> HttpDataService:
    return HttpDataService(ids.ids_url, ConfiguredSession(session), http)


async def test_prepare_then_fetch_the_prepared_link_without_a_session(
    ids: IDSServer, http: httpx.AsyncClient
) -> None:
    service = client(ids, http)
    prepared = await service.prepare([10], [3])
    assert await service.is_prepared(prepared)
    assert await service.size([10], [3]) == 1800
    assert await service.status([10], [3]) == "ONLINE"
    url = service.data_url(prepared, "MX-2345")
    assert "sessionId" not in url
    response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="MX-2345.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as unpacked:
        assert sorted(unpacked.namelist()) == ["ids/10/a.h5", "ids/10/b.h5", "ids/11/c.cbf"]
    resumed = await http.get(url, headers={"Range": "bytes=100-"})
    assert resumed.status_code == 206
    assert resumed.content == response.content[100:]


async def test_data_on_tape_is_prepared_after_a_restore(
    ids: IDSServer, http: httpx.AsyncClient
) -> None:
    ids.archived.add(11)
    service = client(ids, http)
    assert await service.status([11], []) == "ARCHIVED"
    prepared = await service.prepare([11], [])
    assert not await service.is_prepared(prepared)
    assert (await http.get(service.data_url(prepared, "x"))).status_code == 503
    assert await service.is_prepared(prepared)


async def test_ids_refusals_and_outages_come_back_as_the_gateways_codes(
    ids: IDSServer, http: httpx.AsyncClient
) -> None:
    with pytest.raises(UpstreamRefused) as refused:
        await client(ids, http, "expired-session").prepare([10], [])
    assert refused.value.extensions["upstream"] == "InsufficientPrivilegesException"
    with pytest.raises(DataMissing):
        await client(ids, http).prepare([99], [])
    with pytest.raises(DataMissing):
        await client(ids, http).is_prepared("no-such-prepared-id")
    ids.fail_next(503, "DataNotOnlineException")
    with pytest.raises(UpstreamUnavailable) as unavailable:
        await client(ids, http).prepare([10], [])
    assert unavailable.value.extensions == {
        "code": "UPSTREAM_UNAVAILABLE",
        "upstream": "DataNotOnlineException",
    }
    ids.fail_next(400, "BadRequestException")
    with pytest.raises(UpstreamRefused):
        await client(ids, http).size([10], [])


async def test_a_data_service_that_does_not_answer_is_unavailable(
    http: httpx.AsyncClient,
) -> None:
    with IDSServer() as gone:
        url = gone.ids_url
    with pytest.raises(UpstreamUnavailable, match="did not answer"):
        await HttpDataService(url, ConfiguredSession(READER_SESSION), http).prepare([1], [])


async def test_the_reader_account_logs_in_to_icat_and_again_when_its_session_times_out(
    http: httpx.AsyncClient,
) -> None:
    with ICATServer() as icat, IDSServer(icat=icat) as ids:
        ids.add_file(1, 10, "a.h5", b"A" * 10)
        icat.accounts[("db", "reader")] = "secret"
        login = ICATLogin(icat.base_url, "db", "reader", "secret", http)
        service = HttpDataService(ids.ids_url, login, http)
        await service.prepare([10], [])
        await service.size([10], [])
        assert icat.logins == 1
        icat.expire(await login.current())
        assert await service.size([10], []) == 10
        assert icat.logins == 2
        wrong = ICATLogin(icat.base_url, "db", "reader", "wrong", http)
        with pytest.raises(UpstreamRefused, match="reader account"):
            await HttpDataService(ids.ids_url, wrong, http).prepare([10], [])
        assert "secret" not in repr(login)
