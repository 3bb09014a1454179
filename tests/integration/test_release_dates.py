"""Staff extend or shorten an embargo; the change is recorded with who, when and why."""

from __future__ import annotations

from sqlalchemy import select

from gateway.catalogue.gateway_tables import ReleaseDateChange
from gateway.catalogue.queries import columns_of
from tests.conftest import STAFF, Client

CHANGE = """mutation($id: ID!, $date: DateTime, $reason: String!) {
  changeReleaseDate(input: {investigationId: $id, releaseDate: $date, reason: $reason}) {
    changeId investigation { id releaseDate isReleased } } }"""


async def a_released_session(client: Client) -> dict[str, str]:
    data = await client.data(
        "{ investigations(first: 1, filter: {released: true}) { nodes { id releaseDate } } }"
    )
    node: dict[str, str] = data["investigations"]["nodes"][0]
    return node


async def test_staff_extend_an_embargo_and_it_is_recorded(client: Client) -> None:
    session = await a_released_session(client)
    variables = {"id": session["id"], "date": "2099-01-01T00:00:00", "reason": "patent pending"}
    result = await client.data(CHANGE, variables, user=STAFF)
    changed = result["changeReleaseDate"]
    assert changed["investigation"]["isReleased"] is False
    assert changed["investigation"]["releaseDate"].startswith("2099-01-01")
    summary = await client.execute(
        "query($id: ID) { investigation(id: $id) { summary } }", {"id": session["id"]}
    )
    assert summary.errors[0].extensions["code"] == "FORBIDDEN"
    async with client.engine.connect() as connection:
        record = (
            await connection.execute(
                select(*columns_of(ReleaseDateChange)).where(
                    ReleaseDateChange.id == changed["changeId"]
                )
            )
        ).one()
    assert record.changed_by == STAFF and record.reason == "patent pending"
    assert record.new_release_date.year == 2099
    # Put it back, which is recorded too.
    restore = {"id": session["id"], "date": session["releaseDate"], "reason": "patent granted"}
    restored = await client.data(CHANGE, restore, user=STAFF)
    assert restored["changeReleaseDate"]["investigation"]["isReleased"] is True


async def test_only_staff_change_release_dates(client: Client) -> None:
    session = await a_released_session(client)
    variables = {"id": session["id"], "date": None, "reason": "mine"}
    for user, code in (
        (None, "UNAUTHENTICATED"),
        ("esrf/pi1", "FORBIDDEN"),
        ("esrf/outsider1", "FORBIDDEN"),
    ):
        result = await client.execute(CHANGE, variables, user=user)
        assert [e.extensions["code"] for e in result.errors] == [code]
    empty = await client.execute(CHANGE, {**variables, "reason": "  "}, user=STAFF)
    assert [e.extensions["code"] for e in empty.errors] == ["BAD_USER_INPUT"]
    after = await client.data(
        "query($id: ID) { investigation(id: $id) { releaseDate } }", {"id": session["id"]}
    )
    assert after["investigation"]["releaseDate"] == session["releaseDate"]
