"""The embargo and role policy as a truth table: per role and embargo state."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gateway.auth.policy import (
    AccessRules,
    Caller,
    FieldClass,
    InvestigationFacts,
    Publishers,
    PublishRules,
    Role,
    can_change_release_date,
    can_grant_access,
    can_publish,
    can_read,
    can_read_data_publication,
    can_read_datafile,
    can_read_dataset,
    can_read_personal,
    can_read_reservation,
    can_request_access,
    can_see_access_request,
    is_collaborator_role,
    is_main_proposer_role,
    is_published,
    is_released,
    manages_access,
    roles_of,
    roles_under,
)

NOW = datetime(2026, 11, 23, 12, 0)
MAIN_PROPOSER_ROLES = frozenset({"principal investigator"})

RELEASED = NOW - timedelta(days=1)
EMBARGOED = NOW + timedelta(days=365)
PROPRIETARY = None  # a NULL release date never releases

FACTS = {
    name: InvestigationFacts(
        release_date=release,
        team={
            "esrf/pi": {"Principal Investigator", "Participant"},
            "esrf/member": {"Participant"},
            "esrf/collaborator": {"Collaborator"},
            "esrf/contact": {"Local contact"},
        },
        beamline_scientists=frozenset({"esrf/scientist"}),
    )
    for name, release in {
        "released": RELEASED,
        "embargoed": EMBARGOED,
        "proprietary": PROPRIETARY,
    }.items()
}

CALLERS = {
    "anonymous": Caller(),
    "outsider": Caller("esrf/outsider"),
    "member": Caller("esrf/member"),
    "collaborator": Caller("esrf/collaborator"),
    "local contact": Caller("esrf/contact"),
    "main proposer": Caller("esrf/pi"),
    "beamline scientist": Caller("esrf/scientist"),
    "staff": Caller("esrf/boss", is_staff=True),
}

# caller -> (reads DATA of released, embargoed, proprietary; may grant access; may mint DOI)
TRUTH = {
    "anonymous": (True, False, False, False, False),
    "outsider": (True, False, False, False, False),
    "member": (True, True, True, False, True),
    "collaborator": (True, True, True, False, True),
    "local contact": (True, True, True, False, True),
    "main proposer": (True, True, True, True, True),
    "beamline scientist": (True, True, True, False, False),
    "staff": (True, True, True, True, True),
}


@pytest.mark.parametrize("who", sorted(TRUTH))
def test_truth_table(who: str) -> None:
    caller = CALLERS[who]
    expected = TRUTH[who]
    observed = []
    for state in ("released", "embargoed", "proprietary"):
        facts = FACTS[state]
        roles = roles_of(caller, facts, MAIN_PROPOSER_ROLES)
        released = is_released(facts.release_date, NOW)
        # Landing facts are public to everyone in every state.
        assert can_read(FieldClass.LANDING, roles, released=released)
        observed.append(can_read(FieldClass.DATA, roles, released=released))
    roles = roles_of(caller, FACTS["embargoed"], MAIN_PROPOSER_ROLES)
    observed += [can_grant_access(roles), can_read_reservation(roles)]
    assert tuple(observed) == expected


# caller -> may publish for (released, embargoed, proprietary) under each setting
PUBLISH_TRUTH = {
    Publishers.TEAM: {
        "member": (True, True, False),
        "collaborator": (True, True, False),
        "local contact": (True, True, False),
        "main proposer": (True, True, False),
    },
    Publishers.PROPOSAL: {
        "member": (True, True, False),
        "local contact": (True, True, False),
        "main proposer": (True, True, False),
    },
    Publishers.MAIN_PROPOSER: {"main proposer": (True, True, False)},
}


@pytest.mark.parametrize("publishers", list(Publishers))
@pytest.mark.parametrize("who", sorted(TRUTH))
def test_publishing_is_a_right_of_its_own(publishers: Publishers, who: str) -> None:
    """Reading is not publishing: a beamline scientist reads and does not publish; nobody
    but staff publishes a proprietary session's data, whatever the setting."""
    rules = PublishRules(AccessRules(main_proposer_roles=MAIN_PROPOSER_ROLES), publishers)
    expected = (True, True, True) if who == "staff" else PUBLISH_TRUTH[publishers].get(who)
    observed = tuple(
        can_publish(CALLERS[who], FACTS[state], rules)
        for state in ("released", "embargoed", "proprietary")
    )
    assert observed == (expected or (False, False, False))


def test_roles_of_the_main_proposer_are_case_insensitive_and_cumulative() -> None:
    roles = roles_of(CALLERS["main proposer"], FACTS["embargoed"], MAIN_PROPOSER_ROLES)
    assert roles == {Role.AUTHENTICATED, Role.TEAM_MEMBER, Role.MAIN_PROPOSER}


def test_anonymous_holds_only_the_anonymous_role() -> None:
    assert roles_of(Caller(), FACTS["released"], MAIN_PROPOSER_ROLES) == {Role.ANONYMOUS}


