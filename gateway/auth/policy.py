"""The embargo and role policy: who may see which class of field of a session.

Domain code with no I/O. The same rules are compiled into SQL by
``gateway.catalogue.visibility``; ``tests/integration/test_policy_agreement.py`` checks that
both agree row by row, for every kind of caller, on generated catalogues.

Field classes (each GraphQL field's description names its class):

- LANDING: the facts a DOI landing page shows (proposal, visit, beamline, title, dates,
  release date, DOI, team names and roles). Public, always.
- DATA: raw data and detailed metadata (summary, datasets, datafiles, samples,
  parameters, keywords, locations, sizes). Public once the session is released; before
  that, only to the team, the beamline's scientists and facility staff.
- PERSONAL: personal data (e-mail). Only the person and facility staff.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime


class FieldClass(enum.Enum):
    """Which rule guards a field."""

    LANDING = "landing"
    DATA = "data"
    PERSONAL = "personal"


class Role(enum.Enum):
    """What the caller is with respect to one session."""

    ANONYMOUS = "anonymous"
    AUTHENTICATED = "authenticated"
    TEAM_MEMBER = "team member"
    MAIN_PROPOSER = "main proposer"
    LOCAL_CONTACT = "local contact"
    BEAMLINE_SCIENTIST = "beamline scientist"
    STAFF = "staff"


@dataclass(frozen=True)
class Caller:
    """Who is asking, as far as the policy cares."""

    user_name: str | None = None
    is_staff: bool = False
    reviewer_link: int | None = None
    """A reviewer link's id when the caller holds its token: no user name, and read
    access to exactly what the link names (``gateway.catalogue.visibility``)."""

    @property
    def is_anonymous(self) -> bool:
        return self.user_name is None


@dataclass(frozen=True)
class InvestigationFacts:
    """What the policy needs to know about one session (an ICAT investigation)."""

    release_date: datetime | None
    team: Mapping[str, Set[str]] = field(default_factory=dict)
    """User name -> the INVESTIGATIONUSER roles they hold in this session."""
    beamline_scientists: Set[str] = frozenset()


def is_released(release_date: datetime | None, now: datetime) -> bool:
    """Released when the release date is in the past; a NULL release date never releases."""
    return release_date is not None and release_date < now


def is_published(publication_date: datetime | None, now: datetime) -> bool:
    """A data publication is public once its publication date is past, as a release date
    releases a session; a NULL publication date is a reservation (a draft DOI)."""
    return is_released(publication_date, now)


def is_grant_in_force(expires_at: datetime | None, now: datetime) -> bool:
    """A team entry counts until its expiry is reached; one without an expiry always
    does (``visibility.in_force`` is the same rule in SQL)."""
    return expires_at is None or expires_at > now


def is_link_valid(revoked_at: datetime | None, expires_at: datetime, now: datetime) -> bool:
    """A reviewer link works until it expires or is revoked
    (``reviewer_links.valid`` is the same rule in SQL)."""
    return revoked_at is None and expires_at > now


def is_main_proposer_role(role: str, main_proposer_roles: Set[str]) -> bool:
    """Roles are free text in ICAT; the configured names are compared case-insensitively."""
    return role.strip().lower() in main_proposer_roles


@dataclass(frozen=True)
class AccessRules:
    """Who manages a session's access, in the facility's words (``Settings.access_rules``)."""

    main_proposer_roles: Set[str]
    """INVESTIGATIONUSER.ROLE values of the main proposer (lower case)."""
    collaborator_role: str = "Collaborator"
    """The role a grant gives; the only one a revocation removes."""
    local_contact_roles: Set[str] = frozenset()
    """INVESTIGATIONUSER.ROLE values of the local contact (lower case)."""
    local_contacts_grant: bool = False
    """Whether local contacts manage access as the main proposer does."""


def is_collaborator_role(role: str, rules: AccessRules) -> bool:
    """A role given by a grant (revocable), as opposed to one from the proposal itself."""
    return role.strip().lower() == rules.collaborator_role.strip().lower()


def roles_of(
    caller: Caller,
    facts: InvestigationFacts,
    main_proposer_roles: Set[str],
    *,
    local_contact_roles: Set[str] = frozenset(),
) -> set[Role]:
    """Every role the caller holds for this session."""
    if caller.user_name is None:
        return {Role.ANONYMOUS}
    roles = {Role.AUTHENTICATED}
    held = facts.team.get(caller.user_name)
    if held is not None:
        roles.add(Role.TEAM_MEMBER)
        if any(is_main_proposer_role(role, main_proposer_roles) for role in held):
            roles.add(Role.MAIN_PROPOSER)
        if any(role.strip().lower() in local_contact_roles for role in held):
            roles.add(Role.LOCAL_CONTACT)
    if caller.user_name in facts.beamline_scientists:
        roles.add(Role.BEAMLINE_SCIENTIST)
    if caller.is_staff:
        roles.add(Role.STAFF)
    return roles


_PRIVILEGED = frozenset({Role.TEAM_MEMBER, Role.BEAMLINE_SCIENTIST, Role.STAFF})


def can_read(field_class: FieldClass, roles: Iterable[Role], *, released: bool) -> bool:
    """May a caller with these roles read a field of this class of a session?"""
    held = set(roles)
    if field_class is FieldClass.LANDING:
        return True
    if field_class is FieldClass.DATA:
        return released or bool(held & _PRIVILEGED)
    # PERSONAL data is decided per person, not per session: see can_read_personal.
    return Role.STAFF in held


def can_read_personal(caller: Caller, owner_user_name: str) -> bool:
    """Personal data (e-mail) is visible to the person themself and to staff."""
    return caller.is_staff or (caller.user_name is not None and caller.user_name == owner_user_name)


def can_read_dataset(
    roles: Iterable[Role], *, investigation_released: bool, published: bool
) -> bool:
    """A dataset is readable with its session's data, or once a published DOI covers it."""
    return published or can_read(FieldClass.DATA, roles, released=investigation_released)


