"""The gate's limits on documents and variables, without a server (gateway/gate/limits.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from graphql import (
    OperationDefinitionNode,
    Source,
    TokenKind,
    get_introspection_query,
    parse,
)
from graphql.execution.values import VariableValues, get_variable_values
from graphql.language.lexer import Lexer

from gateway.gate.limits import LimitExceeded, Limits, check_static, check_tokens, cost_of
from gateway.schema.build import create_schema
from gateway.settings import Settings

SCHEMA = create_schema()._schema
LIMITS = Limits.of(Settings())


def operation_of(query: str) -> tuple[Any, OperationDefinitionNode]:
    document = parse(query)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return document, operations[0]


def static(query: str, limits: Limits = LIMITS) -> None:
    check_static(limits, *operation_of(query))


def cost(query: str, variables: dict[str, Any] | None = None, limits: Limits = LIMITS) -> int:
    document, operation = operation_of(query)
    coerced = VariableValues({}, {})
    if operation.variable_definitions:
        found = get_variable_values(SCHEMA, operation.variable_definitions, variables or {})
        assert isinstance(found, VariableValues), found
        coerced = found
    return cost_of(limits, SCHEMA, document, operation, coerced)


def code_of(call: Any, *arguments: Any, **options: Any) -> str:
    with pytest.raises(LimitExceeded) as refused:
        call(*arguments, **options)
    return refused.value.code


def test_the_standard_introspection_query_passes_and_deeper_introspection_does_not() -> None:
    static(get_introspection_query(descriptions=True, input_value_deprecation=True))
    deeper = "{ __schema { types { fields { type " + "{ ofType " * 11 + "{ name }" + " }" * 11
    assert code_of(static, deeper + " } } } }") == "QUERY_TOO_DEEP"


def test_depth_counts_through_fragments_and_stops_at_cycles() -> None:
    five = "datasets(first: 1) { nodes { investigation { facility { id } } } }"
    fragment = f"fragment F on Investigation {{ {five} }}"
    static(f"{{ investigations {{ nodes {{ ...F }} }} }} {fragment}")  # 7 levels
    inner = "investigation { datasets(first: 1) { nodes { investigation { ...F } } } }"
    deep = f"{{ investigations {{ nodes {{ datasets {{ nodes {{ {inner} }} }} }} }} }}"
    assert code_of(static, f"{deep} {fragment}") == "QUERY_TOO_DEEP"
    cycle = "fragment A on Investigation { datasets { nodes { investigation { ...A } } } }"
    static(f"{{ investigations {{ nodes {{ ...A }} }} }} {cycle}")  # validation refuses it


def test_aliases_directives_and_root_fields() -> None:
    fifteen = " ".join(f"a{i}: __typename" for i in range(15))
    static(f"{{ investigations {{ nodes {{ {fifteen} }} }} }}")
    assert code_of(static, f"{{ x: __typename investigations {{ nodes {{ {fifteen} }} }} }}") == (
        "TOO_MANY_ALIASES"
    )
    four = "@include(if: true) " * 4
    static(f"{{ investigations {four} {{ totalCount }} }}")
    assert code_of(static, f"{{ investigations {four} @skip(if: false) {{ totalCount }} }}") == (
        "TOO_MANY_DIRECTIVES"
    )
    spread = (
        f"{{ ...R }} fragment R on Query {{ {' '.join(f'r{i}: __typename' for i in range(11))} }}"
    )
    assert code_of(static, spread) == "TOO_MANY_ROOT_FIELDS"


def test_cost_multiplies_page_sizes_down_the_tree() -> None:
    assert cost("{ investigations(first: 1000) { nodes { title } } }") == 1 + 1000
    # The default page (50) when none is given, and a count costs a statement.
    assert cost("{ investigations { totalCount nodes { title } } }") == 1 + 1 + 50
    nested = "{ investigations(first: 100) { nodes { datasets(first: 100) { nodes { name } } } } }"
    assert cost(nested) == 1 + 100 * (1 + 1 + 100)
    # A plain list counts ``assumed_list_size`` items.
    listed = "{ investigations(first: 10) { nodes { instruments { facility { name } } } } }"
    assert cost(listed) == 1 + 10 * (1 + 10 * (1 + 1))
    # Federation's references: one object each, however many (capped by _entities).
    references = ", ".join(f'{{__typename: "Facility", id: "{i}"}}' for i in range(300))
    entities = f"{{ _entities(representations: [{references}]) {{ __typename }} }}"
    assert cost(entities) == 300
    variables = "query($n: Int) { investigations(first: $n) { nodes { title } } }"
    assert cost(variables, {"n": 7}) == 8


def test_a_cost_bomb_is_refused_and_its_cost_reported() -> None:
    bomb = (
        "{ investigations(first: 1000) { nodes { datasets(first: 1000) { nodes {"
        " datafiles(first: 1000) { nodes { name } } } } } } }"
    )
    with pytest.raises(LimitExceeded) as refused:
        cost(bomb)
    assert refused.value.code == "QUERY_TOO_COSTLY"
    assert refused.value.details["limit"] == LIMITS.max_cost
    assert refused.value.details["found"] > LIMITS.max_cost
    roomy = replace(LIMITS, max_cost=10**12)
    assert cost(bomb, limits=roomy) == 1 + 1000 * (1 + 1 + 1000 * (1 + 1 + 1000))


def test_pages_and_lists_are_capped_wherever_they_are_given() -> None:
    query = "query($n: Int) { me { investigations(first: $n) { totalCount } } }"
    cost(query, {"n": LIMITS.max_page_size})
    assert code_of(cost, query, {"n": LIMITS.max_page_size + 1}) == "PAGE_TOO_LARGE"
    # The lists that grow: a session's team and reviewer links, a beamline's scientists,
    # a DOI's versions.
    for nested in (
        "investigations(first: 1) { nodes { team(first: $n) { totalCount } } }",
        "investigations(first: 1) { nodes { reviewerLinks(first: $n) { totalCount } } }",
        "instruments(first: 1) { nodes { scientists(first: $n) { totalCount } } }",
        "dataPublications(first: 1) { nodes { versions(first: $n) { totalCount } } }",
    ):
        query = f"query($n: Int) {{ {nested} }}"
        cost(query, {"n": LIMITS.max_page_size})
        assert code_of(cost, query, {"n": LIMITS.max_page_size + 1}) == "PAGE_TOO_LARGE"
    ranges = "query($p: [ParameterRange!]) { datasets(filter: {parameters: $p}) { totalCount } }"
    given = [{"name": f"p{i}"} for i in range(LIMITS.max_input_list_length)]
    cost(ranges, {"p": given})
    assert code_of(cost, ranges, {"p": [*given, {"name": "one more"}]}) == "LIST_TOO_LONG"
    literal = ", ".join(f'{{name: "p{i}"}}' for i in range(21))
    assert code_of(
        cost, f"{{ datasets(filter: {{parameters: [{literal}]}}) {{ totalCount }} }}"
    ) == ("LIST_TOO_LONG")


@pytest.mark.parametrize(
    "document",
    [
        get_introspection_query(descriptions=True),
        '{ a(x: "s#t\\"r", y: -1.5e+10, z: [1, 2], b: """blo\\"""ck # x""") @d ...F } # {{{\n'
        "fragment F on Q { ... on R { c } }",
        "{ " + " ".join(f"a{i}: investigations {{ totalCount }}" for i in range(50)) + " }",
    ],
)
def test_tokens_are_counted_as_the_lexer_counts_them(document: str) -> None:
    """The count before parsing agrees with graphql-core's lexer: it refuses exactly
    the documents the parser's own limit would."""
    lexer = Lexer(Source(document))
    tokens = 0
    while lexer.advance().kind != TokenKind.EOF:
        tokens += 1
    check_tokens(document, tokens)
    assert code_of(check_tokens, document, tokens - 1) == "TOO_MANY_TOKENS"


