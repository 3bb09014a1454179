"""The WHAT of an ICAT rule, parsed: the three forms icat.server accepts.

- a bare entity name (``Investigation``): every row;
- the old form, entities joined by ``<->`` with conditions in brackets
  (``Grouping <-> UserGroup <-> User [name=:user]``): the rows of the first entity related,
  step by step, to rows of the next that meet their conditions;
- JPQL (``SELECT o FROM Dataset o JOIN o.investigation AS i ... WHERE s4.name = :user AND
  s1.role = 'writer'``): the rows the query selects.

Each parses to one :class:`Query`: a root entity, its joins (alias, the alias they start
from, the relationship's field) and a condition over the aliases' attributes. Only what
rules use is accepted (comparisons, ``IS [NOT] NULL``, ``[NOT] IN``, ``[NOT] LIKE``,
``AND``/``OR``/``NOT``, ``:user``, ``CURRENT_TIMESTAMP``, literals); anything else raises
:class:`Untranslatable`, and the rule denies (``ruleset``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from gateway.catalogue.icat_rules.relationships import entities, step, steps_between


class Untranslatable(ValueError):
    """A rule the compiler cannot translate: it denies, and is reported at start-up."""


@dataclass(frozen=True)
class Path:
    """``alias.f1.f2``: an attribute of an alias, or through its many-to-one fields."""

    alias: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class User:
    """``:user``, the caller's ICAT user name."""


@dataclass(frozen=True)
class Now:
    """``CURRENT_TIMESTAMP``: the request's instant."""


@dataclass(frozen=True)
class Literal:
    value: str | int | float | bool | datetime | None


Operand = Path | User | Now | Literal


@dataclass(frozen=True)
class Compare:
    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class IsNull:
    operand: Operand
    negated: bool


@dataclass(frozen=True)
class In:
    operand: Operand
    values: tuple[Operand, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    operand: Operand
    pattern: Operand
    negated: bool


@dataclass(frozen=True)
class And:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = Compare | IsNull | In | Like | And | Or | Not


def aliases_of(condition: Condition) -> set[str]:
    """The aliases whose paths a condition reads."""
    if isinstance(condition, And | Or):
        return set().union(*(aliases_of(part) for part in condition.parts))
    if isinstance(condition, Not):
        return aliases_of(condition.part)
    if isinstance(condition, IsNull):
        operands: tuple[Operand, ...] = (condition.operand,)
    elif isinstance(condition, In):
        operands = (condition.operand, *condition.values)
    elif isinstance(condition, Like):
        operands = (condition.operand, condition.pattern)
    else:
        operands = (condition.left, condition.right)
    return {operand.alias for operand in operands if isinstance(operand, Path)}


@dataclass(frozen=True)
class JoinStep:
    alias: str
    source: str
    field: str


@dataclass(frozen=True)
class Query:
    """``SELECT root_alias FROM entity root_alias JOIN ... WHERE where``."""

    entity: str
    root_alias: str
    joins: tuple[JoinStep, ...]
    where: Condition | None

    @property
    def unrestricted(self) -> bool:
        """Every row of the entity (icat.server's "null restriction")."""
        return not self.joins and self.where is None


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<ts>\{\s*ts\s+\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}:\d{2}\s*\})
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<param>:[A-Za-z_]\w*)
  | (?P<arrow><->)
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[(),\[\]])
  | (?P<name>[A-Za-z_][\w.]*)
    )""",
    re.VERBOSE,
)


def tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise Untranslatable(f"cannot read {text[position : position + 20]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


_KEYWORDS = {
    "SELECT", "DISTINCT", "FROM", "JOIN", "INNER", "LEFT", "OUTER", "FETCH", "AS", "WHERE",
    "AND", "OR", "NOT", "IS", "NULL", "IN", "LIKE", "TRUE", "FALSE", "CURRENT_TIMESTAMP",
}  # fmt: skip


class _Reader:
    def __init__(self, text: str) -> None:
        self.items = tokens(text)
        self.at = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.at + offset
        return self.items[index] if index < len(self.items) else None

    def keyword(self, *words: str) -> bool:
        """Consume the keyword if it comes next."""
        item = self.peek()
        if item is not None and item[0] == "name" and item[1].upper() in words:
            self.at += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise Untranslatable(f"expected {word} at {self.peek()}")

    def punct(self, char: str) -> bool:
        item = self.peek()
        if item == ("punct", char):
            self.at += 1
            return True
        return False

    def name(self) -> str:
        item = self.peek()
        if item is None or item[0] != "name" or item[1].upper() in _KEYWORDS:
            raise Untranslatable(f"expected a name at {item}")
        self.at += 1
        return item[1]

    def done(self) -> bool:
        return self.at >= len(self.items)


def parse(what: str) -> Query:
    """A rule's WHAT as a query; :class:`Untranslatable` when it is none of the forms."""
    text = what.strip()
    if re.match(r"(?i)select\s", text):
        return _jpql(_Reader(text))
    return _old(_Reader(text))


# JPQL ---------------------------------------------------------------------------------


