"""A session's team as the access workflow changes it: finding the person, adding them as a
collaborator, removing a collaborator (ICAT ``INVESTIGATIONUSER``), inside the caller's
transaction.

Rows are written as icat.server writes them: an id from ``SEQ_GEN``, the audit columns
(``CREATE_ID`` and ``MOD_ID`` the acting user's ICAT name, UTC times) and at most one row
per (user, session, role), the unique key ``UNQ_INVESTIGATIONUSER_0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.auth.policy import AccessRules, is_collaborator_role
from gateway.catalogue.gateway_tables import GrantExpiry
from gateway.catalogue.models import InvestigationUser, User
from gateway.catalogue.orcid import normalise_orcid, orcid_variants
from gateway.catalogue.sequence import insert_row
from gateway.catalogue.sql_text import same_name
from gateway.errors import AmbiguousUser, BadUserInput, UnknownUser


@dataclass(frozen=True)
class PersonReference:
    """How a client names a person: exactly one of an ICAT user name, an ORCID iD or an
    e-mail address."""

    user_name: str | None = None
    orcid: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        given = [value for value in (self.user_name, self.orcid, self.email) if value is not None]
        if len(given) != 1:
            raise BadUserInput("Name the person by exactly one of userName, orcid or email.")
        if not given[0].strip():
            raise BadUserInput("The person's name, ORCID iD or e-mail address is blank.")

    def __str__(self) -> str:
        return next(value for value in (self.user_name, self.orcid, self.email) if value)


@dataclass(frozen=True)
class Person:
    """A catalogue user (``USER_``)."""

    user_id: int
    user_name: str


async def find_person(connection: AsyncConnection, reference: PersonReference) -> Person:
    """The one catalogue user the reference names: UNKNOWN_USER if none, AMBIGUOUS_USER if
    several share the ORCID iD or e-mail address (a user name is unique in ICAT)."""
    statement = select(User.id.label("id"), User.name.label("name"))
    if reference.user_name is not None:
        statement = statement.where(same_name(User.name, reference.user_name.strip()))
        what = f"user name {reference.user_name.strip()}"
    elif reference.orcid is not None:
        bare = normalise_orcid(reference.orcid)
        statement = statement.where(User.orcid_id.in_(orcid_variants([bare])))
        what = f"ORCID iD {bare}"
    else:
        email = (reference.email or "").strip().lower()
        if "@" not in email:
            raise BadUserInput(f"`{reference.email}` is not an e-mail address.", argument="email")
        statement = statement.where(func.lower(User.email) == email)
        what = f"e-mail address {email}"
    rows = (await connection.execute(statement.order_by(User.id).limit(2))).all()
    if not rows:
        raise UnknownUser(f"No user with the {what} in the catalogue.")
    if len(rows) > 1:
        raise AmbiguousUser(
            f"Several users have the {what}: name the person by their ICAT user name."
        )
    return Person(int(rows[0].id), str(rows[0].name))


async def roles_held(
    connection: AsyncConnection, investigation_id: int, user_id: int, *, lock: bool
) -> list[tuple[int, str]]:
    """The person's team rows (id, role) in the session; with ``lock``, read as they are
    committed and locked until the transaction ends (``SELECT ... FOR UPDATE``)."""
    statement = select(
        InvestigationUser.id.label("id"), InvestigationUser.role.label("role")
    ).where(
        InvestigationUser.investigation_id == investigation_id,
        InvestigationUser.user_id == user_id,
    )
    if lock and connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    return [(int(row.id), str(row.role)) for row in await connection.execute(statement)]


async def add_collaborator(
    connection: AsyncConnection,
    investigation_id: int,
    person: Person,
    rules: AccessRules,
    *,
    acting: str,
    now: datetime,
) -> tuple[list[str], bool]:
    """Make the person a collaborator of the session unless they are on its team already:
    their roles afterwards, and whether a row was added.

    Call with the session locked (``load_investigation_facts(for_update=True)``): grants of
    one session are then serialised, and the check below sees the previous grant's row.
    """
    held = await roles_held(connection, investigation_id, person.user_id, lock=True)
    if held:
        return [role for _, role in held], False
    # The audit columns as icat.server writes them on a create: the acting user's name
    # in both ids, one instant in both times.
    await insert_row(
        connection,
        InvestigationUser,
        user_id=person.user_id,
        investigation_id=investigation_id,
        role=rules.collaborator_role,
        create_id=acting,
        create_time=now,
        mod_id=acting,
        mod_time=now,
    )
    return [rules.collaborator_role], True


async def remove_collaborator(
    connection: AsyncConnection, investigation_id: int, person: Person, rules: AccessRules
) -> tuple[Sequence[str], Sequence[str]]:
    """Delete the person's collaborator rows in the session: the roles removed, and those
    they keep (from the proposal itself, which no revocation removes)."""
    held = await roles_held(connection, investigation_id, person.user_id, lock=True)
    removed = [(row_id, role) for row_id, role in held if is_collaborator_role(role, rules)]
    kept = [role for _, role in held if not is_collaborator_role(role, rules)]
    if removed:
        row_ids = [row_id for row_id, _ in removed]
        await connection.execute(
            delete(GrantExpiry).where(GrantExpiry.investigation_user_id.in_(row_ids))
        )
        await connection.execute(delete(InvestigationUser).where(InvestigationUser.id.in_(row_ids)))
    return [role for _, role in removed], kept


async def set_grant_expiry(
    connection: AsyncConnection,
    investigation_id: int,
    person: Person,
    rules: AccessRules,
    expires_at: datetime | None,
) -> bool:
    """Make the person's collaborator entries in the session end at ``expires_at`` (None:
    never). Entries from the proposal are left alone: only a grant expires. Whether
    anything changed. Call with the session locked, as for ``add_collaborator``."""
    held = await roles_held(connection, investigation_id, person.user_id, lock=True)
    row_ids = [row_id for row_id, role in held if is_collaborator_role(role, rules)]
    if not row_ids:
        return False
    before = {
        int(row_id): expiry
        for row_id, expiry in await connection.execute(
            select(GrantExpiry.investigation_user_id, GrantExpiry.expires_at).where(
                GrantExpiry.investigation_user_id.in_(row_ids)
            )
        )
    }
    if all(before.get(row_id) == expires_at for row_id in row_ids):
        return False
    await connection.execute(
        delete(GrantExpiry).where(GrantExpiry.investigation_user_id.in_(row_ids))
    )
    if expires_at is not None:
        for row_id in row_ids:
            await connection.execute(
                insert(GrantExpiry).values(investigation_user_id=row_id, expires_at=expires_at)
            )
    return True