@pytest.mark.parametrize(
    ("release_date", "released"),
    [
        (None, False),
        (NOW - timedelta(seconds=1), True),
        (NOW, False),
        (NOW + timedelta(days=1), False),
    ],
)
def test_release_is_strictly_in_the_past(release_date: datetime | None, released: bool) -> None:
    assert is_released(release_date, NOW) is released


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_a_published_doi_opens_a_dataset_to_everyone(who: str) -> None:
    roles = roles_of(CALLERS[who], FACTS["embargoed"], MAIN_PROPOSER_ROLES)
    assert can_read_dataset(roles, investigation_released=False, published=True)
    assert can_read_dataset(roles, investigation_released=False, published=False) is TRUTH[who][1]


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_a_datafile_is_readable_with_its_dataset_or_published_itself(who: str) -> None:
    roles = roles_of(CALLERS[who], FACTS["embargoed"], MAIN_PROPOSER_ROLES)
    reads_data = TRUTH[who][1]
    for dataset_published in (False, True):
        for published in (False, True):
            readable = can_read_datafile(
                roles,
                investigation_released=False,
                dataset_published=dataset_published,
                published=published,
            )
            assert readable is (published or dataset_published or reads_data)
    assert can_read_datafile(
        roles, investigation_released=True, dataset_published=False, published=False
    )


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_a_reserved_doi_is_for_those_who_may_publish_it(who: str) -> None:
    roles = roles_of(CALLERS[who], FACTS["embargoed"], MAIN_PROPOSER_ROLES)
    assert can_read_data_publication(roles, published=True)
    # The team and staff; not a beamline scientist, who reads the data but mints no DOI.
    assert can_read_data_publication(roles, published=False) is TRUTH[who][4]


def test_a_publication_date_publishes_once_past() -> None:
    assert not is_published(None, NOW)
    assert not is_published(NOW, NOW)
    assert is_published(NOW - timedelta(seconds=1), NOW)
    assert not is_published(NOW + timedelta(seconds=1), NOW)


@pytest.mark.parametrize(
    ("role", "main"),
    [
        ("Principal Investigator", True),
        ("  PRINCIPAL investigator\t", True),
        ("\u00a0principal investigator\u3000", True),
        ("principal investigators", False),
        ("principal\tinvestigator", False),
        ("Participant", False),
    ],
)
def test_main_proposer_roles_ignore_case_and_white_space_around(role: str, main: bool) -> None:
    assert is_main_proposer_role(role, MAIN_PROPOSER_ROLES) is main


def test_personal_data_is_for_the_person_and_staff() -> None:
    assert can_read_personal(Caller("esrf/jdoe"), "esrf/jdoe")
    assert not can_read_personal(Caller("esrf/other"), "esrf/jdoe")
    assert not can_read_personal(Caller(), "esrf/jdoe")
    assert can_read_personal(Caller("esrf/boss", is_staff=True), "esrf/jdoe")
    assert not can_read(FieldClass.PERSONAL, {Role.TEAM_MEMBER}, released=True)


def test_only_staff_change_release_dates() -> None:
    for who, caller in CALLERS.items():
        roles = roles_of(caller, FACTS["embargoed"], MAIN_PROPOSER_ROLES)
        assert can_change_release_date(roles) is (who == "staff")


RULES = AccessRules(main_proposer_roles=MAIN_PROPOSER_ROLES, local_contact_roles={"local contact"})

# caller -> (manages access; may request access to the embargoed and the released session)
ACCESS = {
    "anonymous": (False, False, False),
    "outsider": (False, True, False),
    "member": (False, False, False),
    "collaborator": (False, False, False),
    "local contact": (False, False, False),
    "main proposer": (True, False, False),
    "beamline scientist": (False, False, False),
    "staff": (True, False, False),
}


@pytest.mark.parametrize("who", sorted(ACCESS))
def test_who_manages_access_and_who_may_ask_for_it(who: str) -> None:
    caller = CALLERS[who]
    embargoed, released = FACTS["embargoed"], FACTS["released"]
    observed = (
        manages_access(caller, embargoed, RULES),
        can_request_access(roles_under(caller, embargoed, RULES), released=False),
        can_request_access(roles_under(caller, released, RULES), released=True),
    )
    assert observed == ACCESS[who]


def test_local_contacts_manage_access_only_where_the_facility_lets_them() -> None:
    contact = CALLERS["local contact"]
    assert not manages_access(contact, FACTS["embargoed"], RULES)
    allowing = AccessRules(
        main_proposer_roles=MAIN_PROPOSER_ROLES,
        local_contact_roles={"local contact"},
        local_contacts_grant=True,
    )
    assert manages_access(contact, FACTS["embargoed"], allowing)
    assert not manages_access(CALLERS["member"], FACTS["embargoed"], allowing)


def test_only_collaborator_rows_are_revocable() -> None:
    assert is_collaborator_role(" collaborator ", RULES)
    assert not is_collaborator_role("Participant", RULES)
    assert not is_collaborator_role("Local contact", RULES)


def test_an_access_request_is_seen_by_its_parties() -> None:
    outsider = CALLERS["outsider"]
    assert can_see_access_request(outsider, "esrf/outsider", manages=False)
    assert not can_see_access_request(CALLERS["member"], "esrf/outsider", manages=False)
    assert can_see_access_request(CALLERS["main proposer"], "esrf/outsider", manages=True)
    assert can_see_access_request(CALLERS["staff"], "esrf/outsider", manages=False)
    assert not can_see_access_request(CALLERS["anonymous"], "esrf/outsider", manages=False)
