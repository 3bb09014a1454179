"""The DataCite client against the loopback DataCite: every status it can meet maps to the
registrar's answer or to the right kind of failure, and repeats never make a second DOI."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.doi.datacite import MAX_MESSAGE, DataCiteRegistrar
from gateway.doi.metadata import Creator, DoiRecord, Publisher, publication_metadata
from gateway.doi.registrar import (
    DoiState,
    PermanentRegistrarError,
    RegistrarError,
    TransientRegistrarError,
)
from gateway.settings import Settings
from tests.support.datacite_server import TEST_PREFIX, DataCiteServer

DOI = f"{TEST_PREFIX}/esrf-dc-17"
URL = "https://data.esrf.fr/doi/10.80001/esrf-dc-17"


def _attributes(doi: str = DOI, title: str = "Lysozyme at 100 K") -> dict[str, Any]:
    record = DoiRecord(
        doi,
        title,
        (Creator(given_name="Ada", family_name="Lovelace", orcid="0000-0002-1825-0097"),),
        Publisher("ESRF", "02550n020"),
        2026,
    )
    return publication_metadata(record)


@pytest.fixture
def datacite() -> Iterator[DataCiteServer]:
    with DataCiteServer() as server:
        yield server


def _client(server: DataCiteServer, **overrides: Any) -> DataCiteRegistrar:
    options: dict[str, Any] = {
        "api_url": server.base_url,
        "prefix": server.prefix,
        "repository_id": server.repository_id,
        "password": server.password,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    options.update(overrides)
    return DataCiteRegistrar(**options)


@pytest.fixture
def client(datacite: DataCiteServer) -> DataCiteRegistrar:
    return _client(datacite)


async def test_a_draft_is_created_then_updated_never_made_twice(
    datacite: DataCiteServer, client: DataCiteRegistrar
) -> None:
    first = await client.put_draft(DOI, _attributes())
    assert (first.doi, first.state, first.url) == (DOI, DoiState.DRAFT, None)
    again = await client.put_draft(DOI.upper(), _attributes(title="Lysozyme at 90 K"))
    assert again.state is DoiState.DRAFT
    assert again.attributes["titles"] == [{"title": "Lysozyme at 90 K"}]
    assert datacite.created == 1
    assert datacite.dois() == {DOI: "draft"}
    assert datacite.calls("PUT", DOI) == 2


async def test_what_is_read_back_is_what_was_sent(client: DataCiteRegistrar) -> None:
    sent = _attributes()
    await client.put_draft(DOI, sent)
    held = await client.get(DOI)
    assert held is not None
    for name in ("creators", "titles", "publisher", "types", "publicationYear", "subjects"):
        assert held.attributes[name] == sent[name], name


async def test_a_draft_is_published_at_its_url_and_publishing_again_changes_nothing(
    datacite: DataCiteServer, client: DataCiteRegistrar
) -> None:
    await client.put_draft(DOI, _attributes())
    published = await client.publish(DOI, _attributes(), URL)
    assert (published.state, published.url) == (DoiState.FINDABLE, URL)
    again = await client.publish(DOI, _attributes(), URL)
    assert (again.state, again.url) == (DoiState.FINDABLE, URL)
    held = await client.get(DOI)
    assert held is not None and (held.state, held.url) == (DoiState.FINDABLE, URL)
    assert datacite.created == 1


async def test_publishing_a_doi_that_has_no_draft_creates_it_findable(
    datacite: DataCiteServer, client: DataCiteRegistrar
) -> None:
    published = await client.publish(DOI, _attributes(), URL)
    assert published.state is DoiState.FINDABLE
    assert datacite.created == 1


async def test_put_draft_on_a_findable_doi_keeps_it_findable(client: DataCiteRegistrar) -> None:
    await client.publish(DOI, _attributes(), URL)
    again = await client.put_draft(DOI, _attributes(title="Corrected"))
    assert again.state is DoiState.FINDABLE
    assert again.attributes["titles"] == [{"title": "Corrected"}]


async def test_get_of_an_unknown_doi_is_none(client: DataCiteRegistrar) -> None:
    assert await client.get(f"{TEST_PREFIX}/never-made") is None


async def test_a_draft_is_deleted_and_deleting_again_succeeds(
    datacite: DataCiteServer, client: DataCiteRegistrar
) -> None:
    await client.put_draft(DOI, _attributes())
    await client.delete_draft(DOI)
    assert datacite.dois() == {}
    assert await client.get(DOI) is None
    await client.delete_draft(DOI)  # 404: gone already
    assert datacite.calls("DELETE", DOI) == 2


async def test_a_findable_doi_cannot_be_deleted(
    datacite: DataCiteServer, client: DataCiteRegistrar
) -> None:
    await client.publish(DOI, _attributes(), URL)
    with pytest.raises(PermanentRegistrarError) as refused:
        await client.delete_draft(DOI)
    assert refused.value.status == 405
    assert "Method not allowed" in str(refused.value)
    assert datacite.dois() == {DOI: "findable"}


async def test_metadata_datacite_rejects_is_permanent_and_leaves_the_draft(
    datacite: DataCiteServer, client: DataCiteRegistrar
) -> None:
    incomplete = {"doi": DOI, "titles": [{"title": "No creators yet"}]}
    draft = await client.put_draft(DOI, incomplete)  # drafts may be incomplete
    assert draft.state is DoiState.DRAFT
    with pytest.raises(PermanentRegistrarError) as refused:
        await client.publish(DOI, incomplete, URL)
    assert refused.value.status == 422
    assert "'creators' is a required property" in str(refused.value)
    assert datacite.dois() == {DOI: "draft"}


async def test_long_error_titles_are_cut(
    datacite: DataCiteServer, client: DataCiteRegistrar
) -> None:
    garbage = {"doi": DOI, **{f"unknown{i:03d}": i for i in range(100)}}
    with pytest.raises(PermanentRegistrarError) as refused:
        await client.publish(DOI, garbage, URL)
    assert refused.value.status == 422
    message = str(refused.value)
    assert message.endswith("…")
    assert len(message) < MAX_MESSAGE + 100


async def test_bad_credentials_are_permanent_for_every_call(datacite: DataCiteServer) -> None:
    wrong = _client(datacite, password="not-the-password")
    await _client(datacite).put_draft(DOI, _attributes())
    for call in (
        wrong.put_draft(DOI, _attributes()),
        wrong.publish(DOI, _attributes(), URL),
        wrong.get(DOI),
        wrong.delete_draft(DOI),
    ):
        with pytest.raises(PermanentRegistrarError) as refused:
            await call
        assert refused.value.status == 401
        assert "Bad credentials" in str(refused.value)
    assert datacite.dois() == {DOI: "draft"}


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_outages_are_transient(
    datacite: DataCiteServer, client: DataCiteRegistrar, status: int
) -> None:
    datacite.fail("PUT", status)
    with pytest.raises(TransientRegistrarError) as failed:
        await client.put_draft(DOI, _attributes())
    assert failed.value.status == status
    assert datacite.dois() == {}
    assert (await client.put_draft(DOI, _attributes())).state is DoiState.DRAFT


@pytest.mark.parametrize("status", [403, 409, 400])
async def test_other_refusals_are_permanent(
    datacite: DataCiteServer, client: DataCiteRegistrar, status: int
) -> None:
    datacite.fail("PUT", status)
    with pytest.raises(PermanentRegistrarError) as refused:
        await client.put_draft(DOI, _attributes())
    assert refused.value.status == status


async def test_a_500_after_datacite_made_the_draft_is_transient_and_the_retry_makes_none(
    datacite: DataCiteServer, client: DataCiteRegistrar
) -> None:
    datacite.fail("PUT", 500, doi=DOI, after_applying=True)
    with pytest.raises(TransientRegistrarError):
        await client.put_draft(DOI, _attributes())
    assert datacite.dois() == {DOI: "draft"}
    retried = await client.put_draft(DOI, _attributes())
    assert retried.state is DoiState.DRAFT
    assert datacite.created == 1


async def test_a_timeout_is_transient_and_the_retry_makes_no_second_doi(
    datacite: DataCiteServer,
) -> None:
    client = _client(datacite, read_timeout=0.2)
    datacite.hang("PUT", doi=DOI, after_applying=True)
    with pytest.raises(TransientRegistrarError) as failed:
        await client.put_draft(DOI, _attributes())
    assert "in time" in str(failed.value)
    datacite.release()
    assert (await client.put_draft(DOI, _attributes())).state is DoiState.DRAFT
    assert datacite.created == 1
    assert datacite.calls("PUT", DOI) == 2


async def test_a_publish_that_times_out_before_datacite_acts_leaves_the_draft(
    datacite: DataCiteServer,
) -> None:
    client = _client(datacite, read_timeout=0.2)
    await client.put_draft(DOI, _attributes())
    datacite.hang("PUT", doi=DOI)
    with pytest.raises(TransientRegistrarError):
        await client.publish(DOI, _attributes(), URL)
    datacite.release()
    assert datacite.dois() == {DOI: "draft"}
    assert (await client.publish(DOI, _attributes(), URL)).state is DoiState.FINDABLE


async def test_a_refused_connection_is_transient(datacite: DataCiteServer) -> None:
    client = _client(datacite)
    datacite.stop()
    for call in (client.get(DOI), client.put_draft(DOI, _attributes()), client.delete_draft(DOI)):
        with pytest.raises(TransientRegistrarError) as failed:
            await call
        assert "could not be reached" in str(failed.value)


async def test_an_answer_that_is_not_datacites_document_is_transient(
    datacite: DataCiteServer, client: DataCiteRegistrar
) -> None:
    datacite.fail_with_status = 200  # a proxy's 200 with a body of its own
    with pytest.raises(TransientRegistrarError):
        await client.get(DOI)


async def test_a_doi_outside_the_prefix_is_refused_without_a_request(
    datacite: DataCiteServer, client: DataCiteRegistrar
) -> None:
    for call in (
        client.put_draft("10.99999/x", _attributes("10.99999/x")),
        client.get("10.99999/x"),
        client.delete_draft("10.99999/x"),
    ):
        with pytest.raises(PermanentRegistrarError):
            await call
    assert datacite.calls("PUT", "10.99999/x") == datacite.calls("GET", "10.99999/x") == 0


async def test_datacite_refuses_a_prefix_the_account_does_not_have(
    datacite: DataCiteServer,
) -> None:
    misconfigured = _client(datacite, prefix="10.99999")
    with pytest.raises(PermanentRegistrarError) as refused:
        await misconfigured.put_draft("10.99999/x", _attributes("10.99999/x"))
    assert refused.value.status == 422
    assert "not assigned" in str(refused.value)
    assert datacite.created == 0


async def test_the_password_is_never_logged_nor_shown(
    datacite: DataCiteServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = _client(datacite)
    messages: list[str] = [repr(client)]
    datacite.fail("PUT", 500)
    datacite.fail("GET", 401)
    for call in (client.put_draft(DOI, _attributes()), client.get(DOI)):
        with pytest.raises(RegistrarError) as failed:
            await call
        messages.append(str(failed.value))
    await client.publish(DOI, _attributes(), URL)
    datacite.stop()
    with pytest.raises(TransientRegistrarError) as unreachable:
        await client.get(DOI)
    messages.append(str(unreachable.value))
    messages += [record.getMessage() for record in caplog.records]
    assert any("PUT" in message for message in caplog.messages)  # there was logging to see
    basic = base64.b64encode(f"{datacite.repository_id}:{datacite.password}".encode()).decode()
    assert not [m for m in messages if datacite.password in m or basic in m]


def test_settings_make_the_client() -> None:
    settings = Settings(
        doi_registrar="datacite",
        doi_prefix="10.80001",
        doi_landing_url="https://data.esrf.fr/doi/{doi}",
        datacite_repository_id="ESRF.TEST",
        datacite_password="pw-in-settings",
        datacite_read_timeout=7.5,
    )
    client = DataCiteRegistrar.from_settings(settings)
    assert client.prefix == "10.80001" and client.registers
    assert "pw-in-settings" not in repr(client) + repr(settings)


# -- the stand-in itself answers as DataCite does ------------------------------------------


def _raw(server: DataCiteServer, *, auth: bool = True) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        auth=(server.repository_id, server.password) if auth else None,
        headers={"Content-Type": "application/vnd.api+json"},
    )


def _event(server: DataCiteServer, event: str) -> httpx.Response:
    body = {"data": {"type": "dois", "attributes": {"event": event}}}
    with _raw(server) as http:
        return http.put(f"/dois/{DOI}", json=body)


@pytest.mark.parametrize(
    ("before", "event", "after"),
    [
        ("draft", "register", "registered"),
        ("draft", "publish", "findable"),
        ("registered", "publish", "findable"),
        ("findable", "hide", "registered"),
        ("draft", "hide", "draft"),  # not allowed from draft: nothing changes
        ("findable", "register", "findable"),
    ],
)
def test_the_stand_in_moves_states_by_event(
    datacite: DataCiteServer, before: str, event: str, after: str
) -> None:
    datacite.seed(DOI, before, {**_attributes(), "url": URL})
    response = _event(datacite, event)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    assert response.json()["data"]["attributes"]["state"] == after
    assert datacite.dois() == {DOI: after}


def test_the_stand_in_hides_drafts_from_the_public_and_flattens_as_datacite_does(
    datacite: DataCiteServer,
) -> None:
    datacite.seed(DOI, "draft", _attributes())
    with _raw(datacite, auth=False) as public:
        assert public.get(f"/dois/{DOI}").status_code == 404
    with _raw(datacite) as http:
        flat = http.get(f"/dois/{DOI}").json()["data"]["attributes"]
        full = http.get(f"/dois/{DOI}?publisher=true&affiliation=true").json()["data"]
    assert flat["publisher"] == "ESRF"
    assert full["attributes"]["publisher"] == {
        "name": "ESRF",
        "publisherIdentifier": "https://ror.org/02550n020",
        "publisherIdentifierScheme": "ROR",
        "schemeUri": "https://ror.org",
    }
    assert full["id"] == DOI and full["type"] == "dois"


def test_the_stand_in_needs_credentials_to_write(datacite: DataCiteServer) -> None:
    body = {"data": {"type": "dois", "attributes": _attributes()}}
    with _raw(datacite, auth=False) as public:
        assert public.put(f"/dois/{DOI}", json=body).status_code == 401
        assert public.delete(f"/dois/{DOI}").status_code == 401
    with httpx.Client(base_url=datacite.base_url, auth=("ESRF.TEST", "wrong")) as wrong:
        assert wrong.get(f"/dois/{DOI}").status_code == 401
    assert datacite.created == 0


def test_a_registered_doi_needs_a_url(datacite: DataCiteServer) -> None:
    datacite.seed(DOI, "draft", _attributes())
    response = _event(datacite, "register")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"status": "422", "source": "url", "title": "Url can't be blank"}
    ]
