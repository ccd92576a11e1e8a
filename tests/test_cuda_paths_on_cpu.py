"""The CUDA branches of the engine, run on a CPU (issue 16: "where no GPU is available, keep
the CUDA code paths covered by tests that run on a CPU").

What a CPU can run of them: the tile and batch choice from free GPU memory (`choose_tile`),
batched tile groups and their halving on out-of-memory, the allocator's cache emptied and the
peak recorded (`run_tiled`, through a model that says it is on CUDA and computes on the host),
channels-last input, and the precision choices for CUDA (inference fp16, training autocast).
What needs a GPU — kernels in fp16, `probe_bytes_per_pixel`'s allocator statistics, cuDNN's
channels-last convolutions — is measured by `benchmarks/gpu_check.py` where one is lent.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_desktop.engine.compute import devices
from sr_desktop.engine.core.errors import DeviceError
from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.pipeline import tiling
from sr_desktop.engine.pipeline.upscale import upscale_float
from sr_desktop.engine.training.precision import autocast_dtype
from tests.tiny_models import TinyModel


class FakeCuda:
    """What the engine asks of a CUDA ``torch.device``: its type, index and name."""

    type = "cuda"
    index = 0

    def __str__(self) -> str:
        return "cuda:0"


class HostModelOnCuda(SRModel):
    """`TinyModel`'s network run on numpy patches (`upscale_patch`, the host path of the
    tiler) by a model whose device says CUDA: the tiler's CUDA bookkeeping runs, the pixels
    are computed here. Raises torch's OOM for patches above `max_pixels`, and for groups of
    more than `max_group` patches at once (`patches_in_group` is set by the test's hook)."""

    def __init__(self, scale: int = 2, context: int = 4, max_pixels: int = 10**9, max_group: int = 64):
        self.id = "host-on-cuda"
        self.scale, self.context = scale, context
        self.device, self.dtype = FakeCuda(), torch.float16
        self.inner = TinyModel(scale=scale, context=context)
        self.max_pixels, self.max_group = max_pixels, max_group
        self.ooms = 0
        self.patches: list[tuple[int, int]] = []

    def upscale_patch(self, patch: np.ndarray) -> np.ndarray:
        if patch.shape[0] * patch.shape[1] > self.max_pixels:
            self.ooms += 1
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        self.patches.append(patch.shape[:2])
        x = torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1)))[None]
        with torch.inference_mode():
            return self.inner.run(x)[0].numpy().transpose(1, 2, 0)


@pytest.fixture()
def fake_cuda_memory(monkeypatch):
    """torch.cuda's allocator calls answered on a machine without CUDA; returns the calls."""
    calls = {"empty_cache": 0, "max_memory_allocated": 0}

    def empty_cache():
        calls["empty_cache"] += 1

    def max_memory_allocated(device=None):
        calls["max_memory_allocated"] += 1
        return 123 * 2**20

    monkeypatch.setattr(torch.cuda, "empty_cache", empty_cache)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", max_memory_allocated)
    return calls


