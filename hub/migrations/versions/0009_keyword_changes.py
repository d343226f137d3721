"""keyword_changes: a log of keyword-index writes, so processes can keep the index in memory in step

Revision ID: 0009_keyword_changes
Revises: 0008_push
Create Date: 2026-11-24 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009_keyword_changes'
down_revision: str | None = '0008_push'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('keyword_generation', sa.BigInteger(), server_default='0', nullable=False)
        )
    op.create_table('keyword_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('chunk_id', sa.Integer(), nullable=False),
    sa.Column('length', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('keyword_changes', schema=None) as batch_op:
        batch_op.create_index('ix_keyword_changes_replay', ['workspace_id', 'generation'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('keyword_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_keyword_changes_replay')
    op.drop_table('keyword_changes')
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.drop_column('keyword_generation')
