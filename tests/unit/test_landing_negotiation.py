"""Content negotiation of DOI landing URLs (``gateway.landing.negotiation``)."""

from __future__ import annotations

import pytest

from gateway.landing.negotiation import (
    BIBLIOGRAPHY,
    BIBTEX,
    DATACITE_JSON,
    HTML,
    JSON_LD,
    RIS,
    Choice,
    choose,
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, Choice(HTML)),
        ("", Choice(HTML)),
        ("*/*", Choice(HTML)),
        ("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", Choice(HTML)),
        ("application/x-bibtex", Choice(BIBTEX)),
        ("application/vnd.datacite.datacite+json", Choice(DATACITE_JSON)),
        ("application/ld+json, text/html;q=0.5", Choice(JSON_LD)),
        ("text/html;q=0.5, application/x-research-info-systems", Choice(RIS)),
        ("text/x-bibliography; style=ieee; locale=de-DE", Choice(BIBLIOGRAPHY, "ieee", "de-DE")),
        ('text/x-bibliography; style="apa"', Choice(BIBLIOGRAPHY, "apa")),
        ("application/x-bibtex;q=0, application/*", Choice(DATACITE_JSON)),
        ("image/png", None),
        ("application/x-bibtex;q=nonsense", None),
    ],
)
def test_accept_headers(accept: str | None, expected: Choice | None) -> None:
    assert choose(accept, {}) == expected


def test_format_parameter_wins_over_accept() -> None:
    assert choose("text/html", {"format": "bibtex"}) == Choice(BIBTEX)
    assert choose(None, {"format": "citation", "style": "ieee"}) == Choice(BIBLIOGRAPHY, "ieee")
    assert choose("text/html", {"format": "pdf"}) is None
