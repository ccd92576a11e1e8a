"""What the user cache holds for one added model, dropped when the model goes (removed, or
replaced under its id by `models add` or a training run): its measured backend choices,
what OpenVINO refused of it, its OpenVINO conversions and, for an ncnn pair, its converted
weights. They stayed for good (67 MB for an RRDBNet's conversion), and a later model under
the same id inherited the measurements.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sr_desktop.engine.core import paths

log = logging.getLogger(__name__)


def forget_model_caches(model_id: str, stored: Path | None = None, weights_kept: bool = False) -> None:
    """Drop the cache entries of `model_id`; `stored`: the folder of its stored files (an ncnn
    pair's converted weights are found by their contents). With `weights_kept` (another added
    model holds the same weights) its conversions stay: they are that model's too (unused,
    they go after `openvino_runner.UNUSED_DAYS`). What cannot be deleted stays (a cache: it
    costs only room)."""
    from sr_desktop.engine.models.backends.choose import forget_measurements
    from sr_desktop.engine.models.backends.openvino_refusals import forget_refusals
    from sr_desktop.engine.models.backends.openvino_runner import forget_conversions

    forget_measurements(model_id)
    forget_refusals(model_id)  # (found by its id in the window: they would outlive the model)
    if weights_kept:
        return
    forget_conversions(model_id)
    if stored is not None:
        _forget_converted_weights(stored)


def _forget_converted_weights(stored: Path) -> None:
    from sr_desktop.engine.models.ncnn.param import source_hash, weight_cache_name

    params, weights = sorted(stored.glob("*.param")), sorted(stored.glob("*.bin"))
    if len(params) != 1 or len(weights) != 1:
        return
    try:
        cached = paths.cache_dir() / "models" / weight_cache_name(
            source_hash(params[0].read_bytes(), weights[0].read_bytes()))
        cached.unlink(missing_ok=True)
    except OSError as exc:
        log.info("cannot remove the converted weights of %s: %s", stored.name, exc)
