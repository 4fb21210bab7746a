"""Reading a config file into its schema: the one path every loader takes (size and alias limits,
UTF-8 only, unknown fields refused), with an error that names the file, the field and the value."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from detector.errors import ConfigError
from detector.safeyaml import read_config_mapping, short_repr

M = TypeVar("M", bound=BaseModel)


def validation_message(path: Path, what: str, err: ValidationError) -> str:
    """`path: invalid <what>` and one line per error: field path, message, the value cut short."""
    lines = [f"{path}: invalid {what}"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"  {loc}: {e['msg']} (got {short_repr(e.get('input'))})")
    return "\n".join(lines)


def load_model(path: Path, model: type[M], what: str, *, file_what: str | None = None) -> M:
    """Read the YAML/JSON mapping at `path` and validate it as `model`; ConfigError when it is not one
    (`file_what` names the file in errors before validation, by default `what`)."""
    raw = read_config_mapping(path, file_what or what)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(validation_message(path, what, exc)) from exc
