"""The fake registrar's faults do what the saga's tests need of them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.doi.registrar import DoiState, PermanentRegistrarError, TransientRegistrarError
from tests.support.fake_registrar import FakeRegistrar

DOI = "10.80001/esrf-dc-1"
URL = "https://data.esrf.fr/doi/10.80001/esrf-dc-1"
ATTRIBUTES: dict[str, Any] = {
    "creators": [{"name": "Ada"}],
    "titles": [{"title": "T"}],
    "publisher": {"name": "ESRF"},
    "publicationYear": "2026",
    "types": {"resourceTypeGeneral": "Dataset"},
    "schemaVersion": "http://datacite.org/schema/kernel-4",
}


async def test_a_failure_before_acting_changes_nothing() -> None:
    fake = FakeRegistrar()
    fake.fail("put_draft", TransientRegistrarError("503", status=503))
    with pytest.raises(TransientRegistrarError):
        await fake.put_draft(DOI, ATTRIBUTES)
    assert fake.dois == {} and fake.created == 0
    assert (await fake.put_draft(DOI, ATTRIBUTES)).state is DoiState.DRAFT
    assert fake.calls == [("put_draft", DOI), ("put_draft", DOI)]


async def test_a_failure_after_acting_keeps_the_change() -> None:
    fake = FakeRegistrar()
    await fake.put_draft(DOI, ATTRIBUTES)
    fake.fail("publish", TransientRegistrarError("timeout"), doi=DOI, after_applying=True)
    with pytest.raises(TransientRegistrarError):
        await fake.publish(DOI, ATTRIBUTES, URL)
    assert fake.dois[DOI].state is DoiState.FINDABLE
    assert (await fake.publish(DOI, ATTRIBUTES, URL)).state is DoiState.FINDABLE
    assert fake.created == 1


async def test_a_fault_for_another_doi_or_operation_does_not_fire() -> None:
    fake = FakeRegistrar()
    fake.fail("put_draft", PermanentRegistrarError("422"), doi="10.80001/other", times=2)
    fake.fail("delete_draft", PermanentRegistrarError("405"))
    await fake.put_draft(DOI, ATTRIBUTES)
    with pytest.raises(PermanentRegistrarError):
        await fake.put_draft("10.80001/OTHER", ATTRIBUTES)
    with pytest.raises(PermanentRegistrarError):
        await fake.delete_draft(DOI)
    assert set(fake.dois) == {DOI}


async def test_a_held_call_waits_for_its_release() -> None:
    fake = FakeRegistrar()
    hold = fake.hold("publish", doi=DOI)
    await fake.put_draft(DOI, ATTRIBUTES)
    first = asyncio.create_task(fake.publish(DOI, ATTRIBUTES, URL))
    await hold.entered.wait()
    assert fake.dois[DOI].state is DoiState.DRAFT  # held before acting
    second = await fake.publish(DOI, ATTRIBUTES, URL)  # the hold was for one call
    assert second.state is DoiState.FINDABLE
    hold.release()
    assert (await first).state is DoiState.FINDABLE
