"""The catalogue's rules, compiled: which rows of an entity a caller may read.

icat.server's ``GateKeeper`` decides a read thus (``getReadable``, ``allowed``):

- a root user (``rootUserNames``; here ``Settings.icat_root_users``) reads everything;
- the rules that apply to a caller are those with the R flag whose grouping is NULL (for
  everyone) or a grouping the caller is a member of (``USERGROUP`` of their ``USER_``);
- one such rule for the entity with no restriction (a bare entity name) opens every row;
  otherwise a row is readable when one of the rules' queries, ``:user`` bound to the
  caller's name, selects it: the union of the caller's rules;
- objects reached from a readable one by a relationship (an INCLUDE) are all readable when
  the step is a ``PUBLICSTEP`` (origin entity, field) or their entity is public (a rule
  for everyone with no restriction), and filtered by their own rules otherwise.

Here the union is one SQL condition per entity, built from rules compiled once per
catalogue (:func:`load`): membership is an uncorrelated ``EXISTS`` over USERGROUP per
grouping, each rule a condition on the row (``compiler``). A rule that does not parse or
compile is logged with its id and text and left out: it denies, never widens. The rules
are compiled again when a cheap fingerprint of RULE_ and PUBLICSTEP changes
(:class:`RuleBook`); nothing is kept across replicas but what the database holds.

RULE_.SEARCHJPQL, the normalised query icat.server stores, is not used: WHAT is what the
facility wrote and icat.server derives the rest from it, and a gateway-created catalogue
(ingest) leaves the derived columns empty.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.catalogue.icat_rules.compiler import Filter, check, compile_query, first_hop
from gateway.catalogue.icat_rules.language import Query, Untranslatable, parse
from gateway.catalogue.icat_rules.relationships import Step, entities
from gateway.catalogue.models import PublicStep, Rule, User, UserGroup
from gateway.catalogue.sql_text import same_name

log = logging.getLogger(__name__)

_SERIALS = itertools.count(1)


@dataclass(frozen=True)
class RuleRow:
    """A RULE_ row as the compiler needs it."""

    id: int
    what: str
    crud_flags: str
    grouping_id: int | None


@dataclass(frozen=True)
class CompiledRule:
    id: int
    grouping_id: int | None
    query: Query
    filter: Filter


@dataclass(frozen=True)
class Refused:
    """A rule the compiler could not translate (it denies)."""

    id: int
    what: str
    reason: str


@dataclass(frozen=True, eq=False)
class RuleSet:
    """The R rules of one catalogue, compiled, by entity. Compared by identity: a new set
    is a new object (plans and templates keyed by it are then not reused)."""

    rules: Mapping[str, tuple[CompiledRule, ...]]
    public_steps: frozenset[tuple[str, str]]
    refused: tuple[Refused, ...] = ()
    fingerprint: tuple[Any, ...] = ()
    serial: int = field(default_factory=lambda: next(_SERIALS))
    """Which compilation this is, for keys of plans and templates made under it."""

    @cached_property
    def public_entities(self) -> frozenset[str]:
        """icat.server's public tables: a rule for everyone with no restriction."""
        return frozenset(
            entity
            for entity, rules in self.rules.items()
            if any(rule.grouping_id is None and rule.query.unrestricted for rule in rules)
        )

    def readable(
        self, entity: str, model: Any, user: Any, now: Any, parent: tuple[str, Any] | None = None
    ) -> ColumnElement[bool] | None:
        """The condition on ``model``'s rows (of ``entity``) under which the caller may read
        them, ``user`` their name (None: anonymous, whom only rules for everyone without
        ``:user`` open); None when every row is readable.

        ``parent``: (a many-to-one field of ``entity``, the row it reaches, already in the
        statement, as an object whose attributes are its columns), for rows that all reach
        that one (a session's datasets): a rule that reads nothing of the row but that
        field's target (``SELECT o FROM Dataset o JOIN o.investigation AS i ...`` with
        nothing else of ``o``) is then the same test of that row, made on it without a join
        per row (:func:`through_parent`)."""
        if entity in self.public_entities:
            return None
        # Anonymous: ``:user`` is an unknown text (no rule's comparison with it holds; a
        # bare NULL would turn "= :user" into "IS NULL").
        name = (
            cast(null(), String())
            if user is None
            else (literal(user, String()) if isinstance(user, str) else user)
        )
        by_grouping: dict[int | None, list[ColumnElement[bool]]] = {}
        for rule in self.rules.get(entity, ()):
            if rule.query.unrestricted and rule.grouping_id is not None and user is None:
                continue
            through = None if parent is None else through_parent(rule.query, parent[0])
            if parent is not None and through is not None:
                condition = through(parent[1], name, now)
            else:
                condition = rule.filter(model, name, now)
            by_grouping.setdefault(rule.grouping_id, []).append(condition)
        conditions: list[ColumnElement[bool]] = []
        for grouping_id, filters in sorted(by_grouping.items(), key=lambda kv: kv[0] or 0):
            condition = or_(*filters) if len(filters) > 1 else filters[0]
            if grouping_id is not None:
                if user is None:
                    continue
                condition = and_(member_of(grouping_id, name), condition)
            conditions.append(condition)
        if not conditions:
            return false()
        return or_(*conditions) if len(conditions) > 1 else conditions[0]

    def allowed(self, relationship: Step) -> bool:
        """Objects reached by this step are readable with their origin (``allowed``)."""
        return (
            relationship.target in self.public_entities
            or (relationship.origin, relationship.field) in self.public_steps
        )


