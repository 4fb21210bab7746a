"""Store errors (all `DetectorError`s); the API maps each class to one HTTP status."""

from __future__ import annotations

from detector.errors import DetectorError


class StoreError(DetectorError):
    """Base of the store's errors."""


class NotFound(StoreError):
    """The violation, fine or file named does not exist (HTTP 404)."""


class Conflict(StoreError):
    """The request clashes with the current state, e.g. a fine already paid (HTTP 409)."""


class InvalidRequest(StoreError):
    """A well-formed request the store cannot act on, e.g. a plate that does not parse (HTTP 422)."""


class BundleRejected(StoreError):
    """A bundle that failed verification or chain continuity; it has been quarantined (HTTP 422)."""

    def __init__(self, message: str, quarantine_id: int | None = None) -> None:
        super().__init__(message)
        self.quarantine_id = quarantine_id


class NoFineRule(InvalidRequest):
    """No fine schedule row matches the violation type, vehicle class and measured values."""
