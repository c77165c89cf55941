"""Categories and products.

Revision ID: 0001_catalog
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_catalog"
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
        "categories",
        sa.Column("category_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("parent_category_id", sa.Integer(), nullable=True),
        sa.Column("category_title", sa.String(255), nullable=False),
        sa.Column("image_url", sa.String(255), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["parent_category_id"],
            ["categories.category_id"],
            name="fk_categories_parent_category_id_categories",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("category_id", name="pk_categories"),
    )
    op.create_index("ix_categories_parent_category_id", "categories", ["parent_category_id"])
    op.create_table(
        "products",
        sa.Column("product_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("product_title", sa.String(255), nullable=False),
        sa.Column("image_url", sa.String(255), nullable=True),
        sa.Column("sku", sa.String(255), nullable=True),
        sa.Column("price_unit", sa.Numeric(12, 2), nullable=False, server_default="0"),
        sa.Column("quantity", sa.Integer(), nullable=False, server_default="0"),
        *_timestamps(),
        sa.CheckConstraint("price_unit >= 0", name="ck_products_price_not_negative"),
        sa.CheckConstraint("quantity >= 0", name="ck_products_quantity_not_negative"),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.category_id"], name="fk_products_category_id_categories", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("product_id", name="pk_products"),
        sa.UniqueConstraint("sku", name="uq_products_sku"),
    )
    op.create_index("ix_products_product_title", "products", ["product_title"])
    op.create_index("ix_products_category_id_product_id", "products", ["category_id", "product_id"])


def downgrade() -> None:
    op.drop_index("ix_products_category_id_product_id", table_name="products")
    op.drop_index("ix_products_product_title", table_name="products")
    op.drop_table("products")
    op.drop_index("ix_categories_parent_category_id", table_name="categories")
    op.drop_table("categories")
