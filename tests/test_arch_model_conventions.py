"""The conventions `ArchModel` applies for the early CNNs (Y channel, 0..255 input,
bicubic pre-upsampling, several scales per checkpoint), tiling, and custom models of these
architectures added and used through the CLI."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from safetensors.torch import save_file

from sr_desktop.cli.main import main
from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.metrics.color import rgb2ycbcr
from sr_desktop.engine.models.arch_model import ArchModel
from sr_desktop.engine.models.archs.detect import detect_architecture
from sr_desktop.engine.models.custom import detect_model_file
from sr_desktop.engine.pipeline import tiling


def _espcn_state(scale: int, channels: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(scale)
    shapes = {"first_part.0": (8, channels, 5, 5), "first_part.2": (4, 8, 3, 3),
              "last_part.0": (channels * scale * scale, 4, 3, 3)}
    state = {}
    for name, shape in shapes.items():
        state[f"{name}.weight"] = torch.randn(*shape, generator=g) * 0.2
        state[f"{name}.bias"] = torch.randn(shape[0], generator=g) * 0.05
    return state


def _vdsr_state(layers: int = 5, feat: int = 8, zero_tail: bool = False) -> dict[str, torch.Tensor]:
    """Common-port VDSR (Y channel, no biases); with `zero_tail` the residual is 0."""
    g = torch.Generator().manual_seed(7)
    state = {"input.weight": torch.randn(feat, 1, 3, 3, generator=g) * 0.3,
             "output.weight": torch.randn(1, feat, 3, 3, generator=g) * 0.05}
    for i in range(layers - 2):
        state[f"residual_layer.{i}.conv.weight"] = torch.randn(feat, feat, 3, 3, generator=g) * 0.1
    if zero_tail:
        state["output.weight"].zero_()
    return state


def _lapsrn_state(levels: int = 3, depth: int = 2, feat: int = 8) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(11)
    state = {"conv_input.weight": torch.randn(feat, 1, 3, 3, generator=g) * 0.3}
    for k in range(1, levels + 1):
        for j in range(depth):
            state[f"convt_F{k}.0.cov_block.{2 * j}.weight"] = torch.randn(feat, feat, 3, 3, generator=g) * 0.15
        state[f"convt_F{k}.0.cov_block.{2 * depth}.weight"] = torch.randn(feat, feat, 4, 4, generator=g) * 0.1
        state[f"convt_I{k}.weight"] = torch.randn(1, 1, 4, 4, generator=g) * 0.1 + 0.25
        state[f"convt_R{k}.weight"] = torch.randn(1, feat, 3, 3, generator=g) * 0.05
    return state


def _model(state: dict[str, torch.Tensor], scale: int | None = None) -> ArchModel:
    found = detect_architecture(state)
    return ArchModel(found.build(), found.arch, scale or found.scale, "t", params=found.params)


def _rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colourful test image (float64, 0..1)."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    rng = np.random.default_rng(seed)
    base = np.stack([0.5 + 0.4 * np.sin(6 * xx + 1), 0.5 + 0.4 * np.cos(5 * yy), 0.3 + 0.5 * xx * yy], -1)
    return np.clip(base + 0.05 * rng.standard_normal((h, w, 3)), 0, 1)


def _run(model: ArchModel, rgb: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(rgb).float().permute(2, 0, 1)[None]
    with torch.inference_mode():
        return model.run(x)[0].permute(1, 2, 0).double().numpy()


def _where(diff: np.ndarray) -> str:
    """The largest difference, where it is, and the torch state it was computed in."""
    at = np.unravel_index(np.abs(diff).argmax(), diff.shape)
    return (f"max |diff| {np.abs(diff).max():.3g} at {tuple(map(int, at))}; torch threads "
            f"{torch.get_num_threads()}, interop {torch.get_num_interop_threads()}, "
            f"default dtype {torch.get_default_dtype()}, mkldnn {torch.backends.mkldnn.is_available()}")


def test_y_model_upscales_y_and_leaves_cbcr_bicubic():
    model = _model(_espcn_state(3))
    assert model.color == "y" and not model.pre_upsample
    rgb = _rgb(14, 18)
    out = _run(model, rgb)
    assert out.shape == (42, 54, 3)
    ycc_out, ycc_in = rgb2ycbcr(out), rgb2ycbcr(rgb)
    cbcr = imresize(ycc_in[..., 1:], 3)  # MATLAB bicubic, as the papers
    diff_cbcr = np.abs(ycc_out[..., 1:] - cbcr).max()
    # measured 2.4e-7 (float32 on 0..1); the message names the state a rare failure ran in
    assert diff_cbcr < 1e-6, _where(ycc_out[..., 1:] - cbcr)
    # Y is the network's output on the input's Y (away from the reflect-padded border). The
    # reference runs in float64, so that only the model's own float32 path is under test: a
    # float32 reference failed once in CI at 6.3e-5 (cause not found; not reproduced here).
    y_in = torch.from_numpy(np.ascontiguousarray(ycc_in[..., 0]))[None, None]
    with torch.inference_mode():
        y_net = copy.deepcopy(model.module).double()(y_in)[0, 0].numpy()
    diff_y = np.abs(ycc_out[12:-12, 12:-12, 0] - y_net[12:-12, 12:-12]).max()  # radius 4 px × 3
    assert diff_y < 1e-6, _where(ycc_out[12:-12, 12:-12, 0] - y_net[12:-12, 12:-12])  # measured 4.2e-7
    assert np.abs(ycc_out[..., 0] - imresize(ycc_in[..., 0], 3)).max() > 0.01  # the network did act


def test_rgb_model_on_0_255_input_range():
    """EDSR-PyTorch VDSR: residual 0, ``add_mean`` adds 25.5 on the 0..255 scale: the wrapper
    divides by 255 again, so the output is bicubic + 0.1 (not + 25.5)."""
    state = {"sub_mean.weight": torch.eye(3).view(3, 3, 1, 1), "sub_mean.bias": torch.full((3,), -100.0),
             "add_mean.weight": torch.eye(3).view(3, 3, 1, 1), "add_mean.bias": torch.full((3,), 125.5)}
    for i, (cin, cout) in enumerate([(3, 8), (8, 8), (8, 3)]):
        state[f"body.{i}.0.weight"] = torch.randn(cout, cin, 3, 3) * (0.0 if i == 2 else 0.2)
        state[f"body.{i}.0.bias"] = torch.zeros(cout)
    model = _model(state, scale=2)
    assert (model.arch, model.input_range, model.color) == ("VDSR-EDSR", 255.0, "rgb")
    rgb = _rgb(10, 12)
    diff = np.abs(_run(model, rgb) - (imresize(rgb, 2) + 0.1)).max()
    assert diff < 1e-6, diff  # measured 1.8e-7


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_pre_upsampling_is_matlab_bicubic_at_every_scale(scale):
    """A VDSR whose residual is 0 returns MATLAB's imresize of the image, borders included."""
    model = _model(_vdsr_state(zero_tail=True), scale=scale)
    assert model.pre_upsample and model.scale == scale
    rgb = _rgb(9, 13)
    out = _run(model, rgb)
    assert out.shape == (9 * scale, 13 * scale, 3)
    diff = np.abs(out - imresize(rgb, scale)).max()
    assert diff < 1e-6, diff  # measured 3.4e-7 (×2), 3.8e-7 (×3), 4.0e-7 (×4)


