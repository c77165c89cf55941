"""favourite-service table: favourites, keyed by user and product (the original also keyed on the date)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, text
from sqlalchemy.orm import Mapped, mapped_column

from ecommerce.chassis import Base, TimestampMixin, new_metadata

metadata = new_metadata()


class FavouriteBase(Base):
    __abstract__ = True
    metadata = metadata


class Favourite(TimestampMixin, FavouriteBase):
    __tablename__ = "favourites"

    # No foreign keys: users and products live in other services' databases.
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, index=True)
    like_date: Mapped[datetime] = mapped_column(DateTime(), nullable=False, server_default=text("CURRENT_TIMESTAMP"))
