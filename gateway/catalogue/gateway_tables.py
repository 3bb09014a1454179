"""Tables the gateway owns, kept apart from ICAT's (own metadata, ``GATEWAY_`` prefix).

The gateway never alters ICAT's tables: what it needs to remember that ICAT has no place
for (who changed a release date and why, access requests and their audit trail, DOI
registrations in progress, the DOIs the local registrar holds) lives here.
They are made by the gateway's own migrations (gateway/catalogue/migrations, see
migrate.py), in the schema ``OWN_SCHEMA`` stands for: a change here needs a new revision
there (tests/integration/test_migrations.py compares the two).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

OWN_SCHEMA = "icat_gateway_own"
"""The placeholder schema of the gateway's models; engines translate it (``translate_map``)."""

VERSION_TABLE = "GATEWAY_ALEMBIC_VERSION"
"""Where the gateway's migrations record the revision its tables are at."""


def translate_map(schema: str | None) -> dict[str | None, str | None]:
    """The engines' ``schema_translate_map``: the placeholder to the configured schema."""
    return {OWN_SCHEMA: schema}


LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
"""A text that may exceed MariaDB's TEXT (64 KB): the words of a session's datasets."""


class GatewayBase(DeclarativeBase):
    """Declarative base of the gateway's own tables."""

    metadata = MetaData(schema=OWN_SCHEMA)


