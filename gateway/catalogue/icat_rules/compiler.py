"""A parsed rule (``language.Query``) as an SQL condition on the rows of its entity.

A rule with no joins is a condition on the row itself (``o.releaseDate < now``); a rule
with joins is ``EXISTS (SELECT 1 FROM <the joined tables> WHERE <their joins> AND <the
rule's condition>)`` correlated with the row, which every database runs as a semi-join:
the row is readable when the query icat.server would run for it (``... AND o.id =
:pkid``, counted) finds one. A path through many-to-one fields in the condition
(``o.investigation.releaseDate``) joins them as JPQL's implicit joins do.

``:user`` and ``CURRENT_TIMESTAMP`` are given as SQL (a value, or an operation plan's bind
parameter); texts compare exactly, code point by code point, as icat.server's do on a
binary collation (``gateway.catalogue.sql_text``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    exists,
    false,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)

from gateway.catalogue.icat_rules.language import (
    And,
    Compare,
    Condition,
    In,
    IsNull,
    Like,
    Literal,
    Not,
    Now,
    Operand,
    Or,
    Path,
    Query,
    Untranslatable,
    User,
    aliases_of,
)
from gateway.catalogue.icat_rules.relationships import Step, attribute, entities, step
from gateway.catalogue.row_filter import semi_join
from gateway.catalogue.sql_text import same_name

Filter = Callable[[Any, Any, Any], ColumnElement[bool]]
"""``filter(row_model, user_name, now)``: the rule's condition on ``row_model``'s rows."""


@dataclass
class _Scope:
    """The aliases of one compilation: the row (its model) and the joined tables."""

    entities: dict[str, str]
    tables: dict[str, Any]
    joined: list[Any]
    conditions: list[ColumnElement[bool]]


def check(query: Query) -> None:
    """Raise :class:`Untranslatable` now, at start-up, for a rule that would fail later."""
    compile_query(query)(entities()[query.entity], literal("u", String()), datetime(2000, 1, 1))


def compile_query(query: Query) -> Filter:
    """The rule as a function of the row's model, the user name and the instant."""
    if query.unrestricted:
        return lambda model, user, now: true()

    by_key = _by_key(query)

    def build(model: Any, user: Any, now: Any) -> ColumnElement[bool]:
        scope = _Scope({query.root_alias: query.entity}, {query.root_alias: model}, [], [])
        for join in query.joins:
            _join(scope, join.alias, join.source, join.field)
        _grants_in_force(scope, query.root_alias, now)
        condition = true() if query.where is None else _condition(query.where, scope, user, now)
        if not scope.joined:
            return condition
        joined = [table.alias for table in scope.joined]
        inner = (
            select(literal(1))
            .select_from(*joined)
            .where(*scope.conditions, condition)
            .correlate_except(*joined)
        )
        if by_key is None:
            return exists(inner)
        # The first join's condition (the only one on the row): the row's id is one of
        # the first joined table's keys the rest of the rule selects.
        key = _attr(scope.joined[0], by_key.join.right_column)
        keys = (
            select(key)
            .select_from(*joined)
            .where(*scope.conditions[1:], condition, key.is_not(None))
            .correlate_except(*joined)
        )
        return semi_join(exists(inner), _attr(model, "id").in_(keys))

    return build


def first_hop(query: Query) -> Step | None:
    """The step of the rule's first join, where the rule reads nothing else of its own
    row (``SELECT o FROM E o JOIN o.field AS x <joins from x> WHERE <nothing of o>``):
    the rule is then a test of what that step reaches. None for any other rule."""
    if not query.joins:
        return None
    first, *rest = query.joins
    root = query.root_alias
    if first.source != root or any(j.source == root for j in rest):
        return None
    if query.where is not None and root in aliases_of(query.where):
        return None
    return step(query.entity, first.field)


def _by_key(query: Query) -> Step | None:
    """The rule's first join (:func:`first_hop`), where it is a one-to-many field
    (``SELECT o FROM Investigation o JOIN o.investigationUsers AS iu ... WHERE <nothing
    of o>``): the rule is then also ``o.id IN (<the keys the rest selects>)``, a set the
    database can build once per statement (``row_filter.semi_join``). None for any other
    rule."""
    hop = first_hop(query)
    return hop if hop is not None and hop.many and hop.join.left_column == "id" else None


def _grants_in_force(scope: _Scope, root: str, now: Any) -> None:
    """A team row the rule joins counts only while the gateway's grant is in force
    (``visibility.grant_in_force``): icat.server knows no expiry, the gateway ends the
    grants it made with one. The rule's own rows (a rule on InvestigationUser) are not
    filtered: an expired member is still listed, as the team shows them."""
    from gateway.catalogue.visibility import grant_in_force  # it imports the rule set

    for alias, entity in scope.entities.items():
        if entity == "InvestigationUser" and alias != root:
            scope.conditions.append(grant_in_force(_attr(scope.tables[alias], "id"), now))