def test_lapsrn_x8_checkpoint_serves_x2_and_x4():
    state = _lapsrn_state()
    rgb = _rgb(24, 24)
    outs = {s: _run(_model(state, scale=s), rgb) for s in (2, 4, 8)}
    assert {s: o.shape[:2] for s, o in outs.items()} == {2: (48, 48), 4: (96, 96), 8: (192, 192)}
    found = detect_architecture(state)
    y = torch.from_numpy(rgb2ycbcr(rgb)[..., 0]).float()[None, None]
    with torch.inference_mode():
        levels = found.build().pyramid(y)
    for s, level in zip((2, 4, 8), levels, strict=True):  # the Y of each output is that level
        inner = slice(8 * s, -8 * s)  # away from the reflect-padded border
        diff = np.abs(rgb2ycbcr(outs[s])[inner, inner, 0] - level[0, 0].double().numpy()[inner, inner]).max()
        assert diff < 1e-6, (s, diff)  # measured 1.3e-7, 1.2e-7, 1.5e-7


@pytest.mark.parametrize("state,scale", [
    (_vdsr_state(layers=6), 3),   # pre-upsampling: context in output pixels
    (_lapsrn_state(), 4),         # a pyramid stopped at level 2
    (_espcn_state(2), 2),
])
def test_tiled_equals_whole_image(state, scale):
    model = _model(state, scale=scale)
    src = _rgb(40, 44).astype(np.float32)
    whole = np.zeros((40 * scale, 44 * scale, 3), np.float32)
    tiled = np.zeros_like(whole)
    with torch.inference_mode():
        tiling.run_tiled(model, src, whole, tile=0)
        stats = tiling.run_tiled(model, src, tiled, tile=16)
    assert stats.tiles >= 4
    diff = np.abs(whole - tiled).max()
    assert diff < 2e-6, diff  # measured 0.0, 2.4e-7, 7.2e-7: the context covers the receptive field


