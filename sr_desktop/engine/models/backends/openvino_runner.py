"""Run a model's torch graph through OpenVINO (CPU), converted once and cached on disk.

The graph is converted with dynamic batch and spatial sizes, checked against torch at two
tile sizes (a graph whose tracing baked in a size would differ at the second one), and
saved as OpenVINO IR in full fp32 under the user cache, keyed by the weights, the bound
forward arguments and the OpenVINO version, with the sha256 of its files. A later run
checks those digests, then reads and compiles the cached IR; an entry whose files changed,
or that cannot be read or compiled, is deleted and converted again, never used. A cache that
cannot be written (a full disk) costs the conversion again next time, not the upscale.

Converting needs torch; running a cached conversion does not (`OpenVinoRunner.run_array`,
`cached_runner_of_files` for the zoo's ncnn files, `cached_host_model` for a weights file):
torch is imported by the functions that convert.

Over 500 lines because conversion, its checks against torch, the digest-checked cache and
the torch-free run are one life cycle of a converted graph; choosing a backend is
`choose`, the ncnn runtime `ncnn_runner`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sr_desktop.engine.core import paths
from sr_desktop.engine.core.digest import file_sha256
from sr_desktop.engine.core.errors import Cancelled, ModelError, one_line
from sr_desktop.engine.core.interrupt import raise_if_stop_requested
from sr_desktop.engine.core.progress import scope_cancel
from sr_desktop.engine.core.quiet_warnings import warnings_ignored
from sr_desktop.engine.imageio.atomic import new_staging_folder
from sr_desktop.engine.models.backends.json_store import read_json_dict, remove_json_keys, update_json_dict
from sr_desktop.engine.models.backends.openvino_refusals import known_refusal, remember_refusal
from sr_desktop.engine.models.backends.signal_stack import keep_signal_stack_valid
from sr_desktop.engine.models.ncnn.param import source_hash

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

# OpenVINO reports to Google Analytics when `openvino` is imported and at every conversion,
# unless the user has opted out with its own tool (openvino-telemetry; only CI runs are
# exempt). SR Desktop sends nothing anywhere: with the telemetry package unimportable,
# OpenVINO falls back to the stub it ships for installs without it. Every `import openvino`
# of the app is in this module, below this line.
sys.modules.setdefault("openvino_telemetry", None)

#: largest difference to torch (0..1 output scale) accepted when a conversion is checked on
#: smooth test input; float rounding gives ≤ 1e-5, a size baked into the graph gives ≥ 1e-2
CHECK_TOLERANCE = 1e-3
#: input tile sizes (height, width) of the conversion example and of the second check (odd:
#: a graph whose resizes only match ncnn's size rule on even sizes fails the check)
EXAMPLE_SIZE = (40, 40)
CHECK_SIZE = (45, 37)
_MARKER = "checked.json"
#: a conversion not used for this long is deleted when another is saved: an OpenVINO or app
#: upgrade, or a model changed, gives new keys, and the old conversions stayed for good (tens
#: of MB each, 67 MB for an RRDBNet); a use touches its marker
UNUSED_DAYS = 60
#: the files `openvino.save_model` writes, whose digests the marker holds
_SAVED_FILES = ("model.xml", "model.bin")
_KEY = re.compile(r"[0-9a-f]{32}")
#: a staging folder this old was left by a killed process (saving takes seconds)
STALE_STAGING_S = 3600.0


class BackendError(ModelError):
    """A backend cannot run a model (not installed, conversion failed, output differs)."""


def openvino_version() -> str | None:
    """The installed OpenVINO version, or None when it cannot be imported."""
    if openvino_unavailable() is not None:
        return None
    import openvino

    return str(openvino.__version__)


def openvino_unavailable() -> str | None:
    """Why OpenVINO cannot be used here (None: it can): not installed, or installed but
    failing to load (a missing system library), which a reinstall hint would not fix."""
    try:
        import openvino  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name == "openvino":
            return "OpenVINO is not installed (pip install openvino)"
        return f"OpenVINO is installed but cannot be loaded: {one_line(exc)}"
    except Exception as exc:  # noqa: BLE001 - a broken install (missing libraries) is "not available" too
        return f"OpenVINO is installed but cannot be loaded: {one_line(exc)}"
    return None


def smooth_test_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A 1×3×H×W image of soft gradients and mild noise: natural-like statistics."""
    import torch

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    planes = [0.5 + 0.35 * np.sin(x / (5 + 2 * c) + y / (7 + c) + c) for c in range(3)]
    image = np.stack(planes) + rng.normal(0, 0.02, (3, height, width)).astype(np.float32)
    return torch.from_numpy(np.clip(image, 0, 1))[None]


