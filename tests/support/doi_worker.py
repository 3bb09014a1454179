"""A process running DOI mints that stop at chosen step boundaries, for the kill tests.

``python -m tests.support.doi_worker '<json>'`` with ``database_url``, ``datacite``
(``api_url``, ``prefix``, ``repository_id``, ``password``), ``user`` and ``jobs``: each
``{"key", "datasets", "pause_at"}`` mints a DOI for its datasets (with ``version_of``:
makes the next version of that DOI instead) and, when its saga reaches
the boundary ``pause_at`` (a name ``DoiSagas.on_step`` is given: ``after:RESERVED``,
``called:publish``...), prints ``PAUSED <key> <pause_at>`` and waits there for ever. The
test kills the process (SIGKILL) once every job has paused: the sagas stop exactly between
two steps, as a crash would leave them.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import sys
from typing import Any

from gateway.app import now_utc
from gateway.auth.policy import Caller
from gateway.catalogue.database import create_engine
from gateway.doi.datacite import DataCiteRegistrar
from gateway.settings import Settings
from tests.support.doi_catalogue import description, sagas_for, use_cases

_pause_at: contextvars.ContextVar[str] = contextvars.ContextVar("pause_at")


async def _boundary(name: str) -> None:
    wanted = _pause_at.get(None)
    if wanted == name:
        print(f"PAUSED {_key.get()} {name}", flush=True)
        await asyncio.Event().wait()  # until killed


_key: contextvars.ContextVar[str] = contextvars.ContextVar("key")


async def main(config: dict[str, Any]) -> None:
    settings = Settings(database_url=config["database_url"])
    engine = create_engine(settings)
    registrar = DataCiteRegistrar(**config["datacite"])
    dois = use_cases(sagas_for(engine, registrar, on_step=_boundary, clock=now_utc), settings)
    caller = Caller(user_name=config["user"])

    async def job(spec: dict[str, Any]) -> None:
        _pause_at.set(spec["pause_at"])
        _key.set(spec["key"])
        if spec.get("version_of"):
            await dois.new_version(caller, key=spec["key"], doi=spec["version_of"])
        else:
            await dois.mint(
                caller,
                key=spec["key"],
                dataset_ids=spec["datasets"],
                description=description(f"Killed at {spec['pause_at']}"),
            )
        print(f"DONE {spec['key']}", flush=True)

    await asyncio.gather(*(job(spec) for spec in config["jobs"]))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
