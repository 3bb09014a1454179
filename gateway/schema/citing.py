"""How to cite a DOI and describe it to search engines: the ``citation`` and ``jsonLd``
fields of sessions and data publications, from the DataCite metadata of the
``dataCiteMetadata`` field (``gateway.doi.renderings``).

The metadata of a session's DOI holds its landing facts only; what the JSON-LD adds from
its DATA fields (the abstract, keywords, size) is read off the session's row only where
the row says the caller may read them (``data_visible``, the same flag every DATA field's
guard reads), so a page built from these fields shows an embargoed session's landing
facts and nothing else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from gateway.doi import renderings
from gateway.doi.configured import default_licence, landing_url
from gateway.schema.info import Info
from gateway.usecases.doi_metadata import publication_attributes, session_attributes


@strawberry.enum(description="A citation's format, as DataCite's content negotiation has them.")
class CitationFormat(enum.Enum):
    TEXT = "TEXT"
    """A bibliography entry as plain text in a CSL style (`text/x-bibliography`)."""
    BIBTEX = "BIBTEX"
    """A BibTeX `@misc` entry (`application/x-bibtex`)."""
    RIS = "RIS"
    """A RIS record (`application/x-research-info-systems`)."""
    CSL_JSON = "CSL_JSON"
    """The CSL-JSON item, as text (`application/vnd.citationstyles.csl+json`)."""


CITATION_ARGUMENTS = {
    "format": "TEXT (the default), BIBTEX, RIS or CSL_JSON.",
    "style": "For TEXT: a CSL style by its file name in the CSL project's repository, e.g. "
    "apa (the default), chicago-author-date, ieee, harvard-cite-them-right.",
    "locale": "For TEXT: the CSL locale, e.g. en-US (the default), de-DE, fr-FR.",
}


def citation_of(
    doi: str,
    attributes: Mapping[str, Any],
    format: CitationFormat,
    style: str = renderings.DEFAULT_STYLE,
    locale: str = "en-US",
) -> str:
    """The DOI's citation in a format (BAD_USER_INPUT for an unknown style)."""
    if format is CitationFormat.BIBTEX:
        return renderings.bibtex(doi, attributes)
    if format is CitationFormat.RIS:
        return renderings.ris(doi, attributes)
    if format is CitationFormat.CSL_JSON:
        import orjson

        return orjson.dumps(renderings.csl_json(doi, attributes)).decode()
    return renderings.formatted_citation(doi, attributes, style, locale)


async def session_metadata(info: Info, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The DataCite attributes of a session's DOI; None without one."""
    context = info.context
    session = await context.loaders.session_landing.load(row["id"])
    if session is None:
        return None
    url = landing_url(context.settings, session.doi)
    roles = context.settings.main_proposer_roles
    return session_attributes(session, roles, url, default_licence(context.settings))


def publication_metadata_function(info: Info) -> Any:
    """``publication_attributes`` with the facility's default licence."""
    return partial(publication_attributes, default_licence=default_licence(info.context.settings))


async def publication_metadata(info: Info, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The DataCite attributes of a data publication's DOI (no URL while reserved)."""
    loaded = await info.context.loaders.publication_record.load(row["id"])
    if loaded is None:
        return None
    record, request = loaded
    url = landing_url(info.context.settings, record.doi)
    published = record.publication_date is not None
    return dict(publication_metadata_function(info)(record, request, url if published else None))


async def session_json_ld(info: Info, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """A session's schema.org Dataset: landing facts for everyone, its abstract, keywords
    and size only where the caller may read its data."""
    attributes = await session_metadata(info, row)
    if attributes is None:
        return None
    loaders = info.context.loaders
    readable = bool(row["data_visible"])
    released = row["release_date"] is not None and row["release_date"] < info.context.now
    instruments = await loaders.related("Investigation", "instruments").load(row["id"])
    beamlines = ", ".join(i.name for i in instruments)
    description = row["summary"] if readable and row["summary"] else None
    if description is None:
        where = f" on {beamlines}" if beamlines else ""
        description = (
            f"Experiment session {row['name']} (visit {row['visit_id']}){where}: "
            f"{row['title']}. "
            + (
                "Its data are public."
                if released
                else f"Its data are under embargo until {row['release_date'].date().isoformat()}."
                if row["release_date"] is not None
                else "Its data are not public."
            )
        )
    keywords: list[str] = []
    if readable:
        keywords = [
            k.name for k in await loaders.related("Investigation", "keywords").load(row["id"])
        ]
    start, end = row["start_date"], row["end_date"]
    coverage = None
    if start is not None:
        coverage = f"{start.date().isoformat()}/{(end or start).date().isoformat()}"
    return renderings.schema_org(
        attributes["doi"],
        attributes,
        description=description,
        keywords=keywords,
        url=attributes.get("url"),
        is_accessible_for_free=released,
        temporal_coverage=coverage,
        measurement_techniques=(),
        size_bytes=row["file_size"] if readable else None,
    )


async def publication_json_ld(info: Info, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """A data publication's schema.org Dataset (the caller may see the publication)."""
    attributes = await publication_metadata(info, row)
    if attributes is None:
        return None
    published = bool(row["is_published"])
    abstract = next(
        (
            d["description"]
            for d in attributes["descriptions"]
            if d["descriptionType"] == "Abstract"
        ),
        None,
    )
    description = abstract or (
        f"Data publication: {attributes['titles'][0]['title']}"
        + ("" if published else " (reserved: not yet published).")
    )
    return renderings.schema_org(
        attributes["doi"],
        attributes,
        description=description,
        keywords=[s["subject"] for s in attributes["subjects"]],
        url=attributes.get("url") or landing_url(info.context.settings, attributes["doi"]),
        is_accessible_for_free=published,
    )


# The fields themselves, the same on every citable type -----------------------------------


class Citable:
    """A type whose row has a DOI to cite: it says where its DataCite metadata and its
    JSON-LD come from; :func:`citing_fields` resolves the three fields from them."""

    async def cited_metadata(self, info: Info) -> dict[str, Any] | None:
        raise NotImplementedError

    async def described_json_ld(self, info: Info) -> dict[str, Any] | None:
        raise NotImplementedError


async def _data_cite_metadata(root: Citable, info: Info) -> JSON | None:
    attributes = await root.cited_metadata(info)
    return None if attributes is None else JSON(attributes)


async def _citation(
    root: Citable,
    info: Info,
    format: Annotated[
        CitationFormat, strawberry.argument(description=CITATION_ARGUMENTS["format"])
    ] = CitationFormat.TEXT,
    style: Annotated[
        str, strawberry.argument(description=CITATION_ARGUMENTS["style"])
    ] = renderings.DEFAULT_STYLE,
    locale: Annotated[str, strawberry.argument(description=CITATION_ARGUMENTS["locale"])] = (
        "en-US"
    ),
) -> str | None:
    attributes = await root.cited_metadata(info)
    if attributes is None:
        return None
    return citation_of(attributes["doi"], attributes, format, style, locale)


async def _json_ld(root: Citable, info: Info) -> JSON | None:
    document = await root.described_json_ld(info)
    return None if document is None else JSON(document)


def citing_fields() -> tuple[Any, Any, Any]:
    """``dataCiteMetadata``, ``citation`` and ``jsonLd`` for a :class:`Citable` type's
    body (new field objects each time: ``declared`` gives each its type's description)."""
    return (
        strawberry.field(resolver=_data_cite_metadata),
        strawberry.field(resolver=_citation),
        strawberry.field(resolver=_json_ld),
    )
