"""answers: conversation memory, LLM cost ledger, workspace budgets

Revision ID: 0002_answers
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002_answers'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('conversation_turns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=512), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('standalone', sa.Text(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_conversation_turns_lookup', 'conversation_turns', ['workspace_id', 'conversation_id', 'id'])
    op.create_table('llm_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=512), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('provider', sa.String(length=100), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_llm_calls_month', 'llm_calls', ['workspace_id', 'created_at'])
    op.create_table('workspace_budgets',
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('monthly_usd', sa.Float(), nullable=False),
    sa.Column('notified_month', sa.String(length=7), nullable=True),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workspace_id')
    )


def downgrade() -> None:
    op.drop_table('workspace_budgets')
    op.drop_index('ix_llm_calls_month', table_name='llm_calls')
    op.drop_table('llm_calls')
    op.drop_index('ix_conversation_turns_lookup', table_name='conversation_turns')
    op.drop_table('conversation_turns')
