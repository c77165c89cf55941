"""user-service tables: users, address (singular), credentials, verification_tokens, token_revocations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ecommerce.chassis import Base, TimestampMixin, new_metadata

metadata = new_metadata()

ROLES = ("ROLE_USER", "ROLE_ADMIN")


class UserBase(Base):
    __abstract__ = True
    metadata = metadata


class User(TimestampMixin, UserBase):
    __tablename__ = "users"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    image_url: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    phone: Mapped[str | None] = mapped_column(String(255))


class Address(TimestampMixin, UserBase):
    __tablename__ = "address"

    address_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False, index=True)
    full_address: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(255))


class Credential(TimestampMixin, UserBase):
    __tablename__ = "credentials"
    __table_args__ = (CheckConstraint("role IN ('ROLE_USER', 'ROLE_ADMIN')", name="role_known"),)

    credential_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False, unique=True)
    username: Mapped[str] = mapped_column(String(255), nullable=False)
    password: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(255), nullable=False, default="ROLE_USER")
    is_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_account_non_expired: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_account_non_locked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_credentials_non_expired: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


# Usernames are unique whatever their letter case: "Admin" cannot shadow "admin".
Index("uq_credentials_username_lower", func.lower(Credential.username), unique=True)


class VerificationToken(TimestampMixin, UserBase):
    __tablename__ = "verification_tokens"

    verification_token_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    credential_id: Mapped[int] = mapped_column(
        ForeignKey("credentials.credential_id", ondelete="CASCADE"), nullable=False, index=True
    )
    verif_token: Mapped[str | None] = mapped_column(String(255))
    expire_date: Mapped[date | None] = mapped_column(Date)


class TokenRevocation(UserBase):
    """Per user, the instant before which the user's tokens are void (an `iat` floor).

    No foreign key: the row must outlive a deleted user, whose tokens stay void until they would have expired.
    """

    __tablename__ = "token_revocations"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    not_before: Mapped[int] = mapped_column(BigInteger, nullable=False)  # epoch seconds
    set_at: Mapped[datetime] = mapped_column(DateTime(), nullable=False, index=True)  # UTC
