"""Tiled inference: seams, OOM retry, cancel, progress, scale planning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_desktop.engine.core.errors import Cancelled, DeviceError
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.pipeline.tiling import plan_tiles, split_box
from sr_desktop.engine.pipeline.upscale import UpscaleOptions, plan_scale, upscale_float, upscale_image
from tests.tiny_models import OOMModel, TinyModel


def _rgb(h=70, w=90, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((h, w, 3), dtype=np.float32)


def test_plan_tiles_covers_every_pixel_once():
    for h, w, t in [(70, 90, 32), (64, 64, 64), (5, 300, 16), (100, 100, 0)]:
        cover = np.zeros((h, w), int)
        for y0, y1, x0, x1 in plan_tiles(h, w, t):
            assert y1 > y0 and x1 > x0
            if t:
                assert y1 - y0 <= t and x1 - x0 <= t
            cover[y0:y1, x0:x1] += 1
        assert (cover == 1).all()
    assert sum((b[1] - b[0]) * (b[3] - b[2]) for b in split_box((10, 60, 0, 50), 16)) == 50 * 50


@pytest.mark.parametrize("scale", [2, 3])
def test_tiled_equals_whole_image(scale):
    model = TinyModel(scale=scale, context=4)
    rgb = _rgb()
    whole = upscale_float(rgb, UpscaleOptions(tile=0), model=model)
    tiled = upscale_float(rgb, UpscaleOptions(tile=24), model=model)
    assert whole.shape == (70 * scale, 90 * scale, 3)
    diff = np.abs(whole - tiled)
    mse = float((diff**2).mean())
    psnr = 10 * np.log10(1.0 / mse) if mse > 0 else float("inf")
    # measured 1.3e-7 (~1 float32 ulp at 1.0), 153.4 dB; margin for summation order
    assert diff.max() < 5e-7 and psnr > 145


def test_a_read_only_array_upscales_without_a_warning():
    # np.asarray of a PIL image is read-only: torch warned of sharing it (the tile is copied anyway)
    import warnings

    pixels = (_rgb() * 255).astype(np.uint8)
    pixels.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (whole: a tile of a part of the image was a copy already)
        out = upscale_image(Image(pixels), UpscaleOptions(tile=0), model=TinyModel(scale=2, context=4))
    pixels.flags.writeable = True
    expected = upscale_image(Image(pixels), UpscaleOptions(tile=0), model=TinyModel(scale=2, context=4))
    np.testing.assert_array_equal(out.image.pixels, expected.image.pixels)


def test_too_little_context_shows_seams():
    """The guard above is meaningful: without context the tiles do not match."""
    model = TinyModel(scale=2, context=0)
    rgb = _rgb()
    whole = upscale_float(rgb, UpscaleOptions(tile=0), model=model)
    tiled = upscale_float(rgb, UpscaleOptions(tile=24), model=model)
    assert np.abs(whole - tiled).max() > 0.19  # measured 0.2024 (deterministic)


def test_oom_halves_tile_and_retries_same_region():
    rgb = _rgb(80, 80)
    reference = upscale_float(rgb, UpscaleOptions(tile=0), model=TinyModel(scale=2))
    model = OOMModel(max_pixels=40 * 40, scale=2, context=4)
    out = upscale_float(rgb, UpscaleOptions(tile=80), model=model)
    assert model.ooms >= 1
    assert np.abs(out - reference).max() < 5e-7  # nothing dropped, no seams (measured 1.2e-7)
    assert all(h * w <= 40 * 40 for _, _, h, w in model.calls)


@pytest.mark.parametrize("message", ["DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 GB",
                                     "could not create a primitive"])
def test_the_cpu_allocators_out_of_memory_also_splits_the_tile(message):
    rgb = _rgb(80, 80)
    reference = upscale_float(rgb, UpscaleOptions(tile=0), model=TinyModel(scale=2))
    # oneDNN's "could not create a primitive" failed the file (and the next one) under a memory limit
    model = OOMModel(max_pixels=40 * 40, scale=2, context=4, error=lambda: RuntimeError(message))
    out = upscale_float(rgb, UpscaleOptions(tile=80), model=model)
    assert model.ooms >= 1 and np.abs(out - reference).max() < 5e-7


def test_oom_at_minimum_tile_is_a_clear_error():
    model = OOMModel(max_pixels=10, scale=2)
    with pytest.raises(DeviceError, match="out of memory"):
        upscale_float(_rgb(40, 40), UpscaleOptions(tile=32), model=model)


def test_progress_and_cancel():
    model = TinyModel(scale=2)
    seen = []
    upscale_float(_rgb(64, 64), UpscaleOptions(tile=16), model=model, progress=seen.append)
    assert seen[-1].done == seen[-1].total == 16
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[-1].eta == 0.0

    token = CancelToken()

    def cancel_after_three(info):
        if info.done >= 3:
            token.cancel()

    model.calls.clear()
    with pytest.raises(Cancelled):
        upscale_float(_rgb(64, 64), UpscaleOptions(tile=16), model=model,
                      progress=cancel_after_three, cancel=token)
    assert len(model.calls) == 3


@pytest.mark.parametrize(
    "scales,req,expected",
    [
        ([4], None, (4, 1, False)),
        ([4], 4, (4, 1, False)),
        ([4], 2, (4, 1, True)),
        ([4], 16, (4, 2, False)),
        ([2, 4], 8, (2, 3, False)),
        ([2, 4], 3, (4, 1, True)),
        ([2], 3, (2, 2, True)),
        ([1, 2], 4, (2, 2, False)),
        ([1], 2, (1, 1, True)),
    ],
)
def test_scale_plan(scales, req, expected):
    plan = plan_scale(scales, req)
    assert (plan.native, plan.passes, plan.final_resize) == expected


@pytest.mark.parametrize("req", [2, 3, 8])
def test_any_scale_through_passes_and_resampling(req):
    model = TinyModel(scale=4)
    img = Image((_rgb(20, 30) * 255).astype(np.uint8))
    res = upscale_image(img, UpscaleOptions(scale=req, tile=0), model=model)
    assert res.image.pixels.shape == (20 * req, 30 * req, 3)
    assert res.scale == req


class PhaseModel(TinyModel):
    """Output depends on the pixel phase (like pixel-unshuffle): needs aligned tiles."""

    align = 4

    def run(self, x):
        y = super().run(x)
        phase = torch.zeros_like(y)
        phase[:, :, :: 2 * self.scale, :] = 0.1  # every 4th input row, counted from the tile start
        return y + phase


@pytest.mark.parametrize("context", [3, 5])
def test_tiles_start_on_the_model_alignment_grid(context):
    """Context 3 is TinyNet's receptive radius exactly: rounded to the alignment of 4 it
    must go up (4), never down (0: seams)."""
    rgb = _rgb(70, 90)
    model = PhaseModel(scale=2, context=context)
    whole = upscale_float(rgb, UpscaleOptions(tile=0), model=model)
    tiled = upscale_float(rgb, UpscaleOptions(tile=23), model=model)
    assert np.abs(whole - tiled).max() < 5e-7  # measured 1.2e-7
    for y0, _y1, x0, _x1 in plan_tiles(70, 90, 23, align=4):
        assert y0 % 4 == 0 and x0 % 4 == 0


def test_cpu_auto_tiles_run_an_image_whole_when_its_pass_is_no_larger_than_one_tile():
    """On the CPU, `auto` runs an image whole when it has no more pixels than one
    recommended tile with its context (the pass size the model makes on any larger image):
    tiling it would only repeat the context. Larger images keep the recommended tiles."""
    from sr_desktop.engine.pipeline.tiling import choose_tile

    model = TinyModel(scale=2, context=8)
    model.recommended_tile = 32
    assert model.cpu_pass_side() == 48
    assert choose_tile(model, 48, 48, "auto") == (0, 1)
    assert choose_tile(model, 30, 76, "auto") == (0, 1)  # 2280 px, a strip
    assert choose_tile(model, 49, 48, "auto") == (32, 1)
    assert choose_tile(model, 40, 40, 16) == (16, 1)  # an explicit tile is kept
    rgb = _rgb(40, 44)
    whole = upscale_float(rgb, UpscaleOptions(tile=0), model=model)
    model.calls.clear()
    auto = upscale_float(rgb, UpscaleOptions(), model=model)
    assert model.calls == [(1, 3, 40, 44)] and np.array_equal(auto, whole)


def test_cpu_auto_tiles_fill_their_passes_with_fewer_pieces():
    """Larger images are cut into pieces whose passes hold no more pixels than one tile with
    its context, choosing the cut that repeats the least context; every pixel is covered
    once and the result equals the whole-image run (context ≥ the receptive radius)."""
    from sr_desktop.engine.pipeline.tiling import _padded, plan_tiles_within

    def passes(boxes, context, h, w):
        sizes = [(y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in (_padded(b, context, h, w) for b in boxes)]
        return sum(sizes), max(sizes)

    h, w, tile, context = 400, 600, 192, 56  # RRDBNet's CPU tile and context on a photo
    squares, filled = plan_tiles(h, w, tile), plan_tiles_within(h, w, tile, context)
    cover = np.zeros((h, w), int)
    for y0, y1, x0, x1 in filled:
        cover[y0:y1, x0:x1] += 1
    assert (cover == 1).all()
    (old_total, _), (new_total, new_max) = passes(squares, context, h, w), passes(filled, context, h, w)
    assert new_max <= (tile + 2 * context) ** 2
    # measured: 12 squares hold 2.43× the image's pixels, 4 filled passes 1.52×
    assert len(filled) == 4 and new_total < 0.65 * old_total

    model = TinyModel(scale=2, context=4)
    model.recommended_tile = 16
    rgb = _rgb(20, 100)
    whole = upscale_float(rgb, UpscaleOptions(tile=0), model=model)
    model.calls.clear()
    seen = []
    auto = upscale_float(rgb, UpscaleOptions(), model=model, progress=seen.append)
    assert np.abs(auto - whole).max() < 5e-7
    assert max(c[2] * c[3] for c in model.calls) <= 24 * 24
    assert seen[-1].done == seen[-1].total == len(model.calls) == 5  # 14 squares
    square_pixels, _ = passes(plan_tiles(20, 100, 16), 4, 20, 100)
    assert sum(c[2] * c[3] for c in model.calls) < square_pixels


class _TensorsOnly:
    """A resampler seen only through the tensor contract (`run`): the path every network takes."""

    def __init__(self, inner):
        self._inner = inner
        self.device, self.dtype = torch.device("cpu"), torch.float32

    def __getattr__(self, name):
        if name == "upscale_patch":
            raise AttributeError(name)
        return getattr(self._inner, name)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("to_gray", [False, True])
def test_host_tiles_of_a_resampler_equal_its_tensor_path(dtype, to_gray):
    """Resamplers take numpy tiles (`upscale_patch`, no torch); the float conversion, crop,
    grey and rounding are those of the tensor path, pixel for pixel, tiles and whole."""
    from sr_desktop.engine.models.resample_model import ResampleModel
    from sr_desktop.engine.pipeline.tiling import run_tiled

    rng = np.random.default_rng(3)
    top = 1.0 if dtype == np.float32 else float(np.iinfo(dtype).max)
    src = (rng.random((37, 45, 3)) * top).astype(dtype)
    if to_gray:
        src = np.repeat(src[:, :, :1], 3, axis=2)
    model = ResampleModel("bicubic", 3)
    for tile in (0, 16):
        host = np.empty((111, 135, 1 if to_gray else 3), dtype)
        tensors = np.empty_like(host)
        run_tiled(model, src, host, tile=tile, src_max=top, to_gray=to_gray)
        run_tiled(_TensorsOnly(model), src, tensors, tile=tile, src_max=top, to_gray=to_gray)
        assert np.array_equal(host, tensors)


def test_a_model_that_cannot_be_tiled_runs_whole_only_while_the_image_is_small_on_the_cpu():
    """Global pooling (RCAN, Real-CUGAN) makes tiles depend on each other, so such a model
    runs whole, but past 1.5 MP on the CPU its memory would have no bound (Real-CUGAN: ≈3–4
    GB of activations per MP): the largest tiles then. Running every size whole passed."""
    from sr_desktop.engine.pipeline import tiling

    model = TinyModel()
    model.tileable = False
    assert tiling.choose_tile(model, 1000, 1500, "auto") == (0, 1)  # 1.5 MP: whole
    assert tiling.choose_tile(model, 1000, 1501, "auto") == (tiling.NON_TILEABLE_FALLBACK_TILE, 1)
    assert tiling.choose_tile(model, 1000, 1501, 64) == (tiling.NON_TILEABLE_FALLBACK_TILE, 1)  # nor a small tile


def test_a_pass_between_passes_keeps_16_bits(monkeypatch):
    """A ×8 of a ×2 model is three passes: the two in between are kept at 16 bits (8 bits
    would round every pass) and only the last is written at the output's depth."""
    from sr_desktop.engine.pipeline import upscale as pipeline

    depths = []
    real = pipeline._Chain._one_pass

    def spied(self, src, src_max, dst, to_gray):
        depths.append(dst.dtype)
        return real(self, src, src_max, dst, to_gray)

    monkeypatch.setattr(pipeline._Chain, "_one_pass", spied)
    img = Image((_rgb(10, 12) * 255).astype(np.uint8))
    res = upscale_image(img, UpscaleOptions(scale=8, tile=0), model=TinyModel(scale=2))
    assert res.image.pixels.shape == (80, 96, 3) and res.image.pixels.dtype == np.uint8
    assert depths == [np.uint16, np.uint16, np.uint8]


