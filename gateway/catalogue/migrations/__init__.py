"""Alembic migrations of the gateway's own tables (never ICAT's): see ../migrate.py."""
