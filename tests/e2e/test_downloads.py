"""End to end, through real uvicorn servers with real OIDC tokens: downloads from the
gateway's own store and through the ICAT Data Service stand-in.

The store: a team member downloads an embargoed dataset's zip (its entries and bytes are
the files on disk), anyone a released dataset and a dataset a published DOI opened early;
an outsider and anonymous are refused exactly as the dataset's lookup refuses them (no
oracle: an unknown id answers the same); a single file and a zip resume with ``Range``; a link
out of the data root, a missing file, an altered or expired link are refused. IDS: the
gateway decides, then prepares with the reader session and hands out IDS's prepared link;
IDS's errors come back as stable codes, and nothing is recorded for a failed preparation.
"""

from __future__ import annotations

import base64
import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.gateway_tables import Download
from gateway.catalogue.secrets import stored_secret
from gateway.downloads.links import LINK_KEY, LinkSigner, new_link_key
from gateway.settings import Settings
from tests.conftest import team_names
from tests.e2e.test_authorization import Caller, caller
from tests.support.ids_server import READER_SESSION, IDSServer
from tests.support.oidc_provider import DEFAULT_AUDIENCE, OIDCProvider
from tests.support.server import GatewayServer

pytestmark = pytest.mark.e2e

NOW = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")

PREPARE = """mutation($d: [ID!]! = [], $f: [ID!]! = [], $n: String) {
  prepareDownload(input: {datasetIds: $d, datafileIds: $f, name: $n}) {
    download { id name status fileCount size url expiresAt } } }"""

FOLLOW = """query($id: ID!) { download(id: $id) { id status url size fileCount } }"""

RECORDS = """query($user: String) { downloadRecords(userName: $user, first: 5) {
  nodes { id userName name backend datasetIds fileCount size } } }"""

LOOKUP = """query($id: ID!) { dataset(id: $id) { id } }"""

SESSIONS = """{ investigations(first: 1000) { nodes {
  id isReleased startDate releaseDate team(first: 10) {
  totalCount nodes { user { name } } } } } }"""

DATASETS = """query($id: ID) { investigation(id: $id) { datasets(first: 5) { nodes {
  id name location datafiles(first: 50) { nodes { id name location } } } } } }"""

PUBLISHED = """{ dataPublications(first: 100) { nodes { isPublished
  datasets(first: 100) { nodes { id investigation { isReleased } } } } } }"""


def icat_id(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":")[1])


def content_of(location: str) -> bytes:
    """What the test writes at a location: recognisable, a few kB."""
    return (location + "\n").encode() * 97


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with OIDCProvider() as running:
        yield running


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data-root")


@pytest.fixture(scope="module")
def ids() -> Iterator[IDSServer]:
    with IDSServer() as server:
        yield server


def configured(settings: Settings, provider: OIDCProvider, **downloads: Any) -> Settings:
    return replace(
        settings,
        oidc_issuer=provider.issuer,
        oidc_audience=DEFAULT_AUDIENCE,
        oidc_user_prefix="esrf/",
        staff_users=frozenset({"esrf/staff1"}),
        download_max_preparing=1000,
        **downloads,
    )


@pytest.fixture(scope="module")
def store(
    catalogue: AsyncEngine, settings: Settings, provider: OIDCProvider, data_root: Path
) -> Iterator[GatewayServer]:
    with GatewayServer(
        configured(
            settings,
            provider,
            downloads="store",
            data_root=str(data_root),
            globus_collection="c0ffee",
            globus_location_prefix="/data",
            globus_path_prefix="/esrf/",
        )
    ) as server:
        yield server


@pytest.fixture(scope="module")
def via_ids(
    catalogue: AsyncEngine, settings: Settings, provider: OIDCProvider, ids: IDSServer
) -> Iterator[GatewayServer]:
    with GatewayServer(
        configured(
            settings,
            provider,
            downloads="ids",
            ids_url=ids.ids_url,
            ids_reader_session=READER_SESSION,
        )
    ) as server:
        yield server


