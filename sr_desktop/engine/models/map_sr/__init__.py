"""map-sr: classical reconstruction-based SR (MAP estimate with a TV or Tikhonov prior)."""

from sr_desktop.engine.models.map_sr.model import MapSRModel, make_map_sr_model

__all__ = ["MapSRModel", "make_map_sr_model"]
