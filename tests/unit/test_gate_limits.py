"""The gate's limits on documents and variables, without a server (gateway/gate/limits.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from graphql import (
    OperationDefinitionNode,
    get_introspection_query,
    parse,
)
from graphql.execution.values import VariableValues, get_variable_values

from gateway.gate.limits import LimitExceeded, Limits, check_static, cost_of
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
    assert cost("{ investigations { totalCount nodes { title } } }") == 1 + 50 * 2
    nested = "{ investigations(first: 100) { nodes { datasets(first: 100) { nodes { name } } } } }"
    assert cost(nested) == 1 + 100 * (1 + 1 + 100)
    # A plain list counts ``assumed_list_size`` items.
    assert cost("{ investigations(first: 10) { nodes { team { user { name } } } } }") == (
        1 + 10 * (1 + 1 + 10 * 1)
    )
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
    ranges = "query($p: [ParameterRange!]) { datasets(filter: {parameters: $p}) { totalCount } }"
    given = [{"name": f"p{i}"} for i in range(LIMITS.max_input_list_length)]
    cost(ranges, {"p": given})
    assert code_of(cost, ranges, {"p": [*given, {"name": "one more"}]}) == "LIST_TOO_LONG"
    literal = ", ".join(f'{{name: "p{i}"}}' for i in range(21))
    assert code_of(
        cost, f"{{ datasets(filter: {{parameters: [{literal}]}}) {{ totalCount }} }}"
    ) == ("LIST_TOO_LONG")
