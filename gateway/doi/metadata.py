"""DataCite kernel-4.5 metadata as a pure function of plain records.

The saga reads the catalogue's rows (DATAPUBLICATION, DATAPUBLICATIONUSER, AFFILIATION,
RELATEDITEM, DATAPUBLICATIONDATE, SUBJECT; INVESTIGATION and its team), turns them into a
:class:`DoiRecord`, and asks :func:`publication_metadata` or :func:`session_metadata` for
the JSON:API ``attributes`` DataCite takes. Both check the record and validate the result
with the ``datacite`` package's kernel-4.5 JSON schema before anything is sent: a record
that does not pass raises :class:`InvalidMetadata` (``BAD_USER_INPUT``), listing every
problem.

Every list attribute is always present, empty or not: a ``PUT`` that omits an attribute
leaves DataCite's old value in place, so a keyword removed from a reservation would
otherwise stay in DataCite.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from gateway.errors import BadUserInput

__all__ = [
    "Affiliation",
    "Contributor",
    "Creator",
    "DoiDate",
    "DoiRecord",
    "Funding",
    "InvalidMetadata",
    "Publisher",
    "RelatedIdentifier",
    "Rights",
    "Subject",
    "VersionLinks",
    "concept_metadata",
    "licence_of_spdx",
    "normalise_doi",
    "publication_metadata",
    "schema_problems",
    "session_metadata",
    "version_metadata",
]

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"
ORCID_URI = "https://orcid.org"
ROR_URI = "https://ror.org"
MAX_PROBLEMS = 20
"""At most this many problems are listed (a record with 300 nameless creators says so
without a 300-line message)."""


class InvalidMetadata(BadUserInput):
    """The record cannot be registered as it is; ``problems`` says why, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        shown = list(problems[:MAX_PROBLEMS])
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more")
        super().__init__("DataCite metadata is not valid: " + "; ".join(shown), problems=shown)
        self.problems = tuple(shown)


# -- records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Affiliation:
    """An institution a creator belongs to (ICAT ``AFFILIATION``)."""

    name: str
    ror: str | None = None
    """Its ROR id, as ``https://ror.org/02550n020`` or ``02550n020`` (``AFFILIATION.PID``)."""


@dataclass(frozen=True)
class Creator:
    """A person (or organisation) credited, in the order they are credited.

    DataCite shows a person as ``Family, Given``: that is the name sent when both parts
    are known, else ``full_name`` (ICAT ``FULLNAME``).
    """

    full_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    orcid: str | None = None
    """``0000-0002-1825-0097`` or ``https://orcid.org/0000-0002-1825-0097``."""
    affiliations: tuple[Affiliation, ...] = ()
    organisation: bool = False
    """An institution or a collaboration rather than a person (``nameType``)."""


@dataclass(frozen=True)
class Contributor:
    """Someone who contributed other than as a creator (``DATAPUBLICATIONUSER`` rows whose
    ``CONTRIBUTORTYPE`` is not ``Creator``)."""

    person: Creator
    contributor_type: str
    """DataCite's contributorType: ``ContactPerson``, ``DataCollector``, ``Researcher``..."""


@dataclass(frozen=True)
class Publisher:
    """Who publishes the data: the facility."""

    name: str
    ror: str | None = None


@dataclass(frozen=True)
class DoiDate:
    """A dated event (``DATAPUBLICATIONDATE``): ISO 8601, a year, or a range ``a/b``."""

    date: str
    date_type: str
    """DataCite's dateType: ``Issued``, ``Available``, ``Created``, ``Collected``..."""
    information: str | None = None


@dataclass(frozen=True)
class Subject:
    """A keyword, or a term of a classification (``SUBJECT``)."""

    subject: str
    scheme: str | None = None
    scheme_uri: str | None = None
    value_uri: str | None = None
    classification_code: str | None = None


