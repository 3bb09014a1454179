"""The registrar and landing URLs the settings ask for."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.doi.datacite import DataCiteRegistrar
from gateway.doi.local import LocalRegistrar
from gateway.doi.metadata import Rights, licence_of_spdx, normalise_doi
from gateway.doi.registrar import Registrar
from gateway.settings import Settings

__all__ = ["configured_registrar", "default_licence", "landing_url"]


def configured_registrar(settings: Settings, engine: AsyncEngine) -> Registrar:
    """DataCite's REST API, or the local registrar (which logs that its DOIs are
    registered nowhere): make one per process, at start-up."""
    if settings.doi_registrar == "datacite":
        return DataCiteRegistrar.from_settings(settings)
    return LocalRegistrar(engine, settings.doi_prefix)


def landing_url(settings: Settings, doi: str) -> str:
    """The page ``doi`` resolves to: ``ICAT_GATEWAY_DOI_LANDING_URL`` with the DOI (lower
    case, as DataCite holds it) in place of ``{doi}``; unset, the gateway's own landing
    page under ``ICAT_GATEWAY_PUBLIC_URL``; neither set, ``https://doi.org/{doi}``."""
    template = settings.doi_landing_url
    if template is None and settings.public_url is not None:
        template = settings.public_url.rstrip("/") + "/doi/{doi}"
    return (template or "https://doi.org/{doi}").replace("{doi}", normalise_doi(doi))


def default_licence(settings: Settings) -> Rights | None:
    """The facility's default licence (``ICAT_GATEWAY_DOI_LICENCE``) as DataCite rights."""
    return licence_of_spdx(settings.doi_licence) if settings.doi_licence else None