def can_read_datafile(
    roles: Iterable[Role], *, investigation_released: bool, dataset_published: bool, published: bool
) -> bool:
    """A datafile is readable with its dataset, or once a published DOI names it itself
    (ICAT ``DATACOLLECTIONDATAFILE``)."""
    return published or can_read_dataset(
        roles, investigation_released=investigation_released, published=dataset_published
    )


def can_read_data_publication(roles: Iterable[Role], *, published: bool) -> bool:
    """A data publication is public once published; a reservation (a draft DOI) only to
    staff and the team of a session whose datasets it holds (``can_read_reservation``).

    ``roles``: what the caller is in those sessions taken together (the union of
    ``roles_of`` over them), and staff if they are staff, whatever the publication holds.
    """
    return published or can_read_reservation(roles)


def roles_under(caller: Caller, facts: InvestigationFacts, rules: AccessRules) -> set[Role]:
    """``roles_of`` with the roles that access rules name (the local contact's too)."""
    return roles_of(
        caller, facts, rules.main_proposer_roles, local_contact_roles=rules.local_contact_roles
    )


def can_grant_access(roles: Iterable[Role], *, local_contacts_grant: bool = False) -> bool:
    """Only the main proposer (or staff) may add a collaborator to a session, and the
    local contact where the facility lets them. The same people revoke collaborators and
    answer access requests."""
    held = set(roles)
    if local_contacts_grant and Role.LOCAL_CONTACT in held:
        return True
    return Role.MAIN_PROPOSER in held or Role.STAFF in held


def manages_access(caller: Caller, facts: InvestigationFacts, rules: AccessRules) -> bool:
    """Whether the caller grants, revokes and answers requests for this session."""
    return can_grant_access(
        roles_under(caller, facts, rules), local_contacts_grant=rules.local_contacts_grant
    )


def can_request_access(roles: Iterable[Role], *, released: bool) -> bool:
    """Any signed-in user who cannot yet read the session's data may ask for access."""
    held = set(roles)
    if Role.ANONYMOUS in held:
        return False
    return not can_read(FieldClass.DATA, held, released=released)


def can_see_access_request(caller: Caller, requester: str, *, manages: bool) -> bool:
    """An access request is seen by the person who asked, by those who manage the
    session's access, and by staff."""
    return (
        caller.is_staff
        or manages
        or (caller.user_name is not None and caller.user_name == requester)
    )


def can_see_event(caller: Caller, actor: str, person: str | None, *, on_team: bool) -> bool:
    """An event of the log is seen by staff, by who did it, by whose access it is about,
    and by the team (any role) of the session it concerns."""
    name = caller.user_name
    return caller.is_staff or on_team or (name is not None and name in (actor, person))


def can_read_reservation(roles: Iterable[Role]) -> bool:
    """A team member (or staff) may see a reserved DOI of the session's datasets (reading
    it; who may publish it is ``can_publish``)."""
    held = set(roles)
    return Role.TEAM_MEMBER in held or Role.STAFF in held


class Publishers(enum.Enum):
    """Who of a session's team may publish a DOI for its datasets (staff always may)."""

    TEAM = "team"
    """Every member, collaborators included: the facility's page ("as a member of an
    experiment session, you can create a bespoke DOI"; collaborators have "the same
    permissions as other members")."""
    PROPOSAL = "proposal"
    """Members from the proposal: every role but the collaborator's (a grant)."""
    MAIN_PROPOSER = "main-proposer"
    """The main proposer only."""


@dataclass(frozen=True)
class PublishRules:
    """Who may publish (``Settings.publish_rules``)."""

    access: AccessRules
    publishers: Publishers = Publishers.TEAM


def is_proprietary(release_date: datetime | None) -> bool:
    """A session the facility's rules never release: no release date (industrial,
    proprietary beam time). Its data are made public by a DOI only if staff publish it."""
    return release_date is None


def can_publish(caller: Caller, facts: InvestigationFacts, rules: PublishRules) -> bool:
    """May the caller publish a DOI (reserve, change, publish, mint) for datasets of this
    session? Publishing releases data, so it is a right of its own, not reading's: staff,
    and the session's members as ``rules.publishers`` says, unless the session is
    proprietary. A beamline scientist reads the data but does not publish it."""
    if caller.is_staff:
        return True
    if caller.user_name is None or is_proprietary(facts.release_date):
        return False
    held = facts.team.get(caller.user_name, frozenset())
    if rules.publishers is Publishers.MAIN_PROPOSER:
        return any(is_main_proposer_role(r, rules.access.main_proposer_roles) for r in held)
    if rules.publishers is Publishers.PROPOSAL:
        return any(not is_collaborator_role(r, rules.access) for r in held)
    return bool(held)


def can_change_release_date(roles: Iterable[Role]) -> bool:
    """Only facility staff may extend or shorten an embargo."""
    return Role.STAFF in set(roles)
