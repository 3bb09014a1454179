"""A DOI's citations and JSON-LD from its DataCite metadata (``gateway.doi.renderings``),
each read back by an independent reader."""

from __future__ import annotations

from typing import Any

import pytest
import rispy
from bibtexparser.entrypoint import parse_string
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors

from gateway.doi import metadata, renderings
from gateway.errors import BadUserInput

DOI = "10.15151/esrf-dc-42"


@pytest.fixture(scope="module")
def attributes() -> dict[str, Any]:
    record = metadata.DoiRecord(
        doi=DOI,
        title="Structures at 100 K: {braces} & Ångström",
        creators=(
            metadata.Creator(
                given_name="Ada",
                family_name="Lovelace",
                orcid="0000-0002-1825-0097",
                affiliations=(metadata.Affiliation("ESRF", "02550n020"),),
            ),
            metadata.Creator(full_name="Zoë Ñúñez"),
            metadata.Creator(full_name="ESRF and Partners", organisation=True),
        ),
        publisher=metadata.Publisher("ESRF"),
        publication_year=2026,
        abstract="What the data show.",
        subjects=(metadata.Subject("proteins"),),
        rights=(metadata.licence_of_spdx("CC-BY-4.0"),),
    )
    return metadata.publication_metadata(record, sessions=["10.15151/ESRF-ES-1"])


def test_bibtex_reads_back(attributes: dict[str, Any]) -> None:
    text = renderings.bibtex(DOI, attributes)
    decoded = parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    assert not decoded.failed_blocks
    (entry,) = decoded.entries
    assert entry.entry_type == "misc" and entry.fields_dict["doi"].value == DOI
    assert entry.fields_dict["title"].value == "Structures at 100 K: {braces} & Ångström"
    assert entry.fields_dict["author"].value.startswith("Lovelace, Ada and Zoë Ñúñez")
    # The organisation stays one name (braced: "and" inside does not split it).
    (split,) = parse_string(text, append_middleware=[SeparateCoAuthors()]).entries
    names = split.fields_dict["author"].value
    assert len(names) == 3 and names[2] == "{ESRF and Partners}"


def test_ris_reads_back(attributes: dict[str, Any]) -> None:
    (record,) = rispy.loads(renderings.ris(DOI, attributes))
    assert record["type_of_reference"] == "DATA" and record["doi"] == DOI
    assert record["authors"] == ["Lovelace, Ada", "Zoë Ñúñez", "ESRF and Partners"]
    assert record["keywords"] == ["proteins"]


def test_csl_styles(attributes: dict[str, Any]) -> None:
    apa = renderings.formatted_citation(DOI, attributes)
    assert apa.startswith("Lovelace, A., Zoë Ñúñez, & ESRF and Partners. (2026).")
    assert apa.endswith(f"https://doi.org/{DOI}")
    assert renderings.formatted_citation(DOI, attributes, "ieee").startswith("[1]")
    for style in ("no-such-style", "../../etc/passwd"):
        with pytest.raises(BadUserInput):
            renderings.formatted_citation(DOI, attributes, style)
    with pytest.raises(BadUserInput):
        renderings.formatted_citation(DOI, attributes, "apa", "english")


def test_formatted_citations_are_kept_by_what_they_say(attributes: dict[str, Any]) -> None:
    """citeproc-py takes tens of milliseconds an entry: a citation asked again is the kept
    one, and any change of the metadata (not only of the DOI) is formatted anew."""
    first = renderings.formatted_citation(DOI, attributes)
    hits = renderings._formatted.cache_info().hits
    assert renderings.formatted_citation(DOI, attributes) == first
    assert renderings._formatted.cache_info().hits == hits + 1
    retitled = {**attributes, "titles": [{"title": "Another title"}]}
    again = renderings.formatted_citation(DOI, retitled)
    assert "Another title" in again and "Structures" not in again
    assert renderings.formatted_citation(DOI, attributes, "ieee") != first


def test_schema_org_dataset(attributes: dict[str, Any]) -> None:
    document = renderings.schema_org(DOI, attributes, description="d", keywords=["k"])
    assert document["@type"] == "Dataset" and document["name"].startswith("Structures")
    assert document["creator"][0] == {
        "@type": "Person",
        "name": "Lovelace, Ada",
        "familyName": "Lovelace",
        "givenName": "Ada",
        "@id": "https://orcid.org/0000-0002-1825-0097",
        "identifier": "https://orcid.org/0000-0002-1825-0097",
        "affiliation": [
            {"@type": "Organization", "name": "ESRF", "@id": "https://ror.org/02550n020"}
        ],
    }
    assert document["creator"][2]["@type"] == "Organization"
    assert document["license"] == "https://creativecommons.org/licenses/by/4.0/legalcode"
    assert document["isPartOf"] == ["https://doi.org/10.15151/esrf-es-1"]
