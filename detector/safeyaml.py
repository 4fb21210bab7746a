"""Reading configuration files that may be hostile or careless: bounded size, bounded YAML aliases,
clear encoding errors, one `ConfigError` line naming the file and what is wrong.

YAML anchors and aliases share nodes, so a "billion laughs" document is small in memory as parsed
but explodes whenever something walks it as a tree (validation, error messages, json.dumps). A real
camera or store config needs few aliases; more than `max_aliases` is refused before any walk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent

from detector.errors import ConfigError

#: Largest config file read (a real camera config is a few kB; 200k lanes is an attack or a mistake).
MAX_CONFIG_BYTES = 1024 * 1024
#: Most YAML alias references (`*name`) allowed in one document.
MAX_ALIASES = 100


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts alias references while composing and stops at the limit."""

    max_aliases = MAX_ALIASES

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401 - PyYAML's signature
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > self.max_aliases:
                raise ConfigError(
                    f"more than {self.max_aliases} YAML alias references (*name): refused "
                    "(alias expansion can exhaust memory)"
                )
        return super().compose_node(parent, index)


def load_yaml_text(text: str, where: str, *, max_aliases: int = MAX_ALIASES) -> Any:  # noqa: ANN401
    """Parse YAML/JSON text with a bound on alias references; ConfigError naming `where` on any fault."""
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # the reader checks the characters here already
        loader.max_aliases = max_aliases
        return loader.get_single_data()
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML/JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_text_bounded(path: Path, what: str, *, max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """The file's UTF-8 text; ConfigError when missing, unreadable, larger than `max_bytes` or not UTF-8."""
    if not path.is_file():
        raise ConfigError(f"{path}: {what} file not found")
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: {what} is larger than {max_bytes} bytes: refused")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def read_config_mapping(
    path: Path, what: str, *, max_bytes: int = MAX_CONFIG_BYTES, max_aliases: int = MAX_ALIASES
) -> dict[str, Any]:
    """A YAML/JSON file whose top level is a mapping (an empty file is an empty mapping)."""
    raw = load_yaml_text(
        read_text_bounded(path, what, max_bytes=max_bytes), str(path), max_aliases=max_aliases
    )
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def short_repr(value: object, limit: int = 80) -> str:
    """repr of a value cut to `limit` characters without walking more of it than needed."""
    if isinstance(value, dict | list | tuple):
        kind = type(value).__name__
        return f"<{kind} of {len(value)} items>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
