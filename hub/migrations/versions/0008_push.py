"""push: source push settings (secret, Graph subscription) and chat watches for change alerts

Revision ID: 0008_push
Revises: 0007_protect
Create Date: 2026-11-24 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008_push'
down_revision: str | None = '0007_protect'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('source_push',
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.Text(), nullable=False),
    sa.Column('graph_resource', sa.String(length=1024), nullable=True),
    sa.Column('graph_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('graph_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('source_id'),
    sa.UniqueConstraint('graph_subscription_id')
    )
    with op.batch_alter_table('source_push', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_push_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('watches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('team_id', sa.String(length=255), nullable=False),
    sa.Column('channel_id', sa.String(length=512), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=True),
    sa.Column('service_url', sa.String(length=2048), nullable=True),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('collection_id', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=1024), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['collection_id'], ['collections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'team_id', 'channel_id', 'target')
    )
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.create_index('ix_watches_workspace', ['workspace_id', 'collection_id', 'document_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.drop_index('ix_watches_workspace')
    op.drop_table('watches')
    with op.batch_alter_table('source_push', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_push_workspace_id'))
    op.drop_table('source_push')