def _jpql(reader: _Reader) -> Query:
    reader.expect_keyword("SELECT")
    reader.keyword("DISTINCT")
    selected = reader.name()
    reader.expect_keyword("FROM")
    entity = reader.name()
    if entity not in entities():
        raise Untranslatable(f"no entity {entity}")
    reader.keyword("AS")
    root = reader.name()
    if selected != root:
        raise Untranslatable(f"selects {selected}, not the rows of {root}")
    aliases = {root: entity}
    joins: list[JoinStep] = []
    while True:
        if reader.keyword("LEFT"):
            raise Untranslatable("LEFT JOIN")
        reader.keyword("INNER")
        if not reader.keyword("JOIN"):
            break
        if reader.keyword("FETCH"):
            raise Untranslatable("JOIN FETCH")
        path = reader.name()
        reader.keyword("AS")
        alias = reader.name()
        source, *fields = path.split(".")
        if source not in aliases or len(fields) != 1:
            raise Untranslatable(f"join {path}")
        found = step(aliases[source], fields[0])
        if found is None:
            raise Untranslatable(f"{aliases[source]} has no relationship {fields[0]}")
        aliases[alias] = found.target
        joins.append(JoinStep(alias, source, fields[0]))
    where = None
    if reader.keyword("WHERE"):
        where = _condition(reader, None)
    if not reader.done():
        raise Untranslatable(f"unexpected {reader.peek()}")
    return Query(entity, root, tuple(joins), where)


# The old form -------------------------------------------------------------------------


def _old(reader: _Reader) -> Query:
    conditions: list[Condition] = []
    joins: list[JoinStep] = []
    entity = reader.name()
    if entity not in entities():
        raise Untranslatable(f"no entity {entity}")
    alias, current = "o", entity
    while True:
        if reader.punct("["):
            conditions.append(_condition(reader, alias))
            if not reader.punct("]"):
                raise Untranslatable("expected ]")
        if reader.done():
            break
        if reader.peek() != ("arrow", "<->"):
            raise Untranslatable(f"unexpected {reader.peek()}")
        reader.at += 1
        following = reader.name()
        candidates = steps_between(current, following)
        if len(candidates) != 1:
            raise Untranslatable(f"{len(candidates)} relationships from {current} to {following}")
        next_alias = f"s{len(joins) + 1}"
        joins.append(JoinStep(next_alias, alias, candidates[0].field))
        alias, current = next_alias, following
    where: Condition | None = None
    if len(conditions) == 1:
        where = conditions[0]
    elif conditions:
        where = And(tuple(conditions))
    return Query(entity, "o", tuple(joins), where)


# Conditions ---------------------------------------------------------------------------


def _condition(reader: _Reader, bare: str | None) -> Condition:
    """``bare``: the alias of unqualified names (the old form's brackets), else None."""
    parts = [_conjunction(reader, bare)]
    while reader.keyword("OR"):
        parts.append(_conjunction(reader, bare))
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def _conjunction(reader: _Reader, bare: str | None) -> Condition:
    parts = [_negation(reader, bare)]
    while reader.keyword("AND"):
        parts.append(_negation(reader, bare))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _negation(reader: _Reader, bare: str | None) -> Condition:
    if reader.keyword("NOT"):
        return Not(_negation(reader, bare))
    if reader.peek() == ("punct", "("):
        reader.at += 1
        inner = _condition(reader, bare)
        if not reader.punct(")"):
            raise Untranslatable("expected )")
        return inner
    return _predicate(reader, bare)


def _predicate(reader: _Reader, bare: str | None) -> Condition:
    left = _operand(reader, bare)
    if reader.keyword("IS"):
        negated = reader.keyword("NOT")
        reader.expect_keyword("NULL")
        return IsNull(left, negated)
    negated = reader.keyword("NOT")
    if reader.keyword("IN"):
        if not reader.punct("("):
            raise Untranslatable("expected ( after IN")
        values = [_operand(reader, bare)]
        while reader.punct(","):
            values.append(_operand(reader, bare))
        if not reader.punct(")"):
            raise Untranslatable("expected )")
        return In(left, tuple(values), negated)
    if reader.keyword("LIKE"):
        return Like(left, _operand(reader, bare), negated)
    if negated:
        raise Untranslatable("NOT must precede IN or LIKE here")
    item = reader.peek()
    if item is None or item[0] != "op":
        raise Untranslatable(f"expected a comparison at {item}")
    reader.at += 1
    op = "<>" if item[1] == "!=" else item[1]
    return Compare(op, left, _operand(reader, bare))


def _operand(reader: _Reader, bare: str | None) -> Operand:
    item = reader.peek()
    if item is None:
        raise Untranslatable("expected a value")
    kind, text = item
    reader.at += 1
    if kind == "string":
        return Literal(text[1:-1].replace("''", "'"))
    if kind == "number":
        return Literal(float(text) if "." in text else int(text))
    if kind == "ts":
        stamp = re.sub(r"[{}]|ts", "", text).strip()
        return Literal(datetime.strptime(" ".join(stamp.split()), "%Y-%m-%d %H:%M:%S"))
    if kind == "param":
        if text != ":user":
            raise Untranslatable(f"parameter {text}")
        return User()
    if kind == "name":
        upper = text.upper()
        if upper == "CURRENT_TIMESTAMP":
            return Now()
        if upper in {"TRUE", "FALSE"}:
            return Literal(upper == "TRUE")
        if upper == "NULL":
            return Literal(None)
        if upper in _KEYWORDS:
            raise Untranslatable(f"unexpected {text}")
        head, *rest = text.split(".")
        if bare is not None:
            return Path(bare, (head, *rest))
        if not rest:
            raise Untranslatable(f"unqualified {text}")
        return Path(head, tuple(rest))
    raise Untranslatable(f"unexpected {text}")
