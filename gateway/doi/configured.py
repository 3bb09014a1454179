"""The registrar and landing URLs the settings ask for."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.doi.datacite import DataCiteRegistrar
from gateway.doi.local import LocalRegistrar
from gateway.doi.metadata import normalise_doi
from gateway.doi.registrar import Registrar
from gateway.settings import Settings

__all__ = ["configured_registrar", "landing_url"]


def configured_registrar(settings: Settings, engine: AsyncEngine) -> Registrar:
    """DataCite's REST API, or the local registrar (which logs that its DOIs are
    registered nowhere): make one per process, at start-up."""
    if settings.doi_registrar == "datacite":
        return DataCiteRegistrar.from_settings(settings)
    return LocalRegistrar(engine, settings.doi_prefix)


def landing_url(settings: Settings, doi: str) -> str:
    """The page ``doi`` resolves to: ``ICAT_GATEWAY_DOI_LANDING_URL`` with the DOI (lower
    case, as DataCite holds it) in place of ``{doi}``; ``https://doi.org/{doi}`` unset."""
    template = settings.doi_landing_url or "https://doi.org/{doi}"
    return template.replace("{doi}", normalise_doi(doi))
