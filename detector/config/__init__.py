"""Every configuration schema of the engine, in one package that imports no stage.

- a camera (`camera.py`, one YAML file per camera): its source, detector, tracker, `rules`
  (`rules.py`, with the scene in `scene.py` and the signal in `signal.py`), `plates`, `riders`,
  `evidence`, `runtime` (with the disk thresholds) and `telemetry` sections;
- the store (`store.py`, with the notices' settings in `notices.py`);
- the network file of road sections and the traffic statistics' settings (`sections.py`);
- a batch manifest (`batch.py`);
- the model manifest, models/manifest.yaml (`models.py`).

frigate-style pydantic models: unknown fields are errors, every field has a description, instances
are frozen; shared field shapes are in `fields.py`, and the config loaders read their file through
`load.py` (size and alias limits; the error names the file, field and value). Files are loaded once
at the CLI edge and the models passed down.

The checks here need no geometry library: fields, ids, references, image bounds. A stage that
needs more checks its part where it is built (`detector.geometry` the zones' shapes and the
homography fit, `detector.ignore` the ignore polygons, the plate reader the region's formats);
`detector.configcheck.check_camera` runs them all, as `detector config check` does.
"""

from __future__ import annotations

from detector.config.batch import BatchManifest, ManifestEntry, load_batch_manifest
from detector.config.camera import (
    GPS,
    CameraConfig,
    DetectorConfig,
    IgnoreZoneConfig,
    SourceConfig,
    TrackerConfig,
    camera_config_json_schema,
    config_sha256,
    load_camera_config,
    resolve_relative_paths,
)
from detector.config.evidence import EvidenceConfig
from detector.config.models import ModelEntry, ModelManifest
from detector.config.notices import NetworkConfig, NoticeConfig
from detector.config.plates import PlatesConfig
from detector.config.riders import AssociationConfig, HelmetConfig, RiderCountConfig, RidersConfig
from detector.config.rules import (
    DEFAULT_JUDGED_CLASSES,
    LaneRestrictionRuleConfig,
    NoStoppingRuleConfig,
    RedLightRuleConfig,
    RulesConfig,
    RulesSettings,
    SolidLineRuleConfig,
    SpeedingRuleConfig,
    SpeedLimitConfig,
    StopLineRuleConfig,
    WrongWayRuleConfig,
)
from detector.config.runtime import DiskConfig, RuntimeConfig
from detector.config.scene import (
    CalibrationConfig,
    LaneConfig,
    SolidLineConfig,
    StopLineConfig,
    TurnZoneConfig,
    ZoneConfig,
    ZonesConfig,
)
from detector.config.sections import (
    NetworkCamerasConfig,
    SectionCamera,
    SectionConfig,
    SectionSpeedLimit,
    TrafficStatsConfig,
    load_network_config,
)
from detector.config.signal import ArrowConfig, LampConfig, SignalConfig, SignalPlanConfig
from detector.config.store import (
    CameraHealthConfig,
    ForwardConfig,
    MqttConfig,
    RateLimitConfig,
    StoreConfig,
    load_store_config,
)
from detector.config.telemetry import TelemetryConfig

__all__ = [
    "DEFAULT_JUDGED_CLASSES",
    "GPS",
    "ArrowConfig",
    "AssociationConfig",
    "BatchManifest",
    "CalibrationConfig",
    "CameraConfig",
    "CameraHealthConfig",
    "DetectorConfig",
    "DiskConfig",
    "EvidenceConfig",
    "ForwardConfig",
    "HelmetConfig",
    "IgnoreZoneConfig",
    "LampConfig",
    "LaneConfig",
    "LaneRestrictionRuleConfig",
    "ManifestEntry",
    "ModelEntry",
    "ModelManifest",
    "MqttConfig",
    "NetworkCamerasConfig",
    "NetworkConfig",
    "NoStoppingRuleConfig",
    "NoticeConfig",
    "PlatesConfig",
    "RateLimitConfig",
    "RedLightRuleConfig",
    "RiderCountConfig",
    "RidersConfig",
    "RulesConfig",
    "RulesSettings",
    "RuntimeConfig",
    "SectionCamera",
    "SectionConfig",
    "SectionSpeedLimit",
    "SignalConfig",
    "SignalPlanConfig",
    "SolidLineConfig",
    "SolidLineRuleConfig",
    "SourceConfig",
    "SpeedLimitConfig",
    "SpeedingRuleConfig",
    "StopLineConfig",
    "StopLineRuleConfig",
    "StoreConfig",
    "TelemetryConfig",
    "TrackerConfig",
    "TrafficStatsConfig",
    "TurnZoneConfig",
    "WrongWayRuleConfig",
    "ZoneConfig",
    "ZonesConfig",
    "camera_config_json_schema",
    "config_sha256",
    "load_batch_manifest",
    "load_camera_config",
    "load_network_config",
    "load_store_config",
    "resolve_relative_paths",
]
