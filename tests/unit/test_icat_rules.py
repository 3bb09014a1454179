"""``gateway.catalogue.icat_rules`` without a database: the rule language, ICAT's relationship
names against the declared graph, and what an untranslatable rule becomes."""

from __future__ import annotations

import pytest

from gateway.catalogue.icat_rules.compiler import first_hop
from gateway.catalogue.icat_rules.language import And, Compare, In, Untranslatable, User, parse
from gateway.catalogue.icat_rules.relationships import relationships, step, step_of_join
from gateway.catalogue.icat_rules.ruleset import RuleRow, compile_rules, through_parent
from gateway.fields.graph import relationship_graph


def test_the_declared_graph_is_made_of_icat_relationships() -> None:
    """Every join of the field catalogue's relations is one of ICAT's relationships (one
    source of joins: a relation declared with a wrong key would fail here)."""
    joins = [join for edges in relationship_graph().values() for e in edges for join in e.joins]
    assert joins
    for join in joins:
        assert step_of_join(join) is not None, join


@pytest.mark.parametrize(
    ("origin", "field", "target"),
    [
        ("Dataset", "investigation", "Investigation"),
        ("Investigation", "investigationGroups", "InvestigationGroup"),
        ("InvestigationGroup", "grouping", "Grouping"),
        ("Grouping", "userGroups", "UserGroup"),
        ("Instrument", "instrumentScientists", "InstrumentScientist"),
        ("DataCollection", "dataPublications", "DataPublication"),
        ("DataPublication", "content", "DataCollection"),
        ("Investigation", "parameters", "InvestigationParameter"),
        ("DatafileParameter", "type", "ParameterType"),
        ("Datafile", "dataCollectionDatafiles", "DataCollectionDatafile"),
    ],
)
def test_icat_names_reach_icat_entities(origin: str, field: str, target: str) -> None:
    found = step(origin, field)
    assert found is not None and found.target == target


def test_the_three_forms_parse() -> None:
    assert parse("Investigation").unrestricted
    old = parse("Grouping <-> UserGroup <-> User [name=:user]")
    assert [j.field for j in old.joins] == ["userGroups", "user"]
    assert old.where == Compare("=", old.where.left, User())  # type: ignore[union-attr]
    jpql = parse(
        "SELECT o FROM UserGroup o JOIN o.grouping AS g JOIN g.investigationGroups AS s1 "
        "WHERE s1.role in ('reader', 'writer') AND g.name = :user"
    )
    assert [j.field for j in jpql.joins] == ["grouping", "investigationGroups"]
    assert isinstance(jpql.where, And) and isinstance(jpql.where.parts[0], In)
    assert "releaseDate" in repr(parse("Investigation [releaseDate < CURRENT_TIMESTAMP]"))


@pytest.mark.parametrize(
    "what",
    [
        "SELECT o FROM Investigation o LEFT JOIN o.investigationUsers AS iu",
        "SELECT i FROM Investigation o JOIN o.investigationUsers AS i",
        "SELECT o FROM Investigation o WHERE UPPER(o.name) = 'X'",
        "SELECT o FROM Investigation o JOIN o.nothing AS n",
        "SELECT o FROM Investigation o WHERE o.name = :other",
        "Nothing",
        "Investigation <-> Facility <-> Nothing",
        "Datafile <-> Datafile",
    ],
)
def test_an_untranslatable_rule_is_refused_and_left_out(what: str) -> None:
    with pytest.raises(Untranslatable):
        parse_and_check(what)
    ruleset = compile_rules([RuleRow(7, what, "R", None)], [])
    assert [(r.id, r.what) for r in ruleset.refused] == [(7, what)]
    assert not any(ruleset.rules.values())


def parse_and_check(what: str) -> None:
    from gateway.catalogue.icat_rules.compiler import check

    check(parse(what))


def test_rules_without_r_are_not_read_rules() -> None:
    ruleset = compile_rules([RuleRow(1, "Investigation", "CUD", None)], [])
    assert ruleset.rules == {} and "Investigation" not in ruleset.public_entities
    assert "Investigation" in relationships()


@pytest.mark.parametrize(
    ("what", "on_session"),
    [
        ("SELECT o FROM Dataset o JOIN o.investigation AS i WHERE i.releaseDate < "
         "CURRENT_TIMESTAMP", True),
        ("Dataset <-> Investigation <-> InvestigationUser <-> User [name = :user]", True),
        ("SELECT o FROM Dataset o JOIN o.investigation AS i JOIN i.investigationUsers AS iu "
         "JOIN iu.user AS u WHERE u.name = :user AND iu.role = 'PI'", True),
        # Reads the dataset itself too: tested on each dataset.
        ("SELECT o FROM Dataset o JOIN o.investigation AS i WHERE i.releaseDate < "
         "CURRENT_TIMESTAMP AND o.name = 'x'", False),
        ("SELECT o FROM Dataset o JOIN o.investigation AS i JOIN o.type AS t "
         "WHERE t.name = 'raw'", False),
        ("SELECT o FROM Dataset o WHERE o.investigation.releaseDate < CURRENT_TIMESTAMP", False),
        ("SELECT o FROM Dataset o JOIN o.dataCollectionDatasets AS dcd JOIN dcd.dataCollection "
         "AS dc JOIN dc.dataPublications AS dp WHERE dp.publicationDate < CURRENT_TIMESTAMP",
         False),
        ("Dataset", False),
    ],
)  # fmt: skip
def test_rules_that_read_only_the_session_are_tested_on_it(what: str, on_session: bool) -> None:
    """A Dataset rule that reads nothing of the dataset but its session (the first join
    ``o.investigation``, every other join and condition from there) is rewritten as the
    same rule on that session (``ruleset.through_parent``), which the compiled path tests
    once on the session's row for a session's datasets; any other is tested per dataset."""
    query = parse(what)
    assert (through_parent(query, "investigation") is not None) is on_session


@pytest.mark.parametrize(
    ("what", "hop"),
    [
        ("SELECT o FROM Investigation o JOIN o.investigationUsers AS iu JOIN iu.user AS u "
         "WHERE u.name = :user", ("Investigation", "investigationUsers")),
        ("SELECT o FROM Dataset o JOIN o.investigation AS i WHERE i.releaseDate < "
         "CURRENT_TIMESTAMP", ("Dataset", "investigation")),
        # Reads its own row beside the first join, or joins twice from it: no single hop.
        ("SELECT o FROM Investigation o JOIN o.investigationUsers AS iu JOIN iu.user AS u "
         "WHERE u.name = :user AND o.name = 'x'", None),
        ("SELECT o FROM Dataset o JOIN o.investigation AS i JOIN o.type AS t "
         "WHERE t.name = 'raw'", None),
        ("Investigation", None),
    ],
)  # fmt: skip
def test_the_first_hop_is_all_a_rule_reads_of_its_row(
    what: str, hop: tuple[str, str] | None
) -> None:
    """``compiler.first_hop``, which both the keyed semi-join and ``through_parent`` rely
    on: the step of the first join only where the rule reads nothing else of its row."""
    found = first_hop(parse(what))
    assert (None if found is None else (found.origin, found.field)) == hop
