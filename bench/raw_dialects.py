"""Hand-written SQL for the workloads of ``bench.dialects``, on PostgreSQL, MariaDB and SQLite.

The baseline a developer would write without the gateway: a few plain statements per
request over the same tables and indexes (a window ``count(*) OVER ()`` for totals, one
statement for the instruments of a whole page, the keyset as the dialect seeks it best),
the caller's visibility rules written out (``gateway.catalogue.visibility``: released, team
member or beamline scientist), and the JSON built in Python. Served like the gateway
(``create_app`` below: Starlette under uvicorn, the same number of workers, the same pool
of autocommit connections):

    BENCH_URL=postgresql+asyncpg://... uvicorn bench.raw_dialects:app --workers 2
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.catalogue.database import create_engine
from gateway.catalogue.pagination import encode_cursor
from gateway.settings import Settings

SESSION_LIST_PAGE = 20
SESSION_PAGE_DATASETS = 20
FILE_PAGE = 100
SEARCH_PAGE = 20
FILE_LISTING = "datafiles_of_dataset:NAME:asc"


def gid(type_name: str, icat_id: int) -> str:
    return base64.b64encode(f"{type_name}:{icat_id}".encode()).decode()


def iso(value: Any) -> str | None:
    """A timestamp as the gateway writes it (SQLite's text columns read as text here)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return str(value.isoformat())


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Dialect:
    """What differs between the three: quoting, NULLS LAST, the keyset predicate."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mariadb = name in ("mysql", "mariadb")

    def sql(self, statement: str) -> str:
        return statement.replace('"', "`") if self.mariadb else statement

    def newest(self, a: str) -> str:
        if self.mariadb:
            return f'{a}."STARTDATE" IS NULL, {a}."STARTDATE" DESC, {a}."ID" DESC'
        return f'{a}."STARTDATE" DESC NULLS LAST, {a}."ID" DESC'

    def oldest(self, a: str) -> str:
        if self.mariadb:
            return f'{a}."STARTDATE" IS NULL, {a}."STARTDATE", {a}."ID"'
        return f'{a}."STARTDATE" NULLS LAST, {a}."ID"'

    def after(self, a: str) -> str:
        if self.mariadb:  # MariaDB scans a row-value comparison; this is a range
            return (
                f'{a}."NAME" >= :name AND ({a}."NAME" > :name OR '
                f'({a}."NAME" = :name AND {a}."ID" > :id))'
            )
        return f'({a}."NAME", {a}."ID") > (:name, :id)'


RELEASED = '(i."RELEASEDATE" IS NOT NULL AND i."RELEASEDATE" < :now)'
MEMBER_SESSIONS = (
    'SELECT iu."INVESTIGATION_ID" FROM "INVESTIGATIONUSER" iu JOIN "USER_" u '
    'ON u."ID" = iu."USER_ID" WHERE u."NAME" = :user '
    'UNION SELECT ii."INVESTIGATION_ID" FROM "INVESTIGATIONINSTRUMENT" ii '
    'JOIN "INSTRUMENTSCIENTIST" sc ON sc."INSTRUMENT_ID" = ii."INSTRUMENT_ID" '
    'JOIN "USER_" u2 ON u2."ID" = sc."USER_ID" WHERE u2."NAME" = :user'
)


def data_visible(user: str | None) -> str:
    """May the caller read session ``i``'s DATA fields?"""
    if user is None:
        return RELEASED
    return f'({RELEASED} OR i."ID" IN ({MEMBER_SESSIONS}))'


def _binds(user: str | None, **values: Any) -> dict[str, Any]:
    return {"now": now(), **({"user": user} if user is not None else {}), **values}


async def _instruments(
    connection: AsyncConnection, dialect: Dialect, ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return found
    statement = text(
        dialect.sql(
            'SELECT ii."INVESTIGATION_ID", ins."NAME" FROM "INVESTIGATIONINSTRUMENT" ii '
            'JOIN "INSTRUMENT" ins ON ins."ID" = ii."INSTRUMENT_ID" '
            'WHERE ii."INVESTIGATION_ID" IN :ids ORDER BY ins."NAME"'
        )
    ).bindparams(bindparam("ids", expanding=True))
    for owner, name in await connection.execute(statement, {"ids": ids}):
        found[owner].append({"name": name})
    return found


async def session_list(
    connection: AsyncConnection, dialect: Dialect, user: str | None, args: dict[str, Any]
) -> Any:
    rows = (
        await connection.execute(
            text(
                dialect.sql(
                    'SELECT i."ID", i."NAME", i."TITLE", i."STARTDATE", i."RELEASEDATE", '
                    'i."DOI", count(*) OVER () FROM "INVESTIGATION" i '
                    f'WHERE {RELEASED} AND i."ID" IN (SELECT ii."INVESTIGATION_ID" '
                    'FROM "INVESTIGATIONINSTRUMENT" ii JOIN "INSTRUMENT" ins '
                    'ON ins."ID" = ii."INSTRUMENT_ID" WHERE ins."NAME" = :beamline) '
                    f"ORDER BY {dialect.newest('i')} LIMIT {SESSION_LIST_PAGE}"
                )
            ),
            _binds(None, beamline=args["beamline"]),
        )
    ).all()
    instruments = await _instruments(connection, dialect, [r[0] for r in rows])
    nodes = [
        {
            "id": gid("Investigation", r[0]),
            "proposal": r[1],
            "title": r[2],
            "startDate": iso(r[3]),
            "releaseDate": iso(r[4]),
            "doi": r[5],
            "instruments": instruments[r[0]],
        }
        for r in rows
    ]
    return {"investigations": {"totalCount": rows[0][6] if rows else 0, "nodes": nodes}}


async def session_page(
    connection: AsyncConnection, dialect: Dialect, user: str | None, args: dict[str, Any]
) -> Any:
    row = (
        await connection.execute(
            text(
                dialect.sql(
                    'SELECT i."ID", i."NAME", i."TITLE", i."SUMMARY", i."RELEASEDATE", '
                    f"CASE WHEN {data_visible(user)} THEN 1 ELSE 0 END "
                    'FROM "INVESTIGATION" i WHERE i."ID" = :id'
                )
            ),
            _binds(user, id=args["id"]),
        )
    ).first()
    if row is None or not row[5]:
        raise LookupError("the bench draws only sessions the caller may read")
    datasets = (
        await connection.execute(
            text(
                dialect.sql(
                    'SELECT i."ID", i."NAME", i."FILECOUNT", count(*) OVER () FROM "DATASET" i '
                    f'WHERE i."INVESTIGATION_ID" = :id ORDER BY {dialect.oldest("i")} '
                    f"LIMIT {SESSION_PAGE_DATASETS}"
                )
            ),
            {"id": args["id"]},
        )
    ).all()
    return {
        "investigation": {
            "id": gid("Investigation", row[0]),
            "proposal": row[1],
            "title": row[2],
            "summary": row[3],
            "releaseDate": iso(row[4]),
            "datasets": {
                "totalCount": datasets[0][3] if datasets else 0,
                "nodes": [
                    {"id": gid("Dataset", d[0]), "name": d[1], "fileCount": d[2]} for d in datasets
                ],
            },
        }
    }


async def file_listing(
    connection: AsyncConnection, dialect: Dialect, user: str | None, args: dict[str, Any]
) -> Any:
    visible = await connection.scalar(
        text(
            dialect.sql(
                'SELECT 1 FROM "DATASET" d JOIN "INVESTIGATION" i ON i."ID" = d."INVESTIGATION_ID" '
                f'WHERE d."ID" = :dataset AND ({data_visible(user)} OR d."ID" IN ('
                'SELECT dcd."DATASET_ID" FROM "DATACOLLECTIONDATASET" dcd '
                'JOIN "DATAPUBLICATION" dp ON dp."DATACOLLECTION_ID" = dcd."DATACOLLECTION_ID" '
                'WHERE dp."PUBLICATIONDATE" IS NOT NULL AND dp."PUBLICATIONDATE" < :now))'
            )
        ),
        _binds(user, dataset=args["dataset"]),
    )
    if not visible:
        return {"dataset": None}
    binds: dict[str, Any] = {"dataset": args["dataset"]}
    keyset = ""
    if args.get("after") is not None:
        binds["name"], binds["id"] = args["after"]
        keyset = f"AND {dialect.after('f')}"
    rows = (
        await connection.execute(
            text(
                dialect.sql(
                    'SELECT f."ID", f."NAME", f."FILESIZE" FROM "DATAFILE" f '
                    f'WHERE f."DATASET_ID" = :dataset {keyset} ORDER BY f."NAME", f."ID" '
                    f"LIMIT {FILE_PAGE + 1}"
                )
            ),
            binds,
        )
    ).all()
    shown = rows[:FILE_PAGE]
    end = encode_cursor(FILE_LISTING, [shown[-1][1], shown[-1][0]]) if shown else None
    return {
        "dataset": {
            "datafiles": {
                "pageInfo": {"hasNextPage": len(rows) > FILE_PAGE, "endCursor": end},
                "nodes": [
                    {"id": gid("Datafile", r[0]), "name": r[1], "fileSize": r[2]} for r in shown
                ],
            }
        }
    }


async def doi(
    connection: AsyncConnection, dialect: Dialect, user: str | None, args: dict[str, Any]
) -> Any:
    value = args["doi"]
    variants = sorted({value, value.upper(), value.lower()})
    statement = text(
        dialect.sql(
            'SELECT i."ID", i."NAME", i."TITLE", i."RELEASEDATE" FROM "INVESTIGATION" i '
            'WHERE i."DOI" IN :variants ORDER BY i."ID" LIMIT 1'
        )
    ).bindparams(bindparam("variants", expanding=True))
    row = (await connection.execute(statement, {"variants": variants})).first()
    if row is None:
        return {"doi": None}
    instruments = await _instruments(connection, dialect, [row[0]])
    return {
        "doi": {
            "__typename": "Investigation",
            "id": gid("Investigation", row[0]),
            "proposal": row[1],
            "title": row[2],
            "releaseDate": iso(row[3]),
            "instruments": instruments[row[0]],
        }
    }


async def search(
    connection: AsyncConnection, dialect: Dialect, user: str | None, args: dict[str, Any]
) -> Any:
    """The page of sessions matching every word, most relevant first, with the total:
    ``bench.search``'s hand-written statement over the gateway's search documents and
    full-text indexes (stored ``tsvector``, ``MATCH ... AGAINST``, FTS5 ``bm25``), with the
    proposal and title of each."""
    from bench import search as by_words  # it imports this module

    name = "mariadb" if dialect.mariadb else dialect.name
    sql = by_words.session_search_sql(name, user).replace(
        dialect.sql('SELECT i."ID", count(*) OVER ()'),
        dialect.sql('SELECT i."ID", i."NAME", i."TITLE", count(*) OVER ()'),
        1,
    )
    assert by_words.PAGE == SEARCH_PAGE and '"NAME"' in sql.replace("`", '"'), sql
    rows = (await connection.execute(text(sql), by_words._binds(name, args["text"], user))).all()
    return {
        "investigations": {
            "totalCount": rows[0][3] if rows else 0,
            "nodes": [
                {"id": gid("Investigation", r[0]), "proposal": r[1], "title": r[2]} for r in rows
            ],
        }
    }


Handler = Callable[[AsyncConnection, Dialect, str | None, dict[str, Any]], Awaitable[Any]]
WORKLOADS: dict[str, Handler] = {
    "session_list": session_list,
    "session_page": session_page,
    "file_listing": file_listing,
    "doi": doi,
    "search": search,
}


def read_engine(url: str) -> AsyncEngine:
    """A pool as the gateway's reads have it (autocommit, nothing reset on return)."""
    return create_engine(
        Settings(database_url=url),
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
        skip_autocommit_rollback=True,
    )


async def answer(engine: AsyncEngine, workload: str, user: str | None, args: dict[str, Any]) -> Any:
    dialect = Dialect(engine.dialect.name)
    async with engine.connect() as connection:
        return await WORKLOADS[workload](connection, dialect, user, args)


def create_app(url: str) -> Starlette:
    state: dict[str, AsyncEngine] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state["engine"] = read_engine(url)
        try:
            yield
        finally:
            await state["engine"].dispose()

    async def raw(request: Request) -> Response:
        body = orjson.loads(await request.body())
        data = await answer(state["engine"], body["workload"], body.get("user"), body["args"])
        return Response(orjson.dumps({"data": data}), media_type="application/json")

    return Starlette(routes=[Route("/raw", raw, methods=["POST"])], lifespan=lifespan)


app = create_app(os.environ["BENCH_URL"]) if "BENCH_URL" in os.environ else None
