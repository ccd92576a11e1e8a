"""The fast CPU paths of the zoo (fused, prepacked `FastGraph`) against the ncnn runtime.

Every family's fused plan must still agree with ncnn's own CPU output (PSNR >= 113 dB on a
natural-image crop; measured 123.2-139.9 dB) and with the raw interpreter; ``ZooModel.run``
must use it on the CPU in float32 and drop it when the model moves.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_desktop.engine.models import registry
from sr_desktop.engine.models.loader import load_model
from sr_desktop.engine.models.ncnn.fast import ConvStep, FastGraph
from sr_desktop.engine.models.ncnn.layers import Eltwise, Split

ncnn = pytest.importorskip("ncnn")
from test_ncnn_exact import natural_crop, ncnn_forward  # noqa: E402  (shared helpers)

# one graph per family (crop sizes small: RRDBNet is slow on this CPU)
CASES = [
    ("realesrgan-x4plus-anime", 4, None, 16),
    ("realesr-animevideov3", 2, None, 24),
    ("waifu2x-photo", 2, None, 24),
    ("waifu2x-cunet", 2, None, 24),
    ("realcugan-se", 4, None, 24),
    ("realcugan-pro", 2, None, 24),
    ("srmd", 2, "denoise3", 24),
    ("span", 4, None, 24),
]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(1.0 / mse) if mse > 0 else float("inf")


@pytest.mark.parametrize("nnpack", [True, False], ids=["nnpack", "onednn"])
@pytest.mark.parametrize("model_id,scale,variant,size", CASES, ids=lambda v: str(v))
def test_fast_plan_matches_ncnn_runtime(model_id, scale, variant, size, nnpack):
    """Both plans, whichever this CPU runs (`nnpack_pays`): NNPACK for wide 3×3 stacks, or
    oneDNN throughout."""
    model = load_model(model_id, scale=scale, variant=variant)
    param, binf = registry.model_files(registry.get_model_spec(model_id), scale, model.variant)
    with torch.inference_mode():
        graph_input = model.prepare_input(natural_crop(size))[0]
        assert isinstance(model.executor(), FastGraph)
        fast = FastGraph(model.module, nnpack=nnpack)
        assert fast.uses_onednn
        ours = fast(graph_input)[0].contiguous().numpy()
        raw = model.module(graph_input)[0].contiguous().numpy()
    theirs = ncnn_forward(param, binf, model.module.input_name, model.module.output_name, graph_input[0].numpy())
    assert ours.shape == theirs.shape
    # measured 123.2 (realcugan-pro) - 139.9 dB vs ncnn, 123.8 dB - inf vs raw (1 or 2 threads
    # alike); 10 dB margin for float32 summation order on other CPUs
    assert psnr(ours, theirs) >= 113.0, f"fast vs ncnn {psnr(ours, theirs):.1f} dB"
    assert psnr(ours, raw) >= 113.0, f"fast vs raw {psnr(ours, raw):.1f} dB"


def test_rrdb_plan_folds_splits_and_residual_scales():
    model = load_model("realesrgan-x4plus-anime", scale=4)
    graph = model.module
    fast = FastGraph(graph)
    n_split = sum(isinstance(layer, Split) for layer in graph.layers)
    n_eltwise = sum(isinstance(layer, Eltwise) for layer in graph.layers)
    assert (n_split, n_eltwise) == (72, 24)  # 6 RRDB blocks of 3 dense blocks (+1 each)
    # every Split vanishes; each dense block's 0.2·conv + x becomes one conv with a fused
    # add (18), and so does the trunk's conv + feat BinaryOp; the 6 block-level
    # 0.2·(dense output) + x sums read an already fused conv and stay
    folded = [s.fn for s in fast.steps if isinstance(s.fn, ConvStep) and s.fn.add]
    assert len(folded) == 19
    assert sorted(c.scale for c in folded) == pytest.approx([0.2] * 18 + [1.0])
    assert len(fast.steps) == len(graph.steps) - n_split - 19


def test_unprepacked_plan_equals_raw_graph():
    """The device-independent path (F.conv2d, used off the CPU) of the same fused plan."""
    model = load_model("span", scale=2)
    fast = FastGraph(model.module)
    fast.uses_onednn = False
    for conv in fast.conv_steps:
        conv.prepare(False)
    with torch.inference_mode():
        x = model.prepare_input(natural_crop(24))[0]
        # measured inf (identical here); 120 dB leaves room for float32 summation order
        assert psnr(fast(x).numpy(), model.module(x).numpy()) >= 120.0


def test_run_uses_fast_plan_and_rebuilds_after_to():
    model = load_model("waifu2x-photo", scale=2)
    x = natural_crop(20)
    with torch.inference_mode():
        first = model.executor()
        assert isinstance(first, FastGraph)
        y_fast = model.run(x)
        model.to("cpu", torch.float32)
        assert model.executor() is not first
        model.fast = False
        assert model.executor() is model.module
        y_raw = model.run(x)
    assert y_fast.shape == (1, 3, 40, 40)
    assert psnr(y_fast.numpy(), y_raw.numpy()) >= 126.0  # measured 136.6 dB; 10 dB margin


@pytest.mark.parametrize("nnpack", [True, False], ids=["nnpack", "onednn"])
def test_batched_tiles_equal_single_runs(nnpack):
    """The tiler may stack tiles of one padded shape: NNPACK / oneDNN paths with N=2."""
    model = load_model("realesr-animevideov3", scale=2)
    fast = FastGraph(model.module, nnpack=nnpack)
    assert fast.uses_nnpack == (nnpack and torch._nnpack_available())
    a, b = natural_crop(40)[..., :20, :20], natural_crop(40)[..., 20:, 20:]
    with torch.inference_mode():
        both = fast(torch.cat([model.prepare_input(a)[0], model.prepare_input(b)[0]]))
        one = torch.cat([fast(model.prepare_input(a)[0]), fast(model.prepare_input(b)[0])])
    assert psnr(both.numpy(), one.numpy()) >= 120.0  # measured 130.8 dB; 10 dB margin


def test_nnpack_runs_where_it_pays():
    """The default plan uses NNPACK only on CPUs without AVX-512 (`nnpack_pays`)."""
    from sr_desktop.engine.models.ncnn.fast import nnpack_pays

    model = load_model("realesr-animevideov3", scale=2)
    with torch.inference_mode():
        assert model.executor().uses_nnpack == nnpack_pays()
    assert nnpack_pays() == (torch._nnpack_available()
                             and not torch.backends.cpu.get_cpu_capability().startswith("AVX512"))