def test_fsrcnn_scale_comes_from_the_file_name(tmp_path):
    g = torch.Generator().manual_seed(2)
    state = {"first_part.0.weight": torch.randn(8, 1, 5, 5, generator=g), "first_part.0.bias": torch.zeros(8),
             "first_part.1.weight": torch.full((8,), 0.25), "mid_part.0.weight": torch.randn(4, 8, 1, 1, generator=g),
             "mid_part.0.bias": torch.zeros(4), "mid_part.1.weight": torch.full((4,), 0.25),
             "mid_part.2.weight": torch.randn(8, 4, 1, 1, generator=g), "mid_part.2.bias": torch.zeros(8),
             "mid_part.3.weight": torch.full((8,), 0.25), "last_part.weight": torch.randn(8, 1, 9, 9, generator=g),
             "last_part.bias": torch.zeros(1)}
    torch.save(state, tmp_path / "fsrcnn.pth")
    with pytest.raises(ModelError, match="do not record their scale; put it in the file name"):
        detect_model_file(tmp_path / "fsrcnn.pth")
    torch.save(state, tmp_path / "fsrcnn_x3.pth")
    info = detect_model_file(tmp_path / "fsrcnn_x3.pth")
    assert (info["arch"], info["scale"], info["scales"], info["params"]["m"]) == ("FSRCNN", 3, [3], 0)


def _add(path: Path, capsys) -> str:
    assert main(["models", "add", str(path)]) == 0
    return capsys.readouterr().out.split()[1].rstrip(":")


@pytest.mark.parametrize("kind,fmt", [("espcn", "pth"), ("vdsr", "safetensors")])
def test_cli_adds_and_runs_early_cnns(tmp_path, capsys, kind, fmt):
    """A Y model (ESPCN ×3) as .pth and a pre-upsampling one (VDSR ×2/×3/×4) as .safetensors."""
    state = _espcn_state(3) if kind == "espcn" else _vdsr_state()
    path = tmp_path / f"{kind}.{fmt}"
    if fmt == "pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    model_id = _add(path, capsys)
    src = tmp_path / "in.png"
    PILImage.fromarray((_rgb(12, 10) * 255).astype(np.uint8)).save(src)
    for scale in (3,) if kind == "espcn" else (2, 3, 4):
        out = tmp_path / f"out{scale}.png"
        assert main(["upscale", str(src), "-o", str(out), "--model", model_id, "--scale", str(scale), "-q"]) == 0
        assert PILImage.open(out).size == (10 * scale, 12 * scale)
    assert main(["models", "remove", model_id]) == 0