def _rgb(h: int, w: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def _model_for_choice(context: int = 10, align: int = 1, tileable: bool = True):
    model = HostModelOnCuda(context=context)
    model.align, model.tileable = align, tileable
    return model


def test_the_cuda_tile_and_batch_follow_the_free_memory(monkeypatch):
    """`choose_tile` on CUDA: 60 % of the free memory over the measured bytes per input pixel
    gives the tile side (minus the context, a multiple of 32, 64..MAX_AUTO_TILE), whole when
    the image fits, and as many tiles per batch as fit (at most 8)."""
    free = {"bytes": 4 * 2**30}
    monkeypatch.setattr(tiling, "probe_bytes_per_pixel", lambda model: 50_000.0)
    monkeypatch.setattr(devices, "free_memory_bytes", lambda device: free["bytes"])
    model = _model_for_choice(context=10)
    side = int(np.sqrt(0.6 * 4 * 2**30 / 50_000.0)) - 20  # 219 -> 192
    assert side // 32 * 32 == 192
    assert tiling.choose_tile(model, 150, 180, "auto") == (0, 1)  # fits one pass
    tile, batch = tiling.choose_tile(model, 1000, 1500, "auto")
    per_tile = 50_000.0 * (192 + 20) ** 2
    assert tile == 192 and batch == int(min(8, tiling.count_tiles(1000, 1500, 192, 1), 0.6 * free["bytes"] // per_tile))
    assert batch == 1  # 4 GiB free: one 212² pass at 50 kB per pixel
    free["bytes"] = 80 * 2**30  # an H100's worth, a light model: the largest tiles, several per batch
    monkeypatch.setattr(tiling, "probe_bytes_per_pixel", lambda model: 2_000.0)
    tile, batch = tiling.choose_tile(model, 4000, 6000, "auto")
    per_tile = 2_000.0 * (tiling.MAX_AUTO_TILE + 20) ** 2
    assert tile == tiling.MAX_AUTO_TILE and batch == min(8, tiling.count_tiles(4000, 6000, tile, 1),
                                                         int(0.6 * free["bytes"] // per_tile)) == 6
    monkeypatch.setattr(tiling, "probe_bytes_per_pixel", lambda model: 50_000.0)
    free["bytes"] = 10 * 2**20  # almost nothing free: the floor of 64 px, one at a time
    assert tiling.choose_tile(model, 1000, 1500, "auto") == (64, 1)
    assert tiling.choose_tile(model, 1000, 1500, 96) == (96, 1)  # asked for: kept
    # a model whose tiles are not independent runs whole on CUDA (an OOM splits it, below)
    assert tiling.choose_tile(_model_for_choice(tileable=False), 3000, 4000, "auto") == (0, 1)


def test_an_oom_while_probing_the_memory_falls_back_to_small_tiles(monkeypatch, fake_cuda_memory):
    def probe(model):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(tiling, "probe_bytes_per_pixel", probe)
    assert tiling.choose_tile(_model_for_choice(), 1000, 1500, "auto") == (128, 1)
    assert fake_cuda_memory["empty_cache"] == 1
    monkeypatch.setattr(tiling, "probe_bytes_per_pixel", lambda model: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # anything but an OOM is not hidden
        tiling.choose_tile(_model_for_choice(), 1000, 1500, "auto")


def test_batched_tile_groups_equal_the_whole_image_and_record_the_peak(fake_cuda_memory):
    rgb = _rgb(70, 90)
    whole = upscale_float(rgb, UpscaleOptions(tile=0), model=TinyModel(scale=2))
    model = HostModelOnCuda()
    out = np.zeros((140, 180, 3), np.float32)
    stats = tiling.run_tiled(model, rgb, out, tile=24, batch_size=4)
    assert stats.tiles == 12 and stats.batch_size == 4 and stats.oom_splits == 0
    assert float(np.abs(out - whole).max()) < 5e-7  # measured 1.2e-7: no seams, nothing dropped
    assert stats.peak_device_bytes == 123 * 2**20 and fake_cuda_memory["max_memory_allocated"] >= 4


class GroupLimit:
    """Makes a `run_group` raise torch's OOM for groups of more than `limit` tiles."""

    def __init__(self, run_group, limit: int):
        self.run_group, self.limit, self.refused = run_group, limit, []

    def __call__(self, model, src, group, *args):
        if len(group) > self.limit:
            self.refused.append(len(group))
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.run_group(model, src, group, *args)


def test_an_oom_halves_the_batch_before_the_tile(monkeypatch, fake_cuda_memory):
    """A batch of 8 tiles that does not fit is retried as 4, then 2 (the tile size kept, the
    cache emptied each time), and the result is the whole image's. (A group holds tiles of
    one padded shape: a row of 160 px in 16-px tiles has 8 such tiles between its ends.)"""
    limit = GroupLimit(tiling._run_group_on_host, 2)
    monkeypatch.setattr(tiling, "_run_group_on_host", limit)
    rgb = _rgb(48, 160)
    whole = upscale_float(rgb, UpscaleOptions(tile=0), model=TinyModel(scale=2))
    out = np.zeros((96, 320, 3), np.float32)
    stats = tiling.run_tiled(HostModelOnCuda(), rgb, out, tile=16, batch_size=8)
    assert limit.refused == [8, 4] and stats.batch_size == 2 and stats.tile_size == 16
    assert stats.tiles == 30 and stats.oom_splits == 0 and fake_cuda_memory["empty_cache"] == 2
    assert float(np.abs(out - whole).max()) < 5e-7


def test_a_whole_image_pass_that_does_not_fit_is_split_on_cuda(fake_cuda_memory):
    """Whole image (a non-tileable model's plan on CUDA): an OOM halves it into tiles until
    they fit, the region retried, nothing dropped; at the smallest tile it is one clear error."""
    rgb = _rgb(80, 80)
    whole = upscale_float(rgb, UpscaleOptions(tile=0), model=TinyModel(scale=2))
    model = HostModelOnCuda(max_pixels=30 * 30)
    out = np.zeros((160, 160, 3), np.float32)
    stats = tiling.run_tiled(model, rgb, out, tile=0)
    assert model.ooms >= 2 and stats.oom_splits >= 2 and stats.tile_size == 20
    assert all(h * w <= 30 * 30 for h, w in model.patches)
    assert float(np.abs(out - whole).max()) < 5e-7
    with pytest.raises(DeviceError, match="out of memory on cuda:0") as raised:
        tiling.run_tiled(HostModelOnCuda(max_pixels=8), rgb, np.zeros((160, 160, 3), np.float32), tile=32)
    assert str(raised.value).endswith("use a smaller model or --device cpu")
    # on the CPU it offered "--device cpu", the device it ran on
    on_cpu = HostModelOnCuda(max_pixels=8)
    on_cpu.device, on_cpu.dtype = torch.device("cpu"), torch.float32
    with pytest.raises(DeviceError, match="out of memory on cpu even with") as raised:
        tiling.run_tiled(on_cpu, rgb, np.zeros((160, 160, 3), np.float32), tile=32)
    assert str(raised.value).endswith("close other programs or use a smaller model")


def test_channels_last_tiles_give_the_same_pixels():
    """On CUDA the tiler feeds channels-last tensors (cuDNN's fastest layout): the model gets
    that layout and the output is the same as from the plain layout."""
    seen = []

    class Recording(TinyModel):
        def run(self, x):
            seen.append(x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous())
            return super().run(x)

    model = Recording(scale=2)
    rgb = _rgb(40, 52)
    groups = [[(0, 20, 0, 26), (0, 20, 26, 52)], [(20, 40, 0, 26), (20, 40, 26, 52)]]
    for group in groups:
        plain, _ = tiling._run_group(model, rgb, group, 4, 1.0, np.dtype(np.float32), False, False)
        last, _ = tiling._run_group(model, rgb, group, 4, 1.0, np.dtype(np.float32), False, True)
        for a, b in zip(plain, last, strict=True):
            assert float(np.abs(a - b).max()) < 1e-6
    assert seen == [False, True, False, True]


def test_the_precision_choices_for_cuda(monkeypatch):
    cuda = torch.device("cuda")  # a device object only: nothing runs on it
    assert devices.resolve_precision("auto", cuda, True) == torch.float16
    assert devices.resolve_precision("auto", cuda, False) == torch.float32  # a family that overflows fp16
    assert devices.resolve_precision("fp32", cuda, True) == torch.float32
    assert devices.resolve_precision("fp16", cuda, False) == torch.float16  # asked for: the user's call
    with pytest.raises(DeviceError, match=r"fp16 needs a GPU \(CUDA or MPS; --device vulkan for the model zoo"):
        devices.resolve_precision("fp16", torch.device("cpu"))
    # training: bf16 autocast where the GPU has it, fp16 (with a gradient scaler) otherwise
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert autocast_dtype(cuda, "auto") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert autocast_dtype(cuda, "auto") == torch.float16 and autocast_dtype(cuda, "on") == torch.float16
    assert autocast_dtype(cuda, "off") is None