def _join(scope: _Scope, alias: str, source: str, field: str) -> None:
    relationship = step(scope.entities[source], field)
    if relationship is None:
        raise Untranslatable(f"{scope.entities[source]} has no relationship {field}")
    target = entities()[relationship.target]
    table = _Aliased(target, _alias(target.__table__, f"r_{alias}"))
    origin = scope.tables[source]
    join = relationship.join
    scope.conditions.append(_attr(origin, join.left_column) == _attr(table, join.right_column))
    scope.entities[alias] = relationship.target
    scope.tables[alias] = table
    scope.joined.append(table)


def _column(path: Path, scope: _Scope) -> Any:
    if path.alias not in scope.entities:
        raise Untranslatable(f"no alias {path.alias}")
    alias = path.alias
    *through, last = path.fields
    for index, field in enumerate(through):
        implicit = f"{alias}__{'_'.join(path.fields[: index + 1])}"
        if implicit not in scope.entities:
            relationship = step(scope.entities[alias], field)
            if relationship is None or relationship.many:
                raise Untranslatable(f"{scope.entities[alias]}.{field} is not a reference")
            _join(scope, implicit, alias, field)
        alias = implicit
    key = attribute(scope.entities[alias], last)
    if key is None:
        raise Untranslatable(f"{scope.entities[alias]} has no attribute {last}")
    return _attr(scope.tables[alias], key)


@cache
def _alias(table: Any, name: str) -> Any:
    """A Core alias of a table, made once: its columns' proxies are what costs (an ORM
    alias far more), and the filters are built per request. Aliases are immutable, so
    sibling subqueries may share one."""
    return table.alias(name)


@cache
def _columns(model: Any) -> dict[str, str]:
    """A model's attribute names -> its table's column keys."""
    return {attr.key: attr.columns[0].key for attr in model.__mapper__.column_attrs}


@dataclass(frozen=True)
class _Aliased:
    """A table joined by a rule: its model (for attribute names) and its alias."""

    model: Any
    alias: Any


def _attr(table: Any, key: str) -> Any:
    """A column of the row's model (an ORM attribute) or of a joined alias, by the
    model's attribute name."""
    if isinstance(table, _Aliased):
        return table.alias.c[_columns(table.model)[key]]
    return getattr(table, key)


def _value(operand: Operand, scope: _Scope, user: Any, now: Any) -> Any:
    if isinstance(operand, Path):
        return _column(operand, scope)
    if isinstance(operand, User):
        return user
    if isinstance(operand, Now):
        return now
    if operand.value is None:
        return null()
    return operand.value


def _is_text(operand: Operand) -> bool:
    return isinstance(operand, User) or (
        isinstance(operand, Literal) and isinstance(operand.value, str)
    )


def _equal(left: Operand, right: Operand, scope: _Scope, user: Any, now: Any) -> Any:
    a, b = _value(left, scope, user, now), _value(right, scope, user, now)
    if isinstance(left, Path) and _is_text(right):
        return same_name(a, b)
    if isinstance(right, Path) and _is_text(left):
        return same_name(b, a)
    if isinstance(a, bool):
        a, b = b, a
    if isinstance(b, bool):
        return a.is_(true()) if b else a.is_(false())
    return a == b


def _condition(node: Condition, scope: _Scope, user: Any, now: Any) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(*(_condition(part, scope, user, now) for part in node.parts))
    if isinstance(node, Or):
        return or_(*(_condition(part, scope, user, now) for part in node.parts))
    if isinstance(node, Not):
        return not_(_condition(node.part, scope, user, now))
    if isinstance(node, IsNull):
        value = _value(node.operand, scope, user, now)
        is_null: ColumnElement[bool] = value.is_not(None) if node.negated else value.is_(None)
        return is_null
    if isinstance(node, In):
        options = or_(*(_equal(node.operand, v, scope, user, now) for v in node.values))
        return not_(options) if node.negated else options
    if isinstance(node, Like):
        value = _value(node.operand, scope, user, now)
        matched: ColumnElement[bool] = value.like(_value(node.pattern, scope, user, now))
        return not_(matched) if node.negated else matched
    assert isinstance(node, Compare)
    if node.op == "=":
        equal: ColumnElement[bool] = _equal(node.left, node.right, scope, user, now)
        return equal
    if node.op == "<>":
        differs: ColumnElement[bool] = not_(_equal(node.left, node.right, scope, user, now))
        return differs
    left = _value(node.left, scope, user, now)
    right = _value(node.right, scope, user, now)
    if not hasattr(left, "compile"):
        left = literal(left)
    comparisons = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    compared: ColumnElement[bool] = comparisons[node.op](left, right)
    return compared
