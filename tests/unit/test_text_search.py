"""Free text's words (gateway.catalogue.search_documents.words, text_search.search_terms)."""

from __future__ import annotations

import pytest

from gateway.catalogue.search_documents import words
from gateway.catalogue.text_search import search_terms
from gateway.errors import BadUserInput


def test_documents_and_searches_split_words_alike() -> None:
    assert words("MX-2345 ID30A-1", "10.15151/ESRF-ES-12", None) == (
        "mx 2345 id30a 1 10 15151 esrf es 12"
    )
    assert words("Protein_structures, ångström!") == "protein structures ångström"
    assert search_terms("  MX-2345  mx ").words == ("mx", "2345")


@pytest.mark.parametrize("text", ["", "  -- !! ", "x" * 201, " ".join(f"w{n}" for n in range(17))])
def test_empty_long_or_wordy_texts_are_refused(text: str) -> None:
    with pytest.raises(BadUserInput):
        search_terms(text)
