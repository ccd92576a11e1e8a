"""A literature model, or a checkpoint (the project's architectures or spandrel's) or ncnn
pair the user added, run by its cached OpenVINO conversion in a process that never imports
torch (nor spandrel).

Importing torch takes most of a second of every start, so a second run of VDSR started
inferring 1.1 s after the load call, and of an added RRDBNet 2 s, where a zoo model takes
0.1–0.2 s (`zoo_host`). Once ``auto`` has measured such a model and found OpenVINO the faster
backend (or ``--backend openvino`` converted it), its conversion is cached together with
what runs the model around the graph (`ArchModel.host_record`: colour, pre-upsampling,
padding, context), found by the weights file's sha256. `load_without_torch` gives that model
on numpy tiles (`upscale_patch`, `arch_conventions.run_around`, as the torch model runs)
when everything it needs is known, and None otherwise — then the model loads as always,
through torch, which measures, converts or reports what is wrong.
"""

from __future__ import annotations

import logging

import numpy as np

from sr_desktop.engine.compute import devices
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.core.options import Backend
from sr_desktop.engine.models.arch_conventions import ArchConvention, run_around
from sr_desktop.engine.models.backends import choose
from sr_desktop.engine.models.backends.openvino_runner import OpenVinoRunner, cached_host_model, openvino_version
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.custom_index import stored_files_digest
from sr_desktop.engine.models.literature import shipped_weights, trained_scales
from sr_desktop.engine.models.registry import get_model_spec
from sr_desktop.engine.models.spandrel_conventions import SpandrelConvention, descriptor_call, run_spandrel
from sr_desktop.engine.models.spec import LITERATURE, ModelSpec

log = logging.getLogger(__name__)

#: the variant literature and added models are loaded as (`literature.load_literature_model`,
#: `custom.load_custom_model`)
VARIANT = "default"


class HostArchModel(SRModel):
    """An architecture model whose graph runs in OpenVINO on numpy arrays (CPU, fp32): one of
    the project's architectures or an ncnn pair (`ArchConvention`: `run_around`), or a
    spandrel architecture (`SpandrelConvention`: `run_spandrel`)."""

    def __init__(self, model_id: str, convention: ArchConvention | SpandrelConvention, runner, threads: int, *,
                 context: int, recommended_tile: int, tileable: bool, weights_digest: str = "") -> None:
        self.id = model_id
        #: the sha256 of the weights file it was converted from (a report names the weights by it)
        self.weights_digest = weights_digest
        self.variant = VARIANT
        self.scale = convention.scale
        self.align = convention.align if isinstance(convention, ArchConvention) else convention.multiple_of
        self.convention = convention
        self.context = context
        self.recommended_tile = recommended_tile
        self.tileable = tileable
        self.supports_fp16 = False
        self.runner = runner
        self.backend = Backend.OPENVINO.value
        self.device = devices.HostCPU(threads)
        self.dtype = "float32"

    def to(self, device, dtype=None) -> HostArchModel:
        """It runs where and in what precision it was loaded for: returns self unchanged."""
        return self

    def upscale_patch(self, patch: np.ndarray) -> np.ndarray:
        """H×W×3 float32 (0..1) -> (s·H)×(s·W)×3 float32, unclamped: `ArchModel.run` on numpy."""
        x = np.ascontiguousarray(patch.transpose(2, 0, 1), dtype=np.float32)[None]
        if isinstance(self.convention, SpandrelConvention):
            y = run_spandrel(self.convention,
                             lambda image: descriptor_call(self.convention, self.runner.run_array, image), x)
        else:
            y = run_around(self.convention, self.runner.run_array, x)
        return np.ascontiguousarray(y[0].transpose(1, 2, 0), dtype=np.float32)


