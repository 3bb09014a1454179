"""Globus links for large data: the Globus web app's file manager at a dataset's folder.

No Globus API call: the facility configures its collection and how dataset locations map
onto the collection's paths, and the link opens the folder (Globus then checks the
person's own rights on the collection).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

FILE_MANAGER = "https://app.globus.org/file-manager"


@dataclass(frozen=True)
class GlobusCollection:
    """A collection, and the location prefix its paths replace."""

    collection_id: str
    location_prefix: str = ""
    path_prefix: str = "/"

    def path_of(self, location: str) -> str | None:
        """The collection path of a dataset location; None outside the mapped part or
        with ``..`` in it."""
        if not location.startswith(self.location_prefix) or ".." in location.split("/"):
            return None
        rest = location[len(self.location_prefix) :].lstrip("/")
        path = self.path_prefix.rstrip("/") + "/" + rest
        return path if path.endswith("/") else path + "/"

    def link(self, location: str | None) -> str | None:
        """The web app's link to the folder, or None where the location does not map."""
        if not location:
            return None
        path = self.path_of(location)
        if path is None:
            return None
        query = urlencode({"origin_id": self.collection_id, "origin_path": path})
        return f"{FILE_MANAGER}?{query}"