def _bound_module(module: torch.nn.Module, kwargs: dict[str, Any]) -> torch.nn.Module:
    """The network with its fixed forward keyword arguments bound (they are not traced)."""
    import torch

    class BoundModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module
            self.kwargs = dict(kwargs)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x, **self.kwargs)

    return BoundModule()


def capture_graph_call(model, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any], tuple[int, ...]]:
    """The tensor and keyword arguments with which `model.run(x)` calls its network graph,
    and the shape of the graph's output for them."""
    import torch

    seen: list[tuple[torch.Tensor, dict[str, Any], tuple[int, ...]]] = []
    previous = model.runner

    def record(inp: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        out = model.module(inp, **kwargs)
        seen.append((inp, kwargs, tuple(out.shape)))
        return out

    model.runner = record
    try:
        with torch.inference_mode():
            model.run(x.to(model.device, model.dtype))
    finally:
        model.runner = previous
    if len(seen) != 1:
        raise BackendError(f"{model.id}: its graph is called {len(seen)} times per tile; cannot convert it")
    inp, kwargs, out_shape = seen[0]
    return inp.contiguous().clone(), kwargs, out_shape


def tensors_digest(module: torch.nn.Module):
    """sha256 over the graph's tensors (names, shapes, bytes): the base of both keys below."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return digest


@functools.cache
def models_code_digest() -> str:
    """sha256 of the code of `sr_desktop.engine.models` (its ``.py`` files: the networks'
    forward passes, what runs around them, the conversion itself), in every key of a cached
    conversion: a release, or a contributor's edit, that changed an architecture's forward
    kept running the old graph from the cache (ESPCN's tanh made ReLU: the same output, where
    torch differed by 181/255). About 2 ms, once per process."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for source in sorted(root.rglob("*.py")):
        digest.update(source.relative_to(root).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _converter() -> str:
    """What converted a cached graph: OpenVINO's version and the models' code."""
    return f"openvino={openvino_version()}|code={models_code_digest()}"


def identity_key(model, tensors) -> str:
    """The graph's tensors (`tensors_digest`), the model's id, scale and variant and
    `_converter`: what the conversion of a model already converted is found by without
    running it (a forward pass for `weights_key` costs about half a second of every warm start)."""
    digest = tensors.copy()
    digest.update(f"{model.id}|{model.scale}|{model.variant}|{_converter()}".encode())
    return digest.hexdigest()[:32]


def weights_key(tensors, kwargs: dict[str, Any], channels: int, out_shape: tuple = ()) -> str:
    """A digest of the graph's tensors (`tensors_digest`), its bound arguments, its input
    channels, the shape of its output for the conversion example and `_converter`.

    The output shape is in it because tensors do not describe a graph: the zoo's ×2 and ×4
    realesr-animevideov3 graphs hold the same weights and differ in a resize, and with
    tensors alone the ×2 model ran the cached ×4 conversion (10.6 dB on Set5)."""
    digest = tensors.copy()
    digest.update(repr(sorted(kwargs.items())).encode())
    digest.update(f"channels={channels} out={tuple(out_shape)} {_converter()}".encode())
    return digest.hexdigest()[:32]


def files_identity(source_key: str, model_id: str, scale: int, variant: str | None) -> str:
    """What the conversion of a zoo model is found by from its ncnn files alone (their
    `source_hash`), without torch: its model id, scale and variant and `_converter`."""
    digest = hashlib.sha256(f"ncnn-files|{source_key}|{model_id}|{scale}|{variant}".encode())
    digest.update(f"|{_converter()}".encode())
    return digest.hexdigest()[:32]


#: held while a torch graph is traced into OpenVINO (`_convert_checked`)
_CONVERSION_LOCK = threading.Lock()

#: how often an inference inside a `progress.cancel_scope` looks at its token
CANCEL_POLL_MS = 100


class OpenVinoRunner:
    """Callable in place of a model's torch graph: N×C×H×W tensor in, tensor out
    (`run_array`: the same on numpy arrays)."""

    def __init__(self, source, threads: int, key: str) -> None:
        """`source` (an IR file or a converted ``openvino.Model``) compiled for the CPU with
        `threads` threads; compiled again after a cancelled inference (`run_array`), from the
        graph read now (OpenVINO maps an IR's weights: no copy, and a cache entry removed
        meanwhile is no missing file)."""
        self._source = _graph(source)
        self._threads = threads
        self._compiled = _compile(self._source, threads)
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()
        self.key = key

    def __call__(self, x: torch.Tensor, **_bound: Any) -> torch.Tensor:
        import torch

        out = self.run_array(x.detach().to("cpu", torch.float32).numpy())
        return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)

    def run_array(self, batch: np.ndarray) -> np.ndarray:
        """N×C×H×W float32 graph input -> the graph's output. Inside a
        `progress.cancel_scope`, stops (`Cancelled`) within `CANCEL_POLL_MS` of its token."""
        inputs = {0: np.ascontiguousarray(batch, dtype=np.float32)}
        cancel = scope_cancel()
        with self._lock:
            keep_signal_stack_valid()
            if self._request is None:  # (the last inference was cancelled)
                self._compiled = _compile(self._source, self._threads)
                self._request = self._compiled.create_infer_request()
            if cancel is None:
                result = self._request.infer(inputs)
                return np.array(result[self._compiled.output(0)], copy=True)
            cancel.raise_if_cancelled()
            self._request.start_async(inputs)
            while not self._request.wait_for(CANCEL_POLL_MS):
                if cancel.cancelled:
                    self._request.cancel()
                    with contextlib.suppress(RuntimeError):  # (the wait of a cancelled request raises)
                        self._request.wait()
                    # a cancelled inference leaves the compiled model unsound: the next input of
                    # another size came out wrong, then failed ("Eltwise shape infer … mismatch"),
                    # for every job sharing it, for the rest of the session (OpenVINO 2026.4)
                    self._compiled = self._request = None
                    raise Cancelled()
            return np.array(self._request.get_output_tensor(0).data, copy=True)


#: input shapes whose compiled kernels the CPU plugin keeps (`_compile`)
RUNTIME_CACHE_SHAPES = 32


def _graph(source):
    """An ``openvino.Model``: `source` itself, or the IR file it names read."""
    import openvino as ov

    return ov.Core().read_model(str(source)) if isinstance(source, Path) else source


def _compile(source, threads: int):
    """Compile an IR file (a path) or a converted ``openvino.Model`` for the CPU."""
    import openvino as ov

    core = ov.Core()
    config = {
        "INFERENCE_PRECISION_HINT": "f32",  # never bf16/fp16 behind the user's back
        "INFERENCE_NUM_THREADS": max(1, threads),
        "PERFORMANCE_HINT": "LATENCY",
        # kernels kept per input shape: the default, 5000, grew a batch of 1000 images of
        # distinct sizes from 141 to 903 MB; 32 stayed at 157 MB and ran faster (300 images:
        # 6.6-7.2 s against 9.0-10.7)
        "CPU_RUNTIME_CACHE_CAPACITY": RUNTIME_CACHE_SHAPES,
    }
    graph = core.read_model(str(source)) if isinstance(source, Path) else source
    return _compile_on_cpu(core, graph, config)


def _compile_on_cpu(core, graph, config: dict):
    """``core.compile_model(graph, "CPU", config)`` with the thread's lasting signal stack in
    place before and after: the plugin's own, left installed, would be unmapped when the
    compiled graph is released, possibly from another thread (`signal_stack`)."""
    keep_signal_stack_valid()
    try:
        return core.compile_model(graph, "CPU", config)
    finally:
        keep_signal_stack_valid()


def cache_root() -> Path:
    """Where converted graphs are kept (``<user cache>/openvino``)."""
    return paths.cache_dir() / "openvino"


def build_openvino_runner(model, threads: int | None = None, cache: bool = True,
                          converting: Callable[[], None] | None = None) -> OpenVinoRunner:
    """An `OpenVinoRunner` for `model` (a feed-forward SRModel with a torch ``module``, on the CPU, fp32).

    Reads the cached conversion when there is a good one; otherwise converts, checks and
    caches, calling `converting` first (seconds of work to announce; it may raise to stop).
    With ``cache=False`` it converts and checks in memory and writes nothing (weights that
    change, as a network in training, would fill the cache with one entry per state).
    Raises `BackendError` with one line when OpenVINO cannot run the model.
    """
    import torch

    if (why := openvino_unavailable()) is not None:
        raise BackendError(why)
    module = getattr(model, "module", None)
    if not isinstance(module, torch.nn.Module):
        raise BackendError(f"{model.id} has no network graph for OpenVINO to run")
    if model.device.type != "cpu" or model.dtype != torch.float32:
        raise BackendError(f"OpenVINO runs on the CPU in fp32; {model.id} is on {model.device} in {model.dtype}")
    threads = threads or torch.get_num_threads()
    if not cache:
        example, kwargs, _ = _graph_call(model, EXAMPLE_SIZE)
        converted, _ = _convert_checked(model, module, kwargs, example)
        return OpenVinoRunner(converted, threads, "")
    tensors = tensors_digest(module)
    identity = identity_key(model, tensors)
    known = read_json_dict(_index_file()).get(identity)
    if _is_key(known):
        runner = _cached_runner(known, threads)
        if runner is not None:
            _remember_files_identity(model, known)
            return runner
    if (refused := known_refusal(identity)) is not None:
        log.info("openvino: %s was refused before with this OpenVINO; not converted again", model.id)
        raise BackendError(refused)
    # one forward pass gives the graph's input and its output shape (a part of the key)
    try:
        example, kwargs, out_shape = _graph_call(model, EXAMPLE_SIZE)
    except BackendError as exc:
        remember_refusal(identity, model, str(exc))
        raise
    key = weights_key(tensors, kwargs, int(example.shape[1]), out_shape)
    runner = _cached_runner(key, threads)
    if runner is not None:
        update_json_dict(_index_file(), identity, key)
        _remember_files_identity(model, key)
        return runner
    if converting is not None:
        converting()
    folder = cache_root() / key
    _remove(folder)
    try:
        converted, worst = _convert_checked(model, module, kwargs, example)
    except BackendError as exc:
        remember_refusal(identity, model, str(exc))
        raise
    # what is on disk is checked against its digests again: the folder may be another
    # process's save, or a damaged entry that a read-only cache kept (it was run: wrong pixels)
    runner = _cached_runner(key, threads) if _save_conversion(converted, worst, model.id, folder) else None
    if runner is None:
        # the conversion is good, only the cache cannot hold it (disk full, read-only, a file
        # in the way, ...): run it from memory; the next run tries to cache it again
        try:
            return OpenVinoRunner(converted, threads, "")
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises plain RuntimeErrors
            raise BackendError(f"OpenVINO cannot compile {model.id}: {_first_line(exc)}") from None
    update_json_dict(_index_file(), identity, key)
    _remember_files_identity(model, key)
    prune_unused_conversions(keep=key)
    return runner


def _remember_files_identity(model, key: str) -> None:
    """For a zoo model, also index the conversion by its ncnn files (`files_identity`); for a
    model loaded from a weights file of known digest with a `host_record`, record it by that
    digest (`weights_identity`): so that a later process can run it without loading torch."""
    source_key = getattr(getattr(model, "module", None), "source_key", "")
    if source_key:
        identity = files_identity(source_key, model.id, model.scale, model.variant)
        if read_json_dict(_index_file()).get(identity) != key:
            update_json_dict(_index_file(), identity, key)
    digest = getattr(model, "weights_digest", "")
    host_record = getattr(model, "host_record", None)
    if digest and callable(host_record):
        identity = weights_identity(digest, model.id, model.scale, model.variant)
        record = {"conversion": key, **host_record()}
        if read_json_dict(_host_models_file()).get(identity) != record:
            update_json_dict(_host_models_file(), identity, record)


def weights_identity(digest: str, model_id: str, scale: int, variant: str | None) -> str:
    """What the conversion of a model loaded from one weights file (`digest`: its sha256) is
    found by without torch: that digest, the model's id, scale and variant, `_converter`
    and the app's version (a release may change what runs around the graph, which the record holds)."""
    from sr_desktop import __version__

    text = f"weights-file|{digest}|{model_id}|{scale}|{variant}|{_converter()}|app={__version__}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached_host_model(digest: str, model_id: str, scale: int, variant: str | None,
                      threads: int) -> tuple[OpenVinoRunner, dict[str, Any]] | None:
    """The runner of the cached, checked conversion of a model loaded from the weights file
    of sha256 `digest`, with the model's `host_record` (what runs it without torch), or None
    when there is none or it is unusable: then the model loads through torch."""
    record = read_json_dict(_host_models_file()).get(weights_identity(digest, model_id, scale, variant))
    if not (isinstance(record, dict) and _is_key(record.get("conversion"))):
        return None
    runner = _cached_runner(record["conversion"], threads)
    return None if runner is None else (runner, {k: v for k, v in record.items() if k != "conversion"})


