"""The benchmark catalogues: one PostgreSQL database per scale, seeded once and reused.

``icat_bench_<scale>`` on the bench server is filled by the demo generator
(``gateway.catalogue.demo.seed_demo``) with a fixed seed and anchor, then one session is
grown to exactly ``SESSION_PAGE_DATASETS`` datasets (the demo gives every session the same
number, and the session-page workload needs 200), and ``VACUUM ANALYZE`` runs. A marker table,
``BENCH_META``, records the scale, seed, anchor and a hash of the generator's source; a
database whose marker matches is reused as it is, any other is dropped and seeded again.

Run alone: ``python -m bench.catalogue --scale 10k`` (prints what it did).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from gateway.catalogue import demo as demo_module
from gateway.catalogue import indexes as indexes_module
from gateway.catalogue import models as models_module
from gateway.catalogue.database import create_engine, create_schema
from gateway.catalogue.demo import DemoSize, seed_demo
from gateway.settings import Settings

SERVER = "postgresql://postgres@127.0.0.1:5432"
"""The PostgreSQL server the benchmark uses (override with ``--server``)."""

SEED = 20261101
ANCHOR = datetime(2026, 11, 1)
SESSION_PAGE_DATASETS = 200
BIG_DATASET_FILES = 10_000
BENCH_LAYOUT = 2
"""Bump when this module changes what it adds after seeding (forces a reseed)."""

SCALES: dict[str, DemoSize] = {
    "10k": DemoSize(500, 20, 2, BIG_DATASET_FILES),
    "100k": DemoSize(5_000, 20, 2, BIG_DATASET_FILES),
    "1m": DemoSize(50_000, 20, 2, BIG_DATASET_FILES),
}
"""Scale name -> demo size (sessions x datasets per session x files per dataset)."""


@dataclass(frozen=True)
class Catalogue:
    """A ready benchmark database."""

    scale: str
    name: str
    dsn: str
    """libpq/asyncpg DSN."""
    meta: dict[str, Any]

    @property
    def sqlalchemy_url(self) -> str:
        return self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def database_name(scale: str) -> str:
    return f"icat_bench_{scale}"


def generator_hash() -> str:
    """What the catalogue's content depends on: the generator, the models, this layout."""
    digest = hashlib.sha256()
    for module in (demo_module, models_module):
        digest.update(Path(str(module.__file__)).read_bytes())
    digest.update(str(BENCH_LAYOUT).encode())
    return digest.hexdigest()[:16]


def wanted_meta(scale: str) -> dict[str, Any]:
    size = SCALES[scale]
    return {
        "scale": scale,
        "seed": SEED,
        "anchor": ANCHOR.isoformat(),
        "sessions": size.sessions,
        "datasets_per_session": size.datasets_per_session,
        "files_per_dataset": size.files_per_dataset,
        "big_dataset_files": size.big_dataset_files,
        "session_page_datasets": SESSION_PAGE_DATASETS,
        "generator": generator_hash(),
    }


