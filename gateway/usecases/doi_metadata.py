"""A data publication's catalogue record as the DataCite metadata of its DOI.

The rows are read by ``gateway.catalogue.publications``; the metadata is
``gateway.doi.metadata``'s (kernel 4.5, validated before anything is sent). The licence
is the saga's, since ICAT has no column for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.catalogue.publications import PublicationRecord, SessionLanding
from gateway.doi import metadata


def doi_record(
    record: PublicationRecord,
    request: Mapping[str, Any],
    landing_url: str | None,
    default_licence: metadata.Rights | None = None,
) -> metadata.DoiRecord:
    """The plain record the metadata is a function of."""
    creators = tuple(
        metadata.Creator(
            full_name=creator.full_name,
            given_name=creator.given_name,
            family_name=creator.family_name,
            orcid=creator.orcid,
            affiliations=tuple(metadata.Affiliation(a.name, a.ror) for a in creator.affiliations),
        )
        for creator in record.creators
    )
    if not creators:
        # A reservation names no authors yet: the facility stands for them in its draft.
        creators = (metadata.Creator(full_name=record.facility, organisation=True),)
    published = record.publication_date
    year = (published or record.created).year
    dates = [metadata.DoiDate(record.created.date().isoformat(), "Created")]
    if published is not None:
        dates.append(metadata.DoiDate(published.date().isoformat(), "Issued"))
    licence = request.get("licence")
    return metadata.DoiRecord(
        doi=record.doi,
        title=record.title,
        creators=creators,
        publisher=metadata.Publisher(record.facility),
        publication_year=year,
        abstract=record.abstract,
        dates=tuple(dates),
        subjects=tuple(metadata.Subject(k) for k in record.keywords),
        rights=(
            (metadata.Rights(licence["statement"], licence.get("uri"), licence.get("spdx")),)
            if licence
            else (default_licence,)
            if default_licence
            else ()
        ),
        related=tuple(
            metadata.RelatedIdentifier(
                r.identifier,
                r.relation_type,
                "DOI" if _is_doi(r.identifier) else "URL",
                r.resource_type,
            )
            for r in record.related
        ),
        landing_url=landing_url,
        alternate_identifiers=tuple(
            (f"{s.name}/{s.visit_id}", "Proposal") for s in record.sessions
        ),
    )


def publication_attributes(
    record: PublicationRecord,
    request: Mapping[str, Any],
    landing_url: str | None,
    default_licence: metadata.Rights | None = None,
) -> dict[str, Any]:
    """The DataCite attributes of the publication's DOI (InvalidMetadata if refused);
    the facility's default licence where the publication names none. A version DOI's
    ``request["version"]`` holds its links (``doi_versions.Chain.links``); with
    ``versions`` it asks for the concept DOI's attributes instead."""
    described = doi_record(record, request, landing_url, default_licence)
    sessions = [s.doi for s in record.sessions if s.doi]
    version = request.get("version")
    if version and "versions" in version:
        # The concept DOI's record, from its latest version's (the saga asks for it).
        return metadata.concept_metadata(
            described, version["concept"], version["versions"], sessions=sessions
        )
    if version:
        links = metadata.VersionLinks(
            version["concept"], int(version["number"]), version.get("previous"), version.get("next")
        )
        return metadata.version_metadata(described, links, sessions=sessions)
    return metadata.publication_metadata(described, sessions=sessions)


def _is_doi(identifier: str) -> bool:
    return metadata.normalise_doi(identifier).startswith("10.")


def session_attributes(
    session: SessionLanding,
    main_proposer_roles: frozenset[str],
    landing_url: str | None,
    default_licence: metadata.Rights | None = None,
) -> dict[str, Any]:
    """The DataCite attributes of a session's DOI: its team as creators (main proposers
    first), the facility as publisher, the proposal, and the DOIs drawn from it."""
    names: dict[str, bool] = {}
    for name, role in session.team:
        main = role.strip().lower() in main_proposer_roles
        names[name] = names.get(name, False) or main
    ordered = sorted(names, key=lambda name: not names[name])  # stable: ICAT's order
    creators = tuple(metadata.Creator(full_name=name) for name in ordered) or (
        metadata.Creator(full_name=session.facility, organisation=True),
    )
    year = (session.end_date or session.start_date or session.created).year
    dates: list[metadata.DoiDate] = []
    if session.start_date is not None:
        end = session.end_date or session.start_date
        dates.append(
            metadata.DoiDate(
                f"{session.start_date.date().isoformat()}/{end.date().isoformat()}", "Collected"
            )
        )
    record = metadata.DoiRecord(
        doi=session.doi,
        title=session.title,
        creators=creators,
        publisher=metadata.Publisher(session.facility),
        publication_year=year,
        dates=tuple(dates),
        landing_url=landing_url,
        rights=(default_licence,) if default_licence else (),
        alternate_identifiers=((f"{session.name}/{session.visit_id}", "Proposal"),),
    )
    return metadata.session_metadata(record, parts=session.parts)
