"""ZSSR: per-image super-resolution trained at test time, with a given or estimated kernel."""

from sr_desktop.engine.models.zssr.model import ZSSRModel, load_kernel, make_zssr_model

__all__ = ["ZSSRModel", "load_kernel", "make_zssr_model"]
