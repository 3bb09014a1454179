"""The downloads' adapters without I/O beyond a temporary folder: the store's path rules
(nothing outside the data root), the zip's entry names, the signed links, IDS's errors as
the gateway's codes, Globus links, names and settings."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.download_links import cut
from gateway.downloads.globus import GlobusCollection
from gateway.downloads.ids import ids_error
from gateway.downloads.links import BadLink, LinkSigner, new_link_key
from gateway.downloads.store import DataStore, OutsideStore, StoredFile, entry_names
from gateway.errors import BadUserInput, DataMissing
from gateway.settings import Settings, SettingsError
from gateway.usecases.downloads import checked_name

NOW = datetime(2026, 12, 6, 12, 0, 0)


@pytest.fixture
def store(tmp_path: Path) -> DataStore:
    root = tmp_path / "root"
    (root / "data" / "visitor").mkdir(parents=True)
    (root / "data" / "visitor" / "a.h5").write_bytes(b"inside")
    (tmp_path / "secret.txt").write_bytes(b"outside")
    return DataStore(root)


def test_a_location_is_a_path_under_the_root_with_or_without_its_leading_slash(
    store: DataStore,
) -> None:
    assert store.path_of("/data/visitor/a.h5").read_bytes() == b"inside"
    assert store.path_of("data/visitor/a.h5").read_bytes() == b"inside"


@pytest.mark.parametrize(
    "location",
    [
        "../secret.txt",
        "/data/../../secret.txt",
        "data/visitor/../../../secret.txt",
        "..\\secret.txt",
    ],
)
def test_a_location_with_dot_dot_is_refused(store: DataStore, location: str) -> None:
    with pytest.raises(OutsideStore):
        store.path_of(location)


def test_any_dot_dot_is_refused_even_one_that_lands_inside_and_before_any_file_is_read(
    store: DataStore,
) -> None:
    with pytest.raises(OutsideStore):
        store.path_of("/data/visitor/../visitor/a.h5")
    with pytest.raises(OutsideStore):
        store.place_of("../not-yet-written.h5")


def test_a_link_out_of_the_root_is_refused(store: DataStore, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.txt", store.root / "data" / "escape.h5")
    os.symlink(tmp_path, store.root / "data" / "up")
    with pytest.raises(OutsideStore):
        store.path_of("/data/escape.h5")
    with pytest.raises(OutsideStore):
        store.path_of("/data/up/secret.txt")


def test_a_missing_file_a_folder_and_no_location_are_missing(store: DataStore) -> None:
    for location in ("/data/visitor/b.h5", "/data/visitor", None, "", "a\x00b"):
        with pytest.raises(DataMissing) as refused:
            store.path_of(location)
        assert not isinstance(refused.value, OutsideStore)


def test_every_missing_file_is_named_in_one_error(store: DataStore) -> None:
    files = [
        StoredFile(1, 10, "ds", "a.h5", "/data/visitor/a.h5"),
        StoredFile(2, 10, "ds", "b.h5", "/data/visitor/b.h5"),
        StoredFile(3, 10, "ds", "c.h5", "/data/visitor/c.h5"),
    ]
    with pytest.raises(DataMissing) as missing:
        store.paths(files)
    assert missing.value.extensions == {"code": "DATA_MISSING", "files": ["ds/b.h5", "ds/c.h5"]}
    assert "ds/b.h5, ds/c.h5" in missing.value.message


def test_the_zip_holds_the_files_bytes_under_their_dataset_and_knows_its_size(
    store: DataStore,
) -> None:
    (store.root / "data" / "visitor" / "b.cbf").write_bytes(b"x" * 70000)
    files = [
        StoredFile(1, 10, "sample_0001", "a.h5", "/data/visitor/a.h5"),
        StoredFile(2, 11, "sample_0002", "b.cbf", "/data/visitor/b.cbf"),
    ]
    archive, _ = store.zip_of(files)
    size = len(archive)
    data = b"".join(archive)
    assert len(data) == size
    with zipfile.ZipFile(io.BytesIO(data)) as unpacked:
        assert unpacked.namelist() == ["sample_0001/a.h5", "sample_0002/b.cbf"]
        assert unpacked.read("sample_0002/b.cbf") == b"x" * 70000


def test_the_same_files_make_the_same_zip_and_a_part_of_it_is_cut_exactly(
    store: DataStore,
) -> None:
    (store.root / "data" / "visitor" / "b.cbf").write_bytes(bytes(range(256)) * 400)
    files = [
        StoredFile(1, 10, "sample_0001", "a.h5", "/data/visitor/a.h5"),
        StoredFile(2, 11, "sample_0002", "b.cbf", "/data/visitor/b.cbf"),
    ]
    first, tag = store.zip_of(files)
    whole = b"".join(first)
    again, same_tag = store.zip_of(files)
    assert b"".join(again) == whole and same_tag == tag
    for start, stop in ((0, len(whole)), (1, 2), (100, 70000), (65536, len(whole))):
        assert b"".join(cut(store.zip_of(files)[0], start, stop)) == whole[start:stop]
    # Touched: the zip's dates change, and so does its tag.
    path = store.root / "data" / "visitor" / "a.h5"
    os.utime(path, (0, path.stat().st_mtime - 86400))
    touched, other_tag = store.zip_of(files)
    assert b"".join(touched) != whole and other_tag != tag


def test_entry_names_cannot_climb_out_of_the_folder_they_unpack_in() -> None:
    names = entry_names(
        [
            StoredFile(1, 10, "../..", "../evil", None),
            StoredFile(2, 11, "a/b", "c\\d", None),
            StoredFile(3, 12, "same", "x", None),
            StoredFile(4, 13, "same", "x", None),
        ]
    )
    assert names == {1: ".._../.._evil", 2: "a_b/c_d", 3: "same-12/x", 4: "same-13/x"}
    assert all(".." not in name.split("/") for name in names.values())


def test_a_link_names_its_download_until_it_expires() -> None:
    signer = LinkSigner(new_link_key())
    link = signer.sign(42, NOW + timedelta(hours=1))
    assert signer.check(link, NOW) == 42
    with pytest.raises(BadLink, match="expired"):
        signer.check(link, NOW + timedelta(hours=1))


def test_an_altered_link_or_another_deployments_is_refused() -> None:
    signer = LinkSigner(new_link_key())
    link = signer.sign(42, NOW + timedelta(hours=1))
    header, claims, signature = link.split(".")
    other = LinkSigner(new_link_key()).sign(43, NOW + timedelta(hours=1))
    forged_claims = other.split(".")[1]
    for bad in (
        f"{header}.{forged_claims}.{signature}",
        f"{header}.{claims}.{signature[:-2]}AA",
        other,
        "not-a-link",
    ):
        with pytest.raises(BadLink):
            signer.check(bad, NOW)


@pytest.mark.parametrize(
    ("status", "ids_code", "code"),
    [
        (503, "DataNotOnlineException", "UPSTREAM_UNAVAILABLE"),
        (500, "InternalException", "UPSTREAM_UNAVAILABLE"),
        (404, "NotFoundException", "DATA_MISSING"),
        (403, "InsufficientPrivilegesException", "UPSTREAM_REFUSED"),
        (400, "BadRequestException", "UPSTREAM_REFUSED"),
    ],
)
def test_ids_errors_become_stable_codes(status: int, ids_code: str, code: str) -> None:
    body = f'{{"code": "{ids_code}", "message": "m"}}'.encode()
    error = ids_error(status, body)
    assert error.extensions == {"code": code, "upstream": ids_code}
    assert ids_code in error.message


def test_an_ids_error_without_json_still_maps() -> None:
    assert ids_error(502, b"<html>bad gateway</html>").extensions["code"] == "UPSTREAM_UNAVAILABLE"


def test_a_globus_link_opens_the_datasets_folder_in_the_collection() -> None:
    collection = GlobusCollection("c0ffee", location_prefix="/data", path_prefix="/esrf/")
    link = collection.link("/data/visitor/mx2345/id30a1/RAW_DATA/s1")
    assert link == (
        "https://app.globus.org/file-manager?origin_id=c0ffee"
        "&origin_path=%2Fesrf%2Fvisitor%2Fmx2345%2Fid30a1%2FRAW_DATA%2Fs1%2F"
    )
    assert collection.link("/elsewhere/x") is None
    assert collection.link("/data/../etc") is None
    assert collection.link(None) is None


def test_a_downloads_name() -> None:
    assert checked_name(None) == "data"
    assert checked_name(" MX-2345 raw.zip ") == "MX-2345 raw"
    for bad in ("../x", "a/b", "-x", "x" * 101, 'a"b'):
        with pytest.raises(BadUserInput):
            checked_name(bad)


def test_download_settings_are_checked() -> None:
    with pytest.raises(SettingsError, match="DATA_ROOT"):
        Settings(downloads="store")
    with pytest.raises(SettingsError, match="IDS_URL"):
        Settings(downloads="ids", ids_url="https://ids")
    with pytest.raises(SettingsError, match="off, store or ids"):
        Settings(downloads="ftp")
    shown = repr(Settings(downloads="ids", ids_url="u", ids_reader_session="s3ss10n-1d")) + repr(
        Settings(
            downloads="ids",
            ids_url="u",
            icat_url="https://icat",
            ids_reader_authenticator="db",
            ids_reader_username="reader",
            ids_reader_password="pa55w0rd",
        )
    )
    assert "s3ss10n-1d" not in shown and "pa55w0rd" not in shown
    with pytest.raises(SettingsError, match="ICAT_URL"):
        Settings(
            downloads="ids",
            ids_url="u",
            ids_reader_authenticator="db",
            ids_reader_username="reader",
            ids_reader_password="pa55w0rd",
        )