@dataclass(frozen=True)
class Rights:
    """A licence: ``Rights("Creative Commons Attribution 4.0 International",
    "https://creativecommons.org/licenses/by/4.0/", "cc-by-4.0")``."""

    statement: str
    uri: str | None = None
    spdx: str | None = None
    """Its SPDX identifier, when it has one."""


@dataclass(frozen=True)
class RelatedIdentifier:
    """Another resource and how this one relates to it (``RELATEDITEM``)."""

    identifier: str
    relation_type: str
    """DataCite's relationType, as this DOI relates to it: ``IsCitedBy`` (a paper that
    cites the data), ``IsSupplementTo``, ``IsPartOf``, ``HasPart``..."""
    identifier_type: str = "DOI"
    resource_type_general: str | None = None
    """``JournalArticle``, ``Dataset``... (``RELATEDITEMTYPE``)."""


@dataclass(frozen=True)
class Funding:
    """A grant that paid for the work (``FUNDINGREFERENCE``)."""

    funder_name: str
    funder_identifier: str | None = None
    funder_identifier_type: str | None = None
    award_number: str | None = None
    award_title: str | None = None


@dataclass(frozen=True)
class DoiRecord:
    """What DataCite is told about a DOI, as plain values."""

    doi: str
    title: str
    creators: tuple[Creator, ...]
    publisher: Publisher
    publication_year: int
    abstract: str | None = None
    contributors: tuple[Contributor, ...] = ()
    dates: tuple[DoiDate, ...] = ()
    subjects: tuple[Subject, ...] = ()
    rights: tuple[Rights, ...] = ()
    related: tuple[RelatedIdentifier, ...] = ()
    funding: tuple[Funding, ...] = ()
    resource_type: str | None = None
    """Free text beside ``resourceTypeGeneral: Dataset``; each function has a default."""
    language: str | None = None
    landing_url: str | None = None
    """The page the DOI resolves to (left out for a draft that has none yet)."""
    alternate_identifiers: tuple[tuple[str, str], ...] = field(default=())
    """``(identifier, type)`` pairs, e.g. a session's proposal ``("MX-2345", "Proposal")``."""
    version: str | None = None
    """Its version number under a concept DOI (DataCite's ``version``)."""


_LICENCES = {
    "cc-by-4.0": (
        "Creative Commons Attribution 4.0 International",
        "https://creativecommons.org/licenses/by/4.0/legalcode",
    ),
    "cc-by-sa-4.0": (
        "Creative Commons Attribution Share Alike 4.0 International",
        "https://creativecommons.org/licenses/by-sa/4.0/legalcode",
    ),
    "cc-by-nc-4.0": (
        "Creative Commons Attribution Non Commercial 4.0 International",
        "https://creativecommons.org/licenses/by-nc/4.0/legalcode",
    ),
    "cc0-1.0": (
        "Creative Commons Zero v1.0 Universal",
        "https://creativecommons.org/publicdomain/zero/1.0/legalcode",
    ),
    "odc-by-1.0": (
        "Open Data Commons Attribution License v1.0",
        "https://opendatacommons.org/licenses/by/1-0/",
    ),
}
"""The licences data are usually published under, as the SPDX list names them."""


def licence_of_spdx(spdx: str) -> Rights:
    """The rights entry of an SPDX licence id: its name and legal code where known, else
    the id and its page on spdx.org."""
    known = _LICENCES.get(spdx.strip().lower())
    if known is None:
        return Rights(spdx.strip(), f"https://spdx.org/licenses/{spdx.strip()}.html", spdx.strip())
    return Rights(known[0], known[1], spdx.strip())


# -- the two kinds of DOI ----------------------------------------------------------------


def publication_metadata(record: DoiRecord, *, sessions: Iterable[str] = ()) -> dict[str, Any]:
    """The attributes of a data publication's DOI: the datasets a paper draws on.

    ``sessions`` are the DOIs of the sessions its datasets come from (``IsPartOf``).
    """
    related = (*record.related, *(RelatedIdentifier(doi, "IsPartOf") for doi in sessions))
    return _validated(record, related, default_resource_type="Experimental data")


