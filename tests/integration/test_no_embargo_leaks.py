"""Property: no generated query shows an anonymous user or an outsider anything embargoed.

hypothesis-graphql writes queries from the schema (any root field, any nesting, any
arguments); every response is searched for values that only the team may see: the ids
and storage locations of hidden datasets and datafiles, and the summaries of sessions
under embargo.
"""

from __future__ import annotations

import json
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries
from sqlalchemy import select

from gateway.auth.policy import Caller
from gateway.catalogue.models import Datafile, Dataset, Investigation
from gateway.schema.node import global_id
from tests.conftest import Client
from tests.support.reviewer import make_reviewer_link, remove_reviewer_link

LONG = st.integers(min_value=0, max_value=2**40).map(lambda n: graphql.IntValueNode(value=str(n)))
# Page sizes a client would use (larger ones are refused before any data is read).
INT = st.integers(min_value=0, max_value=60).map(lambda n: graphql.IntValueNode(value=str(n)))
# Words that match sessions, beamlines and people of the demo catalogue.
STRING = st.sampled_from(["MX", "ID30A-1", "protein", "esrf/pi1", "10.5072", "structure", "x"]).map(
    lambda text: graphql.StringValueNode(value=text)
)


async def known_ids(client: Client) -> list[str]:
    """Global ids of real sessions, datasets and files: hidden ones included, on purpose."""
    async with client.engine.connect() as connection:
        ids: list[str] = [
            global_id(kind, icat_id)
            for kind, model in (("Investigation", Investigation), ("Dataset", Dataset))
            for icat_id in (await connection.execute(select(model.id))).scalars()
        ]
        files = await connection.execute(select(Datafile.id).order_by(Datafile.id).limit(500))
        ids += [global_id("Datafile", icat_id) for icat_id in files.scalars()]
    return ids


async def secrets(client: Client, user: str | Caller | None) -> set[str]:
    """Values the caller must never receive, computed from the catalogue and the policy."""
    access = await client.access(user)
    from gateway.catalogue.visibility import dataset_visible, investigation_data_visible

    async with client.engine.connect() as connection:
        hidden_sessions = (
            (
                await connection.execute(
                    select(Investigation.summary).where(~investigation_data_visible(access))
                )
            )
            .scalars()
            .all()
        )
        shown_sessions = (
            (
                await connection.execute(
                    select(Investigation.summary).where(investigation_data_visible(access))
                )
            )
            .scalars()
            .all()
        )
        hidden_datasets = (
            await connection.execute(
                select(Dataset.id, Dataset.location).where(~dataset_visible(access))
            )
        ).all()
        hidden_files = (
            await connection.execute(
                select(Datafile.id, Datafile.location).where(
                    Datafile.dataset_id.in_(select(Dataset.id).where(~dataset_visible(access)))
                )
            )
        ).all()
    values = {s for s in hidden_sessions if s} - set(shown_sessions)
    values |= {global_id("Dataset", id) for id, _ in hidden_datasets}
    values |= {location for _, location in hidden_datasets if location}
    values |= {global_id("Datafile", id) for id, _ in hidden_files}
    values |= {location for _, location in hidden_files if location}
    return values


def strings_in(value: Any) -> set[str]:
    return {s for s in _walk(value)}


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def test_generated_queries_never_leak_embargoed_values(client: Client) -> None:
    """Each generated query is asked by every caller refused something: anonymous, an
    outsider and a reviewer link's holder (anonymous, plus one session and one dataset).
    Drawing a query from the whole schema costs more than answering it: drawn once, asked
    three times."""
    if client.settings.dialect == "mysql":
        pytest.skip("the property runs on SQLite and on PostgreSQL (compiled execution)")
    with client.own_loop() as (loop, client):
        reviewer = loop.run_until_complete(make_reviewer_link(client.engine))
        try:
            # The link opens something, and only what anonymous is refused.
            opened = loop.run_until_complete(secrets(client, reviewer))
            assert opened < loop.run_until_complete(secrets(client, None))
            _check_generated_queries(loop, client, [None, "esrf/outsider1", reviewer])
        finally:
            loop.run_until_complete(remove_reviewer_link(client.engine, reviewer))


def _check_generated_queries(loop: Any, client: Client, callers: list[str | Caller | None]) -> None:
    forbidden = {
        index: loop.run_until_complete(secrets(client, user)) for index, user in enumerate(callers)
    }
    assert all(forbidden.values()), "the demo catalogue should hold embargoed data"
    # The detector can fail: staff do receive those values.
    staff_view = loop.run_until_complete(
        client.execute("{ datasets(first: 1000) { nodes { id location } } }", user="esrf/staff1")
    )
    assert all(strings_in(staff_view.data) & hidden for hidden in forbidden.values())
    reached_data: dict[int, list[str]] = {index: [] for index in forbidden}

    schema = client.schema._schema
    # ``download`` holds no catalogue data (a download's record: its preparer's and
    # staff's, tested in test_downloads); generated ids never name one.
    roots = [
        name for name in schema.query_type.fields if not name.startswith("_") and name != "download"
    ]

    every_id = loop.run_until_complete(known_ids(client))
    data_ids = {
        index: {value for value in every_id if not value.startswith("SW52")} - hidden
        for index, hidden in forbidden.items()
    }
    ids = st.sampled_from(every_id).map(lambda value: graphql.StringValueNode(value=value))
    scalars = {"Long": LONG, "Int": INT, "String": STRING, "ID": ids}

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    @given(query=queries(schema, fields=roots, custom_scalars=scalars, allow_x00=False))
    def check(query: str) -> None:
        for index, user in enumerate(callers):
            result = loop.run_until_complete(client.execute(query, user=user))
            seen = strings_in(result.data) if result.data else set()
            leaked = seen & forbidden[index]
            if seen & data_ids[index] or any(value.startswith("/data/") for value in seen):
                reached_data[index].append(query)
            assert not leaked, (user, query, sorted(leaked)[:5])
            for error in result.errors or []:
                code = error.extensions and error.extensions.get("code")
                assert code != "INTERNAL_SERVER_ERROR", (user, query, error)
            json.dumps(result.data, default=str)

    check()
    # Not vacuous: generated queries did reach datasets and files each caller may see.
    for index, reached in reached_data.items():
        assert len(reached) >= 3, (callers[index], len(reached))
