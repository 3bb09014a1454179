"""The GraphiQL page: the package's own files, an example query, the demo user picker."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from importlib.resources import files
from os import PathLike
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from gateway.graphiql.assets import Bundle

__all__ = ["EXAMPLE_QUERY", "GraphiQLPage", "ImmutableFiles"]

EXAMPLE_QUERY: Final = """\
# My data: your sessions, as the portal's "My data" list.
# Pick a user in "Sign in as" above, then run this
# (Ctrl-Enter or the pink button). What each one sees:
#
# anonymous   an empty list: on no team. The public
#             catalogue is `investigations` (datasets
#             under embargo are not counted there)
# pi1         their sessions: released, under embargo,
#             proprietary (no release date), scheduled,
#             with all their datasets
# member1     the sessions of pi1's they are on
# scientist1  the sessions of their beamline, ID30A-1
# staff1      every session's data, when
#             ICAT_GATEWAY_STAFF_USERS names them; their
#             list is their beamline's, as scientist1's
# outsider1   on no team, no beamline: an empty list
#
# `datasets { totalCount }` counts only what the caller
# may see: the embargo is part of the SQL query.
# Docs and Explorer (left) list every field.
query MyData {
  me {
    userName
    isStaff
    investigations(first: 10) {
      totalCount
      nodes {
        proposal
        visitId
        title
        instruments { name }
        startDate
        releaseDate
        isReleased
        datasets { totalCount }
      }
    }
  }
}
"""

_MISSING: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphiQL is not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 44em; margin: 3em auto">
<h1>GraphiQL's files were not built</h1>
<p>The gateway serves GraphiQL from its own package, and its files (GraphiQL, React, the
explorer plugin) are copied from npm when the gateway is installed. They are missing from
<code>{directory}</code>.</p>
<p>Run <code>scripts/install</code> (it needs <code>npm</code>), or by hand:
<code>npm ci --prefix assets/graphiql &amp;&amp; python -m gateway.graphiql.assets</code>.</p>
<p>The GraphQL API itself works: POST queries to this URL.</p>
</body></html>
"""


class GraphiQLPage:
    """Renders GET /graphql for browsers; ``demo_users`` adds the sign-in picker."""

    def __init__(
        self,
        bundle: Bundle | None,
        *,
        missing_from: str,
        demo_users: Sequence[str] | None = None,
        issuer: str | None = None,
        token_path: str | None = None,
    ) -> None:
        self.bundle = bundle
        self._missing_from = missing_from
        self._demo_users = list(demo_users) if demo_users is not None else None
        self._issuer = issuer
        self._token_path = token_path
        self._template = files("gateway.graphiql").joinpath("page.html").read_text()

    @property
    def static_path(self) -> str | None:
        """Where the files are served (a path that changes with them), if built."""
        return None if self.bundle is None else f"/static/{self.bundle.tag}"

    def render(self, request: Request) -> Response:
        if self.bundle is None or self.static_path is None:
            return HTMLResponse(_MISSING.format(directory=self._missing_from), status_code=503)
        root = request.scope.get("root_path", "")
        config = {
            "graphqlUrl": root + request.url.path,
            "exampleQuery": EXAMPLE_QUERY,
            "demoUsers": self._demo_users,
            "issuer": self._issuer,
            "tokenUrl": None if self._token_path is None else root + self._token_path,
        }
        # "</" cannot end the script element it sits in once escaped.
        embedded = json.dumps(config).replace("</", "<\\/")
        html = self._template.replace("{{static}}", root + self.static_path)
        return HTMLResponse(html.replace("{{config}}", embedded))


class ImmutableFiles(StaticFiles):
    """Static files under a versioned path: cached for a year, never revalidated."""

    def file_response(
        self,
        full_path: PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
