"""``IndexedSource`` locates every position exactly as graphql-core's ``Source`` does,
whatever mix of line breaks the text has (``\\n``, ``\\r\\n``, a lone ``\\r``)."""

from __future__ import annotations

from graphql import GraphQLError, Source, parse
from hypothesis import given
from hypothesis import strategies as st

from gateway.schema.sources import IndexedSource

pieces = st.sampled_from(["a", " ", "{", "\n", "\r", "\r\n", "é"])
texts = st.lists(pieces, max_size=200).map("".join)


@given(texts)
def test_every_position_is_where_graphql_core_puts_it(body: str) -> None:
    plain, indexed = Source(body), IndexedSource(body)
    for position in range(len(body) + 2):
        assert indexed.get_location(position) == plain.get_location(position), position


def test_an_error_in_a_document_is_located_the_same() -> None:
    body = "{\r\n  a\n  b(x: 1)\r  c {\n d } }"
    for source in (Source(body), IndexedSource(body)):
        document = parse(source)
        selections = document.definitions[0].selection_set.selections  # type: ignore[attr-defined]
        error = GraphQLError("here", nodes=[selections[2]])
        assert [tuple(location) for location in error.locations or []] == [(4, 3)]
