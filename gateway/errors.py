"""The gateway's typed errors, each with the stable GraphQL `extensions.code` it maps to.

Resolvers raise these; graphql-core copies an original error's ``extensions`` onto the
GraphQL error it reports, so clients can branch on the code. Anything else is masked as
``INTERNAL_SERVER_ERROR`` by the schema's error extension and logged server-side.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    """Base of every error a client is meant to see."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **details}


class Unauthenticated(GatewayError):
    """The request must be authenticated for this operation."""

    code = "UNAUTHENTICATED"


class Forbidden(GatewayError):
    """The caller is known but may not see or do this."""

    code = "FORBIDDEN"


class NotFound(GatewayError):
    """Nothing with that identity exists, or the caller may not know it exists."""

    code = "NOT_FOUND"


class BadUserInput(GatewayError):
    """An argument is malformed or out of range."""

    code = "BAD_USER_INPUT"


class Conflict(GatewayError):
    """The change collides with the catalogue's current state."""

    code = "CONFLICT"


class UpstreamUnavailable(GatewayError):
    """A service the gateway depends on (DataCite, ICAT, the identity provider) failed.

    Not the client's fault: the HTTP layer answers 503 (not 401) when credentials could
    not be checked because of it, and the client may retry the same request.
    """

    code = "UPSTREAM_UNAVAILABLE"

    @property
    def reason(self) -> str:
        """Short and safe to show (never a token or a session id)."""
        return self.message


# Refusals of the access workflow (grants, revocations, requests): each has a code of its
# own, so a client can tell the person what to do without parsing the message.


class UnknownUser(NotFound):
    """No catalogue user matches the user name, ORCID iD or e-mail address given."""

    code = "UNKNOWN_USER"


class AmbiguousUser(Conflict):
    """Several catalogue users share the ORCID iD or e-mail address given: name the person
    by ICAT user name instead."""

    code = "AMBIGUOUS_USER"


class ProposalMember(Conflict):
    """The person is on the session's team from the proposal itself (a proposer, a
    participant, the local contact): only collaborators granted later can be revoked."""

    code = "PROPOSAL_MEMBER"


class AlreadyHasAccess(Conflict):
    """The caller already reads the session's data: there is nothing to ask for."""

    code = "ALREADY_HAS_ACCESS"


class RequestPending(Conflict):
    """The caller already has a pending access request for this session."""

    code = "REQUEST_PENDING"


class RequestClosed(Conflict):
    """The access request was already approved, declined or cancelled."""

    code = "REQUEST_CLOSED"


class NotDecider(Forbidden):
    """The caller may not decide this access request: it is for a session whose access
    they do not manage (the main proposer's and staff's, or their own request)."""

    code = "NOT_DECIDER"


class NotRequester(Forbidden):
    """Only the person who asked may cancel an access request."""

    code = "NOT_REQUESTER"


class RegistrarRefused(GatewayError):
    """The DOI registrar (DataCite) refused the request and will again as it stands
    (rejected metadata, a state that forbids it, bad credentials): nothing was left half
    done; a person must change something. A retry with the same idempotency key reports
    the same refusal."""

    code = "REGISTRAR_REFUSED"


# Downloads: refusals a portal can explain without parsing the message.


class UpstreamRefused(GatewayError):
    """A service the gateway depends on refused the request and will again as it stands
    (the ICAT Data Service answered 400 or 403 to the gateway's reader account): a person
    must change the configuration or the data; retrying does not help."""

    code = "UPSTREAM_REFUSED"


class DataMissing(GatewayError):
    """Files the catalogue lists are not in the store (or the data service does not know
    them): the download is refused, naming them, instead of a broken zip."""

    code = "DATA_MISSING"


class DownloadTooLarge(GatewayError):
    """The selection is larger than the largest zip the gateway prepares: choose fewer
    files, or use the dataset's Globus link."""

    code = "DOWNLOAD_TOO_LARGE"


class TooManyDownloads(GatewayError):
    """The caller has as many downloads in preparation as the facility allows at once."""

    code = "TOO_MANY_DOWNLOADS"


class DownloadsUnavailable(GatewayError):
    """This gateway is configured without downloads (no data root, no data service)."""

    code = "DOWNLOADS_UNAVAILABLE"


class ReviewerLinksUnavailable(GatewayError):
    """Reviewer links widen access beyond the facility's own ICAT rules, which this
    gateway applies instead of its built-in policy (``icat-rules``): none are made."""

    code = "REVIEWER_LINKS_UNAVAILABLE"


DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
"""The code of an answer the database could not give (down, unreachable, no connection
left): the HTTP status is 503 with ``Retry-After``; the same request later may succeed."""

DATABASE_UNAVAILABLE_MESSAGE = "The catalogue's database is unavailable; retry shortly."

RETRY_AFTER_SECONDS = 5
"""``Retry-After`` of a 503 for an unavailable database."""
