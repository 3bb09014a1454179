"""DOI versions: a data publication's DOI may be one version under a concept DOI.

Revision ID: 08_h24_doi_versions
Revises: 0007_search_documents
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.catalogue.migrate import own_schema

revision = "08_h24_doi_versions"
down_revision = "08_h25b_reviewer_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = own_schema()
    # A table made by the models before migrations ran has the columns already.
    held = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("GATEWAY_DOI_SAGA", schema)}
    if "CONCEPT_DOI" in held:
        return
    op.add_column("GATEWAY_DOI_SAGA", sa.Column("CONCEPT_DOI", sa.String(255)), schema=schema)
    op.add_column("GATEWAY_DOI_SAGA", sa.Column("VERSION", sa.Integer), schema=schema)
    op.create_index("GATEWAY_DOI_SAGA_CONCEPT", "GATEWAY_DOI_SAGA", ["CONCEPT_DOI"], schema=schema)


def downgrade() -> None:
    schema = own_schema()
    op.drop_index("GATEWAY_DOI_SAGA_CONCEPT", "GATEWAY_DOI_SAGA", schema=schema)
    with op.batch_alter_table("GATEWAY_DOI_SAGA", schema=schema) as batch:
        batch.drop_column("VERSION")
        batch.drop_column("CONCEPT_DOI")