async def ensure_catalogue(
    scale: str, *, server: str = SERVER, reseed: bool = False, keep: bool = False
) -> Catalogue:
    """The database for ``scale``, seeded if missing or stale.

    ``keep`` reuses any completely seeded database of that scale even if the generator
    changed since (for quick reruns while the gateway's code moves); ``reseed`` forces a
    fresh one.
    """
    name = database_name(scale)
    dsn = f"{server}/{name}"
    await _create_database(server, name)
    want = wanted_meta(scale)
    have = await _read_meta(dsn)
    fresh = have is not None and (
        {key: have.get(key) for key in want} == want or (keep and have.get("scale") == scale)
    )
    if fresh and not reseed:
        assert have is not None
        # The gateway's own indexes may have grown since: create what is missing.
        created = await _ensure_indexes(dsn)
        if not await _vacuumed(dsn):
            await _vacuum(dsn)
        elif created:
            await _analyze(dsn)
        print(f"[catalogue] reusing {name} (seeded {have.get('seeded_at')})", flush=True)
        return Catalogue(scale, name, dsn, have)
    if have is not None and not reseed:
        stale = sorted(key for key in want if have.get(key) != want[key])
        print(
            f"[catalogue] {name} is stale ({', '.join(stale)} changed): seeding it again; "
            "--keep-catalogue reuses it as it is",
            flush=True,
        )
    print(f"[catalogue] seeding {name} ({_describe(SCALES[scale])}) ...", flush=True)
    started = time.monotonic()
    settings = Settings(database_url=dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    await _drop_meta(dsn)
    counts = await seed_demo(settings, seed=SEED, size=SCALES[scale], reset=True, anchor=ANCHOR)
    seeded = time.monotonic() - started
    print(f"[catalogue] seeded in {seeded:.0f} s: {counts}", flush=True)
    grown = await _grow_session(dsn)
    await _vacuum(dsn)
    meta = dict(want)
    meta.update(
        seeded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seed_seconds=round(time.monotonic() - started, 1),
        counts=counts,
        grown_session=grown,
    )
    await _write_meta(dsn, meta)
    print(f"[catalogue] {name} ready in {meta['seed_seconds']} s", flush=True)
    return Catalogue(scale, name, dsn, meta)


def _describe(size: DemoSize) -> str:
    return (
        f"{size.sessions} sessions x {size.datasets_per_session} datasets x "
        f"{size.files_per_dataset} files, one dataset of +{size.big_dataset_files} files"
    )


async def _create_database(server: str, name: str) -> None:
    for admin_db in ("postgres", "template1"):
        try:
            connection = await asyncpg.connect(f"{server}/{admin_db}")
        except (OSError, asyncpg.PostgresError):
            continue
        try:
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await connection.execute(f'CREATE DATABASE "{name}"')
            return
        finally:
            await connection.close()
    raise RuntimeError(f"cannot reach PostgreSQL at {server} to create {name}")


async def _read_meta(dsn: str) -> dict[str, Any] | None:
    connection = await asyncpg.connect(dsn)
    try:
        table = await connection.fetchval("SELECT to_regclass('\"BENCH_META\"')")
        if table is None:
            return None
        raw = await connection.fetchval('SELECT "VALUE" FROM "BENCH_META" WHERE "KEY" = \'meta\'')
        return None if raw is None else dict(json.loads(raw))
    finally:
        await connection.close()


async def _drop_meta(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute('DROP TABLE IF EXISTS "BENCH_META"')
    finally:
        await connection.close()


async def _write_meta(dsn: str, meta: dict[str, Any]) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            'CREATE TABLE IF NOT EXISTS "BENCH_META" ("KEY" TEXT PRIMARY KEY, "VALUE" TEXT)'
        )
        await connection.execute(
            "INSERT INTO \"BENCH_META\" VALUES ('meta', $1) "
            'ON CONFLICT ("KEY") DO UPDATE SET "VALUE" = EXCLUDED."VALUE"',
            json.dumps(meta),
        )
    finally:
        await connection.close()


async def _ensure_indexes(dsn: str) -> bool:
    """Create the gateway's indexes (``gateway.catalogue.indexes``) that are missing, and
    drop the ones they supersede."""
    connection = await asyncpg.connect(dsn)
    try:
        existing = {
            r["indexname"]
            for r in await connection.fetch(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            )
        }
    finally:
        await connection.close()
    wanted = {str(index.name) for index in indexes_module.indexes_for("postgresql")}
    superseded = set(indexes_module.SUPERSEDED["postgresql"]) & existing
    if wanted <= existing and not superseded:
        return False
    engine = create_engine(
        Settings(database_url=dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    )
    try:
        await create_schema(engine, embedded=True)
    finally:
        await engine.dispose()
    return True


async def _vacuumed(dsn: str) -> bool:
    connection = await asyncpg.connect(dsn)
    try:
        return bool(
            await connection.fetchval(
                "SELECT coalesce(last_vacuum, last_autovacuum) IS NOT NULL "
                "FROM pg_stat_user_tables WHERE relname = 'INVESTIGATION'"
            )
        )
    finally:
        await connection.close()


async def _vacuum(dsn: str) -> None:
    """VACUUM ANALYZE: statistics, and the visibility map that index-only scans need (a
    production catalogue is autovacuumed; a freshly loaded one is not yet)."""
    print("[catalogue] VACUUM ANALYZE ...", flush=True)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def _analyze(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def team_member(connection: asyncpg.Connection) -> tuple[int, str]:
    """The user with the most INVESTIGATIONUSER rows (lowest id on a tie)."""
    row = await connection.fetchrow(
        'SELECT u."ID", u."NAME" FROM "USER_" u JOIN "INVESTIGATIONUSER" iu '
        'ON iu."USER_ID" = u."ID" GROUP BY u."ID", u."NAME" '
        'ORDER BY count(*) DESC, u."ID" LIMIT 1'
    )
    assert row is not None, "the catalogue has no team"
    return int(row["ID"]), str(row["NAME"])


async def session_page_session(connection: asyncpg.Connection) -> int | None:
    """The session that has (or is grown to) ``SESSION_PAGE_DATASETS`` datasets."""
    found = await connection.fetchval(
        'SELECT d."INVESTIGATION_ID" FROM "DATASET" d GROUP BY d."INVESTIGATION_ID" '
        'HAVING count(*) >= $1 ORDER BY d."INVESTIGATION_ID" LIMIT 1',
        SESSION_PAGE_DATASETS,
    )
    return None if found is None else int(found)


async def _grow_session(dsn: str) -> dict[str, Any]:
    """Give one session ``SESSION_PAGE_DATASETS`` datasets by copying its own.

    The session: the team member's latest released session (so the anonymous caller and
    the member both see its data) other than the one with the big dataset. Its datasets
    are copied round-robin with their parameters, techniques, instruments and files;
    new ids come from ICAT's ``SEQ_GEN`` counter, which is moved past them, as the demo
    generator does; the session's and datasets' FILESIZE/FILECOUNT stay consistent.
    """
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            existing = await session_page_session(connection)
            if existing is not None:
                return {"investigation_id": existing, "added_datasets": 0}
            member_id, _member = await team_member(connection)
            session_id = await connection.fetchval(
                'SELECT i."ID" FROM "INVESTIGATION" i '
                'JOIN "INVESTIGATIONUSER" iu ON iu."INVESTIGATION_ID" = i."ID" '
                'WHERE iu."USER_ID" = $1 AND i."RELEASEDATE" < $2 '
                'AND NOT EXISTS (SELECT 1 FROM "DATASET" d WHERE d."INVESTIGATION_ID" = i."ID" '
                'AND d."FILECOUNT" > 1000) '
                'ORDER BY i."STARTDATE" DESC, i."ID" LIMIT 1',
                member_id,
                ANCHOR,
            )
            assert session_id is not None, "the team member has no released session"
            sources = await connection.fetch(
                'SELECT * FROM "DATASET" WHERE "INVESTIGATION_ID" = $1 ORDER BY "ID"', session_id
            )
            needed = SESSION_PAGE_DATASETS - len(sources)
            source_ids = [int(r["ID"]) for r in sources]
            children: dict[str, list[asyncpg.Record]] = {}
            for table in ("DATASETPARAMETER", "DATASETTECHNIQUE", "DATASETINSTRUMENT", "DATAFILE"):
                children[table] = await connection.fetch(
                    f'SELECT * FROM "{table}" WHERE "DATASET_ID" = ANY($1::bigint[]) ORDER BY "ID"',
                    source_ids,
                )
            next_id = int(
                await connection.fetchval(
                    'SELECT "SEQ_COUNT" FROM "SEQUENCE" WHERE "SEQ_NAME" = \'SEQ_GEN\' FOR UPDATE'
                )
            )
            highest = 0
            for table in ("DATASET", *children):
                top = await connection.fetchval(f'SELECT coalesce(max("ID"), 0) FROM "{table}"')
                highest = max(highest, int(top))
            next_id = max(next_id, highest + 1)
            rows: dict[str, list[dict[str, Any]]] = {t: [] for t in ("DATASET", *children)}
            added_size = added_count = 0
            for k in range(needed):
                source = sources[k % len(sources)]
                copy_number = k // len(sources) + 1
                dataset_id = next_id
                next_id += 1
                dataset = dict(source)
                dataset["ID"] = dataset_id
                dataset["NAME"] = f"{source['NAME']}_copy{copy_number:02d}"
                dataset["LOCATION"] = f"{source['LOCATION']}_copy{copy_number:02d}"
                rows["DATASET"].append(dataset)
                added_size += int(source["FILESIZE"] or 0)
                added_count += int(source["FILECOUNT"] or 0)
                for table, records in children.items():
                    for record in records:
                        if record["DATASET_ID"] != source["ID"]:
                            continue
                        row = dict(record)
                        row["ID"] = next_id
                        next_id += 1
                        row["DATASET_ID"] = dataset_id
                        if table == "DATAFILE":
                            row["LOCATION"] = f"{dataset['LOCATION']}/{record['NAME']}"
                        rows[table].append(row)
            for table, table_rows in rows.items():
                if not table_rows:
                    continue
                columns = list(table_rows[0])
                quoted = ", ".join(f'"{c}"' for c in columns)
                marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
                await connection.executemany(
                    f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})',
                    [tuple(r[c] for c in columns) for r in table_rows],
                )
            await connection.execute(
                'UPDATE "INVESTIGATION" SET "FILESIZE" = "FILESIZE" + $2, '
                '"FILECOUNT" = "FILECOUNT" + $3 WHERE "ID" = $1',
                session_id,
                added_size,
                added_count,
            )
            allocated = (
                math.ceil(next_id / demo_module.ALLOCATION_SIZE) * demo_module.ALLOCATION_SIZE
            )
            await connection.execute(
                'UPDATE "SEQUENCE" SET "SEQ_COUNT" = $1 WHERE "SEQ_NAME" = \'SEQ_GEN\'',
                Decimal(allocated),
            )
            return {"investigation_id": int(session_id), "added_datasets": needed}
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", action="append", choices=sorted(SCALES), required=True)
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--keep", action="store_true", help="reuse a stale catalogue too")
    args = parser.parse_args()
    for scale in args.scale:
        catalogue = asyncio.run(
            ensure_catalogue(scale, server=args.server, reseed=args.reseed, keep=args.keep)
        )
        print(json.dumps({"database": catalogue.name, **catalogue.meta}, indent=1, default=str))


if __name__ == "__main__":
    main()