def load_without_torch(model_id: str, scale: int | None, variant: str | None, device, precision,
                       backend) -> HostArchModel | None:
    """The shipped literature model or added checkpoint / ncnn pair `model_id` on its cached OpenVINO
    conversion, or None when that cannot be known without torch: neither of those, not on
    the CPU in fp32, a backend other than OpenVINO (asked, or measured by ``auto``), ``auto``
    not measured yet, no cached conversion, or weights that fail their checksum (the torch
    path says so)."""
    spec = get_model_spec(model_id)
    if not (spec.custom or (spec.group == LITERATURE and spec.trained)):
        return None
    if not devices.host_fp32_requested(device, precision,
                                       auto_device_on_host=devices.auto_device_is_cpu_without_torch()):
        return None
    served = trained_scales(spec.trained) if not spec.custom else spec.scales
    scale = max(served) if scale is None else int(scale)
    if scale not in served or variant not in (None, "", VARIANT):
        return None  # the torch path says what is wrong
    threads = devices.torch_default_threads()
    wanted = choose.backend_without_torch(spec.id, scale, VARIANT, backend, threads, ncnn_runs_it=False)
    if wanted != Backend.OPENVINO or openvino_version() is None:
        return None
    try:
        digest = _weights_digest(spec, scale)
    except (ModelError, OSError) as exc:  # the torch path reports it
        log.debug("%s: loading through torch (%s)", model_id, exc)
        return None
    found = cached_host_model(digest, spec.id, scale, VARIANT, threads)
    if found is None:
        return None
    runner, record = found
    try:
        return host_model_of_record(spec.id, scale, record, runner, threads, digest)
    except (KeyError, ValueError) as exc:  # a damaged cache file: loaded through torch, which records it again
        log.info("%s: cached record unusable (%s); loading through torch", model_id, exc)
        return None


def host_model_of_record(model_id: str, scale: int, record: dict, runner, threads: int,
                         weights_digest: str = "") -> HostArchModel:
    """The torch-free model that a `host_record` (what runs a model around its graph) and the
    OpenVINO `runner` of that graph make (converted from the weights of `weights_digest`);
    `KeyError` or `ValueError` for a record that is not one of a ×`scale` model."""
    convention = (SpandrelConvention.from_dict(record["spandrel"]) if "spandrel" in record
                  else ArchConvention.from_dict(record.get("convention")))
    context, tile, tileable = record["context"], record["recommended_tile"], record["tileable"]
    if convention.scale != scale or not (isinstance(context, int) and isinstance(tile, int)
                                         and isinstance(tileable, bool) and context >= 0 and tile > 0):
        raise ValueError(f"not a record of ×{scale}: {record!r}")
    return HostArchModel(model_id, convention, runner, threads, context=context, recommended_tile=tile,
                         tileable=tileable, weights_digest=weights_digest)


def torch_free_twin(model: SRModel, device, precision) -> HostArchModel | None:
    """The model a later run loads without torch (`load_without_torch`), made from the torch
    `model` just loaded and converted, on its OpenVINO runner; None when a later run would
    load through torch too (another runner, device or precision, no recorded weights file).

    The first run of a conversion then computes what runs around the graph (colour
    conversion, bicubic pre-upsampling) in numpy as every later run does: torch and numpy
    round those in the last float bit differently, and a Y-channel model's first run in a
    fresh cache differed from every later run by 1 in a few 8-bit values.
    """
    record_of = getattr(model, "host_record", None)
    if not (isinstance(getattr(model, "runner", None), OpenVinoRunner) and callable(record_of)
            and getattr(model, "weights_digest", "")
            and devices.host_fp32_requested(device, precision,
                                            auto_device_on_host=devices.auto_device_is_cpu_without_torch())):
        return None
    return host_model_of_record(model.id, model.scale, record_of(), model.runner,
                                devices.torch_default_threads(), model.weights_digest)


def _weights_digest(spec: ModelSpec, scale: int) -> str:
    """The sha256 of the weights file that runs `spec` at `scale`: a literature entry's
    shipped file (checked against the manifest, `ModelError` when it fails) or an added
    checkpoint's stored file or ncnn pair (hashed now: the files are what would run)."""
    if not spec.custom:
        return shipped_weights(spec, scale)[2]
    return stored_files_digest(spec)
