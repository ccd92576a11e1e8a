"""Run a zoo model's own ncnn files with the ncnn runtime (CPU), in place of its torch graph.

The zoo's models *are* ncnn graphs (the `.param`/`.bin` files Upscayl and the
`*-ncnn-vulkan` tools run); the torch graph is the engine's translation of them. This
runner hands the same graph input (after the family's pre-padding and extra planes, which
stay in `ZooModel.run`) to the ncnn runtime itself: exact by construction, and on the CPU
the fastest for SRMD-like plain 3×3 stacks (issue 16's table). Full fp32: fp16/bf16 storage
and arithmetic are switched off, as OpenVINO's precision hint is, never lowered behind the
user's back. Only the CPU path is used: ncnn's Vulkan path is not enabled here (it was
never run on a GPU in this project).

The runner itself works on numpy arrays (`run_array`) and never needs torch: a zoo model
whose backend is known runs through it in a process that never imports torch (`zoo_host`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sr_desktop.engine.models.backends.openvino_runner import BackendError

if TYPE_CHECKING:
    import torch


def ncnn_version() -> str | None:
    """The installed ncnn runtime's version, or None."""
    try:
        import ncnn
    except Exception:  # noqa: BLE001 - a broken install counts as missing
        return None
    return str(getattr(ncnn, "__version__", "unknown"))


class NcnnRunner:
    """Callable in place of a zoo model's torch graph: N×C×H×W tensor in, tensor out
    (`run_array`: the same on numpy arrays)."""

    def __init__(self, net, input_name: str, output_name: str) -> None:
        self._net = net
        self._input, self._output = input_name, output_name
        self._lock = threading.Lock()

    def __call__(self, x: torch.Tensor, **_bound: Any) -> torch.Tensor:
        import torch

        out = self.run_array(x.detach().to("cpu", torch.float32).numpy())
        return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)

    def run_array(self, batch: np.ndarray) -> np.ndarray:
        """N×C×H×W float32 graph input -> the graph's N×C'×H'×W' output."""
        import ncnn

        outputs = []
        with self._lock:
            for item in batch:
                # ncnn.Mat wraps the array's memory without copying: keep the array alive
                # (a temporary copy of a channels-last tile was freed under it: garbage out)
                array = np.ascontiguousarray(item)
                extractor = self._net.create_extractor()
                extractor.input(self._input, ncnn.Mat(array))
                status, out = extractor.extract(self._output)
                if status != 0:
                    raise BackendError(f"the ncnn runtime failed on a {item.shape[2]}×{item.shape[1]} tile "
                                       f"(status {status})")
                outputs.append(np.array(out, copy=True))
        return np.stack(outputs)


def can_use_ncnn(model) -> bool:
    """A zoo model (its own ncnn files) on the CPU in fp32."""
    import torch

    return (getattr(model, "conv", None) is not None and hasattr(getattr(model, "module", None), "input_name")
            and model.device.type == "cpu" and model.dtype == torch.float32)


def build_ncnn_runner(model, threads: int | None = None) -> NcnnRunner:
    """An `NcnnRunner` for zoo model `model`; `BackendError` with one line when it cannot be made."""
    from sr_desktop.engine.models import registry

    if ncnn_version() is None:
        raise BackendError("the ncnn runtime is not installed (pip install ncnn)")
    if not can_use_ncnn(model):
        raise BackendError(f"--backend ncnn runs the zoo's own ncnn models on the CPU in fp32; {model.id} "
                           f"({model.device}, {str(model.dtype).removeprefix('torch.')}) is not one")
    import torch

    param, weights = registry.model_files(registry.get_model_spec(model.id), model.scale, model.variant)
    return ncnn_runner_from_files(param, weights, model.module.input_name, model.module.output_name,
                                  threads or torch.get_num_threads())


def ncnn_runner_from_files(param: Path, weights: Path, input_name: str, output_name: str,
                           threads: int) -> NcnnRunner:
    """An `NcnnRunner` of the ``.param``/``.bin`` pair, full fp32 on `threads` CPU threads."""
    import ncnn

    net = ncnn.Net()
    opt = net.opt
    opt.use_vulkan_compute = False
    for name in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic", "use_bf16_storage",
                 "use_bf16_packed"):
        setattr(opt, name, False)
    opt.num_threads = max(1, threads)
    if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
        raise BackendError(f"the ncnn runtime cannot load {param.name} / {weights.name}")
    return NcnnRunner(net, input_name, output_name)