@dataclass(frozen=True)
class VersionLinks:
    """A version DOI's place under its concept DOI."""

    concept: str
    number: int
    previous: str | None = None
    next: str | None = None
    """The next version, once it is registered."""

    def related(self) -> tuple[RelatedIdentifier, ...]:
        """``IsVersionOf`` the concept, ``IsNewVersionOf`` the one before,
        ``IsPreviousVersionOf`` the one after."""
        links = [RelatedIdentifier(self.concept, "IsVersionOf", resource_type_general="Dataset")]
        if self.previous:
            links.append(
                RelatedIdentifier(self.previous, "IsNewVersionOf", resource_type_general="Dataset")
            )
        if self.next:
            links.append(
                RelatedIdentifier(self.next, "IsPreviousVersionOf", resource_type_general="Dataset")
            )
        return tuple(links)


def version_metadata(
    record: DoiRecord, links: VersionLinks, *, sessions: Iterable[str] = ()
) -> dict[str, Any]:
    """The attributes of a version DOI: a publication's, with its ``version`` and its
    links to the concept and the neighbouring versions."""
    versioned = replace(
        record, version=str(links.number), related=(*record.related, *links.related())
    )
    return publication_metadata(versioned, sessions=sessions)


def concept_metadata(
    latest: DoiRecord, concept: str, versions: Sequence[str], *, sessions: Iterable[str] = ()
) -> dict[str, Any]:
    """The attributes of a concept DOI: the latest version's description under the
    concept's DOI, ``HasVersion`` each version, no version number of its own."""
    record = replace(
        latest,
        doi=concept,
        version=None,
        related=(
            *latest.related,
            *(
                RelatedIdentifier(v, "HasVersion", resource_type_general="Dataset")
                for v in versions
            ),
        ),
    )
    return publication_metadata(record, sessions=sessions)


def session_metadata(record: DoiRecord, *, parts: Iterable[str] = ()) -> dict[str, Any]:
    """The attributes of a session's (an ICAT investigation's) DOI.

    ``parts`` are the DOIs of the data publications drawn from it (``HasPart``).
    """
    related = (*record.related, *(RelatedIdentifier(doi, "HasPart") for doi in parts))
    return _validated(record, related, default_resource_type="Experiment session")


RESOLVER_PREFIXES = (
    "https://doi.org/",
    "http://doi.org/",
    "https://dx.doi.org/",
    "http://dx.doi.org/",
    "doi:",
)
"""How people write a DOI before its ``10.``: a resolver's address or the ``doi:`` scheme
(in any case)."""


def bare_doi(doi: str) -> str:
    """``doi:10.1/X`` or ``https://doi.org/10.1/X`` as ``10.1/X``: without a resolver's
    prefix, its case kept (a catalogue may hold it in any case)."""
    text = doi.strip()
    for prefix in RESOLVER_PREFIXES:
        if text.lower().startswith(prefix):
            return text[len(prefix) :]
    return text


def normalise_doi(doi: str) -> str:
    """``doi:10.1/X``, ``https://doi.org/10.1/X`` or ``10.1/X`` as ``10.1/x``: DataCite
    compares DOIs case-insensitively and answers them in lower case."""
    return bare_doi(doi).lower()


# -- building and checking ---------------------------------------------------------------

_DOI = re.compile(r"^10\.[0-9]{4,9}/\S+$")
_ORCID = re.compile(r"^(?:https?://orcid\.org/)?([0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X])$")
_ROR = re.compile(r"^(?:https?://ror\.org/)?(0[a-hj-km-np-tv-z0-9]{6}[0-9]{2})$")
_TIME = r"T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
_DATE = rf"[0-9]{{4}}(?:-[0-9]{{2}}(?:-[0-9]{{2}}(?:{_TIME})?)?)?"
_DATE_OR_RANGE = re.compile(rf"^(?:{_DATE}|{_DATE}/(?:{_DATE})?|/{_DATE})$")
_HTTP_URL = re.compile(r"^https?://[^\s/]+\S*$")


