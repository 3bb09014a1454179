"""The e-mails of the events: a subject, a plain-text and an HTML body from the templates
in ``templates/`` (one pair for every kind of message), in the facility's words."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"

_ENVIRONMENTS = {
    "html": Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    ),
    "txt": Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    ),
}

SUBJECTS = {
    "access.request": "{facility}: {person} asks for access to {session}",
    "access.approve": "{facility}: your access request for {session} was approved",
    "access.decline": "{facility}: your access request for {session} was declined",
    "access.grant": "{facility}: you were given access to {session}",
    "access.revoke": "{facility}: your access to {session} was removed",
    "doi.publish": "{facility}: {doi} is published",
    "release_date.change": "{facility}: the release date of {session} changed",
    "release_date.reminder": "{facility}: {session} becomes public on {release}",
}
"""The kinds of events that are e-mailed, and each one's subject line."""


@dataclass(frozen=True)
class Letterhead:
    """What every message says about where it comes from."""

    facility: str
    sender: str
    public_url: str | None


def _decoded(text: str | None) -> dict[str, Any]:
    return orjson.loads(text) if text else {}


def compose(
    event: Any, recipient: str, letterhead: Letterhead, session: Any | None
) -> EmailMessage:
    """The message of an event (a row of ``GATEWAY_EVENT``) for one recipient; ``session``
    is the row (name, title) of the session it concerns, if any."""
    before, after = _decoded(event.before), _decoded(event.after)
    session_words = (
        f"{session.name} ({session.title})"
        if session is not None and session.title
        else (session.name if session is not None else "a session")
    )
    release = after.get("releaseDate")
    values = {
        "facility": letterhead.facility,
        "public_url": letterhead.public_url,
        "type": event.type,
        "actor": event.actor,
        "person": event.person or "",
        "reason": event.reason,
        "session": session_words,
        "doi": after.get("doi", event.subject_id),
        "before": before,
        "after": after,
        "release": str(release)[:10] if release else "no date",
        "old_release": str(before.get("releaseDate") or "no date")[:10],
    }
    message = EmailMessage()
    message["Subject"] = SUBJECTS[event.type].format(**values)
    message["From"] = letterhead.sender
    message["To"] = recipient
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="icat-gateway")
    message["X-Gateway-Event"] = f"{event.id} {event.type}"
    name = event.type.replace(".", "_")
    message.set_content(_ENVIRONMENTS["txt"].get_template(f"{name}.txt").render(values))
    message.add_alternative(
        _ENVIRONMENTS["html"].get_template(f"{name}.html").render(values), subtype="html"
    )
    return message