@pytest.fixture(scope="module")
def cast(
    store: GatewayServer, provider: OIDCProvider, data_root: Path, ids: IDSServer
) -> dict[str, Any]:
    """Datasets of each kind, their files written under the data root and given to IDS
    (all but ``missing``'s; ``escaping`` has a link out of the root)."""
    staff = caller(store.base_url, provider, "staff1")
    sessions = staff.data(SESSIONS)["investigations"]["nodes"]

    def on_team(session: dict[str, Any], login: str) -> bool:
        return login in team_names(session)

    def with_files(session: dict[str, Any]) -> list[dict[str, Any]]:
        datasets = staff.data(DATASETS, {"id": session["id"]})["investigation"]["datasets"]
        return [d for d in datasets["nodes"] if d["datafiles"]["nodes"]]

    started = [s for s in sessions if on_team(s, "esrf/pi1") and s["startDate"] < NOW]
    released = next(
        datasets
        for s in started
        if s["isReleased"]
        for datasets in [with_files(s)]
        if len(datasets) >= 3
    )
    anonymous = Caller(store.base_url, None)

    def hidden(dataset: dict[str, Any]) -> bool:
        """Not released early by a published DOI: anonymous cannot look it up."""
        return "errors" in anonymous.run(LOOKUP, {"id": dataset["id"]})

    embargoed = next(
        datasets
        for s in started
        if not s["isReleased"] and s["releaseDate"] is not None
        for datasets in [[d for d in with_files(s) if hidden(d)]]
        if datasets
    )
    published = staff.data(PUBLISHED)["dataPublications"]["nodes"]
    early_id = next(
        d["id"]
        for p in published
        if p["isPublished"]
        for d in p["datasets"]["nodes"]
        if not d["investigation"]["isReleased"]
    )
    early = staff.data(
        """query($id: ID!) { dataset(id: $id) { id name location
             datafiles(first: 100) { nodes { id name location } } } }""",
        {"id": early_id},
    )["dataset"]
    chosen = {
        "released": released[0],
        "embargoed": embargoed[0],
        "escaping": released[1],
        "missing": released[2],
        "early": early,
    }
    for role, dataset in chosen.items():
        if role == "missing":
            continue
        for file in dataset["datafiles"]["nodes"]:
            path = data_root / file["location"].lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            if role == "escaping":
                outside = data_root.parent / "outside-the-root.txt"
                outside.write_bytes(b"secret")
                if not path.is_symlink():
                    os.symlink(outside, path)
                continue
            path.write_bytes(content_of(file["location"]))
            ids.add_file(
                icat_id(file["id"]),
                icat_id(dataset["id"]),
                file["name"],
                content_of(file["location"]),
            )
    return chosen


def prepare(who: Caller, **variables: Any) -> dict[str, Any]:
    return who.run(PREPARE, variables)


def prepared(who: Caller, **variables: Any) -> dict[str, Any]:
    body = prepare(who, **variables)
    assert "errors" not in body, body["errors"]
    download: dict[str, Any] = body["data"]["prepareDownload"]["download"]
    return download


def refusal(body: dict[str, Any]) -> tuple[str, str]:
    [error] = body["errors"]
    return error["extensions"]["code"], error["message"]


async def recorded(catalogue: AsyncEngine) -> int:
    async with catalogue.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(Download)) or 0)


def test_a_team_member_downloads_an_embargoed_datasets_zip(
    store: GatewayServer, provider: OIDCProvider, cast: dict[str, Any], data_root: Path
) -> None:
    dataset = cast["embargoed"]
    pi1 = caller(store.base_url, provider, "pi1")
    download = prepared(pi1, d=[dataset["id"]], n="MX embargoed")
    files = dataset["datafiles"]["nodes"]
    assert download["status"] == "READY"
    assert download["fileCount"] == len(files)
    assert download["url"].startswith(store.base_url + "/downloads/")
    response = httpx.get(download["url"], timeout=30)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="MX embargoed.zip"'
    assert response.headers["content-type"] == "application/zip"
    assert int(response.headers["content-length"]) == download["size"] == len(response.content)
    with zipfile.ZipFile(io.BytesIO(response.content)) as unpacked:
        assert unpacked.testzip() is None
        assert sorted(unpacked.namelist()) == sorted(
            f"{dataset['name']}/{file['name']}" for file in files
        )
        for file in files:
            on_disk = (data_root / file["location"].lstrip("/")).read_bytes()
            assert unpacked.read(f"{dataset['name']}/{file['name']}") == on_disk
    followed = pi1.data(FOLLOW, {"id": download["id"]})["download"]
    assert followed["status"] == "READY" and followed["size"] == download["size"]


def test_anyone_downloads_released_data_and_a_published_dois_datasets(
    store: GatewayServer, provider: OIDCProvider, cast: dict[str, Any]
) -> None:
    anonymous = Caller(store.base_url, None)
    for role in ("released", "early"):
        download = prepared(anonymous, d=[cast[role]["id"]])
        assert download["status"] == "READY"
        with zipfile.ZipFile(io.BytesIO(httpx.get(download["url"], timeout=30).content)) as z:
            assert len(z.namelist()) == len(cast[role]["datafiles"]["nodes"])