def _validated(
    record: DoiRecord, related: Sequence[RelatedIdentifier], *, default_resource_type: str
) -> dict[str, Any]:
    problems = list(_check(record, related))
    if problems:
        raise InvalidMetadata(problems)
    verdict = _schema_problems(record, tuple(related), default_resource_type)
    if verdict:
        raise InvalidMetadata(list(verdict))
    return _attributes(record, related, default_resource_type)


VERDICTS_KEPT = 4096
"""Records whose verdict of DataCite's JSON schema is kept: validating one takes about
6 ms, and every read of a session's ``citation``, ``jsonLd`` or ``dataCiteMetadata``
builds its record again (the same record, the same verdict)."""


@lru_cache(maxsize=VERDICTS_KEPT)
def _schema_problems(
    record: DoiRecord, related: tuple[RelatedIdentifier, ...], default_resource_type: str
) -> tuple[str, ...]:
    """What DataCite's kernel-4.5 JSON schema says of the record's attributes (nothing
    when they are valid), by the record (a frozen value: its own key)."""
    return schema_problems(_attributes(record, related, default_resource_type))


def schema_problems(attributes: Mapping[str, Any]) -> tuple[str, ...]:
    """What DataCite's kernel-4.5 JSON schema says of a record's attributes, each as
    ``path: message`` in the order of their paths (nothing when they are valid)."""
    # Imported at the first check, not at start-up: the datacite package brings idutils
    # and requests with it (about 0.8 s of each worker's start).
    from datacite import schema45

    return tuple(
        f"{'/'.join(str(part) for part in error.absolute_path) or 'metadata'}: {error.message}"
        for error in sorted(
            schema45.validator.iter_errors(attributes), key=lambda e: list(e.absolute_path)
        )
    )


def _check(record: DoiRecord, related: Sequence[RelatedIdentifier]) -> Iterator[str]:
    """What DataCite would refuse that the schema lets through (blank strings, malformed
    identifiers and dates, characters XML cannot carry)."""
    if not _DOI.match(normalise_doi(record.doi)):
        yield f"doi: {record.doi!r} is not a DOI (10.<prefix>/<suffix>)"
    if not _text(record.title):
        yield "title: blank"
    if not record.creators:
        yield "creators: none (a DOI needs at least one creator)"
    for i, creator in enumerate(record.creators):
        yield from _check_person(f"creators[{i}]", creator)
    for i, contributor in enumerate(record.contributors):
        yield from _check_person(f"contributors[{i}]", contributor.person)
    if not _text(record.publisher.name):
        yield "publisher: blank"
    if record.publisher.ror is not None and not _ROR.match(record.publisher.ror.strip()):
        yield f"publisher: {record.publisher.ror!r} is not a ROR id"
    if not 1000 <= record.publication_year <= 9999:
        yield f"publicationYear: {record.publication_year} is not a four-digit year"
    for i, date in enumerate(record.dates):
        if not _DATE_OR_RANGE.match(date.date.strip()):
            yield f"dates[{i}]: {date.date!r} is not an ISO 8601 date or range"
    for i, subject in enumerate(record.subjects):
        if not _text(subject.subject):
            yield f"subjects[{i}]: blank"
    for i, rights in enumerate(record.rights):
        if not _text(rights.statement):
            yield f"rights[{i}]: blank"
    for i, item in enumerate(related):
        if not _text(item.identifier):
            yield f"relatedIdentifiers[{i}]: blank"
        elif item.identifier_type == "DOI" and not _DOI.match(normalise_doi(item.identifier)):
            yield f"relatedIdentifiers[{i}]: {item.identifier!r} is not a DOI"
    for i, funding in enumerate(record.funding):
        if not _text(funding.funder_name):
            yield f"fundingReferences[{i}]: no funder name"
    if record.landing_url is not None and not _HTTP_URL.match(record.landing_url):
        yield f"url: {record.landing_url!r} is not an http(s) URL"
    for where, text in _strings(record, related):
        bad = _unwritable(text)
        if bad:
            yield f"{where}: contains {bad} (a control character XML cannot carry)"


