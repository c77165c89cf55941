"""The one error type of the operations code: a message for the operator and an exit status."""

from __future__ import annotations


class OpsError(Exception):
    """An operation refused or failed; `str(error)` is the message to show the operator."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
