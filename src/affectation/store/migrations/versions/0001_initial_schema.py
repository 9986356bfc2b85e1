"""Initial schema of the campaign store (see store/schema.py and docs/store.md).

Revision ID: 0001
Revises: -
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scenario_path', sa.Text(), nullable=False),
    sa.Column('week1', sa.String(length=8), nullable=False),
    sa.Column('week2', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('purged_at', sa.DateTime(), nullable=True),
    sa.Column('current_run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign'))
    )
    op.create_table('employer',
    sa.Column('employer_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=180), server_default='', nullable=False),
    sa.Column('address', sa.String(length=300), server_default='', nullable=False),
    sa.Column('description', sa.String(length=275), server_default='', nullable=False),
    sa.Column('website', sa.String(length=300), server_default='', nullable=False),
    sa.Column('representative_name', sa.String(length=100), nullable=True),
    sa.Column('representative_role', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.PrimaryKeyConstraint('employer_id', name=op.f('pk_employer'))
    )
    op.create_table('run',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.Column('loaded_by', sa.String(length=200), server_default='', nullable=False),
    sa.Column('result_dir', sa.Text(), server_default='', nullable=False),
    sa.Column('assignments_sha256', sa.String(length=64), server_default='', nullable=False),
    sa.Column('summary', sa.Text(), server_default='{}', nullable=False),
    sa.CheckConstraint("kind IN ('solve', 'repair')", name=op.f('ck_run_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run'))
    )
    op.create_table('school',
    sa.Column('uai', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), server_default='', nullable=False),
    sa.Column('address', sa.String(length=300), server_default='', nullable=False),
    sa.Column('postcode', sa.String(length=10), server_default='', nullable=False),
    sa.Column('city', sa.String(length=100), server_default='', nullable=False),
    sa.Column('department', sa.String(length=40), server_default='', nullable=False),
    sa.Column('legal_status', sa.String(length=20), server_default='', nullable=False),
    sa.Column('delegation_date', sa.String(length=10), server_default='', nullable=False),
    sa.Column('head_name', sa.String(length=100), nullable=True),
    sa.Column('head_role', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.PrimaryKeyConstraint('uai', name=op.f('pk_school'))
    )
    op.create_table('offer',
    sa.Column('offer_id', sa.String(length=64), nullable=False),
    sa.Column('employer_id', sa.String(length=64), nullable=True),
    sa.Column('employer_name', sa.String(length=180), server_default='', nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('period', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('sector', sa.String(length=4), server_default='', nullable=False),
    sa.Column('reserved', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('accessible', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('pair_id', sa.String(length=64), server_default='', nullable=False),
    sa.Column('min_group', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('title', sa.String(length=150), server_default='', nullable=False),
    sa.Column('description', sa.String(length=1500), server_default='', nullable=False),
    sa.Column('street', sa.String(length=300), server_default='', nullable=False),
    sa.Column('postcode', sa.String(length=10), server_default='', nullable=False),
    sa.Column('city', sa.String(length=50), server_default='', nullable=False),
    sa.Column('permalink', sa.String(length=300), server_default='', nullable=False),
    sa.Column('schedule', sa.String(length=300), server_default='', nullable=False),
    sa.Column('meals', sa.String(length=500), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['employer_id'], ['employer.employer_id'], name=op.f('fk_offer_employer_id_employer')),
    sa.PrimaryKeyConstraint('offer_id', name=op.f('pk_offer'))
    )
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_employer_id'), ['employer_id'], unique=False)

    op.create_table('pupil',
    sa.Column('student_id', sa.String(length=64), nullable=False),
    sa.Column('school_uai', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='', nullable=False),
    sa.Column('epci', sa.String(length=40), server_default='', nullable=False),
    sa.Column('department', sa.String(length=40), server_default='', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.ForeignKeyConstraint(['school_uai'], ['school.uai'], name=op.f('fk_pupil_school_uai_school')),
    sa.PrimaryKeyConstraint('student_id', name=op.f('pk_pupil'))
    )
    with op.batch_alter_table('pupil', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pupil_school_uai'), ['school_uai'], unique=False)

    op.create_table('agreement',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('student_id', sa.String(length=64), nullable=False),
    sa.Column('offer_id', sa.String(length=64), nullable=False),
    sa.Column('week1', sa.Boolean(), nullable=False),
    sa.Column('week2', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("state IN ('proposee', 'envoyee', 'signee', 'annulee')", name=op.f('ck_agreement_state')),
    sa.CheckConstraint('week1 OR week2', name=op.f('ck_agreement_weeks')),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.offer_id'], name=op.f('fk_agreement_offer_id_offer')),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_agreement_run_id_run')),
    sa.ForeignKeyConstraint(['student_id'], ['pupil.student_id'], name=op.f('fk_agreement_student_id_pupil')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreement'))
    )
    with op.batch_alter_table('agreement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreement_offer_id'), ['offer_id'], unique=False)
        batch_op.create_index('ix_agreement_state', ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_agreement_student_id'), ['student_id'], unique=False)
        batch_op.create_index('uq_agreement_live_week1', ['student_id'], unique=True, sqlite_where=sa.text("week1 AND state <> 'annulee'"), postgresql_where=sa.text("week1 AND state <> 'annulee'"))
        batch_op.create_index('uq_agreement_live_week2', ['student_id'], unique=True, sqlite_where=sa.text("week2 AND state <> 'annulee'"), postgresql_where=sa.text("week2 AND state <> 'annulee'"))

    op.create_table('person',
    sa.Column('student_id', sa.String(length=64), nullable=False),
    sa.Column('last_name', sa.String(length=100), server_default='', nullable=False),
    sa.Column('first_name', sa.String(length=100), server_default='', nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('class_name', sa.String(length=50), server_default='', nullable=False),
    sa.Column('address', sa.String(length=170), server_default='', nullable=False),
    sa.Column('phone', sa.String(length=20), server_default='', nullable=False),
    sa.Column('email', sa.String(length=200), server_default='', nullable=False),
    sa.Column('rep1_name', sa.String(length=100), server_default='', nullable=False),
    sa.Column('rep1_email', sa.String(length=200), server_default='', nullable=False),
    sa.Column('rep1_phone', sa.String(length=20), server_default='', nullable=False),
    sa.Column('rep2_name', sa.String(length=100), server_default='', nullable=False),
    sa.Column('rep2_email', sa.String(length=200), server_default='', nullable=False),
    sa.Column('rep2_phone', sa.String(length=20), server_default='', nullable=False),
    sa.Column('teacher_name', sa.String(length=100), server_default='', nullable=False),
    sa.Column('teacher_email', sa.String(length=200), server_default='', nullable=False),
    sa.Column('teacher_phone', sa.String(length=20), server_default='', nullable=False),
    sa.Column('pai', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['student_id'], ['pupil.student_id'], name=op.f('fk_person_student_id_pupil'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('student_id', name=op.f('pk_person'))
    )
    op.create_table('placement',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.String(length=64), nullable=False),
    sa.Column('week', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.CheckConstraint('week IN (1, 2)', name=op.f('ck_placement_week')),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.offer_id'], name=op.f('fk_placement_offer_id_offer')),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], name=op.f('fk_placement_run_id_run')),
    sa.ForeignKeyConstraint(['student_id'], ['pupil.student_id'], name=op.f('fk_placement_student_id_pupil')),
    sa.PrimaryKeyConstraint('run_id', 'student_id', 'week', name=op.f('pk_placement'))
    )
    with op.batch_alter_table('placement', schema=None) as batch_op:
        batch_op.create_index('ix_placement_student_id', ['student_id'], unique=False)

    op.create_table('tutor',
    sa.Column('offer_id', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=100), server_default='', nullable=False),
    sa.Column('role', sa.String(length=100), server_default='', nullable=False),
    sa.Column('email', sa.String(length=200), server_default='', nullable=False),
    sa.Column('phone', sa.String(length=20), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.offer_id'], name=op.f('fk_tutor_offer_id_offer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('offer_id', name=op.f('pk_tutor'))
    )
    op.create_table('event',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('who', sa.String(length=200), server_default='', nullable=False),
    sa.Column('from_state', sa.String(length=10), nullable=True),
    sa.Column('to_state', sa.String(length=10), nullable=False),
    sa.Column('detail', sa.Text(), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreement.id'], name=op.f('fk_event_agreement_id_agreement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_agreement_id'), ['agreement_id'], unique=False)

    op.create_table('signature',
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), server_default='', nullable=False),
    sa.Column('source', sa.String(length=300), server_default='', nullable=False),
    sa.CheckConstraint("mode IN ('papier', 'electronique', 'hors_outil')", name=op.f('ck_signature_mode')),
    sa.CheckConstraint("role IN ('etablissement', 'employeur', 'eleve', 'representant_legal')", name=op.f('ck_signature_role')),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreement.id'], name=op.f('fk_signature_agreement_id_agreement')),
    sa.PrimaryKeyConstraint('agreement_id', 'role', name=op.f('pk_signature'))
    )


def downgrade() -> None:
    op.drop_table('signature')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_agreement_id'))

    op.drop_table('event')
    op.drop_table('tutor')
    with op.batch_alter_table('placement', schema=None) as batch_op:
        batch_op.drop_index('ix_placement_student_id')

    op.drop_table('placement')
    op.drop_table('person')
    with op.batch_alter_table('agreement', schema=None) as batch_op:
        batch_op.drop_index('uq_agreement_live_week2', sqlite_where=sa.text("week2 AND state <> 'annulee'"), postgresql_where=sa.text("week2 AND state <> 'annulee'"))
        batch_op.drop_index('uq_agreement_live_week1', sqlite_where=sa.text("week1 AND state <> 'annulee'"), postgresql_where=sa.text("week1 AND state <> 'annulee'"))
        batch_op.drop_index(batch_op.f('ix_agreement_student_id'))
        batch_op.drop_index('ix_agreement_state')
        batch_op.drop_index(batch_op.f('ix_agreement_offer_id'))

    op.drop_table('agreement')
    with op.batch_alter_table('pupil', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pupil_school_uai'))

    op.drop_table('pupil')
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_employer_id'))

    op.drop_table('offer')
    op.drop_table('school')
    op.drop_table('run')
    op.drop_table('employer')
    op.drop_table('campaign')