def test_a_host_model_s_grey_result_is_the_grey_of_its_clipped_colour_result():
    """A model run on numpy patches (no torch) whose colour output overshoots 1: the grey
    written for a grey image is the mean of the clipped channels, as the grey of the saved
    colour result would be ((1 + 0.1 + 0.1) / 3 → 102), not the clipped mean (0.6 → 153)."""
    from sr_desktop.engine.models.base import SRModel

    class Overshooting(SRModel):
        id, scale, context = "overshoot-x2", 2, 0
        device = torch.device("cpu")

        def upscale_patch(self, patch):
            out = np.full((patch.shape[0] * 2, patch.shape[1] * 2, 3), 0.1, np.float32)
            out[:, :, 0] = 1.6
            return out

    grey = Image(np.full((6, 8, 1), 50, np.uint8))
    res = upscale_image(grey, UpscaleOptions(scale=2, tile=0), model=Overshooting())
    assert res.image.pixels.shape == (12, 16, 1)
    assert set(np.unique(res.image.pixels)) == {102}


class _Pressed(torch.nn.Module):
    """A block that presses Cancel while the tile runs (as the user does mid-tile)."""

    def __init__(self, token: CancelToken):
        super().__init__()
        self.token, self.conv = token, torch.nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        self.token.cancel()
        return self.conv(x)


def test_cancel_stops_inside_a_tile_at_the_next_block():
    """The token was looked at between tiles only: a Real-ESRGAN tile on a CPU ran 40 s
    past Cancel. The next block of the network stops now; outside a job nothing changes."""
    token = CancelToken()
    model = TinyModel(scale=2)
    after = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.ReLU())
    reached = []
    after.register_forward_hook(lambda *_a: reached.append(True))
    model.module = torch.nn.Sequential(_Pressed(token), after, model.module)
    with pytest.raises(Cancelled):
        upscale_float(_rgb(32, 32), UpscaleOptions(tile=0), model=model, cancel=token)
    assert reached == []
    done = upscale_float(_rgb(32, 32), UpscaleOptions(tile=0), model=model)  # no job token: runs through
    assert done.shape == (64, 64, 3) and reached == [True]
