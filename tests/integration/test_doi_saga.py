"""The DOI use cases and their saga on each database, against a scripted registrar: who
may, idempotency keys, and every registrar failure at every step leaving nothing public
that the registrar does not show findable (and the reverse) once retried or reconciled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import now_utc
from gateway.catalogue import publications
from gateway.catalogue.gateway_tables import DoiRequest, DoiSaga
from gateway.catalogue.icat_rules.ruleset import IcatRules, RuleRow, compile_rules
from gateway.catalogue.models import (
    DataCollectionDataset,
    DataPublication,
    DataPublicationUser,
    Subject,
)
from gateway.catalogue.publications import Creator
from gateway.catalogue.team import (
    PersonReference,
    add_collaborator,
    find_person,
    remove_collaborator,
)
from gateway.catalogue.visibility import Access
from gateway.doi.registrar import (
    DoiState,
    PermanentRegistrarError,
    RegisteredDoi,
    TransientRegistrarError,
)
from gateway.errors import GatewayError
from gateway.resolvers.context import RequestContext
from gateway.schema.node import global_id
from gateway.settings import Settings
from gateway.usecases.doi_saga import LeaseHeld, Step
from tests.support.doi_catalogue import (
    MEMBER1,
    OUTSIDER1,
    PI1,
    STAFF1,
    PiSessions,
    caller,
    description,
    pi_sessions,
    remove_doi_rows,
    sagas_for,
    use_cases,
    visible_dataset_ids,
)
from tests.support.fake_registrar import FakeRegistrar, Operation
from tests.support.icat_rules_demo import DEMO_RULES, DEMO_STEPS


def calls(registrar: FakeRegistrar, operation: str | None = None) -> list[str]:
    """The operations called, in order (only ``operation``'s when given)."""
    return [op for op, _ in registrar.calls if operation in (None, op)]


@pytest.fixture
async def pi(catalogue: AsyncEngine) -> AsyncIterator[PiSessions]:
    await remove_doi_rows(catalogue)
    yield await pi_sessions(catalogue)
    await remove_doi_rows(catalogue)


@pytest.fixture
def registrar() -> FakeRegistrar:
    return FakeRegistrar()


def code_of(error: pytest.ExceptionInfo[GatewayError]) -> str:
    return str(error.value.extensions["code"])


async def publication_row(engine: AsyncEngine, doi: str) -> Any:
    async with engine.connect() as connection:
        return (
            await connection.execute(
                select(DataPublication.__table__).where(DataPublication.pid == doi)
            )
        ).first()


async def saga_row(engine: AsyncEngine, doi: str) -> Any:
    async with engine.connect() as connection:
        return (await connection.execute(select(DoiSaga.__table__).where(DoiSaga.doi == doi))).one()


async def test_reserve_makes_a_draft_and_a_reservation_that_shows_nothing(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    selection = [pi.bm29[-1], pi.embargoed[-1]]
    result = await doi.reserve(caller(PI1, settings), key="k1", dataset_ids=selection, title="T")
    assert result.step == Step.RESERVED and not result.replayed
    assert result.doi.startswith(f"{registrar.prefix}/esrf-dc-")
    assert registrar.dois[result.doi].state is DoiState.DRAFT
    row = await publication_row(catalogue, result.doi)
    assert row.PUBLICATIONDATE is None and row.CREATE_ID == PI1 and row.MOD_ID == PI1
    saga = await saga_row(catalogue, result.doi)
    assert result.doi == f"{registrar.prefix}/esrf-dc-{saga.DATACOLLECTION_ID}"
    async with catalogue.connect() as connection:
        held = (
            await connection.execute(
                select(DataCollectionDataset.dataset_id).where(
                    DataCollectionDataset.data_collection_id == row.DATACOLLECTION_ID
                )
            )
        ).scalars()
        assert sorted(held) == sorted(selection)
    assert await visible_dataset_ids(catalogue, selection) == set()

    again = await doi.reserve(caller(PI1, settings), key="k1", dataset_ids=selection, title="T")
    assert again.doi == result.doi and again.replayed
    assert len(calls(registrar, "put_draft")) == 1
    with pytest.raises(GatewayError) as reused:
        await doi.reserve(caller(PI1, settings), key="k1", dataset_ids=selection, title="Other")
    assert code_of(reused) == "CONFLICT"
    assert reused.value.extensions["reason"] == "IDEMPOTENCY_KEY_REUSED"


async def test_who_may_reserve(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    cases = [
        (None, [pi.bm29[-1]], "UNAUTHENTICATED"),
        (OUTSIDER1, [pi.released[-1]], "FORBIDDEN"),  # sees the data, is not on the team
        (OUTSIDER1, [pi.bm29[-1]], "NOT_FOUND"),  # cannot see it: does not learn it exists
        (MEMBER1, [pi.embargoed[-1], pi.released[-1]], None),  # on both teams
        (MEMBER1, [pi.embargoed[-1], pi.proprietary[-1]], "NOT_FOUND"),  # on one of the two
        ("esrf/scientist1", [pi.embargoed[-1]], "FORBIDDEN"),  # its beamline's: sees, no more
        (MEMBER1, [pi.released[-1], pi.embargoed[-2]], None),
        (PI1, [10**12], "NOT_FOUND"),
        (PI1, [], "BAD_USER_INPUT"),
        (PI1, [pi.proprietary[-1]], "FORBIDDEN"),  # reads it; only staff publish it
        (STAFF1, [pi.bm29[-1], pi.proprietary[-1]], None),
    ]
    for n, (user, selection, expected) in enumerate(cases):
        attempt = doi.reserve(caller(user, settings), key=f"w{n}", dataset_ids=selection, title="T")
        if expected is None:
            assert (await attempt).step == Step.RESERVED
            continue
        with pytest.raises(GatewayError) as refused:
            await attempt
            pytest.fail(f"{user} reserved {selection}")
        assert code_of(refused) == expected, (user, selection)
    async with catalogue.connect() as connection:
        made = (await connection.execute(select(func.count()).select_from(DoiSaga))).scalar()
    assert made == 3  # the refused calls recorded nothing


async def test_a_missing_and_a_hidden_dataset_are_refused_alike(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    """reserveDoi answered "No dataset 99999." for a missing id and "No such dataset." for
    a hidden one: which ids exist was an oracle. Now both answer the same."""
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    answers = []
    for n, selection in enumerate(([10**12], [pi.bm29[-1]])):
        with pytest.raises(GatewayError) as refused:
            await doi.reserve(
                caller(OUTSIDER1, settings), key=f"h{n}", dataset_ids=selection, title="T"
            )
        answers.append((refused.value.message, refused.value.extensions))
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    ("publishers", "may"),
    [
        ("team", {PI1, MEMBER1, OUTSIDER1, STAFF1}),
        ("proposal", {PI1, MEMBER1, STAFF1}),
        ("main-proposer", {PI1, STAFF1}),
    ],
)
async def test_who_may_publish_follows_the_setting_and_never_opens_a_proprietary_session(
    catalogue: AsyncEngine,
    settings: Settings,
    pi: PiSessions,
    registrar: FakeRegistrar,
    publishers: str,
    may: set[str],
) -> None:
    """Publishing is a right of its own (``policy.can_publish``): every member by default,
    collaborators included; the members from the proposal, or the main proposer, where
    the facility says so; staff always. A proprietary session's data only staff publish,
    whoever reads them (outsider1 granted access, pi1 its main proposer)."""
    configured = replace(settings, publishers=publishers)
    doi = use_cases(sagas_for(catalogue, registrar), configured)
    rules = configured.access_rules
    async with catalogue.begin() as connection:
        outsider = await find_person(connection, PersonReference(user_name=OUTSIDER1))
        sessions = await publications.selection(connection, [pi.embargoed[-1], pi.proprietary[-1]])
        for session in set(sessions.values()):
            await add_collaborator(connection, session, outsider, rules, acting=PI1, now=now_utc())
    try:
        for n, user in enumerate((PI1, MEMBER1, OUTSIDER1, STAFF1)):
            embargoed = doi.reserve(
                caller(user, configured), key=f"e{n}", dataset_ids=[pi.embargoed[-1]], title="T"
            )
            if user in may:
                assert (await embargoed).step == Step.RESERVED
            else:
                with pytest.raises(GatewayError) as refused:
                    await embargoed
                assert code_of(refused) == "FORBIDDEN", user
            proprietary = doi.mint(
                caller(user, configured),
                key=f"p{n}",
                dataset_ids=[pi.proprietary[-1]],
                description=description(),
            )
            if user == STAFF1:
                published = await proprietary
                assert published.step == Step.PUBLISHED
                # Who published is recorded with the call (and its saga).
                async with catalogue.connect() as connection:
                    recorded = (
                        await connection.execute(
                            select(DoiRequest.caller, DoiRequest.operation).where(
                                DoiRequest.saga_id
                                == select(DoiSaga.id)
                                .where(DoiSaga.doi == published.doi)
                                .scalar_subquery()
                            )
                        )
                    ).all()
                assert [tuple(r) for r in recorded] == [(STAFF1, "mint")]
                continue
            with pytest.raises(GatewayError) as refused:
                await proprietary
            # member1 is not on the proprietary session's team: it does not see it.
            assert code_of(refused) == ("NOT_FOUND" if user == MEMBER1 else "FORBIDDEN"), user
    finally:
        async with catalogue.begin() as connection:
            for session in set(sessions.values()):
                await remove_collaborator(connection, session, outsider, rules)


async def test_publish_releases_exactly_the_selection_at_that_moment(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    selection = [pi.bm29[-1], pi.embargoed[-1]]
    others = [d for d in pi.bm29 + pi.embargoed[2:] if d not in selection]
    pi1 = caller(PI1, settings)
    reserved = await doi.reserve(pi1, key="r", dataset_ids=[pi.bm29[-1]], title="First")
    changed = await doi.update(pi1, key="u", doi=reserved.doi, dataset_ids=selection, title="T")
    assert changed.step == Step.RESERVED and len(calls(registrar, "put_draft")) == 2
    assert registrar.dois[reserved.doi].attributes["titles"] == [{"title": "T"}]
    assert await visible_dataset_ids(catalogue, selection + others) == set()

    published = await doi.publish(pi1, key="p", doi=reserved.doi.upper(), description=description())
    assert published.step == Step.PUBLISHED
    held = registrar.dois[reserved.doi]
    assert (
        held.state is DoiState.FINDABLE
        and held.url == f"https://data.example.eu/doi/{reserved.doi}"
    )
    assert [c["name"] for c in held.attributes["creators"]] == ["Kowalczyk, Anna", "Jonas Lindberg"]
    assert await visible_dataset_ids(catalogue, selection + others) == set(selection)
    row = await publication_row(catalogue, reserved.doi)
    assert row.PUBLICATIONDATE is not None and row.DESCRIPTION == "What the data show."
    async with catalogue.connect() as connection:
        order = (
            await connection.execute(
                select(DataPublicationUser.full_name)
                .where(DataPublicationUser.publication_id == row.ID)
                .order_by(DataPublicationUser.order_key)
            )
        ).scalars()
        assert list(order) == ["Anna Kowalczyk", "Jonas Lindberg"]
    with pytest.raises(GatewayError) as again:
        await doi.cancel(pi1, key="c", doi=reserved.doi)
    assert code_of(again) == "CONFLICT"


async def test_cancel_deletes_the_draft_and_its_suffix_is_never_reused(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    pi1 = caller(PI1, settings)
    first = await doi.reserve(pi1, key="a", dataset_ids=[pi.bm29[-1]], title="T")
    cancelled = await doi.cancel(pi1, key="c", doi=first.doi)
    assert cancelled.step == Step.CANCELLED and first.doi not in registrar.dois
    assert await publication_row(catalogue, first.doi) is None
    second = await doi.reserve(pi1, key="b", dataset_ids=[pi.bm29[-1]], title="T")
    assert second.doi != first.doi
    with pytest.raises(GatewayError) as gone:
        await doi.publish(pi1, key="p", doi=first.doi, description=description())
    assert code_of(gone) == "CONFLICT"


async def test_mint_validates_its_metadata_before_anything_is_recorded(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    bad = description(creators=(Creator("X", orcid="0000-0000-0000-0002"),))  # bad checksum
    with pytest.raises(GatewayError) as refused:
        await doi.mint(caller(PI1, settings), key="m", dataset_ids=[pi.bm29[-1]], description=bad)
    assert code_of(refused) == "BAD_USER_INPUT"
    assert registrar.calls == []
    minted = await doi.mint(
        caller(PI1, settings), key="m2", dataset_ids=[pi.bm29[-1]], description=description()
    )
    assert minted.step == Step.PUBLISHED
    assert calls(registrar) == ["put_draft", "publish"]
    assert await visible_dataset_ids(catalogue, [pi.bm29[-1]]) == {pi.bm29[-1]}


TRANSIENT = TransientRegistrarError("timed out")
REFUSED = PermanentRegistrarError("422 metadata rejected", status=422)


@pytest.mark.parametrize("failing", ["put_draft", "publish"])
async def test_a_registrar_that_is_unavailable_leaves_nothing_public_and_a_retry_completes(
    catalogue: AsyncEngine,
    settings: Settings,
    pi: PiSessions,
    registrar: FakeRegistrar,
    failing: Operation,
) -> None:
    sagas = sagas_for(catalogue, registrar)
    doi = use_cases(sagas, settings)
    pi1 = caller(PI1, settings)
    selection = [pi.bm29[-1]]
    registrar.fail(failing, TRANSIENT, times=2)
    with pytest.raises(GatewayError) as unavailable:
        await doi.mint(pi1, key="m", dataset_ids=selection, description=description())
    assert code_of(unavailable) == "UPSTREAM_UNAVAILABLE"
    assert await visible_dataset_ids(catalogue, selection) == set()
    assert all(d.state is DoiState.DRAFT for d in registrar.dois.values())
    # Reconciling while the registrar is still down changes nothing and loses nothing.
    assert (await sagas.reconcile())["unavailable"] == 1
    assert await visible_dataset_ids(catalogue, selection) == set()
    # The same call again completes it: one DOI, published once.
    again = await doi.mint(pi1, key="m", dataset_ids=selection, description=description())
    assert again.step == Step.PUBLISHED and again.replayed
    assert len(registrar.dois) == 1
    assert len(calls(registrar, failing)) == 3  # two that failed, one that did it
    assert await visible_dataset_ids(catalogue, selection) == set(selection)


async def test_reconcile_completes_what_a_caller_left(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    sagas = sagas_for(catalogue, registrar)
    doi = use_cases(sagas, settings)
    registrar.fail("publish", TRANSIENT)
    with pytest.raises(GatewayError):
        await doi.mint(
            caller(PI1, settings), key="m", dataset_ids=[pi.bm29[-1]], description=description()
        )
    assert await sagas.reconcile() == {"completed": 1, "refused": 0, "unavailable": 0, "busy": 0}
    assert await visible_dataset_ids(catalogue, [pi.bm29[-1]]) == {pi.bm29[-1]}
    assert all(d.state is DoiState.FINDABLE for d in registrar.dois.values())
    assert await sagas.unfinished() == []


async def test_a_refused_publish_stays_a_reservation_and_the_same_key_reports_it(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    sagas = sagas_for(catalogue, registrar)
    doi = use_cases(sagas, settings)
    pi1 = caller(PI1, settings)
    reserved = await doi.reserve(pi1, key="r", dataset_ids=[pi.bm29[-1]], title="T")
    registrar.fail("publish", REFUSED)
    for _ in range(2):
        with pytest.raises(GatewayError) as refused:
            await doi.publish(pi1, key="p", doi=reserved.doi, description=description())
        assert code_of(refused) == "REGISTRAR_REFUSED"
    assert len(calls(registrar, "publish")) == 1
    assert await visible_dataset_ids(catalogue, [pi.bm29[-1]]) == set()
    await sagas.reconcile()  # puts the draft in line with the description
    assert registrar.dois[reserved.doi].state is DoiState.DRAFT
    assert (await saga_row(catalogue, reserved.doi)).STEP == Step.RESERVED
    # A person changes something (here: nothing; the registrar accepts now) and publishes.
    published = await doi.publish(pi1, key="p2", doi=reserved.doi, description=description())
    assert published.step == Step.PUBLISHED


async def test_a_refused_draft_fails_the_reservation_and_makes_nothing(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    registrar.fail("put_draft", REFUSED)
    pi1 = caller(PI1, settings)
    for _ in range(2):
        with pytest.raises(GatewayError) as refused:
            await doi.reserve(pi1, key="r", dataset_ids=[pi.bm29[-1]], title="T")
        assert code_of(refused) == "REGISTRAR_REFUSED"
    async with catalogue.connect() as connection:
        steps = (await connection.execute(select(DoiSaga.step))).scalars().all()
    assert steps == [Step.FAILED] and registrar.dois == {}


async def test_concurrent_publishes_with_the_same_key_publish_once(
    catalogue: AsyncEngine,
    settings: Settings,
    pi: PiSessions,
    registrar: FakeRegistrar,
    request: pytest.FixtureRequest,
) -> None:
    if catalogue.dialect.name == "sqlite":
        # A known defect, not yet understood: on SQLite one of the three drivers sometimes
        # waits out the 30 s busy timeout ("database is locked") in its claim of the lease.
        # Seen in about one run of this file in three; PostgreSQL and MariaDB never. Its
        # error names the transactions that held the lock (see it with --runxfail).
        request.applymarker(
            pytest.mark.xfail(reason="SQLite: a lease claim may wait out the busy timeout")
        )
    pi1 = caller(PI1, settings)
    reserved = await use_cases(sagas_for(catalogue, registrar), settings).reserve(
        pi1, key="r", dataset_ids=[pi.bm29[-1]], title="T"
    )
    registrar.calls.clear()
    held = registrar.hold("publish")
    # Two replicas and a retry: each its own driver (its own lease owner), one catalogue.
    publishing = [
        asyncio.ensure_future(
            use_cases(sagas_for(catalogue, registrar), settings).publish(
                pi1, key="same", doi=reserved.doi, description=description()
            )
        )
        for _ in range(3)
    ]
    await held.entered.wait()  # one is publishing; the others wait for it
    held.release()
    results = await asyncio.gather(*publishing)
    assert {r.step for r in results} == {Step.PUBLISHED}
    assert len(calls(registrar, "publish")) == 1
    assert sorted(r.replayed for r in results) == [False, True, True]
    async with catalogue.connect() as connection:
        dates = (
            await connection.execute(
                select(func.count())
                .select_from(DataPublication)
                .where(
                    DataPublication.pid == reserved.doi,
                    DataPublication.publication_date.is_not(None),
                )
            )
        ).scalar()
    assert dates == 1


async def test_a_publish_the_registrar_did_not_make_findable_publishes_nothing(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    """A 200 to the publish event that leaves the DOI a draft (DataCite ignores an event
    its state does not allow) must not make the catalogue public."""
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    pi1 = caller(PI1, settings)
    reserved = await doi.reserve(pi1, key="r", dataset_ids=[pi.bm29[-1]], title="T")

    async def stays_a_draft(doi: str, attributes: Mapping[str, Any], url: str) -> RegisteredDoi:
        registrar.calls.append(("publish", doi))
        return registrar.dois[doi]

    registrar.publish = stays_a_draft  # type: ignore[method-assign]
    with pytest.raises(GatewayError) as refused:
        await doi.publish(pi1, key="p", doi=reserved.doi, description=description())
    assert code_of(refused) == "REGISTRAR_REFUSED"
    assert await visible_dataset_ids(catalogue, [pi.bm29[-1]]) == set()
    assert (await publication_row(catalogue, reserved.doi)).PUBLICATIONDATE is None


async def test_a_reservation_takes_a_new_description_and_its_draft_follows(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    pi1 = caller(PI1, settings)
    reserved = await doi.reserve(pi1, key="r", dataset_ids=[pi.bm29[-1]], title="Kept")
    changed = await doi.update(
        pi1, key="u", doi=reserved.doi, description=description("", keywords=("zeolites",))
    )
    assert changed.step == Step.RESERVED
    draft = registrar.dois[reserved.doi].attributes
    assert draft["titles"] == [{"title": "Kept"}]
    assert [s["subject"] for s in draft["subjects"]] == ["zeolites"]
    assert [c["name"] for c in draft["creators"]] == ["Kowalczyk, Anna", "Jonas Lindberg"]
    assert await visible_dataset_ids(catalogue, [pi.bm29[-1]]) == set()
    async with catalogue.connect() as connection:  # ICAT 6.2's SUBJECT rows (embedded)
        held = await connection.execute(
            select(Subject.name)
            .join(DataPublication, DataPublication.id == Subject.data_publication_id)
            .where(DataPublication.pid == reserved.doi)
        )
        assert held.scalars().all() == ["zeolites"]


async def test_a_dead_drivers_lease_lapses_within_seconds(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    """A killed process's lease blocked a retry of the same call for about 60 s, which
    then answered CONFLICT: the lease is short now (10 s), and renewed while its holder
    drives, so a holder that is gone is taken over a few seconds later."""
    clock = [now_utc()]
    sagas = sagas_for(catalogue, registrar, clock=lambda: clock[0])
    doi = use_cases(sagas, settings)
    reserved = await doi.reserve(
        caller(PI1, settings), key="lease-r", dataset_ids=[pi.bm29[-1]], title="T"
    )
    saga_id = int((await saga_row(catalogue, reserved.doi)).ID)
    assert await sagas._claim(saga_id, "a-process-killed-since")
    with pytest.raises(LeaseHeld):
        await sagas.drive(saga_id)
    clock[0] += timedelta(seconds=11)
    outcome = await sagas.drive(saga_id)  # taken over
    assert outcome.unavailable is None and outcome.refused is None


async def test_a_live_driver_keeps_its_lease_past_its_length(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    """While its holder drives (here: paused at a step for twice the lease), the lease is
    renewed: nobody else drives the saga meanwhile."""
    paused = asyncio.Event()
    resume = asyncio.Event()

    async def pause(boundary: str) -> None:
        if boundary == "called:put_draft" and not paused.is_set():
            paused.set()
            await resume.wait()

    holder = replace(sagas_for(catalogue, registrar, on_step=pause), lease=timedelta(seconds=2))
    other = replace(sagas_for(catalogue, registrar), lease=timedelta(seconds=2))
    doi = use_cases(holder, settings)
    reserving = asyncio.create_task(
        doi.reserve(caller(PI1, settings), key="lease-l", dataset_ids=[pi.bm29[-1]], title="T")
    )
    await asyncio.wait_for(paused.wait(), 30)
    async with catalogue.connect() as connection:
        saga_id = int((await connection.execute(select(DoiSaga.id))).scalar_one())
    try:
        await asyncio.sleep(4)  # twice the lease
        with pytest.raises(LeaseHeld):
            await other.drive(saga_id)
    finally:
        resume.set()
    assert (await reserving).step == Step.RESERVED


RESERVE = """mutation($input: ReserveDoiInput!) { reserveDoi(input: $input) { doi state } }"""
MINT = """mutation($input: MintDoiInput!) { mintDoi(input: $input) { doi state } }"""
PUBLISH = """mutation($input: PublishDoiInput!) { publishDoi(input: $input) { doi state } }"""
CANCEL = """mutation($input: CancelDoiReservationInput!) {
  cancelDoiReservation(input: $input) { doi state } }"""
TEAM_DATASET_RULE = "Dataset <-> Investigation <-> InvestigationUser <-> User [name = :user]"


async def test_under_icat_rules_a_doi_holds_only_datasets_the_rules_let_the_caller_read(
    catalogue: AsyncEngine,
    settings: Settings,
    schema: Any,
    pi: PiSessions,
    registrar: FakeRegistrar,
) -> None:
    """The publish right is the team's, but publishing releases the datasets: under the
    facility's rules a member may not reserve or mint a DOI over a dataset the rules hide
    from them, nor publish or cancel one that holds such a dataset. It is NOT_FOUND, as a
    missing one, and nothing is written or registered.
    The demo's rules without the team's Dataset rule: pi1 reads their released session's
    datasets, not those of their embargoed session on BM29."""
    rows = [RuleRow(n + 1, what, "R", None) for n, what in enumerate(DEMO_RULES)
            if what != TEAM_DATASET_RULE]  # fmt: skip
    rules = IcatRules(compile_rules(rows, DEMO_STEPS), root=False)
    doi = use_cases(sagas_for(catalogue, registrar), settings)

    async def run(query: str, input: dict[str, Any], ruled: IcatRules | None) -> Any:
        access = Access(caller=caller(PI1, settings), now=now_utc(), rules=ruled)
        context = RequestContext(engine=catalogue, settings=settings, access=access, dois=doi)
        return await schema.execute(query, variable_values={"input": input},
                                    context_value=context)  # fmt: skip

    def selection(ids: list[int]) -> list[str]:
        return [global_id("Dataset", i) for i in ids]

    hidden = selection([pi.released[-1], pi.bm29[-1]])
    refused = []
    attempts: list[tuple[str, dict[str, Any]]] = [
        (RESERVE, {"datasetIds": hidden, "title": "T"}),
        (MINT, {"datasetIds": hidden, "title": "T", "creators": [{"name": "Pi One"}]}),
        (RESERVE, {"datasetIds": selection([10**12]), "title": "T"}),
    ]
    for key, (query, input) in enumerate(attempts):
        result = await run(query, {**input, "idempotencyKey": f"r{key}"}, rules)
        assert result.errors is not None, (query, result.data)
        refused.append((result.errors[0].message, result.errors[0].extensions))
    assert refused[0] == refused[1] == refused[2]
    assert refused[0][1]["code"] == "NOT_FOUND"
    async with catalogue.connect() as connection:
        for table in (DoiSaga, DoiRequest):
            assert await connection.scalar(select(func.count()).select_from(table)) == 0
    assert registrar.calls == []

    readable = selection(pi.released[:1])
    result = await run(RESERVE, {"datasetIds": readable, "title": "T", "idempotencyKey": "r3"},
                       rules)  # fmt: skip
    assert result.errors is None, result.errors
    assert result.data["reserveDoi"]["state"] == "RESERVED"
    built_in = await run(RESERVE, {"datasetIds": hidden, "title": "T", "idempotencyKey": "r4"},
                         None)  # fmt: skip
    assert built_in.errors is None, built_in.errors  # the publish right alone allows it

    # A reservation made under the built-in policy is not published or cancelled past
    # the rules either.
    reserved = built_in.data["reserveDoi"]["doi"]
    attempts = [
        (PUBLISH, {"doi": reserved, "title": "T", "creators": [{"name": "Pi One"}]}),
        (CANCEL, {"doi": reserved}),
    ]
    for key, (query, input) in enumerate(attempts):
        result = await run(query, {**input, "idempotencyKey": f"s{key}"}, rules)
        assert result.errors is not None, (query, result.data)
        assert (result.errors[0].message, result.errors[0].extensions) == refused[0]
    assert (await saga_row(catalogue, reserved)).STEP == Step.RESERVED


async def test_under_icat_rules_a_dataset_the_caller_reads_but_may_not_publish_is_forbidden(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    """Under rules that open every dataset to everyone, a caller off the team sees an
    embargoed dataset: refusing it as NOT_FOUND would hide nothing, so it is FORBIDDEN,
    where the built-in policy (which hides it from them) answers NOT_FOUND."""
    rules = IcatRules(compile_rules([RuleRow(1, "Dataset", "R", None)], ()), root=False)
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    stranger = caller("esrf/stranger", settings)
    answers = []
    for key, ruled in enumerate((rules, None)):
        with pytest.raises(GatewayError) as refused:
            await doi.reserve(
                stranger, key=f"f{key}", dataset_ids=[pi.bm29[-1]], title="T", rules=ruled
            )
        answers.append(code_of(refused))
    assert answers == ["FORBIDDEN", "NOT_FOUND"]
    assert registrar.calls == []


UPDATE = """mutation($input: UpdateDoiReservationInput!) {
  updateDoiReservation(input: $input) { doi state } }"""
VERSION = """mutation($input: CreateDoiVersionInput!) {
  createDoiVersion(input: $input) { doi state } }"""
AMEND = """mutation($input: UpdatePublishedDoiInput!) {
  updatePublishedDoi(input: $input) { doi state } }"""
PUBLISHED_DATASET_RULE = next(rule for rule in DEMO_RULES if "dataPublications" in rule)


async def _written(engine: AsyncEngine) -> tuple[Any, ...]:
    """What the DOI mutations write: every saga's step, request and DOI, and the requests."""
    async with engine.connect() as connection:
        sagas = await connection.execute(
            select(DoiSaga.id, DoiSaga.step, DoiSaga.request, DoiSaga.revision).order_by(DoiSaga.id)
        )
        requests = await connection.scalar(select(func.count()).select_from(DoiRequest))
        return (*sagas.all(), requests)


async def test_under_icat_rules_a_doi_changes_only_over_datasets_the_rules_let_the_caller_read(
    catalogue: AsyncEngine,
    settings: Settings,
    schema: Any,
    pi: PiSessions,
    registrar: FakeRegistrar,
) -> None:
    """``updateDoiReservation``, ``createDoiVersion`` and ``updatePublishedDoi`` under the
    facility's rules: a DOI holding a dataset the rules hide from the caller, or a new
    selection holding one, is NOT_FOUND (as a missing dataset) before anything is written
    or registered; over datasets they read, the change is made. The demo's rules without
    the team's Dataset rule, nor the published data's (a DOI's datasets stay hidden once
    published): pi1 reads their released session's datasets, not those on BM29."""
    rows = [RuleRow(n + 1, what, "R", None) for n, what in enumerate(DEMO_RULES)
            if what not in (TEAM_DATASET_RULE, PUBLISHED_DATASET_RULE)]  # fmt: skip
    rules = IcatRules(compile_rules(rows, DEMO_STEPS), root=False)
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    pi1 = caller(PI1, settings)
    # Made under the built-in policy, where the publish right alone decides.
    shown, hidden = [pi.released[-1]], [pi.bm29[-1]]
    reserved = (await doi.reserve(pi1, key="u1", dataset_ids=shown, title="T")).doi
    reserved_hidden = (await doi.reserve(pi1, key="u2", dataset_ids=hidden, title="T")).doi
    published = (await doi.mint(pi1, key="u3", dataset_ids=shown, description=description())).doi
    published_hidden = (
        await doi.mint(pi1, key="u4", dataset_ids=hidden, description=description())
    ).doi

    async def run(query: str, input: dict[str, Any]) -> Any:
        access = Access(caller=pi1, now=now_utc(), rules=rules)
        context = RequestContext(engine=catalogue, settings=settings, access=access, dois=doi)
        return await schema.execute(query, variable_values={"input": input},
                                    context_value=context)  # fmt: skip

    missing = await run(RESERVE, {"datasetIds": [global_id("Dataset", 10**12)], "title": "T",
                                  "idempotencyKey": "u5"})  # fmt: skip
    assert missing.errors is not None
    not_found = (missing.errors[0].message, missing.errors[0].extensions)
    assert not_found[1]["code"] == "NOT_FOUND"
    hidden_ids = [global_id("Dataset", i) for i in hidden]
    attempts: list[tuple[str, dict[str, Any]]] = [
        (UPDATE, {"doi": reserved_hidden, "title": "New"}),
        (UPDATE, {"doi": reserved, "datasetIds": hidden_ids}),
        (VERSION, {"doi": published_hidden}),
        (VERSION, {"doi": published, "datasetIds": hidden_ids}),
        (AMEND, {"doi": published_hidden, "title": "New"}),
    ]
    before, calls = await _written(catalogue), len(registrar.calls)
    for key, (query, input) in enumerate(attempts):
        result = await run(query, {**input, "idempotencyKey": f"h{key}"})
        assert result.errors is not None, (query, input, result.data)
        assert (result.errors[0].message, result.errors[0].extensions) == not_found, input
    assert await _written(catalogue) == before
    assert len(registrar.calls) == calls

    # Not vacuous: over datasets the rules let pi1 read, each change is made.
    changed = [
        (UPDATE, {"doi": reserved, "title": "New"}, "RESERVED"),
        (VERSION, {"doi": published}, "PUBLISHED"),
        (AMEND, {"doi": published, "title": "New"}, "PUBLISHED"),
    ]
    for key, (query, input, state) in enumerate(changed):
        result = await run(query, {**input, "idempotencyKey": f"c{key}"})
        assert result.errors is None, (query, result.errors)
        assert next(iter(result.data.values()))["state"] == state


async def test_under_icat_rules_a_doi_the_caller_reads_but_may_not_change_is_forbidden(
    catalogue: AsyncEngine, settings: Settings, pi: PiSessions, registrar: FakeRegistrar
) -> None:
    """Under rules that open every dataset to everyone, a caller off the team who asks to
    change pi1's reservation, version or amend their published DOI sees its datasets:
    FORBIDDEN, and nothing is written."""
    rules = IcatRules(compile_rules([RuleRow(1, "Dataset", "R", None)], ()), root=False)
    doi = use_cases(sagas_for(catalogue, registrar), settings)
    pi1 = caller(PI1, settings)
    reserved = (await doi.reserve(pi1, key="f1", dataset_ids=[pi.bm29[-1]], title="T")).doi
    published = (
        await doi.mint(pi1, key="f2", dataset_ids=[pi.bm29[-1]], description=description())
    ).doi
    stranger = caller("esrf/stranger", settings)
    before, calls = await _written(catalogue), len(registrar.calls)
    answers = []
    for change in (
        doi.update(stranger, key="f3", doi=reserved, title="New", rules=rules),
        doi.new_version(stranger, key="f4", doi=published, rules=rules),
        doi.amend(stranger, key="f5", doi=published, title="New", rules=rules),
    ):
        with pytest.raises(GatewayError) as refused:
            await change
        answers.append(code_of(refused))
    assert answers == ["FORBIDDEN"] * 3
    assert await _written(catalogue) == before
    assert len(registrar.calls) == calls
