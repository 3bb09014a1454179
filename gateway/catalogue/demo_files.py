"""Small real files for the demo catalogue's datafiles, so that a newcomer's first click
on Download works: under the gateway's own store (``data_root``), at each datafile's
LOCATION, a few hundred bytes saying what they stand for (the catalogue's sizes stay the
made-up ones of real detectors). Files already there are left as they are."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.models import Datafile, Dataset
from gateway.downloads.store import DataStore
from gateway.errors import DataMissing


def demo_content(dataset: str, name: str, location: str) -> bytes:
    """What the demo writes for a datafile: recognisable, and different for each file."""
    line = f"icat-gateway demo file {name} of dataset {dataset} ({location})\n"
    return line.encode() * 4


async def write_demo_files(engine: AsyncEngine, root: Path) -> int:
    """Write the files of every datafile that has a location under ``root``; how many
    were written (a location that would lead out of the root is skipped)."""
    store = DataStore(root)
    statement = select(Dataset.name, Datafile.name, Datafile.location).join(
        Dataset, Dataset.id == Datafile.dataset_id
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(statement)).all()
    written = 0
    for dataset, name, location in rows:
        try:
            path = store.place_of(location)
        except DataMissing:  # no location, or one leading out of the root
            continue
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(demo_content(dataset, name, location))
        written += 1
    return written
