"""Models loaded by id, on a device, in a precision, kept in a small LRU cache so that
consecutive jobs (a batch, repeated upscales in the GUI) reuse the loaded weights."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sr_desktop.engine.compute import devices
from sr_desktop.engine.compute.seeded import drawing_from_torch
from sr_desktop.engine.core.options import Backend, parse_backend, parse_device, parse_precision
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, check_cancel
from sr_desktop.engine.models.arch_host import load_without_torch as arch_without_torch
from sr_desktop.engine.models.arch_host import torch_free_twin
from sr_desktop.engine.models.backends.choose import apply_backend
from sr_desktop.engine.models.base import ModelSpec, SRModel
from sr_desktop.engine.models.custom_index import recorded_digests
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.loader import load_model
from sr_desktop.engine.models.registry import get_model_spec
from sr_desktop.engine.models.zoo_host import load_without_torch as zoo_without_torch

if TYPE_CHECKING:
    import torch

_CACHE: OrderedDict[tuple, SRModel] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 2
#: a lock per model being loaded (`_loading`); kept, a few bytes per choice ever loaded
_LOADING: dict[tuple, threading.Lock] = {}
#: choices for which `_model_without_torch` found no torch-free model: this process asks torch
#: from then on (a model measured by torch meanwhile would otherwise be loaded a second time)
_THROUGH_TORCH: set[tuple] = set()


def clear_model_cache() -> None:
    """Forget every loaded model (the next `get_model` loads from the files again)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _THROUGH_TORCH.clear()


def get_model(
    model_id: str,
    scale: int,
    variant: str | None = None,
    device: str | torch.device = "auto",
    precision: str = "auto",
    backend: Backend | str = Backend.AUTO,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    **options,
) -> SRModel:
    """Load (or reuse) a model on a device in the right precision, run by `backend`.

    Models loaded with extra `options` (a kernel, training settings) are not cached.
    `progress` hears the backend's first-use notice and `cancel` stops its measurement
    (`backends.choose.apply_backend`).
    Models that run without torch load without importing it: a resampler (Pillow) with the
    default device, precision and backend, a zoo model whose backend is known to be
    OpenVINO or ncnn (`zoo_host.load_without_torch`) and a shipped literature model or an
    added checkpoint or ncnn pair whose backend is known to be OpenVINO
    (`arch_host.load_without_torch`); other choices go through torch, which checks them as
    for any model.
    """
    options = {k: v for k, v in options.items() if v is not None}
    spec = get_model_spec(model_id)  # once: for an added model it reads the index file
    if not options:
        model = _model_without_torch(spec, scale, variant, device, precision, backend)
        if model is not None:
            return model
    import torch

    choice = device if isinstance(device, torch.device) else parse_device(device)
    dev = choice if isinstance(choice, torch.device) else devices.resolve_device(choice)
    precision = parse_precision(precision)
    backend = parse_backend(backend)
    if spec.kind == ModelKind.PER_IMAGE:
        # the user's choice, not the resolved device: a per-image model (ZSSR, map-sr) picks
        # its CPU settings and its kernel estimation's device from it ("auto" differs from
        # an explicit "cuda" there); such models load in no time, so they are not cached
        options["device"] = str(choice) if isinstance(choice, torch.device) else choice
    cacheable = not options
    key = (model_id, _stored_file(spec), scale, variant, str(dev), precision, backend)
    if not cacheable:  # (a per-image model: its networks are built seeded, when it runs)
        model = place_model(load_model(model_id, scale=scale, variant=variant, **options), dev, precision)
        apply_backend(model, backend, progress, cancel)
        return model
    with _loading(key, cancel):
        with _CACHE_LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
        with drawing_from_torch():  # (its layers' default initialisation, before the weights are read)
            loaded = load_model(model_id, scale=scale, variant=variant)
        model = place_model(loaded, dev, precision)
        apply_backend(model, backend, progress, cancel)
        model = torch_free_twin(model, device, precision) or model
        with _CACHE_LOCK:
            _CACHE[key] = model
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return model


@contextlib.contextmanager
def _loading(key: tuple, cancel: CancelToken | None) -> Iterator[None]:
    """One load of `key` at a time: a second job asking for a model being loaded waits for it
    (two jobs loaded it twice, at twice the memory, and both ran its first-use measurement),
    looking at its own `cancel` meanwhile."""
    with _CACHE_LOCK:
        lock = _LOADING.setdefault(key, threading.Lock())
    while not lock.acquire(timeout=0.1):
        check_cancel(cancel)
    try:
        yield
    finally:
        lock.release()


def place_model(model: SRModel, device: torch.device, precision: str) -> SRModel:
    """Move a loaded torch model to `device` in `precision` (``auto``: fp16 where the device
    and the model support it), its module channels-last on CUDA (the layout cuDNN's fastest
    convolutions use; the tiler feeds channels-last tiles there); returns it."""
    import torch

    model.to(device, devices.resolve_precision(precision, device, model.supports_fp16))
    module = getattr(model, "module", None)
    if device.type == "cuda" and isinstance(module, torch.nn.Module):
        module.to(memory_format=torch.channels_last)
    return model


def _model_without_torch(spec: ModelSpec, scale: int, variant: str | None, device, precision,
                         backend) -> SRModel | None:
    """A cached or newly loaded model that needs no torch for these choices, else None."""
    if not (device is None or isinstance(device, str)):
        return None
    model_id = spec.id
    key = ("without torch", model_id, _stored_file(spec), scale, variant, str(device), str(precision), str(backend))
    with _CACHE_LOCK:
        if key in _THROUGH_TORCH:
            return None
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    if spec.kind == ModelKind.RESAMPLE:
        # Pillow runs a resampler on the host whatever ``auto`` would pick for a network
        plain = (devices.host_fp32_requested(device, precision, auto_device_on_host=True)
                 and parse_backend(backend) in (Backend.AUTO, Backend.TORCH))
        model = load_model(model_id, scale=scale, variant=variant) if plain else None
    else:
        model = (zoo_without_torch(model_id, scale, variant, device, precision, backend)
                 or arch_without_torch(model_id, scale, variant, device, precision, backend))
    with _CACHE_LOCK:
        if model is None:
            _THROUGH_TORCH.add(key)
        else:
            _CACHE[key] = model
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return model


def _stored_file(spec: ModelSpec) -> str:
    """For an added model, the sha256 its index records for the stored files: a model removed
    and added again under the same id from another file (another process's `models add`
    while the app runs) is another model, not the one loaded before."""
    return "|".join(recorded_digests(spec.source)) if spec.custom else ""
