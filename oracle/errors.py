"""Specific errors. Each names what failed and why; the CLI prints one line."""

from __future__ import annotations


class OracleError(Exception):
    """Base class for every error the product raises on purpose."""


class FieldError(OracleError):
    """A named field of some input is wrong."""

    def __init__(self, field: str, reason: str, *, where: str = ""):
        self.field = field
        self.reason = reason
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}field '{field}': {reason}")


class SpecError(FieldError):
    """A market spec is invalid."""


class BundleError(FieldError):
    """A proof bundle is malformed (not: the proof is wrong)."""


class DataError(OracleError):
    """Market data is missing, malformed or unavailable.

    `retry` says whether asking again later can help (a source that is down,
    a row that is not published yet) or not (corrupt data).
    """

    def __init__(self, reason: str, *, retry: bool = False):
        self.reason = reason
        self.retry = retry
        super().__init__(reason)


class CheckFailed(OracleError):
    """A validator check refused a bundle."""

    def __init__(self, check: str, reason: str):
        self.check = check
        self.reason = reason
        super().__init__(f"check '{check}' failed: {reason}")


class ArtifactError(OracleError):
    """An artifact is missing from the store or does not match its hash."""


class ChainError(OracleError):
    """A transaction or call failed; `reason` is the decoded revert if any.

    `error` is the contract's custom error name (`AlreadyResolved`, `ForecastAlreadyPosted`, ...) when the
    revert decoded to one, else None (a transport failure, a plain revert): callers branch on it,
    never on the message text."""

    def __init__(self, action: str, reason: str, *, error: str | None = None):
        self.action = action
        self.reason = reason
        self.error = error
        super().__init__(f"{action} reverted: {reason}")


class ProvingError(OracleError):
    """The prover could not produce a proof (out of calibrated range, timeout, ...)."""


class NotFound(OracleError):
    """A named thing (market, model, artifact) does not exist."""