def source_key_of_files(param: Path, weights: Path) -> str:
    """The `source_hash` of a zoo model's ncnn files, hashed once per version of the files:
    remembered under their paths, sizes and modification times, so that a torch-free start
    does not read and hash a 67 MB ``.bin`` every time."""
    stamp = "|".join(f"{f.resolve()}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in (param, weights))
    known = read_json_dict(_source_keys_file()).get(stamp)
    if isinstance(known, str):
        return known
    key = source_hash(param.read_bytes(), weights.read_bytes())
    update_json_dict(_source_keys_file(), stamp, key)
    return key


def cached_runner_of_files(source_key: str, model_id: str, scale: int, variant: str | None,
                           threads: int) -> OpenVinoRunner | None:
    """The runner of a zoo model's cached, checked conversion found by its ncnn files
    (`files_identity`), or None when there is none: converting needs torch."""
    key = read_json_dict(_index_file()).get(files_identity(source_key, model_id, scale, variant))
    return _cached_runner(key, threads) if _is_key(key) else None


def _is_key(value) -> bool:
    """True for a conversion key as `weights_key` makes them (32 hex digits): a value read
    from the cache's index is a folder name under it, never a path that leaves it."""
    return isinstance(value, str) and _KEY.fullmatch(value) is not None


def _cached_runner(key: str, threads: int) -> OpenVinoRunner | None:
    """The runner of the checked conversion cached under `key`, or None (none, or broken or
    changed since it was checked: then it is deleted, never used)."""
    folder = cache_root() / key
    xml = folder / "model.xml"
    try:
        if not ((folder / _MARKER).is_file() and xml.is_file()):
            return None
        recorded = json.loads((folder / _MARKER).read_text(encoding="utf-8")).get("sha256")
        if recorded != _file_digests(folder):  # a flipped byte in model.bin would give wrong pixels
            raise ValueError("its files differ from those that were checked")
        runner = OpenVinoRunner(xml, threads, key)
        with contextlib.suppress(OSError):  # (when it was last used: `prune_unused_conversions`)
            os.utime(folder / _MARKER)
        return runner
    except Exception as exc:  # noqa: BLE001 - any failure means the entry is broken: rebuild it
        log.info("openvino: cached conversion %s is unusable (%s); converting again", key, _first_line(exc))
        _remove(folder)
        return None


def forget_conversions(model_id: str) -> int:
    """Delete the cached conversions `model_id` made (its marker names it) and the entries
    that find them: a removed or replaced added model's stayed for good (67 MB for an
    RRDBNet). How many went; what cannot be deleted stays (logged)."""
    doomed = []
    for folder in _conversion_folders():
        try:
            marker = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(marker, dict) and marker.get("model") == model_id:
            doomed.append(folder)
    return _delete_conversions(doomed)


def prune_unused_conversions(keep: str = "") -> int:
    """Delete the conversions not used for `UNUSED_DAYS` (by their marker's time), but `keep`;
    how many went."""
    oldest = time.time() - UNUSED_DAYS * 86400
    doomed = []
    for folder in _conversion_folders():
        with contextlib.suppress(OSError):
            if folder.name != keep and (folder / _MARKER).stat().st_mtime < oldest:
                doomed.append(folder)
    if doomed:
        log.info("openvino: deleting %d cached conversions unused for %d days", len(doomed), UNUSED_DAYS)
    return _delete_conversions(doomed)


def _conversion_folders() -> list[Path]:
    try:
        return [f for f in cache_root().iterdir() if _is_key(f.name) and f.is_dir() and not f.is_symlink()]
    except OSError:
        return []


def _delete_conversions(folders: list[Path]) -> int:
    """Delete these conversion folders and the index entries that lead to them; how many."""
    gone = set()
    for folder in folders:
        _remove(folder)
        gone.add(folder.name)
    if gone:
        try:
            remove_json_keys(_index_file(), lambda _key, value: value in gone)
            remove_json_keys(_host_models_file(),
                             lambda _key, value: isinstance(value, dict) and value.get("conversion") in gone)
        except OSError as exc:
            log.info("openvino: cannot update the cache's index (%s)", exc)
    return len(gone)


def _file_digests(folder: Path) -> dict[str, str]:
    """sha256 of each file of a saved conversion."""
    return {name: file_sha256(folder / name) for name in _SAVED_FILES}


def _remove(path: Path) -> None:
    """Delete a cache entry, folder or (where a folder belongs) file; what cannot be deleted stays."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except OSError as exc:
        log.info("openvino: cannot remove %s (%s)", path, exc)


def _source_keys_file() -> Path:
    """ncnn files' paths, sizes and times -> their `source_hash` (`source_key_of_files`)."""
    return cache_root() / "source_keys.json"


def _host_models_file() -> Path:
    """Weights identity -> conversion key and what runs the model without torch
    (`cached_host_model`; a lost entry only costs one load through torch)."""
    return cache_root() / "host_models.json"


def _index_file() -> Path:
    """Model identity -> conversion key (a lost entry only costs the forward pass next time)."""
    return cache_root() / "index.json"


@functools.lru_cache(maxsize=1)
def _converter_without_telemetry() -> None:
    """Where openvino-telemetry was imported before this module (by another library in the
    same process), the converter still gets OpenVINO's own stub: no conversion is reported."""
    try:
        stub = importlib.import_module("openvino.tools.ovc.telemetry_stub")
    except ImportError:  # a build without the converter's telemetry
        return
    for name in ("convert_impl", "telemetry_utils", "utils"):
        try:
            module = importlib.import_module(f"openvino.tools.ovc.{name}")
        except ImportError:
            continue
        if hasattr(module, "tm"):
            module.tm = stub


def _graph_call(model, size: tuple[int, int], seed: int = 0):
    """`capture_graph_call` of `model` on the smooth test image of `size`; `BackendError`
    when the model itself fails at that size: there is no backend to choose then (torch
    reports it per image), and it escaped `auto` as an "unexpected error" (exit 3) for a
    user's ncnn graph that took even sizes only."""
    try:
        return capture_graph_call(model, smooth_test_image(*size, seed=seed))
    except (BackendError, Cancelled):  # (a Cancel is no failure of the model's: never a refusal kept)
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the network raises
        raise _fails_at(model, size, exc) from None


def _fails_at(model, size: tuple[int, int], exc: BaseException) -> BackendError:
    return BackendError(f"{model.id} does not run on a {size[0]}×{size[1]} check image: {_first_line(exc)}")


def _convert_checked(model, module: torch.nn.Module, kwargs: dict[str, Any], example: torch.Tensor):
    """The converted graph (``openvino.Model``) and its largest difference to torch at the two
    check sizes; `BackendError` when it cannot be converted or differs."""
    import openvino as ov
    import torch

    _converter_without_telemetry()
    bound = _bound_module(module, kwargs).eval()
    channels = int(example.shape[1])
    try:
        # the tracer warns about every Python-level size it records; the check below is what
        # tells whether the converted graph is right, so the warnings only add noise. One
        # conversion at a time: torch's tracer is not thread-safe (two jobs' first uses at once
        # failed "Tracing failed sanity checks", and `auto` then kept torch for good)
        with _CONVERSION_LOCK, torch.inference_mode(False), torch.no_grad(), warnings_ignored():
            converted = ov.convert_model(bound, example_input=example,
                                         input=[ov.PartialShape([-1, channels, -1, -1])])
        compiled = _compile_on_cpu(ov.Core(), converted, {"INFERENCE_PRECISION_HINT": "f32"})
    except Exception as exc:  # noqa: BLE001 - the converter raises many types; all mean "cannot convert"
        raise_if_stop_requested()  # (a Ctrl+C in its callbacks into torch comes back as one of them)
        raise BackendError(f"OpenVINO cannot convert {model.id}: {_first_line(exc)}") from None
    # a stop asked for inside a callback the converter swallowed whole (the conversion went on
    # and succeeded: `upscale` under SIGTERM ran to its end and exited 0)
    raise_if_stop_requested()
    worst = 0.0
    for size in (EXAMPLE_SIZE, CHECK_SIZE):
        inp, _, _ = _graph_call(model, size, seed=1)
        try:
            with torch.inference_mode():
                expected = bound(inp).numpy()
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - (as in _graph_call)
            raise _fails_at(model, size, exc) from None
        try:
            keep_signal_stack_valid()
            got = compiled(inp.numpy())[0]
        except Exception as exc:  # noqa: BLE001
            # a graph traced with sizes computed in Python (window partitions) holds the
            # example's size: say so, with the runtime's own reason (its last line)
            raise BackendError(f"OpenVINO cannot run {model.id} at another tile size (its converted graph "
                               f"keeps the size it was traced at: {_last_line(exc)})") from None
        if got.shape != expected.shape:
            # (a graph that pads its input itself, traced at the example's size, as Real-CUGAN:
            # the bare shapes left the user without a way on)
            raise BackendError(f"OpenVINO cannot run {model.id} faithfully: its converted graph gives "
                               f"{tuple(got.shape)} where torch gives {tuple(expected.shape)} at a "
                               f"{size[0]}×{size[1]} check image (--backend torch or auto runs it)")
        worst = max(worst, float(np.abs(got - expected).max()))
    if worst > CHECK_TOLERANCE:
        raise BackendError(f"OpenVINO's output of {model.id} differs from torch by {worst:.3g}; not used")
    return converted, worst


def _save_conversion(converted, worst: float, model_id: str, folder: Path) -> bool:
    """Save a checked conversion under `folder` (written in a staging folder, then renamed),
    with the digests of its files. False when the cache cannot hold it; nothing half-written
    stays."""
    import openvino as ov

    staging = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(folder)
        staging = new_staging_folder(folder.parent, f".{folder.name}.")
        ov.save_model(converted, str(staging / "model.xml"), compress_to_fp16=False)
        (staging / _MARKER).write_text(json.dumps({"max_abs_diff": worst, "openvino": openvino_version(),
                                                   "model": model_id, "sha256": _file_digests(staging)}))
        staging.rename(folder)
        return True
    except Exception as exc:  # noqa: BLE001 - a full disk is a RuntimeError from save_model, OSError elsewhere
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):  # (a marker this user may not read: not ours to use)
            if (folder / _MARKER).is_file():  # another process saved the same conversion first
                return True
        (log.info if paths.unwritable(folder) else log.warning)(
            "openvino: cannot cache the conversion of %s in %s (%s); running it from memory",
            model_id, folder.parent, _first_line(exc))
        return False
    except BaseException:  # Ctrl+C, SIGTERM: the staging folder goes too (it stayed for good)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise


def _remove_stale_staging(folder: Path) -> None:
    """Staging folders of `folder` that a killed process left (older than an hour: a younger
    one may be another process saving right now)."""
    for stale in folder.parent.glob(f".{folder.name}.*"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_STAGING_S:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass


def _last_line(exc: BaseException) -> str:
    text = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return text[-1] if text else type(exc).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
