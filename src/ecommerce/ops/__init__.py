"""Operations: database backups that restore, and helpers behind the operations scripts."""

from ecommerce.ops.errors import OpsError

__all__ = ["OpsError"]
