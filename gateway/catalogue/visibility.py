"""The policy compiled into SQL: what a caller may see, as filters the database applies.

``Access`` is the caller and the request's instant; from it these functions build the
WHERE clauses that lists and loaders use, so that pages, cursors and totals only ever count
what the caller may see. The caller's team roles and beamlines are looked up by user name
inside those clauses (unique index on USER_.NAME): no statement of its own per request.
The rules are those of ``gateway.auth.policy``, and each is written in SQL here only;
``tests/integration/test_policy_agreement.py`` checks that both agree row by row.

With ``Settings.authorization = icat-rules`` (``Access.rules`` set) the read rules are the
catalogue's own instead: each function below asks ``gateway.catalogue.icat_rules`` for the
compiled union of the caller's rules for its entity, before any shortcut of the built-in
policy (staff read what the rules let them read; root users read everything).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    true,
    union_all,
)

from gateway.auth.policy import AccessRules, Caller, Publishers, PublishRules
from gateway.catalogue.gateway_tables import (
    AccessRequest,
    Download,
    Event,
    GrantExpiry,
    ReviewerLink,
    ReviewerLinkItem,
)
from gateway.catalogue.icat_rules.relationships import (
    Step,
    entities,
    relation_steps,
    step,
    step_of_join,
)
from gateway.catalogue.icat_rules.ruleset import IcatRules
from gateway.catalogue.models import (
    DataCollectionDatafile,
    DataCollectionDataset,
    Datafile,
    DataPublication,
    Dataset,
    InstrumentScientist,
    Investigation,
    InvestigationInstrument,
    InvestigationUser,
    User,
)
from gateway.catalogue.row_filter import row_filter
from gateway.catalogue.sql_text import exact_text, same_name, stripped
from gateway.fields.catalogue import TYPES
from gateway.fields.declaration import Lookup, Relation
from gateway.fields.graph import Join


@dataclass(frozen=True)
class Access:
    """The caller as the SQL filters need them: who, and the instant of the request."""

    caller: Caller
    now: datetime
    member_ids: Any = None
    """The caller's sessions as a selectable already in the statement (a CTE, see
    ``gateway.compiled.operations``), instead of the subquery repeated at every use."""
    rules: IcatRules | None = None
    """The catalogue's own rules (``icat-rules`` authorization), or None: the built-in
    policy."""

    @property
    def is_staff(self) -> bool:
        return self.caller.is_staff


def by_rules(
    access: Access, model: Any, parent: tuple[str, Any] | None = None
) -> ColumnElement[bool]:
    """Under ICAT's rules: the rows of ``model`` the caller may read (a root user: all).
    ``parent``: the row all of them reach by a many-to-one field, in the statement
    already (``RuleSet.readable``)."""
    rules = access.rules
    assert rules is not None
    if rules.root:
        return true()
    found = rules.ruleset.readable(
        model.__name__, model, access.caller.user_name, access.now, parent
    )
    return true() if found is None else found


def rows_by_rules(access: Access, model: Any) -> list[ColumnElement[bool]]:
    """The conditions on the rows of a table served by itself (a root list, a lookup by id
    or name, a node): under ICAT's rules, the rows they open to the caller
    (:func:`by_rules`); under the built-in policy none (reference tables are public)."""
    return [] if access.rules is None else [by_rules(access, model)]


def reached_by_rules(access: Access, step: Step, model: Any) -> ColumnElement[bool] | None:
    """Under ICAT's rules, the objects reached from a readable one by ``step`` (an
    INCLUDE): None when all of them are readable (a public step, a public entity, a root
    user), else their entity's rule (icat.server's ``GateKeeper.allowed``)."""
    rules = access.rules
    assert rules is not None
    if rules.root or rules.ruleset.allowed(step):
        return None
    return by_rules(access, model)


def along_by_rules(access: Access, *hops: tuple[str, str, Any]) -> list[ColumnElement[bool]]:
    """Under ICAT's rules, the conditions on the rows a hand-written child statement reads
    (``gateway.catalogue.details``, a session's team, a dataset's sample): each hop is ICAT's
    ``origin.field`` and the model the statement reads its target from, filtered as
    :func:`reached_by_rules` says. Nothing under the built-in policy, where the children
    follow their parent."""
    if access.rules is None:
        return []
    conditions: list[ColumnElement[bool]] = []
    for origin, field, model in hops:
        found = step(origin, field)
        if found is None or entities()[found.target] is not model:
            raise KeyError(f"{origin}.{field} does not reach {model.__name__}")
        condition = reached_by_rules(access, found, model)
        if condition is not None:
            conditions.append(condition)
    return conditions


def datasets_of_session_by_rules(
    access: Access, session_readable: Any, session: Any = None
) -> ColumnElement[bool]:
    """Under ICAT's rules, the datasets ``Investigation.datasets`` lists: every dataset of
    a session the caller may read where the step is a PUBLICSTEP (or Dataset is public),
    else those the Dataset rules open. ``session_readable``: whether the caller may read
    the dataset's session, needed only where a session is listed without being readable
    (``icat_rules_public_landing``): a public step opens nothing from there. ``session``:
    the datasets' one session's row, in the statement already (its attributes its
    columns), on which the Dataset rules that read only a dataset's session are tested
    (``RuleSet.readable``'s ``parent``), not through a join per dataset."""
    hop = step("Investigation", "datasets")
    assert hop is not None
    parent = None if session is None else ("investigation", session)
    if reached_by_rules(access, hop, Dataset) is not None:
        return by_rules(access, Dataset, parent)
    rules = access.rules
    assert rules is not None
    if rules.public_landing and not rules.root:
        return or_(session_readable, by_rules(access, Dataset, parent))
    return true()


def team_rows_by_rules(access: Access) -> list[ColumnElement[bool]]:
    """Under ICAT's rules, the INVESTIGATIONUSER rows ``Investigation.team`` lists: those
    reached from their session, whose person is reached from the row in turn. A member whose
    USER_ row the caller may not read is left out: ``TeamMember.user`` is never null. As
    conditions on the INVESTIGATIONUSER row alone (the person's in an EXISTS), so that the
    loader (``queries.team_listed``) and the compiled renderer's correlated list apply the
    same ones. Nothing under the built-in policy."""
    conditions = along_by_rules(access, ("Investigation", "investigationUsers", InvestigationUser))
    person = along_by_rules(access, ("InvestigationUser", "user", User))
    if person:
        reached = select(User.id).where(User.id == InvestigationUser.user_id, *person)
        conditions.append(exists(reached.correlate_except(User)))
    return conditions


def related_by_rules(access: Access, relation: Relation) -> list[ColumnElement[bool]]:
    """Under ICAT's rules, the conditions on the rows a declared relation reaches (the link
    rows and the children, each on its table's model), hop by hop as
    :func:`reached_by_rules` says; a relation that is no path of ICAT's reaches nothing."""
    paths = relation_steps(relation)
    if not paths or any(path is None for path in paths):
        return [false()]
    conditions: list[ColumnElement[bool]] = []
    for hops in zip(*(path for path in paths if path is not None), strict=True):
        target = entities()[hops[0].target]
        for hop in hops:
            condition = reached_by_rules(access, hop, target)
            if condition is not None:
                conditions.append(condition)
                break
    return conditions


def lookup_by_rules(access: Access, model: Any, lookup: Lookup) -> ColumnElement[bool] | None:
    """Under ICAT's rules, the condition on the row a declared lookup reads with a row of
    ``model`` (a dataset's DATASETTYPE, a parameter's PARAMETERTYPE: ICAT's many-to-one
    step by ``lookup.key``), as :func:`reached_by_rules` says; None where every such row is
    read (a public step or entity, a root user, the built-in policy). A lookup that is no
    step of ICAT's reaches nothing."""
    if access.rules is None:
        return None
    hop = step_of_join(Join(model.__table__.name, lookup.key, lookup.table, "id"))
    if hop is None:
        return false()
    return reached_by_rules(access, hop, entities()[hop.target])


def listed_by_rules(access: Access, type_name: str, field: str) -> list[ColumnElement[bool]]:
    """The conditions on the rows the declared list field ``type_name.field`` reaches past
    its parent (link rows, beamlines, techniques, parameters) under ICAT's rules
    (:func:`related_by_rules`): what a facet or a filter over that field may count or
    find. None under the built-in policy, where they follow their parent."""
    if access.rules is None:
        return []
    relation = TYPES[type_name].field(field)
    assert isinstance(relation, Relation)
    return related_by_rules(access, relation)


def investigation_listed(access: Access) -> ColumnElement[bool]:
    """Which sessions are listed at all: every one (their landing facts are public), except
    under ICAT's rules, where a session the caller may not read is not listed unless the
    facility makes landing facts public (``Settings.icat_rules_public_landing``)."""
    if access.rules is None or access.rules.public_landing:
        return true()
    readable = investigation_data_visible(access)
    # A test of each session, never what picks the index a list is read by (SQLite's plans).
    return readable if access.rules.root else row_filter(readable)


def released(release_date: Any, now: datetime) -> ColumnElement[bool]:
    """A release date in the past; NULL never releases."""
    return and_(release_date.is_not(None), release_date < now)


def member_investigation_ids(access: Access) -> Any | None:
    """Sessions the caller belongs to: team rows whose grant is in force, or beamlines
    they are scientist of; for a reviewer link, the sessions it names while it is valid.

    None when anonymous. A user name unknown to the catalogue belongs to nothing.
    """
    name = access.caller.user_name
    if name is None:
        link = access.caller.reviewer_link
        return None if link is None else reviewer_investigation_ids(link, access.now)
    if access.member_ids is not None:
        return access.member_ids
    beamlines = select(InvestigationInstrument.investigation_id).where(
        InvestigationInstrument.instrument_id.in_(scientist_beamline_ids(name))
    )
    return team_investigation_ids(name, access.now).union(beamlines)


def in_force(team_rows: Any, now: Any) -> Any:
    """``team_rows`` (a statement over INVESTIGATIONUSER) without the grants that have
    expired (:func:`grant_in_force` on each row)."""
    return team_rows.where(grant_in_force(InvestigationUser.id, now))


def grant_in_force(membership_id: Any, now: Any) -> ColumnElement[bool]:
    """The INVESTIGATIONUSER row ``membership_id`` counts at ``now``: a row counts until
    its expiry (``GATEWAY_GRANT_EXPIRY``) is reached; a row without one (or with a NULL
    one) never expires. The one place the expiry of a grant is decided: the built-in
    policy's team (:func:`in_force`) and, under ICAT's rules, every rule that joins
    INVESTIGATIONUSER (``icat_rules.compiler``), so a grant the gateway made ends for the
    rules too."""
    return ~exists(
        select(GrantExpiry.investigation_user_id).where(
            GrantExpiry.investigation_user_id == membership_id, GrantExpiry.expires_at <= now
        )
    )


def team_investigation_ids(user_name: str, now: Any) -> Any:
    """The sessions a user is on the team of (INVESTIGATIONUSER, any role, grants in
    force at ``now``), as a subquery."""
    return in_force(
        select(InvestigationUser.investigation_id)
        .join(User, User.id == InvestigationUser.user_id)
        .where(same_name(User.name, user_name)),
        now,
    )


def _linked(column: Any, link_id: Any, now: Any) -> Any:
    """The ids in ``column`` of a reviewer link's items, while the link is valid (neither
    revoked nor expired at ``now``): checked in every statement, not only when the token
    was accepted, so a revocation holds from the next statement on."""
    return (
        select(column)
        .join(ReviewerLink, ReviewerLink.id == ReviewerLinkItem.link_id)
        .where(
            ReviewerLink.id == link_id,
            ReviewerLink.revoked_at.is_(None),
            ReviewerLink.expires_at > now,
            column.is_not(None),
        )
    )


def reviewer_investigation_ids(link_id: Any, now: Any) -> Any:
    """The sessions a valid reviewer link opens (their DATA, read-only), as a subquery."""
    return _linked(ReviewerLinkItem.investigation_id, link_id, now)


def reviewer_dataset_ids(access: Access) -> Any | None:
    """The datasets a reviewer link opens one by one (a reserved DOI's selection); None
    for every other caller."""
    link = access.caller.reviewer_link
    if link is None or access.caller.user_name is not None:
        return None
    return _linked(ReviewerLinkItem.dataset_id, link, access.now)


def scientist_beamline_ids(user_name: str) -> Any:
    """The INSTRUMENT ids a user is a beamline scientist of, as a subquery."""
    return (
        select(InstrumentScientist.instrument_id)
        .join(User, User.id == InstrumentScientist.user_id)
        .where(same_name(User.name, user_name))
    )


def is_main_proposer(role_column: Any, main_proposer_roles: Set[str]) -> ColumnElement[bool]:
    """``policy.is_main_proposer_role`` in SQL: the role without the whitespace around it,
    lower-cased, is one of the configured names (which ``Settings`` strips and lowers)."""
    roles = sorted(main_proposer_roles)
    if not roles:
        return false()
    normalised = exact_text(func.lower(stripped(role_column)))
    return func.coalesce(normalised.in_(roles), false())


def managed_investigation_ids(user_name: str, rules: AccessRules, now: Any) -> Any:
    """The sessions whose access a user manages (``policy.manages_access`` without staff,
    which manage every session): those they are the main proposer of, and, where the
    facility lets local contacts grant, those they are the local contact of."""
    manager = is_main_proposer(InvestigationUser.role, rules.main_proposer_roles)
    if rules.local_contacts_grant:
        manager = or_(manager, is_main_proposer(InvestigationUser.role, rules.local_contact_roles))
    return team_investigation_ids(user_name, now).where(manager)


def publishable_investigation_ids(access: Access, rules: PublishRules) -> Any | None:
    """``policy.can_publish`` in SQL: the sessions whose datasets the caller may publish a
    DOI for, as a subquery; None for staff (every session)."""
    if access.is_staff:
        return None
    name = access.caller.user_name
    if name is None:
        return select(Investigation.id).where(false())
    team = team_investigation_ids(name, access.now)
    if rules.publishers is Publishers.MAIN_PROPOSER:
        team = team.where(
            is_main_proposer(InvestigationUser.role, rules.access.main_proposer_roles)
        )
    elif rules.publishers is Publishers.PROPOSAL:
        collaborator = {rules.access.collaborator_role.strip().lower()}
        team = team.where(~is_main_proposer(InvestigationUser.role, collaborator))
    return select(Investigation.id).where(
        Investigation.id.in_(team), Investigation.release_date.is_not(None)
    )


def access_request_visible(access: Access, rules: AccessRules) -> ColumnElement[bool]:
    """``policy.can_see_access_request`` in SQL: staff, the requester, and those who manage
    the session's access see an access request."""
    if access.is_staff:
        return true()
    name = access.caller.user_name
    if name is None:
        return false()
    return or_(
        same_name(AccessRequest.requester, name),
        AccessRequest.investigation_id.in_(managed_investigation_ids(name, rules, access.now)),
    )


def event_visible(access: Access) -> ColumnElement[bool]:
    """``policy.can_see_event`` in SQL: staff see every event; a person the events they
    did or that are about their access; a session's team (any role) its session's."""
    if access.is_staff:
        return true()
    name = access.caller.user_name
    if name is None:
        return false()
    return or_(
        same_name(Event.actor, name),
        same_name(Event.person, name),
        Event.investigation_id.in_(team_investigation_ids(name, access.now)),
    )


def personal_visible(access: Access, owner_name_column: Any) -> ColumnElement[bool]:
    """``policy.can_read_personal`` in SQL: staff, or the caller's own USER_ row."""
    if access.is_staff:
        return true()
    name = access.caller.user_name
    if name is None:
        return false()
    return same_name(owner_name_column, name)


def investigation_data_visible(access: Access) -> ColumnElement[bool]:
    """May the caller read the DATA-class fields of the INVESTIGATION row in scope?"""
    if access.rules is not None:
        return by_rules(access, Investigation)
    if access.is_staff:
        return true()
    visible = released(Investigation.release_date, access.now)
    members = member_investigation_ids(access)
    if members is not None:
        visible = or_(visible, Investigation.id.in_(members))
    return visible


def published_dataset_ids(now: datetime) -> Any:
    """Datasets in the collection of a data publication whose publication date is past."""
    return (
        select(DataCollectionDataset.dataset_id)
        .join(
            DataPublication,
            DataPublication.data_collection_id == DataCollectionDataset.data_collection_id,
        )
        .where(released(DataPublication.publication_date, now))
    )


def published_datafile_ids(now: datetime) -> Any:
    """Datafiles named one by one in the collection of a published data publication."""
    return (
        select(DataCollectionDatafile.datafile_id)
        .join(
            DataPublication,
            DataPublication.data_collection_id == DataCollectionDatafile.data_collection_id,
        )
        .where(released(DataPublication.publication_date, now))
    )


def visible_investigation_ids(access: Access) -> Any:
    """Sessions whose data the caller may read, as a subquery."""
    return select(Investigation.id).where(investigation_data_visible(access))


def dataset_visible_with(
    session_data_visible: Any, now: datetime, linked: Any | None = None
) -> ColumnElement[bool]:
    """The dataset rule, given whether the caller may read its session's DATA: a dataset
    is visible with its session's data, or once a published data publication holds it
    (``policy.can_read_dataset``), or when the caller's reviewer link names it
    (``linked``: ``reviewer_dataset_ids``). The forms below differ only in how they know
    the session's part."""
    visible = or_(session_data_visible, Dataset.id.in_(published_dataset_ids(now)))
    return visible if linked is None else or_(visible, Dataset.id.in_(linked))


def dataset_visible(access: Access) -> ColumnElement[bool]:
    """May the caller see the DATASET row in scope (its session's data, or published)?"""
    if access.rules is not None:
        return by_rules(access, Dataset)
    if access.is_staff:
        return true()
    return dataset_visible_with(
        Dataset.investigation_id.in_(visible_investigation_ids(access)),
        access.now,
        reviewer_dataset_ids(access),
    )


def dataset_row_visible(access: Access) -> ColumnElement[bool]:
    """``dataset_visible`` for a few rows (lookups by id): the session is checked per row
    through its primary key, instead of hashing every session whose data are visible (a
    million-dataset catalogue has tens of thousands)."""
    if access.rules is not None:
        return by_rules(access, Dataset)
    if access.is_staff:
        return true()
    session = select(Investigation.id).where(
        Investigation.id == Dataset.investigation_id, investigation_data_visible(access)
    )
    return dataset_visible_with(exists(session), access.now, reviewer_dataset_ids(access))


def dataset_visible_given_session(
    access: Access, session_data_visible: ColumnElement[bool]
) -> ColumnElement[bool]:
    """``dataset_visible`` for DATASET rows whose session's part of the rule was read
    already (``session_data_visible``: :func:`investigation_data_visible` of the dataset's
    session, e.g. held with a search's matches). Under ICAT's rules: the datasets
    ``Investigation.datasets`` lists (a PUBLICSTEP opens them all)."""
    if access.rules is not None:
        return datasets_of_session_by_rules(access, session_data_visible)
    if access.is_staff:
        return true()
    return dataset_visible_with(session_data_visible, access.now, reviewer_dataset_ids(access))


def every_dataset_visible(
    access: Access, session_data_visible: ColumnElement[bool]
) -> ColumnElement[bool] | None:
    """The sessions whose every dataset the caller may see, given the session's part of
    the dataset rule (``session_data_visible``, as :func:`dataset_visible_given_session`
    takes it): what may be counted by the session as a whole (its datasets' techniques
    summarised per session, ``facets``) instead of dataset by dataset. None where the
    session does not tell (ICAT's rules that test each dataset: ``Investigation.datasets``
    no PUBLICSTEP). Under the built-in policy, staff see every dataset, and anyone every
    dataset of a session whose data they read (others: those opened one by one); under
    ICAT's rules, a PUBLICSTEP opens every dataset of a listed session, or of a readable
    one where sessions are listed without being readable (:func:`datasets_of_session_by_rules`)."""
    if access.rules is None:
        return true() if access.is_staff else session_data_visible
    hop = step("Investigation", "datasets")
    assert hop is not None
    if reached_by_rules(access, hop, Dataset) is not None:
        return None
    if access.rules.public_landing and not access.rules.root:
        return session_data_visible
    return true()


def opened_dataset_ids(access: Access) -> Any:
    """The datasets the built-in policy opens one by one, whatever their session: the
    published ones, and those the caller's reviewer link names (a statement of ids)."""
    opened: Any = published_dataset_ids(access.now)
    linked = reviewer_dataset_ids(access)
    return opened if linked is None else union_all(opened, linked)


def dataset_visible_joined(
    access: Access, statement: Select[Any], session_data_visible: ColumnElement[bool]
) -> Select[Any]:
    """``statement`` (reading DATASET rows) narrowed to the datasets the caller may see,
    given their session's part of the rule already read (``session_data_visible``:
    :func:`investigation_data_visible` of the dataset's session, e.g. held with a search's
    matches). The datasets opened one by one (published, or named by the caller's
    reviewer link) are outer-joined, not tested by ``IN``: PostgreSQL costs a hashed
    subquery in an ``OR`` at every probe of DATASET and would read all of DATASET instead.
    The statement may repeat a dataset (one in two publications): count distinct."""
    if access.rules is not None:
        # The datasets Investigation.datasets lists (a PUBLICSTEP opens them all).
        return statement.where(datasets_of_session_by_rules(access, session_data_visible))
    if access.is_staff:
        return statement
    alone = opened_dataset_ids(access).subquery("opened_datasets")
    column = alone.c[0]
    return statement.outerjoin(alone, column == Dataset.id).where(
        or_(session_data_visible, column.is_not(None))
    )


def datafile_row_visible(access: Access) -> ColumnElement[bool]:
    """``datafile_visible`` for a few DATAFILE rows (lookups by id), checked row by row as
    :func:`dataset_row_visible` does."""
    if access.rules is not None:
        return by_rules(access, Datafile)
    if access.is_staff:
        return true()
    own_dataset = select(Dataset.id).where(
        Dataset.id == Datafile.dataset_id, dataset_row_visible(access)
    )
    return or_(exists(own_dataset), Datafile.id.in_(published_datafile_ids(access.now)))


def datafile_visible(access: Access, datafile_id: Any, dataset_id: Any) -> ColumnElement[bool]:
    """May the caller see a DATAFILE row: its dataset is visible, or it is published itself.
    Under ICAT's rules: the Datafile rules, on the DATAFILE row in scope."""
    if access.rules is not None:
        return by_rules(access, Datafile)
    if access.is_staff:
        return true()
    return or_(
        dataset_id.in_(select(Dataset.id).where(dataset_visible(access))),
        datafile_id.in_(published_datafile_ids(access.now)),
    )


def data_publication_visible(access: Access) -> ColumnElement[bool]:
    """A data publication is public once published; a reservation only to its team.

    A reserved (draft) DOI is visible to staff and to the team of a session whose datasets
    it holds (``policy.can_read_reservation``). A
    beamline scientist reads those datasets, not the reservation.
    """
    if access.rules is not None:
        return by_rules(access, DataPublication)
    if access.is_staff:
        return true()
    visible = released(DataPublication.publication_date, access.now)
    name = access.caller.user_name
    if name is None:
        return visible
    own_collections = (
        select(DataCollectionDataset.data_collection_id)
        .join(Dataset, Dataset.id == DataCollectionDataset.dataset_id)
        .where(Dataset.investigation_id.in_(team_investigation_ids(name, access.now)))
    )
    return or_(visible, DataPublication.data_collection_id.in_(own_collections))


REVIEWER_CALLER = "reviewer-link:"
"""How a download prepared with a reviewer link names its caller (``Download.caller``)."""


def download_caller(access: Access) -> str | None:
    """The ``Download.caller`` of a download prepared with a reviewer link (the link's own
    key, so that only the same link follows it); None for everyone else."""
    link = access.caller.reviewer_link
    if link is None or access.caller.user_name is not None:
        return None
    return f"{REVIEWER_CALLER}{link}"


def download_visible(access: Access) -> ColumnElement[bool]:
    """Who may follow a prepared download: the person who prepared it and staff; an
    anonymous one (released data only) by anyone anonymous; one prepared with a reviewer
    link (embargoed data) by that link only."""
    if access.is_staff:
        return true()
    name = access.caller.user_name
    if name is None:
        reviewer = download_caller(access)
        if reviewer is not None:
            return and_(Download.user_name.is_(None), Download.caller == reviewer)
        return and_(Download.user_name.is_(None), ~Download.caller.startswith(REVIEWER_CALLER))
    return same_name(Download.user_name, name)
