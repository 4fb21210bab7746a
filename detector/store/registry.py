"""Who owns a plate and which unit handles the case.

`VehicleRegistry` is the interface the notice service asks (the national vehicle-registration
database in a deployment); `FileVehicleRegistry` is a real implementation over a YAML file, and the
file shipped in `detector/store/data/vehicle_registry.yaml` is a stand-in holding the sample scene's
plates with made-up owners. `RoutingTable` sends a case to the traffic-police unit of the owner's
district, else of the owner's province (Decree 168/2024 Art. 47(6)(a): the owner named in the
registration certificate is the one sanctioned, so the owner's residence decides where the case is
handled).
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import Field, ValidationError

from detector.base import FrozenModel
from detector.errors import ConfigError
from detector.platetext import normalize_plate

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).with_name("data")
SAMPLE_REGISTRY = DATA_DIR / "vehicle_registry.yaml"
SAMPLE_ROUTING = DATA_DIR / "routing.yaml"


@dataclass(frozen=True, slots=True)
class VehicleRecord:
    plate_normalized: str
    plate_text: str
    owner_name: str
    address: str
    district: str
    province: str
    vehicle_type: str


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    address: str
    province: str
    district: str | None


class VehicleRegistry(Protocol):
    """The registry of vehicle registrations (owner and address by plate)."""

    def lookup(self, plate_normalized: str) -> VehicleRecord | None: ...


class _VehicleModel(FrozenModel):
    plate: str = Field(min_length=4, max_length=32, description="Plate as registered, e.g. 51F-123.45")
    owner: str = Field(min_length=1, description="Owner named in the registration certificate")
    address: str = Field(min_length=1, description="Owner's registered address")
    district: str = Field(min_length=1, description="District (quận/huyện) of the address")
    province: str = Field(min_length=1, description="Province or city of the address")
    vehicle_type: str = Field(default="Xe ô tô", description="Vehicle type on the certificate")


class _RegistryModel(FrozenModel):
    source: str = Field(description="What this file is (a stand-in, an export of ...)")
    vehicles: tuple[_VehicleModel, ...] = Field(description="One entry per registered plate")


class _UnitModel(FrozenModel):
    code: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="Unit code (printed in decision numbers)"
    )
    name: str = Field(min_length=1, description="Unit name as printed on the notice")
    address: str = Field(min_length=1, description="Where the owner goes to settle the case")
    province: str = Field(min_length=1, description="Province or city the unit covers")
    district: str | None = Field(default=None, description="District it covers; None: the whole province")


class _RoutingModel(FrozenModel):
    source: str = Field(description="What this table is")
    units: tuple[_UnitModel, ...] = Field(
        min_length=1, description="Units; a district entry beats a province one"
    )


def _key(name: str) -> str:
    """Comparison key of a place name: case, accents' composition and spacing ignored."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _load_yaml(path: Path, what: str) -> object:
    if not path.is_file():
        raise ConfigError(f"{path}: {what} file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {what} is not valid YAML: {exc}") from exc


def _invalid(path: Path, what: str, exc: ValidationError) -> ConfigError:
    lines = [f"{path}: invalid {what}"]
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "<root>"
        lines.append(f"  {loc}: {e['msg']} (got {e.get('input')!r})")
    return ConfigError("\n".join(lines))


class FileVehicleRegistry:
    """A registry read from a YAML file (one entry per plate; duplicates are an error)."""

    def __init__(self, records: dict[str, VehicleRecord], source: str) -> None:
        self.records = records
        self.source = source

    @classmethod
    def load(cls, path: str | Path | None = None) -> FileVehicleRegistry:
        p = Path(path) if path is not None else SAMPLE_REGISTRY
        try:
            model = _RegistryModel.model_validate(_load_yaml(p, "vehicle registry"))
        except ValidationError as exc:
            raise _invalid(p, "vehicle registry", exc) from exc
        records: dict[str, VehicleRecord] = {}
        for i, v in enumerate(model.vehicles):
            key = normalize_plate(v.plate)
            if not key:
                raise ConfigError(f"{p}: vehicles.{i}.plate {v.plate!r} has no letters or digits")
            if key in records:
                raise ConfigError(f"{p}: vehicles.{i}.plate {v.plate!r} is registered twice")
            records[key] = VehicleRecord(
                key, v.plate, v.owner, v.address, v.district, v.province, v.vehicle_type
            )
        log.info("vehicle registry %s: %d vehicles (%s)", p, len(records), model.source)
        return cls(records, model.source)

    def lookup(self, plate_normalized: str) -> VehicleRecord | None:
        return self.records.get(plate_normalized)


class RoutingTable:
    """Traffic-police unit for an owner's (province, district)."""

    def __init__(self, units: tuple[Unit, ...]) -> None:
        self.units = units
        self._district: dict[tuple[str, str], Unit] = {}
        self._province: dict[str, Unit] = {}
        for u in units:
            if u.district is None:
                self._province[_key(u.province)] = u
            else:
                self._district[(_key(u.province), _key(u.district))] = u

    @classmethod
    def load(cls, path: str | Path | None = None) -> RoutingTable:
        p = Path(path) if path is not None else SAMPLE_ROUTING
        try:
            model = _RoutingModel.model_validate(_load_yaml(p, "routing table"))
        except ValidationError as exc:
            raise _invalid(p, "routing table", exc) from exc
        seen: set[tuple[str, str | None]] = set()
        for i, u in enumerate(model.units):
            where = (_key(u.province), _key(u.district) if u.district else None)
            if where in seen:
                raise ConfigError(f"{p}: units.{i} ({u.code}) covers {u.province}/{u.district} twice")
            seen.add(where)
        return cls(tuple(Unit(u.code, u.name, u.address, u.province, u.district) for u in model.units))

    def route(self, province: str, district: str) -> Unit | None:
        """The district's unit, else the province's, else None."""
        return self._district.get((_key(province), _key(district))) or self._province.get(_key(province))