def _check_person(where: str, person: Creator) -> Iterator[str]:
    if not _name(person):
        yield f"{where}: no name"
    if person.orcid is not None and _orcid(person.orcid) is None:
        yield f"{where}: {person.orcid!r} is not an ORCID iD (or its checksum is wrong)"
    for j, affiliation in enumerate(person.affiliations):
        if not _text(affiliation.name):
            yield f"{where}.affiliations[{j}]: blank"
        if affiliation.ror is not None and not _ROR.match(affiliation.ror.strip()):
            yield f"{where}.affiliations[{j}]: {affiliation.ror!r} is not a ROR id"


def _attributes(
    record: DoiRecord, related: Sequence[RelatedIdentifier], default_resource_type: str
) -> dict[str, Any]:
    attributes: dict[str, Any] = {"doi": normalise_doi(record.doi)}
    if record.landing_url is not None:
        attributes["url"] = record.landing_url
    attributes |= {
        "types": {
            "resourceTypeGeneral": "Dataset",
            "resourceType": _text(record.resource_type or "") or default_resource_type,
        },
        "creators": [_person(creator) for creator in record.creators],
        "titles": [{"title": _text(record.title)}],
        "publisher": _publisher(record.publisher),
        "publicationYear": str(record.publication_year),
        "subjects": _unique(_subject(subject) for subject in record.subjects),
        "contributors": [
            {**_person(c.person), "contributorType": c.contributor_type}
            for c in record.contributors
        ],
        "dates": _unique(_date(date) for date in record.dates),
        "alternateIdentifiers": _unique(
            {"alternateIdentifier": _text(value), "alternateIdentifierType": _text(kind)}
            for value, kind in record.alternate_identifiers
        ),
        "relatedIdentifiers": _unique(_related(item) for item in related),
        "rightsList": _unique(_rights(rights) for rights in record.rights),
        "descriptions": (
            [{"description": _text(record.abstract), "descriptionType": "Abstract"}]
            if record.abstract and _text(record.abstract)
            else []
        ),
        "fundingReferences": _unique(_funding(funding) for funding in record.funding),
        "schemaVersion": SCHEMA_VERSION,
    }
    if record.language:
        attributes["language"] = record.language.strip()
    if record.version:
        attributes["version"] = record.version
    return attributes


def _person(person: Creator) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": _name(person),
        "nameType": "Organizational" if person.organisation else "Personal",
    }
    if not person.organisation:
        if person.given_name and _text(person.given_name):
            out["givenName"] = _text(person.given_name)
        if person.family_name and _text(person.family_name):
            out["familyName"] = _text(person.family_name)
    orcid = _orcid(person.orcid) if person.orcid else None
    out["nameIdentifiers"] = (
        [{"nameIdentifier": orcid, "nameIdentifierScheme": "ORCID", "schemeUri": ORCID_URI}]
        if orcid
        else []
    )
    out["affiliation"] = _unique(_affiliation(a) for a in person.affiliations)
    return out


def _name(person: Creator) -> str:
    given = _text(person.given_name or "")
    family = _text(person.family_name or "")
    if family and given and not person.organisation:
        return f"{family}, {given}"
    return _text(person.full_name or "") or family or given


def _affiliation(affiliation: Affiliation) -> dict[str, Any]:
    out: dict[str, Any] = {"name": _text(affiliation.name)}
    if affiliation.ror:
        out |= {
            "affiliationIdentifier": _ror(affiliation.ror),
            "affiliationIdentifierScheme": "ROR",
            "schemeUri": ROR_URI,
        }
    return out


def _publisher(publisher: Publisher) -> dict[str, Any]:
    out: dict[str, Any] = {"name": _text(publisher.name)}
    if publisher.ror:
        out |= {
            "publisherIdentifier": _ror(publisher.ror),
            "publisherIdentifierScheme": "ROR",
            "schemeUri": ROR_URI,
        }
    return out


