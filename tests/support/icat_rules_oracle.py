"""ICAT's read rules evaluated in Python, row by row: the reference the compiled SQL
filters (``gateway.catalogue.icat_rules``) are checked against.

Written apart from the compiler on purpose: its own reading of a rule (regular
expressions for the three forms, conditions as conjunctions of comparisons, which is what
python-icat's example rules and the generated ones use), its own walk over the rows
(each join enumerated, every binding tried), and icat.server's GateKeeper in plain
Python: root users read everything; a rule applies to everyone when it has no grouping,
to the grouping's members otherwise; a bare entity name for everyone makes the entity
public; an object reached by a public step or of a public entity is readable with its
origin; the gateway's one addition, a team row whose grant expired, is not joined. Only
ICAT's relationship names are shared (``relationships``): they are ICAT's
schema, not the compiler's logic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.catalogue.icat_rules.relationships import relationships

Row = Mapping[str, Any]

_JPQL = re.compile(
    r"SELECT\s+(?P<sel>\w+)\s+FROM\s+(?P<entity>\w+)\s+(?P<alias>\w+)"
    r"(?P<joins>(?:\s+JOIN\s+\w+\.\w+\s+(?:AS\s+)?\w+)*)"
    r"(?:\s+WHERE\s+(?P<where>.*))?",
    re.IGNORECASE | re.DOTALL,
)
_JOIN = re.compile(r"JOIN\s+(\w+)\.(\w+)\s+(?:AS\s+)?(\w+)", re.IGNORECASE)
_IS_NULL = re.compile(r"([\w.]+)\s+IS\s+(NOT\s+)?NULL", re.IGNORECASE)
_IN = re.compile(r"([\w.]+)\s+(NOT\s+)?IN\s*\((.*)\)", re.IGNORECASE | re.DOTALL)
_COMPARE = re.compile(r"([\w.]+)\s*(<>|!=|<=|>=|=|<|>)\s*(.+)", re.DOTALL)


class Unreadable(ValueError):
    """A rule this evaluator does not read (the compiler must then refuse it too)."""


@dataclass(frozen=True)
class Atom:
    alias: str
    attribute: str
    op: str
    value: Any = None
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Parsed:
    entity: str
    root: str
    joins: tuple[tuple[str, str, str], ...]
    """(alias, source alias, field)."""
    atoms: tuple[Atom, ...]


USER = object()
NOW = object()


def _attribute(camel: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)


def _value(text: str) -> Any:
    text = text.strip()
    if text == ":user":
        return USER
    if text.upper() == "CURRENT_TIMESTAMP":
        return NOW
    if text.upper() in {"TRUE", "FALSE"}:
        return text.upper() == "TRUE"
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if re.fullmatch(r"\d+", text):
        return int(text)
    raise Unreadable(text)


def _atom(text: str, bare: str | None) -> Atom:
    def split(path: str) -> tuple[str, str]:
        if bare is not None:
            return bare, path
        alias, _, attribute = path.partition(".")
        if not attribute or "." in attribute:
            raise Unreadable(path)
        return alias, attribute

    text = text.strip()
    if match := _IS_NULL.fullmatch(text):
        alias, attribute = split(match.group(1))
        return Atom(alias, attribute, "is not null" if match.group(2) else "is null")
    if match := _IN.fullmatch(text):
        alias, attribute = split(match.group(1))
        values = tuple(_value(v) for v in match.group(3).split(","))
        return Atom(alias, attribute, "not in" if match.group(2) else "in", values=values)
    if match := _COMPARE.fullmatch(text):
        alias, attribute = split(match.group(1))
        op = "<>" if match.group(2) == "!=" else match.group(2)
        return Atom(alias, attribute, op, _value(match.group(3)))
    raise Unreadable(text)


def _conjunction(text: str, bare: str | None) -> tuple[Atom, ...]:
    # A NOT is read only in NOT NULL and NOT IN (...): the lists are taken out first,
    # with their NOT, else "x NOT IN ('a') AND ..." would leave a bare NOT behind.
    lists_out = re.sub(r"(NOT\s+)?IN\s*\([^)]*\)", "", text, flags=re.I)
    if re.search(r"\b(OR|NOT\s+(?!NULL))\b|\(", lists_out, re.I):
        raise Unreadable(text)
    return tuple(_atom(part, bare) for part in re.split(r"\s+AND\s+", text, flags=re.I))


def parse(what: str) -> Parsed:
    what = what.strip()
    if match := _JPQL.fullmatch(what):
        if match.group("sel") != match.group("alias"):
            raise Unreadable(what)
        joins = tuple((a, s, f) for s, f, a in _JOIN.findall(match.group("joins") or ""))
        where = match.group("where")
        atoms = _conjunction(where, None) if where else ()
        return Parsed(match.group("entity"), match.group("alias"), joins, atoms)
    if what.upper().startswith("SELECT"):
        raise Unreadable(what)
    parts = [p.strip() for p in what.split("<->")]
    joins_list: list[tuple[str, str, str]] = []
    atoms_list: list[Atom] = []
    entity = previous = ""
    for index, part in enumerate(parts):
        match = re.fullmatch(r"(\w+)\s*(?:\[(.*)\])?", part, re.DOTALL)
        if match is None:
            raise Unreadable(part)
        name, condition = match.group(1), match.group(2)
        alias = f"a{index}"
        if index == 0:
            entity = name
        else:
            fields = [f for f, s in relationships()[previous].items() if s.target == name]
            if len(fields) != 1:
                raise Unreadable(part)
            joins_list.append((alias, f"a{index - 1}", fields[0]))
        if condition:
            atoms_list.extend(_conjunction(condition, alias))
        previous = name
    return Parsed(entity, "a0", tuple(joins_list), tuple(atoms_list))


@dataclass(frozen=True)
class RuleRow:
    id: int
    what: str
    crud_flags: str
    grouping_id: int | None


@dataclass
class Oracle:
    """The catalogue's rows (entity -> id -> row keyed by attribute) and its rules."""

    rows: Mapping[str, Mapping[int, Row]]
    rules: list[RuleRow]
    public_steps: set[tuple[str, str]]
    root_users: frozenset[str] = frozenset()
    now: datetime = field(default_factory=datetime.now)
    lapsed: set[int] = field(default_factory=set)
    """INVESTIGATIONUSER ids whose grant (the gateway's expiry) has ended: a rule joining
    the team does not go through them."""

    _readable: dict[tuple[str, str | None], set[int]] = field(default_factory=dict)
    _index: dict[tuple[str, str], dict[Any, list[Row]]] = field(default_factory=dict)

    def _rows_where(self, entity: str, column: str, key: Any) -> list[Row]:
        """The rows of an entity whose column holds the key (an index built once)."""
        index = self._index.get((entity, column))
        if index is None:
            index = {}
            for row in self.rows.get(entity, {}).values():
                index.setdefault(row[column], []).append(row)
            self._index[(entity, column)] = index
        return index.get(key, [])

    def _groupings(self, user: str | None) -> set[int]:
        if user is None:
            return set()
        ids = {i for i, row in self.rows["User"].items() if row["name"] == user}
        return {g["grouping_id"] for g in self.rows["UserGroup"].values() if g["user_id"] in ids}

    def _applying(self, user: str | None, entity: str) -> list[Parsed] | None:
        """The parsed rules for the entity that apply to the user (None: a rule opens every
        row)."""
        groupings = self._groupings(user)
        found: list[Parsed] = []
        for rule in self.rules:
            if "R" not in rule.crud_flags.upper():
                continue
            if rule.grouping_id is not None and rule.grouping_id not in groupings:
                continue
            if rule.grouping_id is not None and user is None:
                continue
            try:
                parsed = parse(rule.what)
            except Unreadable:
                continue
            if parsed.entity != entity:
                continue
            if not parsed.joins and not parsed.atoms:
                return None
            found.append(parsed)
        return found

    def public_entities(self) -> set[str]:
        public = set()
        for rule in self.rules:
            if rule.grouping_id is None and "R" in rule.crud_flags.upper():
                what = rule.what.strip()
                if re.fullmatch(r"\w+", what):
                    public.add(what)
        return public

    def readable(self, entity: str, user: str | None) -> set[int]:
        if (entity, user) not in self._readable:
            self._readable[(entity, user)] = self._evaluate(entity, user)
        return self._readable[(entity, user)]

    def _evaluate(self, entity: str, user: str | None) -> set[int]:
        rows = self.rows.get(entity, {})
        if user is not None and user in self.root_users:
            return set(rows)
        applying = self._applying(user, entity)
        if applying is None:
            return set(rows)
        return {i for i, row in rows.items() if any(self._selects(p, row, user) for p in applying)}

    def _selects(self, parsed: Parsed, row: Row, user: str | None) -> bool:
        entities = {parsed.root: parsed.entity}
        bindings: list[dict[str, Row]] = [{parsed.root: row}]
        for alias, source, name in parsed.joins:
            relation = relationships()[entities[source]][name]
            entities[alias] = relation.target
            following: list[dict[str, Row]] = []
            for binding in bindings:
                key = binding[source][relation.join.left_column]
                if key is None:
                    continue
                for target in self._rows_where(relation.target, relation.join.right_column, key):
                    if relation.target == "InvestigationUser" and target["id"] in self.lapsed:
                        continue
                    following.append({**binding, alias: target})
            bindings = following
        return any(all(self._holds(a, b, user) for a in parsed.atoms) for b in bindings)

    def _holds(self, atom: Atom, binding: Mapping[str, Row], user: str | None) -> bool:
        value = binding[atom.alias][_attribute(atom.attribute)]
        if atom.op == "is null":
            return value is None
        if atom.op == "is not null":
            return value is not None
        if value is None:
            return False

        def resolve(v: Any) -> Any:
            return user if v is USER else self.now if v is NOW else v

        if atom.op in {"in", "not in"}:
            options = [resolve(v) for v in atom.values]
            inside = any(o is not None and value == o for o in options)
            return inside if atom.op == "in" else not inside
        other = resolve(atom.value)
        if other is None:
            return False
        if isinstance(other, bool):
            value = bool(value)
        return bool(
            {
                "=": value == other,
                "<>": value != other,
                "<": value < other,
                "<=": value <= other,
                ">": value > other,
                ">=": value >= other,
            }[atom.op]
        )

    def reached(self, origin: str, name: str, parents: Iterable[int], user: str | None) -> set[int]:
        """The objects reached from these (readable) parents by ``origin.name``."""
        relation = relationships()[origin][name]
        parent_rows = [self.rows[origin][i] for i in parents]
        keys = {row[relation.join.left_column] for row in parent_rows} - {None}
        children = {
            i
            for i, row in self.rows.get(relation.target, {}).items()
            if row[relation.join.right_column] in keys
        }
        allowed = (
            (user is not None and user in self.root_users)
            or relation.target in self.public_entities()
            or (origin, name) in self.public_steps
        )
        return children if allowed else children & self.readable(relation.target, user)

    def along(
        self, origin: str, fields: list[str], parents: Iterable[int], user: str | None
    ) -> set[tuple[int, int]]:
        """(parent, object) for the objects reached from these (readable) parents by the
        path ``origin.fields[0].fields[1]...``, each hop an INCLUDE as :meth:`reached`
        filters it."""
        found = {(parent, parent) for parent in parents}
        entity = origin
        for name in fields:
            relation = relationships()[entity][name]
            reached = self.reached(entity, name, {last for _, last in found}, user)
            following: set[tuple[int, int]] = set()
            for parent, last in found:
                key = self.rows[entity][last][relation.join.left_column]
                if key is None:
                    continue
                for row in self._rows_where(relation.target, relation.join.right_column, key):
                    if row["id"] in reached:
                        following.add((parent, row["id"]))
            found, entity = following, relation.target
        return found