async def test_refusals_answer_as_the_lookup_does_and_record_nothing(
    store: GatewayServer, provider: OIDCProvider, cast: dict[str, Any], catalogue: AsyncEngine
) -> None:
    embargoed = cast["embargoed"]["id"]
    unknown = base64.b64encode(b"Dataset:987654321").decode()
    before = await recorded(catalogue)
    for login in (None, "outsider1"):
        who = caller(store.base_url, provider, login)
        lookup = refusal(who.run(LOOKUP, {"id": embargoed}))
        assert lookup[0] == "NOT_FOUND"
        hidden = refusal(prepare(who, d=[embargoed]))
        made_up = refusal(prepare(who, d=[unknown]))
        assert hidden == made_up == lookup
        # All or nothing: a readable dataset with a hidden one is refused whole.
        assert refusal(prepare(who, d=[cast["released"]["id"], embargoed]))[0] == "NOT_FOUND"
        hidden_file = cast["embargoed"]["datafiles"]["nodes"][0]["id"]
        assert refusal(prepare(who, f=[hidden_file]))[0] == "NOT_FOUND"
    assert await recorded(catalogue) == before


def test_a_single_file_resumes_with_range(
    store: GatewayServer, provider: OIDCProvider, cast: dict[str, Any], data_root: Path
) -> None:
    file = cast["embargoed"]["datafiles"]["nodes"][0]
    pi1 = caller(store.base_url, provider, "pi1")
    download = prepared(pi1, f=[file["id"]])
    on_disk = (data_root / file["location"].lstrip("/")).read_bytes()
    whole = httpx.get(download["url"], timeout=30)
    assert whole.status_code == 200 and whole.content == on_disk
    assert file["name"] in whole.headers["content-disposition"]
    resumed = httpx.get(download["url"], headers={"Range": "bytes=1000-"}, timeout=30)
    assert resumed.status_code == 206
    assert resumed.content == on_disk[1000:]
    assert resumed.headers["content-range"] == f"bytes 1000-{len(on_disk) - 1}/{len(on_disk)}"


def test_a_zip_of_several_files_resumes_with_range_while_its_files_are_unchanged(
    store: GatewayServer, provider: OIDCProvider, cast: dict[str, Any], data_root: Path
) -> None:
    """The same files give the same zip, so a range of it is the same range of the
    whole; ``If-Range`` with the zip's tag gives the whole zip once a file changed."""
    dataset = cast["released"]
    assert len(dataset["datafiles"]["nodes"]) > 1
    download = prepared(Caller(store.base_url, None), d=[dataset["id"]])
    url = download["url"]
    whole = httpx.get(url, timeout=30)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert httpx.get(url, timeout=30).content == whole.content
    tag, size = whole.headers["etag"], len(whole.content)
    assert size == download["size"] > 5000
    # From the middle to the end, a slice of the middle, the last bytes.
    for asked, start, stop in (
        ("bytes=3000-", 3000, size),
        ("bytes=100-4999", 100, 5000),
        (f"bytes=-{size // 3}", size - size // 3, size),
    ):
        part = httpx.get(url, headers={"Range": asked, "If-Range": tag}, timeout=30)
        assert part.status_code == 206, asked
        assert part.content == whole.content[start:stop]
        assert part.headers["content-range"] == f"bytes {start}-{stop - 1}/{size}"
        assert int(part.headers["content-length"]) == stop - start
    beyond = httpx.get(url, headers={"Range": f"bytes={size}-"}, timeout=30)
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"
    several = httpx.get(url, headers={"Range": "bytes=0-9,20-29"}, timeout=30)
    assert several.status_code == 200 and several.content == whole.content

    # A file touched since: another tag, and If-Range with the old one gets the whole zip.
    file = data_root / dataset["datafiles"]["nodes"][-1]["location"].lstrip("/")
    stat = file.stat()
    os.utime(file, (stat.st_atime, stat.st_mtime - 86400))
    try:
        stale = httpx.get(url, headers={"Range": "bytes=3000-", "If-Range": tag}, timeout=30)
        assert stale.status_code == 200 and stale.headers["etag"] != tag
        assert len(stale.content) == size and zipfile.is_zipfile(io.BytesIO(stale.content))
    finally:
        os.utime(file, (stat.st_atime, stat.st_mtime))
    assert httpx.get(url, timeout=30).headers["etag"] == tag


def test_a_location_out_of_the_root_and_missing_files_are_refused_by_name(
    store: GatewayServer, provider: OIDCProvider, cast: dict[str, Any]
) -> None:
    anonymous = Caller(store.base_url, None)
    code, message = refusal(prepare(anonymous, d=[cast["escaping"]["id"]]))
    assert code == "LOCATION_OUTSIDE_STORE"
    assert "secret" not in message
    body = prepare(anonymous, d=[cast["missing"]["id"]])
    code, message = refusal(body)
    assert code == "DATA_MISSING"
    names = [f["name"] for f in cast["missing"]["datafiles"]["nodes"]]
    assert sorted(body["errors"][0]["extensions"]["files"]) == sorted(
        f"{cast['missing']['name']}/{name}" for name in names
    )


async def test_an_altered_or_expired_link_is_refused(
    store: GatewayServer, provider: OIDCProvider, cast: dict[str, Any], catalogue: AsyncEngine
) -> None:
    download = prepared(Caller(store.base_url, None), d=[cast["released"]["id"]])
    header, claims, signature = download["url"].rsplit("/", 1)[1].split(".")
    altered = f"{store.base_url}/downloads/{header}.{claims}.{signature[::-1]}"
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(altered)
        assert answer.status_code == 403 and answer.json()["code"] == "LINK_REFUSED"
    key = await stored_secret(catalogue, LINK_KEY, new_link_key)
    download_id = icat_id(download["id"])
    past = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
    expired = LinkSigner(key).sign(download_id, past)
    valid = LinkSigner(key).sign(download_id, past + timedelta(hours=1))
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"{store.base_url}/downloads/{expired}")
        assert answer.status_code == 403 and "expired" in answer.json()["message"]
        assert (await http.get(f"{store.base_url}/downloads/{valid}")).status_code == 200