def _subject(subject: Subject) -> dict[str, Any]:
    out: dict[str, Any] = {"subject": _text(subject.subject)}
    for key, value in (
        ("subjectScheme", subject.scheme),
        ("schemeUri", subject.scheme_uri),
        ("valueUri", subject.value_uri),
        ("classificationCode", subject.classification_code),
    ):
        if value:
            out[key] = value.strip()
    return out


def _date(date: DoiDate) -> dict[str, Any]:
    out: dict[str, Any] = {"date": date.date.strip(), "dateType": date.date_type}
    if date.information:
        out["dateInformation"] = _text(date.information)
    return out


def _related(item: RelatedIdentifier) -> dict[str, Any]:
    identifier = item.identifier.strip()
    if item.identifier_type == "DOI":
        identifier = normalise_doi(identifier)
    out: dict[str, Any] = {
        "relatedIdentifier": identifier,
        "relatedIdentifierType": item.identifier_type,
        "relationType": item.relation_type,
    }
    if item.resource_type_general:
        out["resourceTypeGeneral"] = item.resource_type_general
    return out


def _rights(rights: Rights) -> dict[str, Any]:
    out: dict[str, Any] = {"rights": _text(rights.statement)}
    if rights.uri:
        out["rightsUri"] = rights.uri.strip()
    if rights.spdx:
        out |= {
            "rightsIdentifier": rights.spdx.strip(),
            "rightsIdentifierScheme": "SPDX",
            "schemeUri": "https://spdx.org/licenses/",
        }
    return out


def _funding(funding: Funding) -> dict[str, Any]:
    out: dict[str, Any] = {"funderName": _text(funding.funder_name)}
    for key, value in (
        ("funderIdentifier", funding.funder_identifier),
        ("funderIdentifierType", funding.funder_identifier_type),
        ("awardNumber", funding.award_number),
        ("awardTitle", funding.award_title),
    ):
        if value:
            out[key] = _text(value)
    return out


def _orcid(orcid: str | None) -> str | None:
    """The ORCID iD as DataCite wants it (the full https URL), None if it is not one."""
    match = _ORCID.match((orcid or "").strip())
    if match is None:
        return None
    digits = match.group(1).replace("-", "")
    total = 0
    for digit in digits[:-1]:
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    if digits[-1] != ("X" if check == 10 else str(check)):
        return None
    return f"{ORCID_URI}/{match.group(1)}"


def _ror(ror: str) -> str:
    match = _ROR.match(ror.strip())
    assert match is not None  # checked before
    return f"{ROR_URI}/{match.group(1)}"


def _text(value: str) -> str:
    """NFC (a name typed with combining marks and one typed precomposed are the same
    name), outer white space trimmed."""
    return unicodedata.normalize("NFC", value).strip()


def _unwritable(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) in {"Cc", "Cs"} and char not in "\t\n\r":
            return f"U+{ord(char):04X}"
    return None


def _strings(record: DoiRecord, related: Sequence[RelatedIdentifier]) -> Iterator[tuple[str, str]]:
    yield "title", record.title
    yield "abstract", record.abstract or ""
    yield "publisher", record.publisher.name
    people = [("creators", i, c) for i, c in enumerate(record.creators)] + [
        ("contributors", i, c.person) for i, c in enumerate(record.contributors)
    ]
    for kind, i, person in people:
        for text in (person.full_name, person.given_name, person.family_name):
            yield f"{kind}[{i}]", text or ""
        for affiliation in person.affiliations:
            yield f"{kind}[{i}]", affiliation.name
    for i, subject in enumerate(record.subjects):
        yield f"subjects[{i}]", subject.subject
    for i, rights in enumerate(record.rights):
        yield f"rights[{i}]", rights.statement
    for i, item in enumerate(related):
        yield f"relatedIdentifiers[{i}]", item.identifier


def _unique(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """In order, each once: the schema wants these lists' items unique."""
    out: list[dict[str, Any]] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
