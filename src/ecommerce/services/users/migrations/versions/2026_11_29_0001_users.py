"""Users, their addresses, credentials and verification tokens.

Revision ID: 0001_users
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_users"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("first_name", sa.String(255), nullable=True),
        sa.Column("last_name", sa.String(255), nullable=True),
        sa.Column("image_url", sa.String(255), nullable=True),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("phone", sa.String(255), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "address",
        sa.Column("address_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("full_address", sa.String(255), nullable=True),
        sa.Column("postal_code", sa.String(255), nullable=True),
        sa.Column("city", sa.String(255), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name="fk_address_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("address_id", name="pk_address"),
    )
    op.create_index("ix_address_user_id", "address", ["user_id"])
    op.create_table(
        "credentials",
        sa.Column("credential_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("password", sa.String(255), nullable=False),
        sa.Column("role", sa.String(255), nullable=False, server_default="ROLE_USER"),
        sa.Column("is_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("is_account_non_expired", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("is_account_non_locked", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("is_credentials_non_expired", sa.Boolean(), nullable=False, server_default=sa.true()),
        *_timestamps(),
        sa.CheckConstraint("role IN ('ROLE_USER', 'ROLE_ADMIN')", name="ck_credentials_role_known"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name="fk_credentials_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("credential_id", name="pk_credentials"),
        sa.UniqueConstraint("user_id", name="uq_credentials_user_id"),
    )
    op.create_index("uq_credentials_username_lower", "credentials", [sa.text("lower(username)")], unique=True)
    op.create_table(
        "verification_tokens",
        sa.Column("verification_token_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("verif_token", sa.String(255), nullable=True),
        sa.Column("expire_date", sa.Date(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.credential_id"],
            name="fk_verification_tokens_credential_id_credentials",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("verification_token_id", name="pk_verification_tokens"),
    )
    op.create_index("ix_verification_tokens_credential_id", "verification_tokens", ["credential_id"])


def downgrade() -> None:
    op.drop_index("ix_verification_tokens_credential_id", table_name="verification_tokens")
    op.drop_table("verification_tokens")
    op.drop_index("uq_credentials_username_lower", table_name="credentials")
    op.drop_table("credentials")
    op.drop_index("ix_address_user_id", table_name="address")
    op.drop_table("address")
    op.drop_table("users")
