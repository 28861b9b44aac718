"""audit log: indexes for the history pages and the log search

Each index ends with seq, so a filtered page read newest first (ORDER BY seq DESC LIMIT n) walks the index
backwards and stops, whatever the size of the log. Plain CREATE/DROP INDEX (no batch mode): on SQLite a
batch table rebuild would drop the append-only triggers.

Revision ID: a7d3c0e1b2f4
Revises: 9fda0263e279
Create Date: 2026-11-27 12:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7d3c0e1b2f4'
down_revision = '9fda0263e279'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_audit_event_entity', table_name='audit_event')
    op.drop_index('ix_audit_event_user', table_name='audit_event')
    op.create_index('ix_audit_event_entity', 'audit_event', ['entity_type', 'entity_id', 'seq'], unique=False)
    op.create_index('ix_audit_event_user', 'audit_event', ['user_id', 'seq'], unique=False)
    op.create_index('ix_audit_event_unit', 'audit_event', ['unit_name', 'seq'], unique=False)
    op.create_index('ix_audit_event_action', 'audit_event', ['action', 'seq'], unique=False)


def downgrade():
    op.drop_index('ix_audit_event_action', table_name='audit_event')
    op.drop_index('ix_audit_event_unit', table_name='audit_event')
    op.drop_index('ix_audit_event_user', table_name='audit_event')
    op.drop_index('ix_audit_event_entity', table_name='audit_event')
    op.create_index('ix_audit_event_user', 'audit_event', ['user_id'], unique=False)
    op.create_index('ix_audit_event_entity', 'audit_event', ['entity_type', 'entity_id'], unique=False)
