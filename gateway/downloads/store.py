"""The gateway's own store: files under a data root, streamed as a zip.

For the embedded demo and for facilities without an ICAT Data Service. Each datafile's
LOCATION is a path under the root (a leading ``/`` is the root's own); a location with a
``..`` part, a NUL, or whose links lead out of the root is refused, so a catalogue row can
never make the gateway read a file it does not serve.

The zip is made by ``zipstream-ng`` while it is sent: no temporary file, memory
independent of the data's size, and, as files are stored uncompressed (detector data are
compressed already), its exact size is known before the first byte (``Content-Length``,
and the ``size`` a portal shows).

The same files give the same zip, byte for byte: entries are stored (no compressor whose
output could change), in the order the download lists them, each dated by its file's
modification time. So a zip can be resumed with ``Range``, as long as its files are
unchanged; ``zip_tag`` is the strong validator (``ETag``) of those bytes, made of all that
decides them but the files' contents: the entries' names, sizes, modes and the dates
written in the zip. A client that sends it back in ``If-Range`` never gets the tail of a
different zip.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from zipstream import ZIP_STORED, ZipStream

from gateway.errors import DataMissing


class OutsideStore(DataMissing):
    """A location that is not a path under the data root (``..``, a link out of it)."""

    code = "LOCATION_OUTSIDE_STORE"


@dataclass(frozen=True)
class StoredFile:
    """One datafile as the zip needs it: where it is, and the folder and name it gets."""

    datafile_id: int
    dataset_id: int
    dataset_name: str
    name: str
    location: str | None


@dataclass(frozen=True)
class DataStore:
    """Files under ``root``."""

    root: Path

    def place_of(self, location: str | None) -> Path:
        """Where a location lies under the root, read as written (links not followed):
        ``OutsideStore`` for a ``..`` part, ``DataMissing`` for no location."""
        if not location or "\x00" in location:
            raise DataMissing("A file has no location in the catalogue.")
        parts = PurePosixPath(location.replace("\\", "/")).parts
        if ".." in parts:
            raise OutsideStore("A file's location leads out of the data store.")
        relative = [part for part in parts if part not in ("/", ".")]
        return self.root.resolve().joinpath(*relative)

    def path_of(self, location: str | None) -> Path:
        """The file at ``location``; ``OutsideStore`` if it is not under the root, and
        ``DataMissing`` if it is not a regular file there."""
        root = self.root.resolve()
        candidate = self.place_of(location)
        try:
            resolved = candidate.resolve(strict=True)
        except (FileNotFoundError, NotADirectoryError, RuntimeError):
            raise DataMissing("A file is missing from the data store.") from None
        if not resolved.is_relative_to(root):
            raise OutsideStore("A file's location leads out of the data store.")
        if not resolved.is_file():
            raise DataMissing("A file is missing from the data store.")
        return resolved

    def paths(self, files: Sequence[StoredFile]) -> list[Path]:
        """Every file's path, or one error naming all that are missing or refused."""
        found: list[Path] = []
        missing: list[str] = []
        outside: list[str] = []
        for file in files:
            try:
                found.append(self.path_of(file.location))
            except OutsideStore:
                outside.append(f"{file.dataset_name}/{file.name}")
            except DataMissing:
                missing.append(f"{file.dataset_name}/{file.name}")
        if outside:
            raise OutsideStore(
                f"{len(outside)} file(s) have a location outside the data store: "
                + ", ".join(outside[:20]),
                files=outside[:100],
            )
        if missing:
            raise DataMissing(
                f"{len(missing)} file(s) are missing from the data store: "
                + ", ".join(missing[:20]),
                files=missing[:100],
            )
        return found

    def zip_of(self, files: Sequence[StoredFile]) -> tuple[ZipStream, str]:
        """A zip of the files, one folder per dataset, made as it is read, and its
        ``zip_tag``."""
        archive = ZipStream(compress_type=ZIP_STORED, sized=True)
        names = entry_names(files)
        entries = []
        for file, path in zip(files, self.paths(files), strict=True):
            name = names[file.datafile_id]
            archive.add_path(str(path), name, recurse=False)
            entries.append((name, os.stat(path)))
        return archive, zip_tag(entries, len(archive))


def zip_tag(entries: Sequence[tuple[str, os.stat_result]], size: int) -> str:
    """A strong ``ETag`` of a stored zip of these files: what zipstream-ng writes of each
    entry besides its bytes (name, size, mode, and the local-time date it writes, so two
    servers set to different time zones give different tags) and the zip's size."""
    digest = hashlib.sha256(str(size).encode())
    for name, stat in entries:
        dated = time.localtime(stat.st_mtime)[0:6]
        digest.update(repr((name, stat.st_size, stat.st_mode, dated)).encode())
    return f'"zip-{digest.hexdigest()[:32]}"'


def entry_names(files: Sequence[StoredFile]) -> dict[int, str]:
    """Each file's name in the zip: ``<dataset>/<file>``, made safe for whoever unpacks
    it (no ``/`` or ``..`` of a catalogue name makes a path of its own), and made unique
    with the dataset's id where two datasets share a name."""
    datasets_by_name: dict[str, set[int]] = {}
    for file in files:
        datasets_by_name.setdefault(_safe(file.dataset_name), set()).add(file.dataset_id)
    names: dict[int, str] = {}
    for file in files:
        folder = _safe(file.dataset_name)
        if len(datasets_by_name[folder]) > 1:
            folder = f"{folder}-{file.dataset_id}"
        names[file.datafile_id] = f"{folder}/{_safe(file.name)}"
    return names


def _safe(name: str) -> str:
    cleaned = name.replace("/", "_").replace("\\", "_").replace("\x00", "_").strip()
    return "_" if cleaned in ("", ".", "..") else cleaned
