"""DataCite kernel-4.5 metadata: generated records validate, a known record gives exactly
the known JSON, and records DataCite would refuse are refused before anything is sent."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from datacite import schema45
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.doi.metadata import (
    Affiliation,
    Contributor,
    Creator,
    DoiDate,
    DoiRecord,
    Funding,
    InvalidMetadata,
    Publisher,
    RelatedIdentifier,
    Rights,
    Subject,
    normalise_doi,
    publication_metadata,
    session_metadata,
)
from gateway.errors import BadUserInput

ESRF = Publisher("European Synchrotron Radiation Facility", "https://ror.org/02550n020")
CARBERRY = "0000-0002-1825-0097"  # ORCID's own example iD
WITH_X = "0000-0002-1694-233X"  # a real iD whose check digit is X

# Names DataCite receives from facilities: non-Latin scripts, combining marks (é as e +
# U+0301, Vietnamese stacked diacritics), right-to-left scripts, astral-plane characters.
NAMES = [
    "Ångström",
    "Jose\u0301",
    "Nguy\u1ec5n",
    "Nguye\u0302\u0303n",
    "王小明",
    "山田 太郎",
    "Σωκράτης",
    "Дмитрий",
    "محمد",
    "שרה",
    "ஸ்ரீநிவாசன்",
    "\U00020bb7野家",  # an astral-plane CJK character (U+20BB7)
    "O'Brien-Łukasiewicz",
]

printable = st.characters(blacklist_categories=("Cc", "Cs"))
words = st.one_of(
    st.sampled_from(NAMES),
    st.text(printable, min_size=1, max_size=40).filter(lambda s: s.strip() != ""),
)
rors = st.one_of(st.none(), st.sampled_from(["https://ror.org/02550n020", "01ggx4157"]))
affiliations = st.builds(Affiliation, name=words, ror=rors)
creators = st.builds(
    Creator,
    full_name=st.one_of(st.none(), words),
    given_name=words,
    family_name=words,
    orcid=st.one_of(
        st.none(), st.sampled_from([CARBERRY, WITH_X, f"https://orcid.org/{CARBERRY}"])
    ),
    affiliations=st.lists(affiliations, max_size=3).map(tuple),
)
dates = st.builds(
    DoiDate,
    date=st.sampled_from(
        ["2026", "2026-03", "2026-03-14", "2025-01-01/2025-06-30", "2026-03-14T09:30:00Z"]
    ),
    date_type=st.sampled_from(["Issued", "Available", "Created", "Collected", "Submitted"]),
)
related = st.builds(
    RelatedIdentifier,
    identifier=st.sampled_from(
        ["10.1107/S1600577523001234", "doi:10.15151/ESRF-ES-1", "https://doi.org/10.5281/ZENODO.42"]
    ),
    relation_type=st.sampled_from(
        ["IsCitedBy", "IsSupplementTo", "IsReferencedBy", "IsDerivedFrom"]
    ),
    resource_type_general=st.one_of(st.none(), st.just("JournalArticle")),
)
records = st.builds(
    DoiRecord,
    doi=st.just("10.15151/ESRF-DC-1234"),
    title=st.text(printable, min_size=1, max_size=2000).filter(lambda s: s.strip() != ""),
    creators=st.lists(creators, min_size=1, max_size=25).map(tuple),
    publisher=st.just(ESRF),
    publication_year=st.integers(1000, 9999),
    abstract=st.one_of(st.none(), st.text(printable, max_size=500)),
    dates=st.lists(dates, max_size=4).map(tuple),
    subjects=st.lists(st.builds(Subject, subject=words), max_size=5).map(tuple),
    rights=st.lists(st.just(Rights("CC BY 4.0", spdx="cc-by-4.0")), max_size=1).map(tuple),
    related=st.lists(related, max_size=4).map(tuple),
    landing_url=st.one_of(st.none(), st.just("https://data.esrf.fr/doi/10.15151/ESRF-DC-1234")),
)


def _schema_errors(attributes: dict[str, Any]) -> list[str]:
    return [error.message for error in schema45.validator.iter_errors(attributes)]


@settings(max_examples=150, deadline=None)
@given(records, st.lists(st.just("10.15151/ESRF-ES-1"), max_size=2))
def test_generated_publications_validate(record: DoiRecord, sessions: list[str]) -> None:
    attributes = publication_metadata(record, sessions=sessions)
    assert _schema_errors(attributes) == []
    assert len(attributes["creators"]) == len(record.creators)
    assert [c["nameType"] for c in attributes["creators"]] == ["Personal"] * len(record.creators)
    with_orcid = [c for c in record.creators if c.orcid is not None]
    identifiers = [i for c in attributes["creators"] for i in c["nameIdentifiers"]]
    assert len(identifiers) == len(with_orcid)
    assert all(i["nameIdentifier"].startswith("https://orcid.org/0000-") for i in identifiers)
    assert attributes["descriptions"] == [] or record.abstract
    part_of = [r for r in attributes["relatedIdentifiers"] if r["relationType"] == "IsPartOf"]
    assert len(part_of) == (1 if sessions else 0)


@settings(max_examples=50, deadline=None)
@given(records, st.lists(st.sampled_from(["10.15151/ESRF-DC-1", "10.15151/ESRF-DC-2"])))
def test_generated_sessions_validate(record: DoiRecord, parts: list[str]) -> None:
    attributes = session_metadata(record, parts=parts)
    assert _schema_errors(attributes) == []
    has_part = {
        r["relatedIdentifier"]
        for r in attributes["relatedIdentifiers"]
        if r["relationType"] == "HasPart"
    }
    assert has_part == {normalise_doi(p) for p in parts}
    assert attributes["types"] == {
        "resourceTypeGeneral": "Dataset",
        "resourceType": "Experiment session",
    }


def test_three_hundred_creators_keep_their_order() -> None:
    people = tuple(
        Creator(given_name=NAMES[i % len(NAMES)], family_name=f"Author{i:03d}") for i in range(300)
    )
    record = DoiRecord("10.15151/ESRF-DC-300", "Many hands", people, ESRF, 2026)
    attributes = publication_metadata(record)
    assert _schema_errors(attributes) == []
    assert [c["familyName"] for c in attributes["creators"]] == [
        f"Author{i:03d}" for i in range(300)
    ]


def test_combining_marks_are_sent_composed() -> None:
    record = DoiRecord(
        "10.15151/X",
        "T",
        (Creator(given_name="Jose\u0301", family_name="Nguye\u0302\u0303n"),),
        ESRF,
        2026,
    )
    (creator,) = publication_metadata(record)["creators"]
    assert creator["name"] == "Nguy\u1ec5n, Jos\u00e9"
    assert creator["givenName"] == "Jos\u00e9"


KNOWN = DoiRecord(
    doi="10.15151/ESRF-DC-42",
    title="  Structure of lysozyme at 100 K ",
    creators=(
        Creator(
            full_name="Ada Lovelace",
            given_name="Ada",
            family_name="Lovelace",
            orcid=CARBERRY,
            affiliations=(Affiliation("ESRF", "02550n020"), Affiliation("Somewhere without ROR")),
        ),
        Creator(full_name="山田 太郎"),
        Creator(full_name="MX Collaboration", organisation=True),
    ),
    publisher=ESRF,
    publication_year=2026,
    abstract="Diffraction data.",
    contributors=(Contributor(Creator(given_name="Grace", family_name="Hopper"), "ContactPerson"),),
    dates=(DoiDate("2026-11-30", "Issued"), DoiDate("2024-03-01/2024-03-03", "Collected")),
    subjects=(Subject("lysozyme"), Subject("lysozyme"), Subject("crystallography")),
    rights=(
        Rights(
            "Creative Commons Attribution 4.0 International",
            "https://creativecommons.org/licenses/by/4.0/",
            "cc-by-4.0",
        ),
    ),
    related=(
        RelatedIdentifier(
            "https://doi.org/10.1107/S1600577523001234",
            "IsCitedBy",
            resource_type_general="JournalArticle",
        ),
    ),
    funding=(
        Funding("European Research Council", "https://ror.org/0472cxd90", "ROR", "101000000"),
    ),
    landing_url="https://data.esrf.fr/doi/10.15151/ESRF-DC-42",
)


def test_a_known_publication_gives_exactly_this_json() -> None:
    assert publication_metadata(KNOWN, sessions=["DOI:10.15151/ESRF-ES-7"]) == {
        "doi": "10.15151/esrf-dc-42",
        "url": "https://data.esrf.fr/doi/10.15151/ESRF-DC-42",
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Experimental data"},
        "creators": [
            {
                "name": "Lovelace, Ada",
                "nameType": "Personal",
                "givenName": "Ada",
                "familyName": "Lovelace",
                "nameIdentifiers": [
                    {
                        "nameIdentifier": "https://orcid.org/0000-0002-1825-0097",
                        "nameIdentifierScheme": "ORCID",
                        "schemeUri": "https://orcid.org",
                    }
                ],
                "affiliation": [
                    {
                        "name": "ESRF",
                        "affiliationIdentifier": "https://ror.org/02550n020",
                        "affiliationIdentifierScheme": "ROR",
                        "schemeUri": "https://ror.org",
                    },
                    {"name": "Somewhere without ROR"},
                ],
            },
            {"name": "山田 太郎", "nameType": "Personal", "nameIdentifiers": [], "affiliation": []},
            {
                "name": "MX Collaboration",
                "nameType": "Organizational",
                "nameIdentifiers": [],
                "affiliation": [],
            },
        ],
        "titles": [{"title": "Structure of lysozyme at 100 K"}],
        "publisher": {
            "name": "European Synchrotron Radiation Facility",
            "publisherIdentifier": "https://ror.org/02550n020",
            "publisherIdentifierScheme": "ROR",
            "schemeUri": "https://ror.org",
        },
        "publicationYear": "2026",
        "subjects": [{"subject": "lysozyme"}, {"subject": "crystallography"}],
        "contributors": [
            {
                "name": "Hopper, Grace",
                "nameType": "Personal",
                "givenName": "Grace",
                "familyName": "Hopper",
                "nameIdentifiers": [],
                "affiliation": [],
                "contributorType": "ContactPerson",
            }
        ],
        "dates": [
            {"date": "2026-11-30", "dateType": "Issued"},
            {"date": "2024-03-01/2024-03-03", "dateType": "Collected"},
        ],
        "alternateIdentifiers": [],
        "relatedIdentifiers": [
            {
                "relatedIdentifier": "10.1107/s1600577523001234",
                "relatedIdentifierType": "DOI",
                "relationType": "IsCitedBy",
                "resourceTypeGeneral": "JournalArticle",
            },
            {
                "relatedIdentifier": "10.15151/esrf-es-7",
                "relatedIdentifierType": "DOI",
                "relationType": "IsPartOf",
            },
        ],
        "rightsList": [
            {
                "rights": "Creative Commons Attribution 4.0 International",
                "rightsUri": "https://creativecommons.org/licenses/by/4.0/",
                "rightsIdentifier": "cc-by-4.0",
                "rightsIdentifierScheme": "SPDX",
                "schemeUri": "https://spdx.org/licenses/",
            }
        ],
        "descriptions": [{"description": "Diffraction data.", "descriptionType": "Abstract"}],
        "fundingReferences": [
            {
                "funderName": "European Research Council",
                "funderIdentifier": "https://ror.org/0472cxd90",
                "funderIdentifierType": "ROR",
                "awardNumber": "101000000",
            }
        ],
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    }


def test_a_minimal_draft_has_every_list_so_an_update_clears_old_values() -> None:
    record = DoiRecord("10.15151/ESRF-DC-1", "Reserved", (Creator(full_name="Ada"),), ESRF, 2026)
    attributes = publication_metadata(record)
    assert "url" not in attributes
    for name in (
        "subjects",
        "dates",
        "relatedIdentifiers",
        "rightsList",
        "descriptions",
        "contributors",
        "fundingReferences",
    ):
        assert attributes[name] == [], name


def test_the_session_function_names_the_proposal() -> None:
    record = DoiRecord(
        "10.15151/ESRF-ES-7",
        "Lysozyme beamtime",
        (Creator(full_name="Ada Lovelace"),),
        ESRF,
        2024,
        alternate_identifiers=(("MX-2345", "Proposal"),),
        dates=(DoiDate("2024-03-01/2024-03-03", "Collected"), DoiDate("2027-03-03", "Available")),
    )
    attributes = session_metadata(record, parts=["10.15151/ESRF-DC-42"])
    assert attributes["alternateIdentifiers"] == [
        {"alternateIdentifier": "MX-2345", "alternateIdentifierType": "Proposal"}
    ]
    assert attributes["relatedIdentifiers"] == [
        {
            "relatedIdentifier": "10.15151/esrf-dc-42",
            "relatedIdentifierType": "DOI",
            "relationType": "HasPart",
        }
    ]


def _broken(**changes: Any) -> DoiRecord:
    values = {**KNOWN.__dict__, **changes}
    return DoiRecord(**values)


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (_broken(creators=()), "creators: none"),
        (_broken(title=""), "title: blank"),
        (_broken(title="   \n"), "title: blank"),
        (_broken(creators=(Creator(),)), "creators[0]: no name"),
        (_broken(creators=(Creator(full_name=" ", given_name=""),)), "creators[0]: no name"),
        (
            _broken(creators=(Creator(full_name="A", orcid="0000-0002-1825-0098"),)),
            "is not an ORCID iD",
        ),
        (_broken(creators=(Creator(full_name="A", orcid="orcid.org/abc"),)), "is not an ORCID iD"),
        (
            _broken(
                creators=(Creator(full_name="A", affiliations=(Affiliation("X", "not-a-ror"),)),)
            ),
            "is not a ROR id",
        ),
        (_broken(doi="ESRF-DC-42"), "is not a DOI"),
        (_broken(publication_year=26), "four-digit year"),
        (_broken(dates=(DoiDate("30/11/2026", "Issued"),)), "not an ISO 8601 date"),
        (_broken(dates=(DoiDate("2026-11-30", "Published"),)), "dates/0/dateType"),
        (_broken(related=(RelatedIdentifier("10.1107/x", "CitedBy"),)), "relationType"),
        (_broken(related=(RelatedIdentifier("not a doi", "IsCitedBy"),)), "is not a DOI"),
        (_broken(title="bell \x07 in the title"), "U+0007"),
        (_broken(landing_url="data.esrf.fr/doi/1"), "not an http(s) URL"),
        (_broken(publisher=Publisher("")), "publisher: blank"),
        (_broken(contributors=(Contributor(Creator(full_name="A"), "Boss"),)), "contributorType"),
    ],
)
def test_records_datacite_would_refuse_are_refused(record: DoiRecord, problem: str) -> None:
    with pytest.raises(InvalidMetadata) as raised:
        publication_metadata(record)
    assert isinstance(raised.value, BadUserInput)
    assert raised.value.extensions["code"] == "BAD_USER_INPUT"
    assert any(problem in p for p in raised.value.problems), raised.value.problems
    assert problem in str(raised.value)


def test_every_problem_is_listed_and_the_list_is_capped() -> None:
    nameless = tuple(Creator() for _ in range(300))
    with pytest.raises(InvalidMetadata) as raised:
        publication_metadata(_broken(title="", creators=nameless))
    problems = raised.value.problems
    assert problems[0] == "title: blank"
    assert problems[1] == "creators[0]: no name"
    assert len(problems) == 21 and problems[-1] == "... and 281 more"


def test_the_schema_check_is_the_last_word() -> None:
    """The package's schema catches what the record checks do not look at (here: an
    attribute DataCite does not know, as a caller's hand-edit would add)."""
    attributes = publication_metadata(KNOWN)
    assert _schema_errors(attributes) == []
    tampered = copy.deepcopy(attributes)
    tampered["creators"][0]["orcid"] = CARBERRY
    assert _schema_errors(tampered) != []


