"""The one error tree. Permanent errors will not succeed on retry; transient ones may.

HTTP status mapping lives in ``hub`` only; these classes carry no transport detail.
"""

from __future__ import annotations


class SwitchboardError(Exception):
    """Base of every error Switchboard raises on purpose."""


class PermanentError(SwitchboardError):
    """Retrying will not help: bad input, missing thing, refused access."""


class TransientError(SwitchboardError):
    """A retry later may succeed: a service is down or rate-limited."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotFound(PermanentError):
    """A named thing does not exist (or is not visible to the caller)."""


class AlreadyExists(PermanentError):
    """A unique name is taken."""


class InvalidInput(PermanentError):
    """Input failed validation; the message says what to fix."""


class ParseError(InvalidInput):
    """A document could not be parsed into text."""


class AccessDenied(PermanentError):
    """The caller may not reach this workspace or document. ``how_to`` tells them how to get access."""

    def __init__(self, message: str, *, how_to: str = "") -> None:
        super().__init__(message)
        self.how_to = how_to


class AuthError(PermanentError):
    """Credentials for an external system were refused; a source is paused until fixed."""


class IndexMismatch(PermanentError):
    """A workspace index was built by another embedding model; re-index before querying."""


class ConfigError(PermanentError):
    """Settings or installed files are wrong; raised at start-up with the fix in the message."""


class RateLimited(TransientError):
    """Too many requests from one user or channel; ``retry_after_s`` says when to try again."""