async def test_every_download_is_recorded_with_who_what_and_how_big(
    store: GatewayServer, provider: OIDCProvider, cast: dict[str, Any], catalogue: AsyncEngine
) -> None:
    member = caller(store.base_url, provider, "member1")
    download = prepared(member, d=[cast["released"]["id"]], n="stats")
    async with catalogue.connect() as connection:
        row = (
            await connection.execute(select(Download).where(Download.id == icat_id(download["id"])))
        ).one()
    assert row.USER_NAME == "esrf/member1" and row.CALLER == "esrf/member1"
    assert str(icat_id(cast["released"]["id"])) == row.DATASET_IDS
    assert download["size"] == row.SIZE and row.BACKEND == "store" and row.NAME == "stats"
    # Followed by its preparer and staff; nobody else learns it exists.
    assert member.data(FOLLOW, {"id": download["id"]})["download"]["id"] == download["id"]
    staff = caller(store.base_url, provider, "staff1")
    assert staff.data(FOLLOW, {"id": download["id"]})["download"]["status"] == "READY"
    outsider = caller(store.base_url, provider, "outsider1")
    assert refusal(outsider.run(FOLLOW, {"id": download["id"]}))[0] == "NOT_FOUND"
    # The statistics: staff list every record; nobody else.
    records = staff.data(RECORDS, {"user": "esrf/member1"})["downloadRecords"]["nodes"]
    assert records[0] == {
        "id": download["id"],
        "userName": "esrf/member1",
        "name": "stats",
        "backend": "store",
        "datasetIds": [cast["released"]["id"]],
        "fileCount": download["fileCount"],
        "size": download["size"],
    }
    assert refusal(member.run(RECORDS, {"user": "esrf/member1"}))[0] == "FORBIDDEN"
    anonymous = Caller(store.base_url, None)
    assert refusal(anonymous.run(RECORDS, {"user": None}))[0] == "UNAUTHENTICATED"