class ReleaseDateChange(GatewayBase):
    """One change of a session's release date (an embargo extended or shortened)."""

    __tablename__ = "GATEWAY_RELEASE_DATE_CHANGE"

    # SQLite autoincrements only INTEGER PRIMARY KEY columns.
    id: Mapped[int] = mapped_column(
        "ID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    investigation_id: Mapped[int] = mapped_column("INVESTIGATION_ID", BigInteger, nullable=False)
    old_release_date: Mapped[datetime | None] = mapped_column("OLD_RELEASE_DATE", DateTime)
    new_release_date: Mapped[datetime | None] = mapped_column("NEW_RELEASE_DATE", DateTime)
    changed_by: Mapped[str] = mapped_column("CHANGED_BY", String(255), nullable=False)
    reason: Mapped[str] = mapped_column("REASON", String(1023), nullable=False)
    changed_at: Mapped[datetime] = mapped_column("CHANGED_AT", DateTime, nullable=False)

    __table_args__ = (Index("GATEWAY_RDC_INVESTIGATION", "INVESTIGATION_ID"),)


class StoredSecret(GatewayBase):
    """A secret the gateway made for itself and every worker must share (the development
    issuer's signing key): made once by the first process that needs it."""

    __tablename__ = "GATEWAY_SECRET"

    name: Mapped[str] = mapped_column("NAME", String(64), primary_key=True)
    value: Mapped[str] = mapped_column("VALUE", Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column("CREATED_AT", DateTime, nullable=False)


class AccessRequest(GatewayBase):
    """A signed-in user's request to read a session's data, and its answer.

    ``PENDING`` is 1 while the request waits for an answer and NULL afterwards: the unique
    key over (requester id, session, PENDING) allows one pending request per person and
    session and any number of closed ones, because every database the gateway runs on
    (SQLite, PostgreSQL, MariaDB) treats NULLs as distinct in a unique index.
    """

    __tablename__ = "GATEWAY_ACCESS_REQUEST"

    id: Mapped[int] = mapped_column(
        "ID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    investigation_id: Mapped[int] = mapped_column("INVESTIGATION_ID", BigInteger, nullable=False)
    requester: Mapped[str] = mapped_column("REQUESTER", String(255), nullable=False)
    """The requester's ICAT user name."""
    requester_id: Mapped[int] = mapped_column("REQUESTER_ID", BigInteger, nullable=False)
    """Their USER_.ID (whom approval grants access)."""
    message: Mapped[str | None] = mapped_column("MESSAGE", String(2000))
    state: Mapped[str] = mapped_column("STATE", String(16), nullable=False)
    """pending, approved, declined or cancelled."""
    pending: Mapped[int | None] = mapped_column("PENDING", SmallInteger)
    created_at: Mapped[datetime] = mapped_column("CREATED_AT", DateTime, nullable=False)
    decided_by: Mapped[str | None] = mapped_column("DECIDED_BY", String(255))
    """Who approved or declined it (the requester, for a cancellation)."""
    decided_at: Mapped[datetime | None] = mapped_column("DECIDED_AT", DateTime)
    reply: Mapped[str | None] = mapped_column("REPLY", String(2000))

    __table_args__ = (
        UniqueConstraint(
            "REQUESTER_ID", "INVESTIGATION_ID", "PENDING", name="GATEWAY_AR_ONE_PENDING"
        ),
        Index("GATEWAY_AR_INVESTIGATION", "INVESTIGATION_ID", "PENDING"),
    )


class Event(GatewayBase):
    """The event log, one row per change the gateway makes (a grant, a revocation, an
    access request and its answer, a DOI's reservation, change, publication or
    cancellation, a release date's change, a prepared download, a release reminder): who
    did it, to what, on which session, when, why, and the state before and after. Written
    in the transaction of the change it records (``gateway.catalogue.events.record_event``),
    so it is also the outbox the delivery worker reads: ``DISPATCHED_AT`` is NULL until the
    worker has turned the event into its deliveries (``GATEWAY_DELIVERY``)."""

    __tablename__ = "GATEWAY_EVENT"

    id: Mapped[int] = mapped_column(
        "ID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    type: Mapped[str] = mapped_column("TYPE", String(64), nullable=False)
    """``access.grant``, ``doi.publish``... (``gateway.catalogue.events.EventType``)."""
    occurred_at: Mapped[datetime] = mapped_column("OCCURRED_AT", DateTime, nullable=False)
    actor: Mapped[str] = mapped_column("ACTOR", String(255), nullable=False)
    """The ICAT user name of who did it (``gateway`` for the scheduled jobs)."""
    subject_kind: Mapped[str] = mapped_column("SUBJECT_KIND", String(32), nullable=False)
    """What it is about: ``investigation``, ``access_request``, ``doi``, ``download``."""
    subject_id: Mapped[str] = mapped_column("SUBJECT_ID", String(255), nullable=False)
    investigation_id: Mapped[int | None] = mapped_column("INVESTIGATION_ID", BigInteger)
    """The session it concerns (a DOI's first session; NULL for a download)."""
    person: Mapped[str | None] = mapped_column("PERSON", String(255))
    """The ICAT user name of whose access it is about (grantee, requester)."""
    request_id: Mapped[int | None] = mapped_column("REQUEST_ID", BigInteger)
    role: Mapped[str | None] = mapped_column("ROLE", String(255))
    """The INVESTIGATIONUSER role granted or revoked."""
    reason: Mapped[str | None] = mapped_column("REASON", String(2000))
    before: Mapped[str | None] = mapped_column("BEFORE", Text)
    """JSON: the state before the change (a release date's old value...)."""
    after: Mapped[str | None] = mapped_column("AFTER", Text)
    """JSON: the state after it."""
    dispatched_at: Mapped[datetime | None] = mapped_column("DISPATCHED_AT", DateTime)
    """When the delivery worker made its deliveries; NULL while it waits in the outbox."""

    __table_args__ = (
        Index("GATEWAY_EV_INVESTIGATION", "INVESTIGATION_ID", "ID"),
        Index("GATEWAY_EV_PERSON", "PERSON", "ID"),
        Index("GATEWAY_EV_ACTOR", "ACTOR", "ID"),
        Index("GATEWAY_EV_TYPE", "TYPE", "ID"),
        Index("GATEWAY_EV_DISPATCH", "DISPATCHED_AT", "ID"),
    )


class Delivery(GatewayBase):
    """One message the delivery worker owes for an event: an e-mail to one address or a
    POST to one webhook subscription. Claimed under a lease (``LEASE_OWNER`` until
    ``LEASE_UNTIL``) so that of several replicas one sends it; retried with backoff
    (``NEXT_AT``) until ``STATE`` is ``delivered`` or, after the last attempt, ``failed``.
    Webhook deliveries of one subject to one subscription go out in event order
    (``ORDER_KEY``): a later one waits while an earlier one is pending."""

    __tablename__ = "GATEWAY_DELIVERY"

    id: Mapped[int] = mapped_column(
        "ID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[int] = mapped_column("EVENT_ID", BigInteger, nullable=False)
    channel: Mapped[str] = mapped_column("CHANNEL", String(16), nullable=False)
    """``email`` or ``webhook``."""
    target: Mapped[str] = mapped_column("TARGET", String(255), nullable=False)
    """The e-mail address, or the webhook subscription's id."""
    order_key: Mapped[str | None] = mapped_column("ORDER_KEY", String(320))
    """Target and subject of a webhook delivery (deliveries with one key go in order)."""
    state: Mapped[str] = mapped_column("STATE", String(16), nullable=False)
    """``pending``, ``delivered`` or ``failed``."""
    attempts: Mapped[int] = mapped_column("ATTEMPTS", Integer, nullable=False)
    next_at: Mapped[datetime] = mapped_column("NEXT_AT", DateTime, nullable=False)
    lease_owner: Mapped[str | None] = mapped_column("LEASE_OWNER", String(64))
    lease_until: Mapped[datetime | None] = mapped_column("LEASE_UNTIL", DateTime)
    last_status: Mapped[int | None] = mapped_column("LAST_STATUS", Integer)
    """The webhook's last HTTP status (or the SMTP reply code)."""
    last_error: Mapped[str | None] = mapped_column("LAST_ERROR", String(1023))
    created_at: Mapped[datetime] = mapped_column("CREATED_AT", DateTime, nullable=False)
    delivered_at: Mapped[datetime | None] = mapped_column("DELIVERED_AT", DateTime)

    __table_args__ = (
        Index("GATEWAY_DLV_DUE", "STATE", "NEXT_AT"),
        Index("GATEWAY_DLV_ORDER", "ORDER_KEY", "STATE", "EVENT_ID"),
        Index("GATEWAY_DLV_EVENT", "EVENT_ID"),
    )


class NotificationSetting(GatewayBase):
    """A person's choice of notifications (``me.notificationSettings``); no row: the
    defaults (every e-mail)."""

    __tablename__ = "GATEWAY_NOTIFICATION_SETTING"

    user_name: Mapped[str] = mapped_column("USER_NAME", String(255), primary_key=True)
    email: Mapped[int] = mapped_column("EMAIL", SmallInteger, nullable=False)
    """1: e-mails are sent; 0: none."""
    updated_at: Mapped[datetime] = mapped_column("UPDATED_AT", DateTime, nullable=False)


class Download(GatewayBase):
    """One prepared download: who asked, what (the datasets and files named), when, how
    big, and where it is served from. Written in the transaction that prepares it (the
    facility's download statistics, readable by staff); a link of the gateway's own store
    and a portal's ``download(id)`` read it, on any replica."""

    __tablename__ = "GATEWAY_DOWNLOAD"

    id: Mapped[int] = mapped_column(
        "ID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    created_at: Mapped[datetime] = mapped_column("CREATED_AT", DateTime, nullable=False)
    caller: Mapped[str] = mapped_column("CALLER", String(255), nullable=False)
    """The user name, or ``anonymous@<client address>`` (the per-caller limit counts it)."""
    user_name: Mapped[str | None] = mapped_column("USER_NAME", String(255))
    """The user name; NULL for an anonymous download."""
    name: Mapped[str] = mapped_column("NAME", String(255), nullable=False)
    backend: Mapped[str] = mapped_column("BACKEND", String(8), nullable=False)
    """``store`` or ``ids``."""
    dataset_ids: Mapped[str] = mapped_column("DATASET_IDS", Text, nullable=False)
    """The datasets named, comma-separated (as IDS takes them)."""
    datafile_ids: Mapped[str] = mapped_column("DATAFILE_IDS", Text, nullable=False)
    file_count: Mapped[int] = mapped_column("FILE_COUNT", Integer, nullable=False)
    size: Mapped[int] = mapped_column("SIZE", BigInteger, nullable=False)
    """Bytes: the zip's for the store, the catalogue's file sizes' sum for IDS."""
    prepared_id: Mapped[str | None] = mapped_column("PREPARED_ID", String(64))
    """IDS's prepared id (``ids`` only)."""
    expires_at: Mapped[datetime | None] = mapped_column("EXPIRES_AT", DateTime)
    fetched_at: Mapped[datetime | None] = mapped_column("FETCHED_AT", DateTime)
    """When it left preparation: its link first served (the gateway's own store), or the
    data service first said it was prepared (or no longer knew it)."""

    __table_args__ = (
        Index("GATEWAY_DL_CALLER", "CALLER", "CREATED_AT"),
        Index("GATEWAY_DL_CREATED", "CREATED_AT"),
    )


class DoiSaga(GatewayBase):
    """One DOI's way through its recorded steps (gateway.usecases.doi_saga).

    A row is made before anything else happens, with the catalogue ids the DOI is named
    after allocated already, so a retry can never make a second DOI and a cancelled
    reservation's suffix is never reused (the row stays). ``STEP`` is what is done;
    ``GOAL`` where the saga is going; the lease (``LEASE_OWNER``/``LEASE_UNTIL``) says
    which process drives it now, so that callers and ``doi reconcile`` on several replicas
    never drive one saga at once.
    """

    __tablename__ = "GATEWAY_DOI_SAGA"

    id: Mapped[int] = mapped_column(
        "ID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    doi: Mapped[str] = mapped_column("DOI", String(255), nullable=False)
    facility_id: Mapped[int] = mapped_column("FACILITY_ID", BigInteger, nullable=False)
    data_collection_id: Mapped[int] = mapped_column("DATACOLLECTION_ID", BigInteger, nullable=False)
    data_publication_id: Mapped[int] = mapped_column(
        "DATAPUBLICATION_ID", BigInteger, nullable=False
    )
    step: Mapped[str] = mapped_column("STEP", String(32), nullable=False)
    goal: Mapped[str] = mapped_column("GOAL", String(32), nullable=False)
    request: Mapped[str] = mapped_column("REQUEST", Text, nullable=False)
    """JSON: the selection and metadata the steps still to come need."""
    lease_owner: Mapped[str | None] = mapped_column("LEASE_OWNER", String(64))
    lease_until: Mapped[datetime | None] = mapped_column("LEASE_UNTIL", DateTime)
    revision: Mapped[int] = mapped_column("REVISION", Integer, nullable=False)
    """Counts the changes of the row: each step is recorded only if nothing changed it since
    it was read (a fence against a concurrent change of the same reservation)."""
    last_error: Mapped[str | None] = mapped_column("LAST_ERROR", String(1023))
    created_by: Mapped[str] = mapped_column("CREATED_BY", String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column("CREATED_AT", DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column("UPDATED_AT", DateTime, nullable=False)
    concept_doi: Mapped[str | None] = mapped_column("CONCEPT_DOI", String(255))
    """The concept DOI this DOI is a version of (``gateway.catalogue.doi_versions``); null
    for a DOI that never had a second version."""
    version: Mapped[int | None] = mapped_column("VERSION", Integer)
    """Its number under the concept, from 1 (null with ``CONCEPT_DOI``)."""

    __table_args__ = (
        UniqueConstraint("DOI", name="GATEWAY_DOI_SAGA_DOI"),
        UniqueConstraint("DATAPUBLICATION_ID", name="GATEWAY_DOI_SAGA_PUBLICATION"),
        Index("GATEWAY_DOI_SAGA_STEP", "STEP"),
        Index("GATEWAY_DOI_SAGA_CONCEPT", "CONCEPT_DOI"),
    )


class DoiRequest(GatewayBase):
    """An idempotency key of a DOI mutation: what was asked (its digest) and of which saga,
    so that the same call again completes or reports it, and another call with the same
    key is refused."""

    __tablename__ = "GATEWAY_DOI_REQUEST"

    caller: Mapped[str] = mapped_column("CALLER", String(255), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column("IDEMPOTENCY_KEY", String(255), primary_key=True)
    operation: Mapped[str] = mapped_column("OPERATION", String(32), nullable=False)
    digest: Mapped[str] = mapped_column("DIGEST", String(64), nullable=False)
    saga_id: Mapped[int] = mapped_column("SAGA_ID", BigInteger, nullable=False)
    outcome: Mapped[str | None] = mapped_column("OUTCOME", Text)
    """JSON: the error it ended with, once it ended with one (success is read from the saga)."""
    created_at: Mapped[datetime] = mapped_column("CREATED_AT", DateTime, nullable=False)


class LocalDoi(GatewayBase):
    """A DOI the embedded local registrar holds (gateway.doi.local): registered nowhere,
    kept where every worker and replica sees it."""

    __tablename__ = "GATEWAY_LOCAL_DOI"

    doi: Mapped[str] = mapped_column("DOI", String(255), primary_key=True)
    """Lower case, as DataCite answers DOIs."""
    state: Mapped[str] = mapped_column("STATE", String(16), nullable=False)
    url: Mapped[str | None] = mapped_column("URL", String(2048))
    attributes: Mapped[str] = mapped_column("ATTRIBUTES", Text, nullable=False)
    """The kernel-4.5 attributes it holds, as JSON."""
    created_at: Mapped[datetime] = mapped_column("CREATED_AT", DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column("UPDATED_AT", DateTime, nullable=False)


class SessionDoi(GatewayBase):
    """A session's DOI as registered by ``icat-gateway doi register-sessions``: the digest
    of the metadata last sent, so a run registers only sessions new or changed since, and
    an interrupted run resumes where it stopped."""

    __tablename__ = "GATEWAY_SESSION_DOI"

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, primary_key=True, autoincrement=False
    )
    doi: Mapped[str] = mapped_column("DOI", String(255), nullable=False)
    """Lower case, as DataCite answers DOIs."""
    digest: Mapped[str] = mapped_column("DIGEST", String(64), nullable=False)
    """SHA-256 of the DataCite attributes and URL sent."""
    registered_at: Mapped[datetime] = mapped_column("REGISTERED_AT", DateTime, nullable=False)


class SearchDocument(GatewayBase):
    """The words a session is found by (gateway.catalogue.search_documents), kept apart
    from ICAT's tables so that they can be indexed for free text on every database without
    touching ICAT's schema: ``LANDING`` holds its landing facts (title, proposal, visit,
    beamlines, DOI), which match for everyone; ``DATA`` its data fields (summary, keywords,
    sample and dataset names), which match only where the caller may read them. Both are
    lower-case words separated by single spaces, so that every database's tokenizer reads
    the same words. The full-text indexes over them are dialect-specific (made by the
    migrations, see ``search_documents``; on PostgreSQL over a stored ``tsvector`` beside
    each text, ``LANDING_VECTOR`` and ``DATA_VECTOR``, which no model declares:
    ``search_documents.STORED_VECTORS``)."""

    __tablename__ = "GATEWAY_SEARCH_DOCUMENT"

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, primary_key=True, autoincrement=False
    )
    landing: Mapped[str] = mapped_column("LANDING", Text, nullable=False)
    data: Mapped[str] = mapped_column("DATA", LONG_TEXT, nullable=False)
    refreshed_at: Mapped[datetime] = mapped_column("REFRESHED_AT", DateTime, nullable=False)
    children: Mapped[int | None] = mapped_column("CHILDREN", BigInteger, nullable=True)
    """How many child rows (beamline links, keywords, samples, datasets, and the datasets'
    technique links, which ``SessionTechnique`` is read from) the document was built from:
    a deletion leaves no ``MOD_TIME`` behind, but it lowers the count, which the
    incremental refresh compares. None (made before the count) is refreshed."""


class DatasetSearchDocument(GatewayBase):
    """The words a dataset is found by (its name and description, DATA class like the
    whole dataset), in the gateway's own table for the same reason as ``SearchDocument``;
    a dataset's session's landing facts are read from the session's document. The
    full-text index over ``WORDS`` is dialect-specific (``search_documents``; on
    PostgreSQL over the stored ``WORDS_VECTOR``)."""

    __tablename__ = "GATEWAY_DATASET_DOCUMENT"
    __table_args__ = (Index("GATEWAY_DD_INVESTIGATION", "INVESTIGATION_ID"),)

    dataset_id: Mapped[int] = mapped_column(
        "DATASET_ID", BigInteger, primary_key=True, autoincrement=False
    )
    investigation_id: Mapped[int] = mapped_column("INVESTIGATION_ID", BigInteger, nullable=False)
    words: Mapped[str] = mapped_column("WORDS", Text, nullable=False)


class SessionTechnique(GatewayBase):
    """A technique of a session's datasets (ICAT's DATASETTECHNIQUE by way of DATASET),
    one row per session and technique, kept with the search documents
    (``search_documents.refresh_sessions``): the technique facet reads one row per
    matched session here instead of one per dataset, for the sessions whose every dataset
    the caller may see (``facets``); for the others it reads the datasets as before.
    Holds no visibility: who may count what is decided when counting."""

    __tablename__ = "GATEWAY_SESSION_TECHNIQUE"

    investigation_id: Mapped[int] = mapped_column(
        "INVESTIGATION_ID", BigInteger, primary_key=True, autoincrement=False
    )
    technique_id: Mapped[int] = mapped_column(
        "TECHNIQUE_ID", BigInteger, primary_key=True, autoincrement=False
    )


class SearchState(GatewayBase):
    """When the search documents were last built: a search before the first build answers
    from ICAT's tables without an index (slowly, and says so in the log and ``/readyz``)."""

    __tablename__ = "GATEWAY_SEARCH_STATE"

    name: Mapped[str] = mapped_column("NAME", String(32), primary_key=True)
    started_at: Mapped[datetime] = mapped_column("STARTED_AT", DateTime, nullable=False)
    """The start of the last refresh: the next incremental one reads changes since then."""
    refreshed_at: Mapped[datetime] = mapped_column("REFRESHED_AT", DateTime, nullable=False)
    documents: Mapped[int] = mapped_column("DOCUMENTS", BigInteger, nullable=False)


class GrantExpiry(GatewayBase):
    """When a collaborator's grant ends. ICAT's INVESTIGATIONUSER has no column for it and
    its schema is not the gateway's to change, so the expiry is kept here, keyed by the
    grant's own row (``INVESTIGATIONUSER.ID``); the visibility filters join it. A grant
    without a row here never expires."""

    __tablename__ = "GATEWAY_GRANT_EXPIRY"

    investigation_user_id: Mapped[int] = mapped_column(
        "INVESTIGATIONUSER_ID", BigInteger, primary_key=True, autoincrement=False
    )
    expires_at: Mapped[datetime] = mapped_column("EXPIRES_AT", DateTime, nullable=False)


class ReviewerLink(GatewayBase):
    """A secret link for a journal's reviewers: read-only access to some sessions and
    datasets until it expires or is revoked. Only the token's SHA-256 is stored; its use
    is counted (how often, when last), never by whom."""

    __tablename__ = "GATEWAY_REVIEWER_LINK"

    id: Mapped[int] = mapped_column(
        "ID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    token_hash: Mapped[str] = mapped_column("TOKEN_HASH", String(64), nullable=False)
    created_by: Mapped[str] = mapped_column("CREATED_BY", String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column("CREATED_AT", DateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column("EXPIRES_AT", DateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column("REVOKED_AT", DateTime)
    revoked_by: Mapped[str | None] = mapped_column("REVOKED_BY", String(255))
    note: Mapped[str | None] = mapped_column("NOTE", String(2000))
    use_count: Mapped[int] = mapped_column("USE_COUNT", BigInteger, nullable=False, default=0)
    last_used_at: Mapped[datetime | None] = mapped_column("LAST_USED_AT", DateTime)

    __table_args__ = (UniqueConstraint("TOKEN_HASH", name="GATEWAY_RL_TOKEN"),)


class ReviewerLinkItem(GatewayBase):
    """What a reviewer link opens: one session (``INVESTIGATION_ID``) or one dataset
    (``DATASET_ID``) per row, the other NULL."""

    __tablename__ = "GATEWAY_REVIEWER_LINK_ITEM"

    id: Mapped[int] = mapped_column(
        "ID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    link_id: Mapped[int] = mapped_column("LINK_ID", BigInteger, nullable=False)
    investigation_id: Mapped[int | None] = mapped_column("INVESTIGATION_ID", BigInteger)
    dataset_id: Mapped[int | None] = mapped_column("DATASET_ID", BigInteger)

    __table_args__ = (
        Index("GATEWAY_RLI_LINK", "LINK_ID"),
        Index("GATEWAY_RLI_INVESTIGATION", "INVESTIGATION_ID"),
    )
