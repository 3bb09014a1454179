"""The parsed-document cache: keyed by hash, bounded by bytes (gateway/gate/documents.py).

The probe kept each distinct 10 MB query resident through a cache keyed by full text, 512
of them; here the bound holds whatever the texts."""

from __future__ import annotations

from graphql import parse

from gateway.gate.documents import Documents, Entry, digest


def entry(size: int) -> Entry:
    return Entry(parse("{ __typename }"), size)


def test_the_cache_holds_no_more_than_its_budget() -> None:
    documents = Documents(budget=64_000)
    for i in range(1_000):
        documents.put(digest(f"query Q{i} {{ __typename }}"), entry(900))
        assert documents.held <= documents.budget
    assert len(documents) == 64_000 // 900
    # The most recent are kept, the oldest dropped.
    assert documents.get(digest("query Q999 { __typename }")) is not None
    assert documents.get(digest("query Q0 { __typename }")) is None


def test_a_document_too_big_for_its_share_is_never_kept() -> None:
    documents = Documents(budget=64_000)
    documents.put(digest("small"), entry(500))
    documents.put(digest("big"), entry(1_001))  # over a 64th of the budget
    assert documents.get(digest("big")) is None
    assert documents.get(digest("small")) is not None and documents.held == 500


def test_keys_are_hashes_not_texts() -> None:
    text = "{ __typename }" + " " * 100_000
    key = digest(text)
    assert isinstance(key, bytes) and len(key) == 32
    assert digest(text) == key and digest(text + " ") != key
