"""Models the user brings: ``.pth`` / ``.safetensors`` state dicts of the architectures of
`archs` (RRDBNet, SRVGGNetCompact, SPAN, the literature's), ncnn ``.param`` + ``.bin``
pairs, and — when spandrel is installed (``sr-desktop[community]``) — any state dict that
spandrel knows and none of `archs` does (`engine.models.community`; its registry entry
records ``family: "spandrel:ARCH"`` and the architecture's licence).

Security: nothing is unpickled beyond plain tensors — ``torch.load(weights_only=True)``
(which refuses any other Python object) or safetensors.

Added models live in ``paths.data_dir()/custom_models/<id>/`` (a copy of the user's
file(s)) and are listed in ``custom_models/index.json`` (read and written by the torch-free
`custom_index`).

Border convention of every custom model: ``run`` reflect-pads the input by `PRE_PAD`
pixels per side (replicate when the input is too small to reflect), runs the network and
crops back to exactly s·H × s·W — as the Real-ESRGAN tools do, so borders are not
darkened by the networks' zero padding. Inside an image the engine's context decides.

Over 500 lines because adding a model is one transaction (detect, check, copy, index,
load back), each step with the refusals a user's file needs; the index file and the
torch-free loading are modules of their own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from sr_desktop.engine.core.digest import file_sha256
from sr_desktop.engine.core.errors import ModelError, UnsupportedModelFile, one_line
from sr_desktop.engine.core.options import MAX_SCALE, whole_scale
from sr_desktop.engine.core.path_kind import not_a
from sr_desktop.engine.core.text import without_control_characters
from sr_desktop.engine.core.weight_file import (
    SAFETENSORS_SUFFIX,
    WeightFileError,
    read_weight_file,
    refuse_non_finite,
    safetensors_metadata,
)
from sr_desktop.engine.imageio.atomic import new_staging_folder
from sr_desktop.engine.models.arch_conventions import ArchConvention, host_record_of, run_around
from sr_desktop.engine.models.arch_model import PRE_PAD, ArchModel
from sr_desktop.engine.models.archs import detect
from sr_desktop.engine.models.archs.detect import (
    ARCH_REGISTRY,
    DetectedModel,
    StateDict,
    UnknownArchitecture,
    UnsupportedStateDict,
    detect_architecture,
    unwrap_state_dict,
    with_scale,
)
from sr_desktop.engine.models.base import ModelSpec, SRModel
from sr_desktop.engine.models.community.importer import is_community_family
from sr_desktop.engine.models.custom_index import (  # noqa: F401 - custom_models_dir, list_custom_specs, same_weights_as: re-exported
    ENTRY_FILE,
    NCNN_RECOMMENDED_TILE,
    checked_model_name,
    custom_models_dir,
    entry_id,
    index_lock,
    index_path,
    list_custom_specs,
    read_index,
    recommended_tile,
    record_recommended_tile,
    recorded_digests,
    removal_folder,
    remove_leftovers,
    same_weights_as,
    spec_from_entry,
    stored_file_digests,
    stored_files_digest,
    write_index,
)
from sr_desktop.engine.models.model_caches import forget_model_caches
from sr_desktop.engine.models.model_files import sibling_file
from sr_desktop.engine.models.spec import CUSTOM_ID_PREFIX

log = logging.getLogger(__name__)

NCNN_MAGIC = "7767517"

#: per architecture: tile context in input pixels and recommended tile. The torch
#: architectures' come from their registry entries (`archs.detect.ARCH_REGISTRY`, where
#: the measurements are noted; a small RRDBNet's context depends on its depth, see
#: `ArchSupport.context_for`); ncnn graphs: see `ncnn_context`.
ARCH_SETTINGS: dict[str, dict[str, int]] = {
    **{s.name: {"context": s.context, "recommended_tile": s.recommended_tile} for s in ARCH_REGISTRY},
    "ncnn": {"context": 48, "recommended_tile": NCNN_RECOMMENDED_TILE},
}


#: what users know some architectures as
FAMILY_NOTES = {"RRDBNet": "ESRGAN"}


def supported_families() -> str:
    """The supported architectures as words for a message, from `ARCH_REGISTRY`."""
    names = [f"{s.name} ({FAMILY_NOTES[s.name]})" if s.name in FAMILY_NOTES else s.name
             for s in ARCH_REGISTRY]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)


def _unsupported(path: Path, reason: str = "") -> UnsupportedModelFile:
    why = f" ({reason})" if reason else ""
    return UnsupportedModelFile(path, f"not an {supported_families()} state dict, nor an ncnn .param/.bin pair{why}")


def _rejected(path: Path, exc: UnsupportedStateDict) -> UnsupportedModelFile:
    """A file that is unknown (the supported families listed) or a recognised one that does not fit."""
    if isinstance(exc, UnknownArchitecture):
        return _unsupported(path, str(exc))
    return UnsupportedModelFile(path, str(exc), lead="cannot use model file")


# -- reading files ---------------------------------------------------------------------


def _ncnn_pair(path: Path) -> tuple[Path, Path] | None:
    """The (.param, .bin) pair `path` belongs to, or None if it is not an ncnn file."""
    suffix = path.suffix.lower()
    if suffix == ".param":
        return path, sibling_file(path, ".bin")
    if suffix == ".bin":
        param = sibling_file(path, ".param")
        if param.is_file():
            return param, path
    return None


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint's tensors, never executing pickled code."""
    try:
        obj = read_weight_file(path, "model file")
    except WeightFileError as exc:
        if exc.refused or exc.damaged:  # (a cut download was "not an RRDBNet, …, or ProSR state dict")
            raise ModelError(str(exc)) from None
        raise _unsupported(path, exc.reason) from None
    try:
        return _model_of_training_checkpoint(path, unwrap_state_dict(obj))
    except UnsupportedStateDict as exc:
        raise _unsupported(path, str(exc)) from None