async def test_through_ids_the_gateway_decides_then_hands_out_the_prepared_link(
    via_ids: GatewayServer,
    provider: OIDCProvider,
    cast: dict[str, Any],
    ids: IDSServer,
    catalogue: AsyncEngine,
) -> None:
    dataset = cast["embargoed"]
    pi1 = caller(via_ids.base_url, provider, "pi1")
    download = prepared(pi1, d=[dataset["id"]], n="via-ids")
    assert download["status"] == "READY" and download["expiresAt"] is None
    assert download["url"].startswith(ids.ids_url + "/getData?preparedId=")
    assert "sessionId" not in download["url"]
    files = dataset["datafiles"]["nodes"]
    assert download["size"] == sum(len(content_of(f["location"])) for f in files)
    # The prepared link can be handed on: anybody fetches it, and Range resumes it.
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(download["url"])
        resumed = await http.get(download["url"], headers={"Range": "bytes=10-"})
    assert response.headers["content-disposition"] == 'attachment; filename="via-ids.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as unpacked:
        assert len(unpacked.namelist()) == len(files)
    assert resumed.status_code == 206 and resumed.content == response.content[10:]

    # Anonymous and an outsider are refused by the gateway: IDS is not even asked.
    asked = ids.requests("/ids/prepareData")
    for login in (None, "outsider1"):
        who = caller(via_ids.base_url, provider, login)
        assert refusal(prepare(who, d=[dataset["id"]])) == refusal(
            who.run(LOOKUP, {"id": dataset["id"]})
        )
    assert ids.requests("/ids/prepareData") == asked


async def test_ids_errors_are_stable_codes_and_leave_no_record(
    via_ids: GatewayServer,
    provider: OIDCProvider,
    cast: dict[str, Any],
    ids: IDSServer,
    catalogue: AsyncEngine,
) -> None:
    anonymous = Caller(via_ids.base_url, None)
    released = cast["released"]["id"]
    before = await recorded(catalogue)
    for status, ids_code, code in (
        (503, "DataNotOnlineException", "UPSTREAM_UNAVAILABLE"),
        (403, "InsufficientPrivilegesException", "UPSTREAM_REFUSED"),
        (404, "NotFoundException", "DATA_MISSING"),
        (400, "BadRequestException", "UPSTREAM_REFUSED"),
    ):
        ids.fail_next(status, ids_code)
        body = prepare(anonymous, d=[released])
        assert refusal(body)[0] == code
        assert body["errors"][0]["extensions"]["upstream"] == ids_code
    assert await recorded(catalogue) == before


def test_data_on_tape_is_preparing_until_restored(
    via_ids: GatewayServer, provider: OIDCProvider, cast: dict[str, Any], ids: IDSServer
) -> None:
    early = cast["early"]
    ids.archived.add(icat_id(early["id"]))
    try:
        anonymous = Caller(via_ids.base_url, None)
        download = prepared(anonymous, d=[early["id"]])
        assert download["status"] == "PREPARING" and download["url"] is None
        followed = anonymous.data(FOLLOW, {"id": download["id"]})["download"]
        assert followed["status"] == "READY" and followed["url"].startswith(ids.ids_url)
    finally:
        ids.archived.discard(icat_id(early["id"]))


def test_a_file_gone_since_preparation_is_named_not_a_broken_zip(
    store: GatewayServer, provider: OIDCProvider, cast: dict[str, Any], data_root: Path
) -> None:
    dataset = cast["early"]
    download = prepared(Caller(store.base_url, None), d=[dataset["id"]])
    file = dataset["datafiles"]["nodes"][0]
    path = data_root / file["location"].lstrip("/")
    moved = path.with_name(path.name + ".moved")
    path.rename(moved)
    try:
        answer = httpx.get(download["url"], timeout=10)
    finally:
        moved.rename(path)
    assert answer.status_code == 409
    assert answer.json() == {
        "code": "DATA_MISSING",
        "message": f"1 file(s) are missing from the data store: {dataset['name']}/{file['name']}",
    }


def test_a_dataset_says_how_big_its_download_is_and_links_its_globus_folder(
    store: GatewayServer, provider: OIDCProvider, cast: dict[str, Any]
) -> None:
    dataset = cast["embargoed"]
    query = """query($id: ID!) { dataset(id: $id) { downloadSize globusUrl location
        datafiles(first: 100) { nodes { fileSize } } } }"""
    seen = caller(store.base_url, provider, "pi1").data(query, {"id": dataset["id"]})["dataset"]
    assert seen["downloadSize"] == sum(f["fileSize"] for f in seen["datafiles"]["nodes"])
    folder = "/esrf/" + seen["location"].removeprefix("/data/") + "/"
    assert seen["globusUrl"] == (
        "https://app.globus.org/file-manager?origin_id=c0ffee&origin_path=" + quote(folder, safe="")
    )
    # For those who may not read the dataset, there is no dataset to link.
    outsider = caller(store.base_url, provider, "outsider1")
    assert refusal(outsider.run(query, {"id": dataset["id"]}))[0] == "NOT_FOUND"