@cache
def through_parent(query: Query, field: str) -> Filter | None:
    """The rule as a filter on the row its entity's many-to-one ``field`` reaches, where
    it reads nothing else of its own row: ``SELECT o FROM Dataset o JOIN o.investigation
    AS i <joins from i> WHERE <conditions on i and beyond>`` is ``SELECT i FROM
    Investigation i <the same joins> WHERE <the same>``, tested on a dataset's session.
    None for any other rule (and for one that would not compile so)."""
    hop = first_hop(query)
    if hop is None or hop.many or query.joins[0].field != field:
        return None
    first, *rest = query.joins
    rewritten = Query(hop.target, first.alias, tuple(rest), query.where)
    try:
        check(rewritten)
    except Untranslatable:
        return None
    return compile_query(rewritten)


def member_of(grouping_id: int, user: Any) -> ColumnElement[bool]:
    """The caller is a member of the grouping (uncorrelated: evaluated once)."""
    return exists(
        select(UserGroup.id)
        .join(User, User.id == UserGroup.user_id)
        .where(UserGroup.grouping_id == grouping_id, same_name(User.name, user))
    )


@dataclass(frozen=True)
class IcatRules:
    """The rules as one request applies them: the catalogue's set, and whether the caller
    is a root user (who reads everything)."""

    ruleset: RuleSet
    root: bool = False
    public_landing: bool = False

    @property
    def key(self) -> str:
        """What of the rules shapes a statement (plans and templates are kept by it)."""
        return f"rules{self.ruleset.serial}{'-root' if self.root else ''}" + (
            "-landing" if self.public_landing else ""
        )


def compile_rules(rows: Sequence[RuleRow], steps: Sequence[tuple[str, str]]) -> RuleSet:
    """Compile the rows that grant R; report the ones that cannot be translated."""
    compiled: dict[str, list[CompiledRule]] = {}
    refused: list[Refused] = []
    for row in rows:
        if "R" not in (row.crud_flags or "").upper():
            continue
        try:
            query = parse(row.what)
            check(query)
        except Untranslatable as error:
            refused.append(Refused(row.id, row.what, str(error)))
            continue
        rule = CompiledRule(row.id, row.grouping_id, query, compile_query(query))
        compiled.setdefault(query.entity, []).append(rule)
    return RuleSet(
        {entity: tuple(rules) for entity, rules in compiled.items()},
        frozenset(steps),
        tuple(refused),
    )


def _fingerprint_statement() -> Any:
    def of(model: Any) -> list[Any]:
        return [
            select(func.count(model.id)).scalar_subquery(),
            select(func.coalesce(func.sum(model.id), 0)).scalar_subquery(),
            select(func.max(model.mod_time)).scalar_subquery(),
        ]

    return select(*of(Rule), *of(PublicStep))


async def fingerprint(engine: AsyncEngine) -> tuple[Any, ...]:
    """A cheap summary of RULE_ and PUBLICSTEP that changes when a row is added, removed
    or modified (icat.server sets MOD_TIME on every change)."""
    async with engine.connect() as connection:
        row = (await connection.execute(_fingerprint_statement())).one()
    return tuple(str(value) for value in row)


async def load(engine: AsyncEngine) -> RuleSet:
    """Read and compile the catalogue's rules."""
    async with engine.connect() as connection:
        stamp = (await connection.execute(_fingerprint_statement())).one()
        rows = (
            await connection.execute(
                select(Rule.id, Rule.what, Rule.crud_flags, Rule.grouping_id).order_by(Rule.id)
            )
        ).all()
        steps = (await connection.execute(select(PublicStep.origin, PublicStep.field))).all()
    ruleset = compile_rules(
        [RuleRow(int(i), str(w), str(f or ""), g) for i, w, f, g in rows],
        [(str(origin), str(name)) for origin, name in steps],
    )
    return RuleSet(
        ruleset.rules,
        ruleset.public_steps,
        ruleset.refused,
        tuple(str(value) for value in stamp),
    )


@dataclass
class RuleBook:
    """The current rules of one catalogue, compiled again when they change: a fingerprint
    is read at most every ``interval`` seconds, by the first request after it."""

    interval: float
    ruleset: RuleSet | None = None
    _checked: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self, engine: AsyncEngine, *, force: bool = False) -> RuleSet:
        if (
            not force
            and self.ruleset is not None
            and time.monotonic() - self._checked < self.interval
        ):
            return self.ruleset
        async with self._lock:
            if not force and self.ruleset is not None:
                if time.monotonic() - self._checked < self.interval:
                    return self.ruleset
                if await fingerprint(engine) == self.ruleset.fingerprint:
                    self._checked = time.monotonic()
                    return self.ruleset
            ruleset = await load(engine)
            report(ruleset)
            self.ruleset = ruleset
            self._checked = time.monotonic()
            return ruleset


def report(ruleset: RuleSet) -> None:
    """Log each rule that denies because it could not be translated."""
    count = sum(len(rules) for rules in ruleset.rules.values())
    log.info(
        "ICAT rules compiled: %d read rules over %d entities, %d public steps",
        count,
        len(ruleset.rules),
        len(ruleset.public_steps),
    )
    for refused in ruleset.refused:
        log.warning(
            "ICAT rule %d cannot be translated and denies (%s): %s",
            refused.id,
            refused.reason,
            refused.what,
        )


def entity_of(model: Any) -> str:
    """The ICAT entity of a model (its class's name, which ``relationships`` checks)."""
    name = str(model.__name__)
    if name not in entities():
        raise KeyError(name)
    return name