#: the groups of tensors a checkpoint of ``sr-desktop train`` holds (`training.checkpoint`)
_CHECKPOINT_GROUPS = {"net", "ema", "disc"}


def _model_of_training_checkpoint(path: Path, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint of ``sr-desktop train`` (``checkpoint/weights-N.safetensors``) as the model
    its run exports: the averaged (EMA) weights where the run keeps them, else the network's.
    Any other state dict as it is. (A run stopped part-way leaves only checkpoints, and
    `models add` or ``--init`` of one said "unsupported model file".)"""
    groups = {key.split(".", 1)[0] for key in state}
    if "net" not in groups or not groups <= _CHECKPOINT_GROUPS or path.suffix.lower() != SAFETENSORS_SUFFIX:
        return state
    meta = safetensors_metadata(path)
    if "iteration" not in meta:
        return state
    from sr_desktop.engine.models.archs.published_keys import published_keys

    group = "ema" if "ema" in groups else "net"
    # the network's own keys, renamed as its export renames them (VDSR's head/body/tail)
    return published_keys({key[len(group) + 1:]: value for key, value in state.items()
                           if key.startswith(group + ".")}, meta.get("arch", ""))


# -- SRModel wrappers (the torch architectures' `ArchModel` is in `arch_model`) ----------


class NcnnPairModel(SRModel):
    """A user's ncnn graph run by the torch interpreter.

    The scale, the graph's own border shrink (unpadded convolutions shrink the output by
    `shrink` output pixels in total per axis) and the sizes it takes (`align`: a U-Net
    such as Real-CUGAN's runs only on multiples of 2 or 4) are measured by running small
    inputs.
    """

    def __init__(self, module: torch.nn.Module, scale: int, shrink: int, model_id: str, align: int = 1):
        super().__init__()
        self.module = module.eval() if hasattr(module, "eval") else module
        self.arch = "ncnn"
        self.id = model_id
        self.scale = scale
        self.shrink = shrink
        self.align = align
        self.pad = PRE_PAD + math.ceil(shrink / scale / 2)
        self.convention = ArchConvention(scale=scale, pad=self.pad, shrink=shrink, align=align)
        self.weights_digest = ""
        self.context = ncnn_context(module) + math.ceil(shrink / scale / 2)
        self.recommended_tile = ARCH_SETTINGS["ncnn"]["recommended_tile"]
        # global pooling (e.g. squeeze-excitation) makes tiles depend on the whole image
        self.tileable = not any(d.type == "Pooling" for d in getattr(module, "layer_defs", []))
        self.supports_fp16 = True

    def host_record(self) -> dict:
        """What runs this model around a converted graph without torch (`arch_host`)."""
        return host_record_of(self)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        return run_around(self.convention, lambda padded: (self.runner or self.module)(padded), x)


def ncnn_context(module: Any) -> int:
    """Tile context for an unknown ncnn graph, from its number of spatial convolutions.

    Measured with real weights (64-px tiles, tiled vs whole): SRVGGNetCompact (18 3×3
    convs) 67 dB at 8 px, 81 dB at 12; SPAN (21) 78 dB at 8; RRDBNet (96 or 352) needs
    48. So: half the conv count plus 4, clamped to 12..48.
    """
    defs = getattr(module, "layer_defs", None)
    if not defs:
        return ARCH_SETTINGS["ncnn"]["context"]
    spatial = sum(1 for d in defs if d.type in ("Convolution", "Deconvolution")
                  and int(d.get(1, 1)) > 1)
    return max(12, min(48, spatial // 2 + 4))


def _measure_ncnn_geometry(module: Any, path: Path) -> tuple[int, int, int]:
    """Run 32² and 48² inputs (64² and 96², 128² and 160² for a graph that needs more):
    out = s·n − k gives scale s and shrink k; then sizes that are multiples of 1, 2, 4, 8
    (33, 34, 36, 40) tell the alignment a the graph needs: the smallest whose size runs.
    An 8² input first refuses a graph beyond ×`MAX_SCALE` at little cost (a 90-byte ×300
    graph took 21 s and 3.7 GB to measure at 48²); a graph too deep for 8² goes on to the
    sizes above. Returns (s, k, a)."""
    gen = torch.Generator().manual_seed(0)
    try:
        with torch.inference_mode():
            probe = module(torch.rand(1, 3, 8, 8, generator=gen))
    except Exception:  # noqa: BLE001 - shrinking graphs need more than 8²: the runs below say more
        probe = None
    if isinstance(probe, torch.Tensor) and probe.ndim == 4 and probe.shape[-1] > 8 * MAX_SCALE:
        raise _unsupported(path, f"the graph upscales 8×8 to {probe.shape[-1]}×{probe.shape[-2]}: "
                                 f"beyond ×{MAX_SCALE}")
    failure = ""
    for small, large in PROBE_SIZES:
        try:
            sizes = [_output_side(module, n, gen, path) for n in (small, large)]
            break
        except _GraphFailed as exc:  # a U-Net with unpadded convolutions needs a larger input
            failure = str(exc)
    else:
        raise _unsupported(path, f"the graph does not run: {failure}")
    scale, rem = divmod(sizes[1] - sizes[0], large - small)
    shrink = scale * small - sizes[0]
    if rem or scale < 1 or shrink < 0 or shrink % 2:
        raise _unsupported(path, f"cannot tell the graph's scale from outputs {sizes}")
    if scale > MAX_SCALE:
        raise _unsupported(path, f"the graph upscales ×{scale}; the app runs scales 1..{MAX_SCALE}")
    return scale, shrink, _measure_alignment(module, scale, shrink, gen, small)


#: input sides the geometry is measured at, tried in turn: waifu2x's CUNet and Real-CUGAN
#: Pro need more than 32 px (their first pooling left 2×2 for a 3×3 convolution)
PROBE_SIZES = ((32, 48), (64, 96), (128, 160))


class _GraphFailed(Exception):
    """The graph raised on an input of this size."""


def _output_side(module: Any, n: int, gen: torch.Generator, path: Path) -> int:
    """The output side of the graph for an n×n input; `_GraphFailed` if it raises."""
    try:
        with torch.inference_mode():
            y = module(torch.rand(1, 3, n, n, generator=gen))
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - a graph that cannot run (at this size)
        raise _GraphFailed(one_line(exc)) from None
    if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.shape[1] != 3:
        raise _unsupported(path, "the graph does not output an RGB image")
    if y.shape[2] != y.shape[3]:
        raise _unsupported(path, "the graph output is not square for a square input")
    return int(y.shape[2])


def _measure_alignment(module: Any, scale: int, shrink: int, gen: torch.Generator, base: int) -> int:
    """The smallest power of two below `base` (32, 64 or 128) that the graph's input sizes
    may be a multiple of; `base` itself when none runs (`base` did). A Real-CUGAN pair was
    added, then failed on every odd-sized image."""
    largest = base & -base
    for align in (2**i for i in range(largest.bit_length() - 1)):
        n = base + align  # a multiple of `align`, not of twice it
        try:
            with torch.inference_mode():
                y = module(torch.rand(1, 3, n, n, generator=gen))
        except Exception:  # noqa: BLE001 - this size does not run: a coarser alignment
            continue
        if isinstance(y, torch.Tensor) and y.ndim == 4 and tuple(y.shape[2:]) == (scale * n - shrink,) * 2:
            return align
    return largest


def _load_ncnn(param: Path, binf: Path, model_id: str,
               geometry: tuple[int, int, int] | None = None) -> NcnnPairModel:
    """Load an ncnn pair; `geometry` = known (scale, shrink, align) skips measuring them."""
    if not binf.is_file():
        raise ModelError(f"ncnn model {param}: the weights file {binf.name} is missing")
    with open(param, "rb") as fh:
        if fh.readline().strip() != NCNN_MAGIC.encode():
            raise _unsupported(param, "not a text ncnn .param file")
    try:
        from sr_desktop.engine.models.ncnn import NcnnGraphError, load_ncnn_graph
    except ImportError as exc:
        raise ModelError(f"ncnn models are not available in this build: {exc}") from None
    try:
        module = load_ncnn_graph(param, binf)
    except NcnnGraphError as exc:
        # (an ncnn pair, one that does not build: the list of architectures said nothing of it)
        raise UnsupportedModelFile(param, one_line(exc), lead="cannot use model file") from None
    refuse_non_finite(module.state_dict(), binf)
    scale, shrink, align = geometry or _measure_ncnn_geometry(module, param)
    return NcnnPairModel(module, scale, shrink, model_id, align)


def _scale_in_metadata(path: Path) -> int | None:
    """The scale a model trained here records in its safetensors metadata (`train`'s
    ``model.safetensors``: its FSRCNN weights do not hold it), else None."""
    meta = safetensors_metadata(path)
    if meta.get("sr_desktop_trained") != "1":
        return None
    text = meta.get("scale", "")
    return int(text) if text.isdigit() and 1 <= int(text) <= 8 else None


def _trained_params(path: Path) -> dict[str, float]:
    """The hyper-parameters a model trained here records that its weights do not hold
    (`detect.GUESSED_PARAMS`: an EDSR trained with res_scale 1 at 256 features loaded with
    the guessed 0.1, another network), else {}."""
    import json

    meta = safetensors_metadata(path)
    if meta.get("sr_desktop_trained") != "1":
        return {}
    try:
        params = json.loads(meta.get("params", "{}"))
    except ValueError:
        return {}
    return detect.check_guessed(params) if isinstance(params, dict) else {}


def scale_recorded_by(path: Path) -> int | None:
    """The scale a model file records beside weights that may not hold it: its metadata (a
    model trained here), else its name (``fsrcnn_x3.pth``); None for neither. Reads no weights."""
    return _scale_in_metadata(path) or _scale_in_name(path)


def _scale_in_name(path: Path) -> int | None:
    """The scale written in a file name: ``fsrcnn_x3.pth``, ``model-4x``, ``X2``."""
    m = re.search(r"(?:^|[^a-z0-9])x([1-8])(?![0-9])|(?<![0-9])([1-8])x(?:$|[^a-z0-9])", path.stem.lower())
    return int(m.group(1) or m.group(2)) if m else None


def _is_ours(state: StateDict) -> bool:
    """True when one of the project's architectures knows these keys: ours win over
    spandrel's (bit-identical to the ncnn graphs, and layouts spandrel does not read)."""
    return any(support.matches(state) for support in detect.ARCH_REGISTRY)  # read now: extensible


def _community_unknown(path: Path) -> UnsupportedModelFile:
    """The unknown-architecture line, plus how to get the community architectures."""
    from sr_desktop.engine.models.community.importer import install_hint, unavailable_reason

    why = unavailable_reason()
    if why is None:
        return _unsupported(path, "no known layer names, nor any of spandrel's")
    spandrel = "" if why == "not installed" else f" (spandrel is {why})"
    unknown = _unsupported(path, "no known layer names").reason
    return UnsupportedModelFile(path, f"{unknown}; {install_hint()}{spandrel}")


def _community_call(function: str, path: Path, state: StateDict, *args: Any, added_as: str = "") -> Any:
    """Call `function` of `engine.models.community` on a file none of `archs` knows;
    `added_as`: the id of a model added through spandrel (when spandrel is gone since)."""
    from sr_desktop.engine.models import community
    from sr_desktop.engine.models.community.loading import NotCommunity

    try:
        return getattr(community, function)(path, state, *args)
    except community.CommunityUnavailable as exc:
        if added_as:
            raise ModelError(f"{added_as} was added through spandrel: {exc}") from None
        raise _community_unknown(path) from None
    except NotCommunity:
        raise _community_unknown(path) from None


def _detect_file(path: Path, scale: int | None = None,
                 state: StateDict | None = None) -> tuple[DetectedModel, torch.nn.Module]:
    """Detect and build a checkpoint; `scale` (or the file name) gives a scale the
    weights do not hold (FSRCNN)."""
    state = _read_state_dict(path) if state is None else state
    try:
        detected = detect_architecture(state)
    except UnsupportedStateDict as exc:
        raise _rejected(path, exc) from None
    for name, value in _trained_params(path).items():
        if name in detected.params:
            detected.params[name] = value
    if not detected.scale:
        given = scale or scale_recorded_by(path)
        if not given:
            raise ModelError(
                f"{path}: {detected.arch} weights do not record their scale; put it in the file name, "
                f"e.g. {_slug(path.stem)}_x3{path.suffix}")
        detected.set_scale(given)
    if scale and scale != detected.scale and "scales" in detected.params:
        detected = with_scale(detected, scale)  # a multi-scale network's branch (MDSR)
    try:
        module = detected.build()
    except UnsupportedStateDict as exc:
        raise _rejected(path, exc) from None
    refuse_non_finite(module.state_dict(), path)  # once the shapes are known to be sane
    return detected, module


def _load_torch(path: Path, model_id: str, scale: int | None = None) -> SRModel:
    """Load a checkpoint at `scale` (None: the scale detected in it)."""
    state = _read_state_dict(path)
    if not _is_ours(state):
        return _community_call("load_community_model", path, state, model_id)
    detected, module = _detect_file(path, scale, state)
    if scale is not None and scale not in detected.scales:
        scales = ", ".join(f"×{s}" for s in detected.scales)
        raise ModelError(f"{path.name} ({detected.arch}) serves {scales}, not ×{scale}")
    support = detected.support
    return ArchModel(module, detected.arch, scale or detected.scale, model_id,
                     align=support.align(detected.params), params=detected.params)


def _load_any(path: str | os.PathLike, model_id: str,
              geometry: tuple[int, int, int] | None = None, scale: int | None = None) -> SRModel:
    path = Path(path)
    if (why := not_a(path, "file")) is not None:
        raise ModelError(f"model file {path}: {why}")
    pair = _ncnn_pair(path)
    if pair is not None:
        return _load_ncnn(pair[0], pair[1], model_id, geometry)
    return _load_torch(path, model_id, scale)


def load_model_file(path: str | os.PathLike, scale: int | None = None, model_id: str | None = None) -> SRModel:
    """Load a model file without registering it (``.pth``/``.safetensors``/ncnn pair), at
    `scale` (None: the scale detected in it) under `model_id` (default: from the file name)."""
    path = Path(path)
    return _load_any(path, model_id or CUSTOM_ID_PREFIX + _slug(path.stem), scale=scale)


def detect_model_file(path: str | os.PathLike) -> dict[str, Any]:
    """What a model file is: ``{"arch", "scale", "scales", "params", "format", "files"}``
    (a spandrel checkpoint adds ``family``, ``license`` and ``recommended_tile``).

    ``scale`` is the scale the model runs at by default; ``scales`` all it serves (a
    pre-upsampling SRCNN/VDSR ×2/×3/×4, a ×8 LapSRN ×2/×4/×8).

    Raises ModelError for anything unsupported (with the supported architectures named).
    """
    path = Path(path)
    if (why := not_a(path, "file")) is not None:
        raise ModelError(f"model file {path}: {why}")
    pair = _ncnn_pair(path)
    if pair is not None:
        model = _load_ncnn(pair[0], pair[1], "")
        return {"arch": "ncnn", "scale": model.scale, "scales": [model.scale],
                "params": {"shrink": model.shrink, "align": model.align},
                "format": "ncnn", "files": [str(pair[0]), str(pair[1])]}
    fmt = "safetensors" if path.suffix.lower() == SAFETENSORS_SUFFIX else "pth"
    state = _read_state_dict(path)
    if not _is_ours(state):
        return {**_community_call("describe_community_file", path, state), "format": fmt, "files": [str(path)]}
    detected, _ = _detect_file(path, state=state)  # building it: the weights must really fit
    training = _training_record(path)
    licence = inherited_licence(training.get("init", ""))
    return {"arch": detected.arch, "scale": detected.scale, "scales": list(detected.scales),
            "params": detected.params,
            "format": fmt, "files": [str(path)], **({"training": training} if training else {}),
            # (recorded even when empty for a fine-tune, of the user's own model: an entry without
            # it is an earlier version's, whose start's licence was never looked up)
            **({"license": licence} if licence or training.get("init") else {})}


def inherited_licence(init: str, _depth: int = 0) -> str:
    """The licence line of a model fine-tuned here from `init` (a model id or a file; "" for
    one trained from scratch): its weights derive from the starting model's, whose terms
    come along (a fine-tune of a BSD-3 Real-ESRGAN model was listed with no licence). A file
    is followed to the model it was added as, or, trained here, to its own start."""
    if not init:
        return ""
    from sr_desktop.engine.models.registry import get_model_spec

    with contextlib.suppress(ModelError):
        spec = get_model_spec(init)
        return f"fine-tuned from {spec.id}, under its licence: {spec.license or 'not recorded'}"
    name = without_control_characters(Path(init).name)
    added = next((s for s in list_custom_specs() if init in (s.source.get("original"), s.source.get("file"))), None)
    if added is not None and added.license:
        return f"fine-tuned from {name} (added as {added.id}), under its licence: {added.license}"
    path = Path(init)
    if path.suffix.lower() == SAFETENSORS_SUFFIX and path.is_file() and _depth < 16:
        with contextlib.suppress(OSError, ValueError):
            record = _training_record(path)
            if record:  # trained here: from scratch, the user's own; else its start's terms
                upstream = inherited_licence(record.get("init", ""), _depth + 1)
                return f"fine-tuned from {name}, {upstream}" if upstream else ""
    if not path.suffix and os.sep not in init:
        return f"fine-tuned from {name} (a model not on this machine): its licence applies"
    return f"fine-tuned from {name}: that file's licence applies"


def _training_record(path: Path) -> dict[str, Any]:
    """How a model trained here was trained, from its safetensors metadata (iterations,
    validation PSNR-Y, the scale it trained, data, losses, degradation, starting model); {}
    for any other file.
    Four "mynet" entries could not be told apart without opening their files."""
    meta = safetensors_metadata(path)
    if meta.get("sr_desktop_trained") != "1":
        return {}
    record: dict[str, Any] = {}
    for key, kind in (("iterations", int), ("val_psnr_y", float), ("scale", int)):
        try:
            record[key] = kind(meta[key])
        except (KeyError, ValueError):
            pass
    try:
        data = json.loads(meta.get("data", "[]"))
    except ValueError:
        data = []
    if isinstance(data, list) and data:
        record["data"] = [without_control_characters(str(folder)) for folder in data]
    for key in ("losses", "degradation", "init"):
        if meta.get(key):
            record[key] = without_control_characters(meta[key])[:200]
    return record


# -- the user's collection -------------------------------------------------------------


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].strip("-") or "model"


