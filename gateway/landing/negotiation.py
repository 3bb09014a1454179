"""Which rendering of a DOI a request asks for: content negotiation as DataCite's resolver
does it (``Accept``), or ``?format=`` for the links a page offers to people.

Pure: a header and the query parameters in, a :class:`Choice` out (or None: 406).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

HTML = "text/html"
DATACITE_JSON = "application/vnd.datacite.datacite+json"
DATACITE_XML = "application/vnd.datacite.datacite+xml"
JSON_LD = "application/ld+json"
BIBTEX = "application/x-bibtex"
RIS = "application/x-research-info-systems"
CSL_JSON = "application/vnd.citationstyles.csl+json"
BIBLIOGRAPHY = "text/x-bibliography"

OFFERED = (HTML, DATACITE_JSON, DATACITE_XML, JSON_LD, BIBTEX, RIS, CSL_JSON, BIBLIOGRAPHY)
"""Every media type a landing URL answers, the page first (what ``*/*`` gets)."""

FORMATS = {
    "html": HTML,
    "datacite": DATACITE_JSON,
    "datacite-xml": DATACITE_XML,
    "jsonld": JSON_LD,
    "bibtex": BIBTEX,
    "ris": RIS,
    "csl": CSL_JSON,
    "citation": BIBLIOGRAPHY,
}
"""``?format=`` names (the page's own links: a browser cannot set ``Accept``)."""


@dataclass(frozen=True)
class Choice:
    media_type: str
    style: str | None = None
    """For ``text/x-bibliography``: the CSL style asked for (``style=`` parameter)."""
    locale: str | None = None


def choose(accept: str | None, query: Mapping[str, str]) -> Choice | None:
    """The rendering to answer with; None when nothing asked for is offered."""
    named = query.get("format")
    if named is not None:
        media = FORMATS.get(named.strip().lower())
        if media is None:
            return None
        return Choice(media, query.get("style"), query.get("locale"))
    if not accept or not accept.strip():
        return Choice(HTML)
    ranges = []
    for position, item in enumerate(accept.split(",")):
        parts = [part.strip() for part in item.split(";")]
        media = parts[0].lower()
        if not media:
            continue
        parameters: dict[str, str] = {}
        for parameter in parts[1:]:
            name, _, value = parameter.partition("=")
            parameters[name.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(parameters.pop("q", "1"))
        except ValueError:
            quality = 0.0
        if quality > 0:
            ranges.append((-quality, position, media, parameters))
    for _, _, media, parameters in sorted(ranges):
        chosen = _match(media)
        if chosen is not None:
            return Choice(chosen, parameters.get("style"), parameters.get("locale"))
    return None


def _match(media: str) -> str | None:
    if media in OFFERED:
        return media
    if media in ("*/*", "text/*"):
        return HTML
    if media == "application/xhtml+xml":
        return HTML
    if media == "application/*":
        return DATACITE_JSON
    return None
