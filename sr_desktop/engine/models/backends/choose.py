"""Attach the backend a user asked for to a loaded model; for ``auto``, the fastest.

``auto`` measures torch, OpenVINO and (for the zoo's ncnn models) the ncnn runtime once per
model, scale, variant, thread count, library versions and processor on one tile of the size
the pipeline runs the model in (`measure_side`), and keeps the seconds and peak memory of each
in ``<user cache>/backends.json``. From them, at the measurement and again at every later
load with the memory available then (`measured_choice`), it picks the fastest backend whose
first pass holds no more than `MEMORY_FACTOR` times the memory of the leanest one, or one
over that bound that is `SPEED_FOR_MEMORY` times faster and fits `AVAILABLE_SHARE` of the
available memory (`pick_backend`; where the OS lets the peak be measured). ``SR_DESKTOP_BACKEND=torch|openvino|ncnn``
sets what ``auto`` means for a whole process (a machine where measuring is not wanted, the
test suite). Anything that stops a backend under ``auto`` (not installed, a model it cannot
convert) leaves it out with one line in the log; a backend asked for explicitly raises
`BackendError` instead.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import time
from typing import TYPE_CHECKING

from sr_desktop.engine.compute import devices
from sr_desktop.engine.compute.peak_memory import PeakMemory
from sr_desktop.engine.core import paths
from sr_desktop.engine.core.errors import Cancelled, OptionError, SRDesktopError, one_line
from sr_desktop.engine.core.options import Backend, parse_backend
from sr_desktop.engine.core.progress import (
    BACKEND_STAGE,
    CancelToken,
    ProgressCallback,
    ProgressTracker,
    check_cancel,
)
from sr_desktop.engine.models.backends.json_store import read_json_dict, remove_json_keys, update_json_dict
from sr_desktop.engine.models.backends.ncnn_runner import build_ncnn_runner, can_use_ncnn, ncnn_version
from sr_desktop.engine.models.backends.openvino_runner import (
    BackendError,
    build_openvino_runner,
    openvino_unavailable,
    openvino_version,
    smooth_test_image,
)
from sr_desktop.engine.models.kinds import ModelKind

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

ENV_DEFAULT = "SR_DESKTOP_BACKEND"
#: the largest and smallest input side of the speed measurement, and the timed runs per
#: backend (after one untimed warm-up run)
MEASURE_MAX_SIZE = 256
MEASURE_MIN_SIZE = 96
MEASURE_RUNS = 2
#: a warm-up pass this long also counts as a timed run: then one timed run follows, not
#: MEASURE_RUNS. Its one-time set-up (plans, primitives) is a small part of such a pass, and
#: timing noise too; an added RRDBNet ×4 (11–23 s per 256² pass) spent 123 s on its first use
HEAVY_PASS_S = 3.0
#: above this scale the measured input shrinks, so that the output stays 1024² at most
MEASURE_MAX_OUTPUT_SCALE = 4
#: part of the cache key: a change of how `auto` measures invalidates earlier choices
MEASURE_METHOD = "tile-min2-mem-speed"
#: `auto` leaves out a backend whose first pass needs more than MEMORY_FACTOR times the
#: peak memory of the leanest backend's, plus MEMORY_SLACK_MIB: the ncnn runtime in fp32
#: took 3.6-5x torch's memory per 256² tile (srmdnf ×4 369 MiB against 86, waifu2x ×2 574
#: against 115) for 8-15 % of speed on an AVX-512 Xeon, and lifted a batch's peak above the
#: torch path's; OpenVINO stays within 1.6x (Real-CUGAN ×2 450 against 287).
MEMORY_FACTOR = 2.0
MEMORY_SLACK_MIB = 32.0
#: ... unless it is at least SPEED_FOR_MEMORY times as fast as the fastest backend within the
#: bound and its peak is under AVAILABLE_SHARE of the memory the system has available: on an
#: AVX-512 AMD EPYC the ncnn runtime ran waifu2x ×2 in 0.43 of OpenVINO's time (160 against
#: 368 ms per 256² pass, 382 MiB against 114) and Real-CUGAN ×2 in 0.71 (392 against 551 ms,
#: 804 MiB against 443), and a user would rather wait a quarter less than keep a few hundred
#: MiB; below a quarter the gain is within what two timed runs on a busy machine can be off by.
SPEED_FOR_MEMORY = 1.25
AVAILABLE_SHARE = 0.25


def choices_file():
    """The JSON file of measured ``auto`` choices."""
    return paths.cache_dir() / "backends.json"


def _can_use_openvino(model) -> bool:
    import torch

    return (
        model.kind == ModelKind.FEEDFORWARD
        and not model.torch_only_reason
        and isinstance(getattr(model, "module", None), torch.nn.Module)
        and model.device.type == "cpu"
        and model.dtype == torch.float32
    )


def why_not_cpu_fp32_network(model, zoo_only: bool = False) -> str:
    """Why a backend that runs networks on the CPU in fp32 (OpenVINO; ncnn, `zoo_only`: the
    model zoo's own files) cannot run `model`, in words, with what would (the refusal named
    its kind, device and dtype: "bicubic (resample, cpu, float32)")."""
    import torch

    if model.kind == ModelKind.RESAMPLE:
        return "it is a resampling method, not a network (use auto or torch)"
    if model.kind == ModelKind.PER_IMAGE:
        return "it trains a network on each image, with torch (use auto or torch)"
    if zoo_only and getattr(model, "conv", None) is None:
        return ("it runs the model zoo's own ncnn files (Real-ESRGAN, Real-CUGAN, waifu2x, SRMD, SPAN, …), "
                "and this model is not one of them (use auto, torch or openvino)")
    if model.device.type != "cpu":
        return f"it runs on the CPU, and the model was asked to run on {model.device} (use --device cpu)"
    if model.dtype != torch.float32:
        return "it runs in fp32, and the model was asked for fp16 (use --precision fp32)"
    return "this model's network is not one it can take (use auto or torch)"


def apply_backend(model, requested: Backend | str = Backend.AUTO, progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None) -> str:
    """Set ``model.runner`` / ``model.backend`` for `requested`; returns the backend in use.

    `progress` hears one ``ProgressInfo`` (stage ``"backend"``, a message) before ``auto``
    converts and times a model it has not measured yet, or ``openvino`` converts a model
    for the first time: seconds of work the user should see.
    `cancel` is checked between those conversions and timed passes (`Cancelled`; nothing
    is recorded, so the next use measures again).
    """
    requested = parse_backend(requested)
    model.runner = None
    model.backend = type(model).backend  # its own: torch, or Pillow for the resamplers
    if model.kind == ModelKind.RESAMPLE and requested in (Backend.AUTO, Backend.TORCH):
        return model.backend  # no network for a backend to run
    asked, requested = requested, auto_means() if requested == Backend.AUTO else requested
    by_env = asked == Backend.AUTO and requested != Backend.AUTO  # SR_DESKTOP_BACKEND said it
    if requested == Backend.TORCH:
        return model.backend
    if by_env and not (_can_use_openvino(model) if requested == Backend.OPENVINO else can_use_ncnn(model)):
        # the variable sets what auto means where it can: ZSSR, map-sr and the literature's
        # models failed under SR_DESKTOP_BACKEND=openvino|ncnn, naming a flag never given
        log.info("backends: %s=%s cannot run %s; torch runs it", ENV_DEFAULT, requested.value, model.id)
        return model.backend
    if by_env:
        # the variable sets what auto means: where that backend cannot run here (OpenVINO that
        # fails to load, a conversion it refuses), auto's fallback, never an error
        try:
            return _apply_named(model, requested, progress, cancel)
        except BackendError as exc:
            log.info("backends: %s=%s: %s; torch runs %s", ENV_DEFAULT, requested.value, exc, model.id)
            model.runner, model.backend = None, type(model).backend
            return model.backend
    return _apply_named(model, requested, progress, cancel)


#: what a backend that cannot run a model names instead
TORCH_RUNS_IT = "--backend torch or auto runs it"


def _apply_named(model, requested: Backend, progress: ProgressCallback | None, cancel: CancelToken | None) -> str:
    """`apply_backend` for a backend asked for by name (or auto)."""
    if requested == Backend.OPENVINO:
        if model.torch_only_reason:
            raise BackendError(f"--backend openvino cannot run {model.id}: {model.torch_only_reason}; "
                               f"{TORCH_RUNS_IT}")
        if not _can_use_openvino(model):
            raise BackendError(f"--backend openvino cannot run {model.id}: {why_not_cpu_fp32_network(model)}")
        def converting() -> None:  # (it said nothing for the seconds of a first conversion)
            check_cancel(cancel)
            ProgressTracker(0, progress, stage=BACKEND_STAGE).update(
                message=f"first use of {model.id}'s ×{model.scale} network: converting it to OpenVINO")

        try:
            model.runner = build_openvino_runner(model, converting=converting)
        except BackendError as exc:  # (every way it fails: what runs the model instead)
            if TORCH_RUNS_IT in str(exc):
                raise
            raise BackendError(f"{exc} ({TORCH_RUNS_IT})") from None
        check_cancel(cancel)  # (the conversion itself runs to its end: it is cached for the next time)
        model.backend = Backend.OPENVINO.value
        return model.backend
    if requested == Backend.NCNN:
        model.runner = build_ncnn_runner(model)
        model.backend = Backend.NCNN.value
        return model.backend
    return _apply_auto(model, progress, cancel)


def measure_side(model) -> int:
    """The input side `auto` times a model at: the CPU tile the pipeline runs it in (its
    recommended tile), capped at `MEASURE_MAX_SIZE`. The ranking depends on the size: with
    one thread, ncnn beat OpenVINO on realesr-animevideov3 ×2 at 96² (75 against 107 ms)
    and lost at 256² (695 against 587 ms), the size a photo is actually run at."""
    tile = int(getattr(model, "recommended_tile", 0) or MEASURE_MAX_SIZE)
    # beyond ×4 the output is what costs (a ×8 LapSRN times a 2048² output per pass at 256²:
    # its first use took 183 s here); keep the output at ×4's 1024²
    limit = MEASURE_MAX_SIZE * MEASURE_MAX_OUTPUT_SCALE // max(MEASURE_MAX_OUTPUT_SCALE, int(model.scale))
    return max(MEASURE_MIN_SIZE, min(limit, tile))


def measure_key(model_id: str, scale: int, variant: str | None, threads: int, torch_version: str,
                ncnn_runs_it: bool) -> str:
    """The key of a measured choice in `choices_file`: the measuring method, the model, torch's
    threads, the three libraries' versions and the processor (`devices.cpu_signature`).
    torch's version without its local tag: the package index's Linux CUDA wheel says "2.14.1"
    in its metadata (what a process without torch reads) and "2.14.1+cu130" once imported, so
    a warm `auto` never found its choice and imported torch (0.6 s → 2.1-4.2 s)."""
    return "|".join(str(part) for part in (
        MEASURE_METHOD, model_id, scale, variant, threads, str(torch_version).split("+")[0], openvino_version(),
        ncnn_version() if ncnn_runs_it else "-", platform.machine(), devices.cpu_signature(),
    ))


def forget_measurements(model_id: str | None = None) -> int:
    """Drop the measured choices of `model_id` (`measure_key`'s second part; a custom model
    removed and another added under its id inherited them), or of every model (None: a
    measurement a busy machine skewed is kept until versions change); how many went. A
    cache that cannot be written is logged: it only costs a measurement."""
    try:
        return remove_json_keys(choices_file(),
                                lambda key, _value: model_id is None or key.split("|")[1:2] == [model_id])
    except OSError as exc:
        log.info("backends: cannot update %s (%s)", choices_file(), exc)
        return 0


def _measure_key(model) -> str:
    import torch

    return measure_key(model.id, model.scale, model.variant, torch.get_num_threads(), torch.__version__,
                       can_use_ncnn(model))


def backend_without_torch(model_id: str, scale: int, variant: str | None, backend: Backend | str,
                          threads: int, ncnn_runs_it: bool) -> Backend:
    """What runs a model asked to run with `backend`, told without importing torch: the
    backend named, or for ``auto`` what `auto_means` says, else the measured choice for this
    machine (`measure_key` with the installed torch's version), torch when not measured yet."""
    wanted = parse_backend(backend)
    if wanted == Backend.AUTO:
        wanted = auto_means()
    if wanted == Backend.AUTO:
        key = measure_key(model_id, scale, variant, threads, devices.installed_torch_version(), ncnn_runs_it)
        wanted = parse_backend(measured_choice(key) or Backend.TORCH)
    return wanted


def auto_means() -> Backend:
    """What ``auto`` means in this process: `ENV_DEFAULT` when set, else the measured choice."""
    try:
        return parse_backend(os.environ.get(ENV_DEFAULT) or Backend.AUTO)
    except OptionError as exc:  # the variable, not a flag, said it: name the variable
        raise OptionError(f"{ENV_DEFAULT}={os.environ.get(ENV_DEFAULT)}: {exc}") from None


def measured_choice(key: str) -> str | None:
    """The backend `auto` runs under `key` (`measure_key`), or None when not measured: the
    stored timings and peaks picked again (`pick_backend`) with the memory available now,
    since what was free when they were measured need not be free today."""
    known = read_json_dict(choices_file()).get(key)
    if not isinstance(known, dict):
        return None
    if known.get("reason") and known.get("app") != _app_version():
        return None  # a backend refused the model: another release may run it, so measure again
    seconds = _stored(known, "_s")
    pass_scale = known.get("pass_scale")
    if not seconds or not _is_measure(pass_scale) or pass_scale < 1:  # nothing beside torch measured; an old entry
        backend = known.get("backend")
        # anything else in the file (damaged, edited) is no choice: measured again
        return backend if isinstance(backend, str) and backend in {b.value for b in Backend} else None
    return pick_backend(seconds, _stored(known, "_mib"), _available_mib(), float(pass_scale))


def _stored(entry: dict, suffix: str) -> dict[str, float]:
    """The entry's measures ending in `suffix`, by backend; values that no measurement gives
    (negative, NaN, text) are left out."""
    return {b.value: float(entry[b.value + suffix]) for b in Backend if _is_measure(entry.get(b.value + suffix))}


def _is_measure(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _available_mib() -> float:
    # the backends `auto` measures run on the host CPU
    return devices.available_host_bytes() / 2**20


def _app_version() -> str:
    from sr_desktop import __version__

    return __version__


def _save_choice(key: str, entry: dict) -> None:
    update_json_dict(choices_file(), key, entry)  # a read-only cache only costs a measurement next time


def _measure(model, x: torch.Tensor, runners: dict, cancel: CancelToken | None = None,
             failed: dict[str, str] | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds and peak MiB of `model.run(x)` with each runner (None: torch); a runner
    that fails (out of memory, ...) is left out and its reason put in `failed`.

    Seconds: the fewest over `MEASURE_RUNS` runs after a warm-up run, the rounds interleaved
    so that a load change on a shared machine hits every backend alike; the minimum, because
    load only ever adds time. A warm-up of `HEAVY_PASS_S` or more counts as one of the runs.
    MiB: the warm-up run's peak (first-call allocations and lazy plans are the memory a pass
    takes, not its speed); empty where the peak cannot be measured. `cancel` is checked
    before each pass.
    """
    import torch

    failed = {} if failed is None else failed
    times: dict[str, list[float]] = {name: [] for name in runners}
    peaks: dict[str, float] = {}
    try:
        with torch.inference_mode():
            _timed_rounds(model, x, runners, times, peaks, cancel, failed)
    finally:
        model.runner = None
    return {name: min(values) for name, values in times.items() if name not in failed}, peaks


def _timed_rounds(model, x, runners: dict, times: dict[str, list[float]], peaks: dict[str, float],
                  cancel: CancelToken | None, failed: dict[str, str]) -> None:
    for round_ in range(MEASURE_RUNS + 1):
        for name, runner in runners.items():
            if len(times[name]) >= MEASURE_RUNS or name in failed:
                continue
            check_cancel(cancel)
            model.runner = runner
            start = time.perf_counter()
            try:
                if not round_:
                    with PeakMemory() as peak:
                        model.run(x)
                    if peak.mib is not None:
                        peaks[name] = peak.mib
                    if (seconds := time.perf_counter() - start) >= HEAVY_PASS_S:
                        times[name].append(seconds)
                    continue
                model.run(x)
            except Cancelled:
                raise
            except (SRDesktopError, MemoryError, RuntimeError) as exc:
                # out of memory on the timing tile (under a memory limit: the ncnn runtime
                # at 2 GB) stopped the whole run, although the others ran the image
                failed[name] = one_line(exc)
                log.info("backends: %s failed while timed (%s); not used", name, failed[name])
                continue
            times[name].append(time.perf_counter() - start)


def pick_backend(seconds: dict[str, float], peaks: dict[str, float], available_mib: float | None = None,
                 pass_scale: float = 1.0) -> str:
    """The fastest backend of `seconds` among those whose peak memory (`peaks`, MiB; any
    backend left out of it counts as lean) is within `MEMORY_FACTOR` times the leanest
    backend's plus `MEMORY_SLACK_MIB`; a backend over that bound wins only when it is
    `SPEED_FOR_MEMORY` times as fast as that one and its peak, scaled by `pass_scale` (the
    pixels of the pipeline's largest pass over the measured tile's), is under
    `AVAILABLE_SHARE` of `available_mib` (None: not known, no such limit)."""
    measured = [peaks[name] for name in seconds if name in peaks]
    limit = MEMORY_FACTOR * min(measured) + MEMORY_SLACK_MIB if measured else float("inf")
    lean = {name: value for name, value in seconds.items() if peaks.get(name, 0.0) <= limit}
    best_lean = min(lean, key=lean.get)
    worth_it = {name: value for name, value in seconds.items() if name not in lean
                and value * SPEED_FOR_MEMORY <= lean[best_lean]
                and (available_mib is None or peaks[name] * pass_scale <= AVAILABLE_SHARE * available_mib)}
    return min(worth_it, key=worth_it.get) if worth_it else best_lean


def _apply_auto(model, progress: ProgressCallback | None, cancel: CancelToken | None) -> str:
    builders = {}
    openvino_fits = _can_use_openvino(model)
    openvino_missing = openvino_fits and openvino_version() is None
    if openvino_fits and not openvino_missing:
        builders[Backend.OPENVINO.value] = build_openvino_runner
    if can_use_ncnn(model) and ncnn_version() is not None:
        builders[Backend.NCNN.value] = build_ncnn_runner
    if openvino_missing:  # (not installed, or installed and failing to load: its own words)
        log.info("backends: %s; %s", openvino_unavailable() or "OpenVINO is not installed",
                 "timing torch against ncnn" if builders else "using torch")
    if not builders:
        return model.backend
    key = _measure_key(model)
    chosen = measured_choice(key)
    if chosen == Backend.TORCH.value:
        return model.backend
    if chosen in builders:
        try:
            model.runner = builders[chosen](model)
            model.backend = chosen
            return model.backend
        except BackendError as exc:  # it worked when measured: measure again without it
            log.info("backends: %s; measuring again", exc)
    # the network's own scale: a ×2 job of a ×4 model measures its ×4 network
    what = f"first use of {model.id}'s ×{model.scale} network"
    # every backend timed is named (the ncnn runtime, timed too, was not: the result then
    # said "ncnn runtime")
    against = " and the ncnn runtime" if Backend.NCNN.value in builders else ""
    ProgressTracker(0, progress, stage=BACKEND_STAGE).update(
        message=f"{what}: converting it to OpenVINO and timing it against torch{against}"
        if Backend.OPENVINO.value in builders else f"{what}: timing the backends")
    runners, reasons = {}, {}
    for name, build in builders.items():
        check_cancel(cancel)
        try:
            runners[name] = build(model)
        except BackendError as exc:
            log.info("backends: %s; not used", exc)
            reasons[name] = str(exc)
    entry: dict = {}
    if reasons:
        entry["reason"] = "; ".join(reasons.values())
        entry["app"] = _app_version()
    if runners:
        side = measure_side(model)
        x = smooth_test_image(side, side).to(model.device, model.dtype)
        failed: dict[str, str] = {}
        seconds, peaks = _measure(model, x, {Backend.TORCH.value: None, **runners}, cancel, failed)
        if not seconds:  # every backend failed on the timing tile: the image itself may fit
            log.info("backends: %s: no backend ran the timing tile; torch, measured again next time", model.id)
            return model.backend
        if failed:
            entry["reason"] = "; ".join([*reasons.values(), *(f"{n}: {why}" for n, why in failed.items())])
            entry["app"] = _app_version()
        entry["measured_at"] = side
        # a photo's passes are the recommended tile with its context: larger than the one measured
        pass_scale = max(1.0, model.cpu_pass_side() / side) ** 2
        winner = pick_backend(seconds, peaks, _available_mib(), pass_scale)
        entry.update({f"{name}_s": round(value, 5) for name, value in seconds.items()})
        entry.update({f"{name}_mib": round(value, 1) for name, value in peaks.items()})
        entry["pass_scale"] = round(pass_scale, 4)
        log.info("backends: %s %s -> %s", model.id,
                 ", ".join(f"{name} {1000 * value:.1f} ms" + (f" {peaks[name]:.0f} MiB" if name in peaks else "")
                           for name, value in seconds.items()), winner)
    else:
        winner = Backend.TORCH.value
    _save_choice(key, {"backend": winner, **entry})
    if winner != Backend.TORCH.value:
        model.runner = runners[winner]
        model.backend = winner
    return model.backend
