"""A facility's rules for the demo catalogue (``gateway.catalogue.demo``), as a facility
running icat.server would write them, in all three forms: released sessions and their data
for everyone, a session's data for its team and its beamline's scientists, published data
publications for everyone, reference data public; a beamline's scientists read its
sessions but not their datasets (until released), unlike the built-in policy; some of a
session's children reached
by public steps, others (samples) by their own rules. The compiled-path differential
tests and the bench use them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import now_utc
from gateway.auth.policy import Caller
from gateway.catalogue.icat_rules.ruleset import IcatRules, RuleRow, RuleSet, compile_rules
from gateway.catalogue.models import PublicStep, Rule
from gateway.catalogue.visibility import Access
from tests.conftest import STAFF, Client

TEAM = "JOIN {i}.investigationUsers AS iu JOIN iu.user AS u WHERE u.name = :user"
SCIENTISTS = (
    "JOIN {i}.investigationInstruments AS ii JOIN ii.instrument AS ins "
    "JOIN ins.instrumentScientists AS sc JOIN sc.user AS u WHERE u.name = :user"
)
DEMO_RULES: Sequence[str] = (
    *(
        public
        for public in (
            "Facility",
            "Instrument",
            "InvestigationType",
            "DatasetType",
            "DatafileFormat",
            "Technique",
            "User",
            "ParameterType",
            "SampleType",
            "DataPublicationType",
            "InstrumentScientist",
            "InvestigationInstrument",
            "Keyword",
            "InvestigationUser",
        )
    ),
    "SELECT o FROM Investigation o WHERE o.releaseDate < CURRENT_TIMESTAMP",
    "SELECT o FROM Investigation o " + TEAM.format(i="o"),
    "SELECT o FROM Investigation o " + SCIENTISTS.format(i="o"),
    "SELECT o FROM Dataset o JOIN o.investigation AS i WHERE i.releaseDate < CURRENT_TIMESTAMP",
    "Dataset <-> Investigation <-> InvestigationUser <-> User [name = :user]",
    "SELECT o FROM Dataset o JOIN o.dataCollectionDatasets AS dcd JOIN dcd.dataCollection AS dc "
    "JOIN dc.dataPublications AS dp WHERE dp.publicationDate < CURRENT_TIMESTAMP",
    "SELECT o FROM Datafile o JOIN o.dataset AS ds JOIN ds.investigation AS i "
    "WHERE i.releaseDate < CURRENT_TIMESTAMP",
    "SELECT o FROM Datafile o JOIN o.dataset AS ds JOIN ds.investigation AS i "
    + TEAM.format(i="i"),
    "SELECT o FROM DataPublication o WHERE o.publicationDate < CURRENT_TIMESTAMP",
    "SELECT o FROM Sample o JOIN o.investigation AS i " + TEAM.format(i="i"),
    "SELECT o FROM InvestigationParameter o JOIN o.investigation AS i "
    "WHERE i.releaseDate < CURRENT_TIMESTAMP",
)
DEMO_STEPS: Sequence[tuple[str, str]] = (
    ("Investigation", "parameters"),
    ("Dataset", "datafiles"),
    ("Dataset", "parameters"),
    ("Dataset", "sample"),
    ("Dataset", "datasetTechniques"),
    ("Datafile", "dataset"),
    ("Sample", "parameters"),
)


PRIVATE_PEOPLE_RULES: Sequence[str] = (
    *(rule for rule in DEMO_RULES if rule != "User"),
    "SELECT o FROM User o WHERE o.name = :user",
)
"""The demo's rules with people private: a user reads their own USER_ row only (the team
rows stay public), so a session's team lists only the caller's own roles."""


def demo_ruleset(rules: Sequence[str] = DEMO_RULES) -> RuleSet:
    rows = [RuleRow(i + 1, what, "R", None) for i, what in enumerate(rules)]
    ruleset = compile_rules(rows, DEMO_STEPS)
    assert ruleset.refused == (), ruleset.refused
    return ruleset


async def write_demo_rules(engine: AsyncEngine) -> None:
    """Put the rules in the catalogue's RULE_ and PUBLICSTEP (replacing what they hold)."""
    now = now_utc()
    audit: dict[str, Any] = {"create_id": "bench", "mod_id": "bench", "create_time": now,
                             "mod_time": now}  # fmt: skip
    async with engine.begin() as connection:
        await connection.execute(delete(Rule))
        await connection.execute(delete(PublicStep))
        top = int(await connection.scalar(select(func.max(Rule.id))) or 0)
        for index, what in enumerate(DEMO_RULES):
            await connection.execute(
                insert(Rule).values(id=top + 1 + index, what=what, crud_flags="R", **audit)
            )
        for index, (origin, field) in enumerate(DEMO_STEPS):
            await connection.execute(
                insert(PublicStep).values(id=index + 1, origin=origin, field=field, **audit)
            )


class RulesClient(Client):
    """The test client under the demo's ICAT rules (a subclass: other rules); staff are
    root users."""

    ruleset: RuleSet = demo_ruleset()

    def using(self, **settings: Any) -> Client:
        other = super().using(**settings)
        return type(self)(other.engine, other.settings, other.schema)

    async def access(self, user_name: str | Caller | None, now: datetime | None = None) -> Access:
        if isinstance(user_name, Caller):
            caller, user_name = user_name, user_name.user_name
        else:
            caller = Caller(user_name=user_name, is_staff=user_name in self.settings.staff_users)
        rules = IcatRules(self.ruleset, root=user_name == STAFF)
        return Access(caller=caller, now=now or now_utc(), rules=rules)