def _unique_id(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _default_name(path: Path) -> str:
    """A model's name when none is given: its file's stem, or for a training run's
    ``model.safetensors`` its run folder's name (every run's file has that stem)."""
    stem = path.stem
    if stem == "model" and _scale_in_metadata(path) is not None:
        stem = path.resolve().parent.name or stem
    return without_control_characters(stem).strip() or "model"


def add_custom_model(path: str | os.PathLike, name: str | None = None, replacing: str | None = None) -> ModelSpec:
    """Check, copy and register a user's model file; returns its `ModelSpec`.

    For an ncnn pair pass the ``.param`` or the ``.bin``; the sibling with the same stem
    is copied too. The id is ``custom-<slug of name or file stem>``, made unique.
    `replacing`: the id of an added model whose place the file takes (its id and name kept:
    a training run extended past the model it registered). Nothing is copied or recorded,
    and a replaced model stays, if the file is not a supported model or cannot be copied.
    """
    display = None if name is None else checked_model_name(name)
    path = Path(path)
    info = detect_model_file(path)
    sources = [Path(f) for f in info["files"]]
    display = display or _default_name(sources[0])
    with index_lock():
        return _add_locked(path, info, sources, display, replacing)


def _builtin_names() -> set[str]:
    """The lower-cased names of the models that come with the app (and its packages)."""
    from sr_desktop.engine.models.registry import list_models

    return {spec.name.lower() for spec in list_models() if not spec.custom}


def _file_gone(entry: dict[str, Any]) -> bool:
    """Whether an index entry's stored file is missing (False for an entry too damaged to say)."""
    try:
        return isinstance(entry.get("id"), str) and not spec_from_entry(entry).installed
    except (KeyError, TypeError, ValueError):
        return False


def _add_locked(path: Path, info: dict[str, Any], sources: list[Path], display: str,
                replacing: str | None = None) -> ModelSpec:
    entries = read_index(for_change=True)
    root = custom_models_dir()
    remove_leftovers(root, entries)
    # (only an entry whose id is a folder name of its own: its folder is moved aside and
    # replaced, and an id ".." named the data folder)
    usable = [e for e in entries if entry_id(e) is not None]
    previous = next((e for e in usable if replacing is not None and e.get("id") == replacing
                     and isinstance(e.get("name"), str)), None)
    if previous is not None:
        display = previous["name"]
    else:
        # an entry of this file or name whose stored file is gone (the picker greys it out and
        # says "add it again"): this add takes its place rather than listing a second one beside it
        previous = next((e for e in usable if _file_gone(e) and (
            e.get("name") == display or str(Path(str(e.get("original", ""))).absolute()) == str(path.absolute()))),
            None)
    if previous is not None:
        entries = [e for e in entries if e is not previous]
    taken = {e.get("id") for e in entries if isinstance(e.get("id"), str)} | {p.name for p in root.iterdir()}
    model_id = previous["id"] if previous is not None else _unique_id(CUSTOM_ID_PREFIX + _slug(display), taken)
    # a name already listed (the user's or a built-in model's, in any case) gets a number, as
    # its id does: two "SPAN" in the picker and the leaderboard could not be told apart
    names = {e["name"].lower() for e in entries if isinstance(e.get("name"), str)} | _builtin_names()
    base, n = display, 2
    while display.lower() in names:
        display, n = f"{base} ({n})", n + 1

    aside = staging = None
    try:
        # (inside: a failure from here on puts the model replaced back)
        aside = _set_aside(root, previous["id"]) if previous is not None else None
        staging = new_staging_folder(root, ".adding-")
        stored = []
        for src in sources:
            dest_name = model_id + src.suffix.lower()
            shutil.copyfile(src, staging / dest_name)
            stored.append(dest_name)
        digests = [file_sha256(staging / name) for name in stored]
        entry = {
            "id": model_id,
            "name": display,
            "arch": info["arch"],
            "scale": info["scale"],
            "scales": info["scales"],
            "params": info["params"],
            "format": info["format"],
            "files": stored,
            "original": str(path.absolute()),
            # each file's: an ncnn pair's .bin changed since was not noticed (`load_custom_model`)
            "sha256": digests[0],
            "files_sha256": digests,
            "added": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **{k: info[k] for k in ("family", "license", "training") if k in info},
            # recorded, so that listing the models needs no torch (`custom_index.recommended_tile`)
            "recommended_tile": int(info.get("recommended_tile") or recommended_tile(info["arch"])),
        }
        # in the copy before it takes its place: killed before the index is written, the
        # copy is still registered by the next look (`custom_index.interrupted_adds`)
        (staging / ENTRY_FILE).write_text(json.dumps(entry, indent=2), encoding="utf-8")
        for name in [*stored, ENTRY_FILE]:  # on the disk before the copy takes its place
            with open(staging / name, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(staging, root / model_id)
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        _put_back(aside, root / model_id)
        if isinstance(exc, OSError):
            raise ModelError(f"cannot copy {path} into {root}: {exc.strerror or exc}") from None
        raise
    try:
        write_index(entries + [entry])
    except OSError as exc:
        shutil.rmtree(root / model_id, ignore_errors=True)
        _put_back(aside, root / model_id)
        raise ModelError(f"cannot record the custom model in {index_path()}: {exc}") from None
    if previous is not None:  # (measured on the file replaced, maybe another network)
        forget_model_caches(model_id, aside, weights_kept=_weights_kept(previous, entries + [entry]))
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return spec_from_entry(entry)


def _set_aside(root: Path, model_id: str) -> Path | None:
    """Move the stored copy of `model_id` out of the way of the copy taking its place (a
    staging name: a process killed meanwhile leaves it for `remove_leftovers`); None when
    there is none."""
    folder = root / model_id
    if not folder.is_dir() or folder.is_symlink():
        return None
    aside = root / f".adding-replaced-{model_id}-{os.getpid()}"
    shutil.rmtree(aside, ignore_errors=True)
    try:
        folder.rename(aside)
    except OSError as exc:
        raise ModelError(f"cannot replace {model_id} in {root}: {exc.strerror or exc}") from None
    return aside


def _put_back(aside: Path | None, folder: Path) -> None:
    """Undo `_set_aside` after a failed add (the model replaced stays as it was)."""
    if aside is not None and not folder.exists():
        with contextlib.suppress(OSError):
            aside.rename(folder)


def _not_a_custom_model(model_id: str, entries: list[dict]) -> str:
    """Why `model_id` names no model `remove_custom_model` can remove: a built-in one, a
    custom model's name rather than its id, or nothing (with the ids there are)."""
    from sr_desktop.engine.models.registry import list_models

    if any(spec.id == model_id and not spec.custom for spec in list_models()):
        return f"{model_id} is a built-in model: only models you added can be removed"
    named = [e.get("id") for e in entries if str(e.get("name", "")).casefold() == model_id.casefold()]
    if named:
        return f"no custom model with id {model_id!r}; the model named so has the id {named[0]}"
    ids = [str(e.get("id")) for e in entries if e.get("id")]
    shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"no custom model with id {model_id!r}" + (f" (yours: {shown})" if ids else " (you have added none)")


def remove_custom_model(model_id: str) -> None:
    """Forget a custom model, delete its stored copy and what the cache holds for it.
    ModelError if unknown, or with one line when the index or the folder cannot be changed
    (then nothing is)."""
    root = custom_models_dir()
    with index_lock():
        entries = read_index(for_change=True)
        remove_leftovers(root, entries)
        matching = [e for e in entries if e.get("id") == model_id]
        if not matching:
            raise ModelError(_not_a_custom_model(model_id, entries))
        # only an id that is a folder name of its own names a folder to delete: an entry with
        # the id ".." (a downloaded or damaged index) deleted the whole data folder
        folder = root / model_id if entry_id(matching[0]) is not None else None
        aside = None
        if folder is not None and folder.is_dir() and not folder.is_symlink():
            # out of the way first, under a name no look registers (its entry file was
            # deleted first, and an index that could not be written then lost that record)
            aside = removal_folder(root, model_id)
            try:
                folder.rename(aside)
            except OSError as exc:
                raise ModelError(f"cannot remove {model_id} from {root}: {exc.strerror or exc}") from None
        try:
            write_index([e for e in entries if e.get("id") != model_id])
        except BaseException as exc:
            _put_back(aside, folder)
            if isinstance(exc, OSError):  # (it named the index's temp file: ".index.json.21466-c6….part")
                raise ModelError(f"cannot remove {model_id}: {index_path()} cannot be rewritten "
                                 f"({exc.strerror or exc})") from None
            raise
    # (the id may name another network later)
    forget_model_caches(model_id, aside, weights_kept=_weights_kept(matching[0], entries))
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _weights_kept(gone: dict, entries: list[dict]) -> bool:
    """Whether another entry of `entries` than `gone` (an entry being removed or replaced)
    holds the same weights: its OpenVINO conversion and converted ncnn weights are that
    model's too (removing one of two added copies sent the other back to a first use)."""
    digests = recorded_digests(gone)
    return bool(digests) and any(e is not gone and e.get("id") != gone.get("id") and recorded_digests(e) == digests
                                 for e in entries)


def load_custom_model(spec: ModelSpec, scale: int | None = None,
                      variant: str | None = None) -> SRModel:
    """Load an added model at one of its scales (None: its largest); only the default variant."""
    own = max(spec.scales) if scale is None else whole_scale(scale)
    if own not in spec.scales:
        what = f"is a ×{spec.scales[0]} model" if len(spec.scales) == 1 else "serves " + ", ".join(
            f"×{s}" for s in spec.scales)
        raise ModelError(f"{spec.id} {what}; ×{scale} is not available")
    if variant not in (None, "", "default"):
        raise ModelError(f"{spec.id} has no variant {variant!r} (only 'default')")
    main = Path(spec.source.get("file", ""))
    if not main.is_file():
        raise ModelError(f"custom model {spec.id} is missing its file {main}; add it again")
    try:
        digests = stored_file_digests(spec)
        digest = stored_files_digest(spec, digests)
        # the index records each file's digest when it was added (an earlier version's, the
        # first file's only): a copy changed since ran another network under this name, or
        # failed naming every architecture
        recorded = recorded_digests(spec.source)
        changed = bool(recorded) and digests[:len(recorded)] != recorded
    except OSError as exc:  # name the file that failed: an ncnn pair's .bin, say
        raise ModelError(f"custom model {spec.id}: cannot read {exc.filename or main} ({exc.strerror or exc}); "
                         "add it again") from None
    if changed:
        original = spec.source.get("original") or "its file"
        raise ModelError(f"custom model {spec.id}: its stored copy {main} has changed since it was added; remove "
                         f"it and add it again from {original}")
    if is_community_family(spec.source.get("family")):  # added through spandrel: stays so
        model = _community_call("load_community_model", main, _read_state_dict(main), spec.id, added_as=spec.id)
    else:
        geometry = None
        params = spec.source.get("params", {})
        if spec.arch == "ncnn" and "shrink" in params and "align" in params:  # measured when added
            geometry = (own, int(params["shrink"]), int(params["align"]))  # (else measured again)
        model = _load_any(main, spec.id, geometry, scale=None if spec.arch == "ncnn" else own)
    if model.scale != own:
        raise ModelError(f"custom model {spec.id}: the stored file is ×{model.scale}, not ×{own}")
    model.variant = "default"
    # the digest of the file just loaded (not the index's, taken when it was added: a file
    # changed since would record its conversion under the old file's digest): what its
    # cached conversion is found by in a later start without torch (`arch_host`). Taken
    # before and after loading: a file replaced meanwhile (another process's remove and add
    # under the same id) gets no digest, so its conversion is recorded under none.
    try:
        model.weights_digest = digest if stored_files_digest(spec) == digest else ""
    except OSError:
        model.weights_digest = ""
    if not spec.source.get("tile_recorded", True):
        record_recommended_tile(spec.id, int(model.recommended_tile))
    return model
