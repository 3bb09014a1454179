"""Downloads from the gateway's own store: the server's memory while it streams a large
zip, and its throughput next to ``cat`` reading the same files.

    .venv/bin/python -m bench.downloads --gigabytes 2 --files 16

Seeds a small SQLite catalogue, makes one dataset's files sparse files of the size asked
(no disk is used; reading them costs what reading cached files costs, so the ratio is the
gateway's own overhead: HTTP, zip headers, CRCs), runs ``icat-gateway serve`` in a process
of its own, prepares the dataset's download as staff and reads the zip over HTTP while
sampling the server's resident memory (``/proc/<pid>/status``). Not a test: nothing is
asserted; the figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from gateway.catalogue.database import create_engine
from gateway.catalogue.demo import DemoSize, seed_demo
from gateway.catalogue.models import Datafile, Dataset
from gateway.fields.identity import global_id
from gateway.settings import Settings

PREPARE = """mutation($id: ID!) { prepareDownload(input: {datasetIds: [$id]}) {
  download { size fileCount url } } }"""


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def biggest_dataset(settings: Settings) -> tuple[int, list[str]]:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            dataset_id = await connection.scalar(select(Dataset.id).order_by(Dataset.id))
            rows = await connection.scalars(
                select(Datafile.location).where(Datafile.dataset_id == dataset_id)
            )
            return int(dataset_id or 0), [str(location) for location in rows]
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=2.0)
    parser.add_argument("--files", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-downloads-"))
    url = f"sqlite+aiosqlite:///{work / 'catalogue.sqlite3'}"
    settings = Settings(database_url=url)
    asyncio.run(
        seed_demo(settings, seed=1, size=DemoSize.for_sessions(2, 1, args.files), reset=True)
    )
    dataset_id, locations = asyncio.run(biggest_dataset(settings))
    root = work / "data"
    each = int(args.gigabytes * 1024**3 / len(locations))
    paths = []
    for location in locations:
        path = root / location.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            file.truncate(each)
        paths.append(path)
    total = each * len(paths)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        **os.environ,
        "ICAT_GATEWAY_DOWNLOADS": "store",
        "ICAT_GATEWAY_DATA_ROOT": str(root),
        "ICAT_GATEWAY_STAFF_USERS": "esrf/staff1",
        "ICAT_GATEWAY_DOWNLOAD_MAX_BYTES": str(total * 2),
        "ICAT_GATEWAY_RATE_LIMIT_REQUESTS": "",
        "ICAT_GATEWAY_RATE_LIMIT_ADDRESS": "",
        "ICAT_GATEWAY_LOG_FORMAT": "text",
    }
    command = [sys.executable, "-m", "gateway.cli", "--database-url", url, "serve"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        token = httpx.post(f"{base}/dev/oidc/token?user=esrf/staff1").json()["access_token"]
        prepared = httpx.post(
            base + "/graphql",
            json={"query": PREPARE, "variables": {"id": global_id("Dataset", dataset_id)}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).json()["data"]["prepareDownload"]["download"]
        before = resident_kib(server.pid)
        peak = before
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, resident_kib(server.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        # curl reads it: a Python client would measure itself (h11 parses every piece).
        started = time.perf_counter()
        fetched = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", prepared["url"]],
            capture_output=True,
            check=True,
            text=True,
        )
        streamed = time.perf_counter() - started
        received = int(fetched.stdout)
        done.set()
        sampler.join()
        started = time.perf_counter()
        subprocess.run(["cat", *map(str, paths)], stdout=subprocess.DEVNULL, check=True)
        catted = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)
    mib = 1024 * 1024
    print(f"zip of {prepared['fileCount']} files, {received / mib:.0f} MiB received")
    print(f"  (announced size {prepared['size'] / mib:.0f} MiB, files {total / mib:.0f} MiB)")
    print(f"server resident memory: {before / 1024:.0f} MiB before, {peak / 1024:.0f} MiB peak")
    print(f"gateway: {received / mib / streamed:.0f} MiB/s over HTTP ({streamed:.1f} s)")
    print(f"cat:     {total / mib / catted:.0f} MiB/s ({catted:.1f} s)")
    print(f"ratio gateway/cat: {(received / streamed) / (total / catted):.2f}")


if __name__ == "__main__":
    main()