def fan_out(levels: int, leaf: str = "__typename", on: str = "Query") -> str:
    """Fragment ``Fk`` spreads ``F(k+1)`` twice: 2^levels copies of the leaf, in a few
    dozen bytes per level (the probe's worker-freezing document)."""
    fragments = " ".join(
        f"fragment F{k} on {on} {{ ...F{k + 1} ...F{k + 1} }}" for k in range(levels)
    )
    return f"query {{ ...F0 }} {fragments} fragment F{levels} on {on} {{ {leaf} }}"


@pytest.mark.timeout(10)
def test_a_fragment_fan_out_is_refused_by_its_expanded_size_without_expanding_it() -> None:
    # Expanded, 60 levels would be 2^60 fields: the check must count, never expand.
    assert code_of(static, fan_out(60)) == "TOO_MANY_SELECTIONS"
    # Under the bound it passes: 2^12 = 4,096 fields.
    static(fan_out(12))
    narrow = replace(LIMITS, max_selections=100)
    assert code_of(static, fan_out(12), limits=narrow) == "TOO_MANY_SELECTIONS"


@pytest.mark.timeout(10)
def test_depth_and_root_fields_of_a_fan_out_are_counted_once_per_fragment() -> None:
    unbounded = replace(LIMITS, max_selections=10**30)
    static(fan_out(60), limits=unbounded)  # passes: one root field, depth 1
    deep = fan_out(60, leaf=selection_nested(13), on="Query")
    assert code_of(static, deep, limits=unbounded) == "QUERY_TOO_DEEP"


@pytest.mark.timeout(10)
def test_the_cost_of_a_fan_out_is_computed_once_per_fragment() -> None:
    # The cost check alone (the static check would refuse it first): the fragment's
    # cost is counted once and multiplied, never walked 2^60 times.
    assert cost(fan_out(60)) == 0
    assert code_of(cost, fan_out(60, leaf="investigations { totalCount }")) == "QUERY_TOO_COSTLY"


def selection_nested(levels: int) -> str:
    query = "id"
    for _ in range(levels - 1):
        query = f"investigation(id: 1) {{ {query} }}"
    return query


def test_parameter_ranges_are_charged_for_each() -> None:
    """Each range of a dataset filter is a condition over the parameters of its type: the
    cost counts each, so that a page with many ranges costs more than one without."""
    query = "query($p: [ParameterRange!]) { datasets(filter: {parameters: $p}) { totalCount } }"
    ranges = [{"name": f"p{i}", "min": 0, "max": 1} for i in range(10)]
    none, one, ten = (cost(query, {"p": ranges[:n]}) for n in (0, 1, 10))
    assert ten - none == 10 * (one - none) > 0
    literal = '{ datasets(filter: {parameters: [{name: "a"}, {name: "b"}]}) { totalCount } }'
    assert cost(literal) - cost("{ datasets { totalCount } }") == 2 * (one - none)
