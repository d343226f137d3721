"""postings: one covering index for keyword reads (term lookups and whole-workspace loads)

Revision ID: 0010_covering_postings_index
Revises: 0009_keyword_changes
Create Date: 2026-11-24 20:00:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0010_covering_postings_index'
down_revision: str | None = '0009_keyword_changes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index(
            'ix_postings_covering', ['workspace_id', 'term', 'chunk_id', 'tf', 'dl'], unique=False
        )
        batch_op.drop_index('ix_postings_lookup')


def downgrade() -> None:
    with op.batch_alter_table('postings', schema=None) as batch_op:
        batch_op.create_index('ix_postings_lookup', ['workspace_id', 'term'], unique=False)
        batch_op.drop_index('ix_postings_covering')
