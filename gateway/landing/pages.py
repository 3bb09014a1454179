"""The landing pages of DOIs at ``/doi/{doi}``: what a DOI resolves to.

A page is one GraphQL query (:data:`LANDING_QUERY`) run through the gateway's own schema
for the caller the request names, so it shows exactly what the API would show them: an
embargoed session's landing facts and release date, and its DATA fields only where the
same field guards let them through (refusals come back as nulls with ``FORBIDDEN``, which
the page reads as "embargoed"). There is no second copy of the visibility rules here.

The same URL answers DataCite's content types (``gateway.landing.negotiation``): the
DataCite JSON and XML, the schema.org JSON-LD the page embeds, BibTeX, RIS, CSL-JSON and
formatted citations, all rendered from that one query's result.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Receive, Scope

from gateway.catalogue import doi_versions
from gateway.catalogue.queries import normalise_doi
from gateway.catalogue.visibility import Access
from gateway.doi import renderings
from gateway.errors import BadUserInput
from gateway.landing import negotiation
from gateway.resolvers.context import RequestContext
from gateway.settings import Settings

log = logging.getLogger(__name__)

DATASETS_SHOWN = 100
"""Datasets listed on a page (with the total); the API pages through the rest."""
LISTED = 100
"""Team entries (one per role) and DOI versions listed on a page (with the total); the
API pages through the rest."""

LANDING_QUERY = """
query Landing($doi: String!, $datasets: Int!, $listed: Int!) {
  doi(doi: $doi) {
    __typename
    ... on Investigation {
      proposal visitId title startDate endDate releaseDate isReleased canReadData doi
      summary fileSize fileCount keywords
      facility { name fullName url }
      instruments { name fullName url }
      team(first: $listed) {
        totalCount nodes { role isMainProposer user { fullName orcidId affiliation } }
      }
      datasets(first: $datasets) {
        totalCount
        nodes { name description startDate fileSize fileCount techniques { name pid } }
      }
      dataCiteMetadata jsonLd
    }
    ... on DataPublication {
      doi title description subject state publicationDate isPublished
      contributors {
        fullName givenName familyName contributorType orcid affiliations { name ror }
      }
      relatedItems { identifier relationType relatedItemType title fullReference }
      dates { dateType date }
      datasets(first: $datasets) {
        totalCount
        nodes {
          name description startDate fileSize fileCount techniques { name pid }
          investigation { proposal visitId doi }
        }
      }
      conceptDoi version versions(first: $listed) { totalCount nodes { doi version isLatest } }
      dataCiteMetadata jsonLd
    }
  }
}
"""

CITATION_STYLES = (
    ("apa", "APA"),
    ("chicago-author-date", "Chicago"),
    ("ieee", "IEEE"),
    ("harvard-cite-them-right", "Harvard"),
    ("modern-language-association", "MLA"),
)
"""The styles a page shows (any CSL style name is accepted with ``style=``)."""

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class PageRefused(Exception):
    """The gate refused the page's query (a rate limit, the cost budget, the time budget):
    the page answers with its status and headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class UnregistrableRecord(Exception):
    """The catalogue's record of the DOI is one DataCite would refuse (a session whose
    title holds a control character, a creator without a name): no page can be made of
    it until the catalogue is mended."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


PageRunner = Callable[[Scope, Receive, str, dict[str, Any], str, RequestContext], Awaitable[Any]]
"""Runs a page's query for the caller through the request gate (``Gate.run_for_page``):
its rate limits, cost budget and time budget; raises PageRefused when the gate refuses."""

METADATA_FIELDS = frozenset({"dataCiteMetadata", "jsonLd"})
"""The page's fields computed from the DOI's DataCite metadata."""


@dataclass(frozen=True)
class Landing:
    """What one page's query found: the object's fields and which were refused."""

    doi: str
    kind: str
    """``Investigation`` or ``DataPublication``."""
    data: Mapping[str, Any]
    forbidden: frozenset[str]
    """Top-level fields refused to the caller (embargoed DATA)."""

    @property
    def attributes(self) -> Mapping[str, Any]:
        return self.data["dataCiteMetadata"] or {}


class LandingPages:
    """The endpoint of ``/doi/{doi:path}`` (:meth:`answer`)."""

    def __init__(
        self,
        run: PageRunner,
        settings: Settings,
        read_engine: AsyncEngine,
        write_engine: AsyncEngine,
        access: Callable[[Scope], Access],
        dois: Any = None,
    ) -> None:
        self.run = run
        self.settings = settings
        self.read_engine = read_engine
        self.write_engine = write_engine
        self.access = access
        self.dois = dois

    async def answer(self, request: Request) -> Response:
        """The page, or the rendering the request negotiates (a Starlette endpoint)."""
        spelled = request.path_params["doi"]
        choice = negotiation.choose(request.headers.get("accept"), request.query_params)
        headers = {"Vary": "Accept, Authorization", "Cache-Control": "no-cache"}
        if choice is None:
            return Response(
                "This DOI can be had as: " + ", ".join(negotiation.OFFERED) + "\n",
                status_code=406,
                media_type="text/plain",
                headers=headers,
            )
        latest = await self.latest_version(spelled)
        if latest is not None:
            # A concept DOI resolves to its latest version (its page or rendering).
            target = f"/doi/{quote(latest, safe='/')}"
            if request.url.query:
                target += f"?{request.url.query}"
            return RedirectResponse(target, status_code=302, headers=headers)
        try:
            landing = await self.load(request, spelled)
        except PageRefused as refused:
            return self._trouble(
                spelled,
                choice,
                {**headers, **refused.headers},
                refused.status,
                "Too many requests" if refused.status == 429 else "This page cannot be shown now",
                refused.message,
                retry_after=refused.headers.get("Retry-After"),
            )
        except UnregistrableRecord as invalid:
            return self._trouble(
                spelled,
                choice,
                headers,
                500,
                "This DOI's record is incomplete",
                "The catalogue's record of this DOI is not one DataCite would accept, so no "
                "landing page or citation can be made of it until the facility mends it "
                "(this has been logged). What is wrong:",
                problems=invalid.problems,
            )
        if landing is None:
            return self._not_found(spelled, choice, headers)
        try:
            body, media = self.render(landing, choice)
        except BadUserInput as error:  # an unknown citation style or locale
            return Response(str(error) + "\n", 400, media_type="text/plain", headers=headers)
        if media == negotiation.HTML:
            return HTMLResponse(body, headers=headers)
        return Response(body, media_type=media, headers=headers)

    async def latest_version(self, spelled: str) -> str | None:
        """The latest published version's DOI if ``spelled`` is a concept DOI."""
        doi = normalise_doi(spelled).lower()
        if not doi_versions.may_be_concept(doi):
            return None
        async with self.read_engine.connect() as connection:
            chain = await doi_versions.chain_of(connection, doi)
        latest = chain.latest() if chain is not None else None
        return latest.doi if latest is not None else None

    async def load(self, request: Request, spelled: str) -> Landing | None:
        """The object under the DOI as the caller may see it; None if none is shown."""
        doi = normalise_doi(spelled)
        if not doi.startswith("10."):
            return None
        context = RequestContext(
            engine=self.read_engine,
            write_engine=self.write_engine,
            settings=self.settings,
            access=self.access(request.scope),
            request=request,
            request_id=request.scope.get("gateway.request_id"),
            dois=self.dois,
        )
        result = await self.run(
            request.scope,
            request.receive,
            LANDING_QUERY,
            {"doi": doi, "datasets": DATASETS_SHOWN, "listed": LISTED},
            "Landing",
            context,
        )
        forbidden: set[str] = set()
        problems: list[str] = []
        for error in result.errors or ():
            extensions = error.extensions or {}
            code = extensions.get("code")
            if code == "FORBIDDEN" and error.path and len(error.path) >= 2:
                forbidden.add(str(error.path[1]))
            elif (
                code == "BAD_USER_INPUT"
                and error.path
                and len(error.path) == 2
                and error.path[1] in METADATA_FIELDS
            ):
                problems = [str(p) for p in extensions.get("problems") or [error.message]]
            else:
                log.warning("landing page of %s: %s", doi, error.message)
                raise RuntimeError(f"the landing query failed: {error.message}")
        found = (result.data or {}).get("doi")
        if not found or found["__typename"] not in ("Investigation", "DataPublication"):
            return None
        if problems:
            log.warning("landing page of %s: DataCite would refuse it: %s", doi, problems)
            raise UnregistrableRecord(problems)
        if not found.get("dataCiteMetadata"):
            return None
        return Landing(
            doi=found["dataCiteMetadata"]["doi"],
            kind=found["__typename"],
            data=found,
            forbidden=frozenset(forbidden),
        )

    def render(self, landing: Landing, choice: negotiation.Choice) -> tuple[str, str]:
        """The body and its media type."""
        doi, attributes = landing.doi, landing.attributes
        media = choice.media_type
        if media == negotiation.HTML:
            return self.page(landing), media
        if media == negotiation.DATACITE_JSON:
            return orjson.dumps(attributes).decode(), media
        if media == negotiation.DATACITE_XML:
            from datacite import schema45

            return str(schema45.tostring(dict(attributes))), media
        if media == negotiation.JSON_LD:
            return orjson.dumps(landing.data["jsonLd"]).decode(), media
        if media == negotiation.BIBTEX:
            return renderings.bibtex(doi, attributes), media
        if media == negotiation.RIS:
            return renderings.ris(doi, attributes), media
        if media == negotiation.CSL_JSON:
            return orjson.dumps(renderings.csl_json(doi, attributes)).decode(), media
        citation = renderings.formatted_citation(
            doi,
            attributes,
            (choice.style or renderings.DEFAULT_STYLE).strip().lower(),
            choice.locale or "en-US",
        )
        return citation + "\n", media + "; charset=utf-8"

    def page(self, landing: Landing) -> str:
        doi, attributes, data = landing.doi, landing.attributes, landing.data
        citations = [
            (label, renderings.formatted_citation(doi, attributes, style))
            for style, label in CITATION_STYLES
        ]
        # "</script>" inside a string must not end the script element.
        json_ld = orjson.dumps(data["jsonLd"]).decode().replace("<", "\\u003c")
        template = "session.html" if landing.kind == "Investigation" else "publication.html"
        team: dict[tuple[Any, Any], dict[str, Any]] = {}
        for member in (data.get("team") or {}).get("nodes", ()):
            user = member["user"]
            person = team.setdefault((user["fullName"], user["orcidId"]), {**user, "roles": []})
            person["roles"].append(member["role"])
        return _TEMPLATES.get_template(template).render(
            doi=doi,
            doi_url=renderings.doi_url(doi),
            path=quote(doi, safe="/"),
            data=data,
            team=list(team.values()),
            attributes=attributes,
            forbidden=landing.forbidden,
            citations=citations,
            json_ld=json_ld,
            formats=[
                ("bibtex", "BibTeX"),
                ("ris", "RIS"),
                ("csl", "CSL-JSON"),
                ("datacite", "DataCite JSON"),
                ("datacite-xml", "DataCite XML"),
                ("jsonld", "schema.org JSON-LD"),
            ],
            licences=[r for r in attributes.get("rightsList") or () if r.get("rights")],
            size=_size,
            facility=self.settings.facility,
        )

    def _trouble(
        self,
        spelled: str,
        choice: negotiation.Choice,
        headers: Mapping[str, str],
        status: int,
        heading: str,
        explanation: str,
        *,
        problems: list[str] | None = None,
        retry_after: str | None = None,
    ) -> Response:
        """A page (or a line of text) saying why the DOI cannot be shown, with a status."""
        headers = {**headers, "Cache-Control": "no-store"}
        if choice.media_type != negotiation.HTML:
            text = f"{heading}: {explanation}" + "".join(f"\n- {p}" for p in problems or ())
            return Response(text + "\n", status, media_type="text/plain", headers=headers)
        body = _TEMPLATES.get_template("unavailable.html").render(
            doi=spelled,
            facility=self.settings.facility,
            heading=heading,
            explanation=explanation,
            problems=problems or [],
            retry_after=retry_after,
        )
        return HTMLResponse(body, status_code=status, headers=headers)

    def _not_found(
        self, spelled: str, choice: negotiation.Choice, headers: Mapping[str, str]
    ) -> Response:
        if choice.media_type != negotiation.HTML:
            return Response(
                "DOI not found\n", status_code=404, media_type="text/plain", headers=headers
            )
        body = _TEMPLATES.get_template("not_found.html").render(
            doi=spelled, facility=self.settings.facility
        )
        return HTMLResponse(body, status_code=404, headers=headers)


def _size(value: int | None) -> str:
    """``1.2 GB``: decimal units, as file managers show them."""
    if value is None:
        return ""
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{value} B"  # pragma: no cover
