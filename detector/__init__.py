"""Traffic-camera violation engine."""

__version__ = "0.1.0"