def test_the_schema_verdict_is_kept_by_the_whole_record() -> None:
    """The schema's verdict (6 ms a record) is kept for a record asked again, each caller
    gets attributes of its own, and a record the schema refuses is refused every time,
    however close to a valid one kept before it."""
    from gateway.doi import metadata

    first = publication_metadata(KNOWN)
    hits = metadata._schema_problems.cache_info().hits
    first["titles"][0]["title"] = "changed by a caller"
    again = publication_metadata(KNOWN)
    assert metadata._schema_problems.cache_info().hits == hits + 1
    assert again["titles"][0]["title"] == "Structure of lysozyme at 100 K"
    wrong = replace(KNOWN, related=(RelatedIdentifier("10.15151/esrf-dc-1", "IsFriendOf"),))
    for _ in range(2):
        with pytest.raises(InvalidMetadata, match="IsFriendOf"):
            publication_metadata(wrong)


@pytest.mark.parametrize(
    ("given_doi", "expected"),
    [
        ("10.15151/ESRF-DC-1", "10.15151/esrf-dc-1"),
        ("doi:10.15151/ESRF-DC-1", "10.15151/esrf-dc-1"),
        ("https://doi.org/10.15151/ESRF-DC-1", "10.15151/esrf-dc-1"),
        (" DOI:10.15151/x ", "10.15151/x"),
    ],
)
def test_dois_are_normalised(given_doi: str, expected: str) -> None:
    assert normalise_doi(given_doi) == expected
