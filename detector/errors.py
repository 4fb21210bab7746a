"""Error types with messages fit for an operator. The CLI maps them to exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class DetectorError(Exception):
    """A runtime failure (CLI exit code 1): a source that drops, a model that fails, a store error."""


class ConfigError(DetectorError, ValueError):
    """Bad configuration or usage (CLI exit code 2): names the file, field and value."""


class SourceError(DetectorError):
    """A frame source that is missing, unreadable, corrupt or dropped for good."""


class ModelError(DetectorError):
    """A model file that is missing, unreadable or of the wrong shape."""


@contextmanager
def naming(where: object) -> Iterator[None]:
    """A ConfigError raised inside says where it came from first: `where` (a file, or an option and
    its file) before the field and value. One that already starts with `where` is passed on as is."""
    try:
        yield
    except ConfigError as exc:
        if str(exc).startswith(f"{where}:"):
            raise
        raise ConfigError(f"{where}: {exc}") from None
