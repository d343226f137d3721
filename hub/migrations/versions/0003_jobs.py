"""jobs: attempts and updated_at

Revision ID: 0003_jobs
Revises: 0002_answers
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003_jobs"
down_revision: str | None = "0002_answers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("attempts")
