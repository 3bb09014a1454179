"""Staff extend or shorten an embargo; the change is recorded with who, when and why."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.catalogue.gateway_tables import ReleaseDateChange
from gateway.catalogue.queries import columns_of
from gateway.cli import main
from tests.conftest import STAFF, Client

DATA = Path(__file__).resolve().parents[1] / "data"

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


def test_release_dates_command_sets_the_missing_ones_by_the_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-icat's 6.2 example has no release dates; the rule sets them from the end
    dates (the facility's DAYSUNTILRELEASE is unset there: ICAT_GATEWAY_EMBARGO_DAYS),
    except for a proprietary session and one without an end date (08100122-EF); a dry run
    changes nothing; a second run finds none."""
    url = f"sqlite+aiosqlite:///{tmp_path}/rule.sqlite3"
    assert main(["--database-url", url, "ingest", str(DATA / "icatdump-6.2.yaml")]) == 0
    db = sqlite3.connect(url.removeprefix("sqlite+aiosqlite:///"))
    db.execute(
        "UPDATE INVESTIGATION SET TYPE_ID = (SELECT ID FROM INVESTIGATIONTYPE WHERE NAME = "
        "'Commercial experiment') WHERE NAME = '12100409-ST'"
    )
    db.commit()
    released = "SELECT NAME, RELEASEDATE FROM INVESTIGATION WHERE RELEASEDATE IS NOT NULL"
    monkeypatch.setenv("ICAT_GATEWAY_EMBARGO_DAYS", "365")
    monkeypatch.setenv("ICAT_GATEWAY_PROPRIETARY_TYPES", "Commercial experiment")
    capsys.readouterr()

    assert main(["--database-url", url, "release-dates", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert dry.splitlines() == [
        "10100601-ST 1.1-N: ended 2010-10-12, released 2011-10-12 (+365 days)",
        "dry run, nothing changed: 1 release dates set by the rule, 1 proprietary sessions "
        "left unreleased, 1 sessions without an end date left",
    ]
    assert db.execute(released).fetchall() == []

    assert main(["--database-url", url, "release-dates"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:-1] == dry.splitlines()[:-1]  # the same dates, now set
    assert "(+365 days)" in out
    rows = db.execute(
        "SELECT NAME, julianday(RELEASEDATE) - julianday(ENDDATE) FROM INVESTIGATION "
        "WHERE RELEASEDATE IS NOT NULL ORDER BY NAME"
    ).fetchall()
    assert rows == [("10100601-ST", 365.0)]
    changes = db.execute("SELECT COUNT(*), MIN(CHANGED_BY) FROM GATEWAY_RELEASE_DATE_CHANGE")
    assert changes.fetchall() == [(1, "release-dates")]

    assert main(["--database-url", url, "release-dates"]) == 0
    assert capsys.readouterr().out.startswith("0 release dates set by the rule, 1 proprietary")
    db.close()
