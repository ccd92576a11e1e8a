"""spandrel checkpoints through the engine: detected when none of the project's own
architectures knows them, run with spandrel's conventions, equal to spandrel's own output."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.community.community_nets import NETS, import_spandrel, save, spandrel_descriptor

spandrel = import_spandrel()

from sr_desktop.engine.core.options import UpscaleOptions  # noqa: E402
from sr_desktop.engine.models import custom  # noqa: E402
from sr_desktop.engine.models.community.model import luma  # noqa: E402
from sr_desktop.engine.pipeline.upscale import upscale_float  # noqa: E402


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _image(h: int, w: int, grey: bool, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = 0.5 + 0.3 * np.stack([np.sin(xx / 3.0), np.cos(yy / 4.0), np.sin((xx + yy) / 5.0)], axis=2)
    rgb = np.clip(rgb + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)
    return np.repeat(rgb[..., :1], 3, axis=2) if grey else rgb


def _reference(descriptor, rgb: np.ndarray) -> np.ndarray:
    """spandrel's own call on the whole image (a grey network gets the grey plane)."""
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    if descriptor.input_channels == 1:
        x = x[:, :1]
    y = descriptor(x)[0].permute(1, 2, 0).numpy()
    return np.repeat(y, 3, axis=2) if y.shape[2] == 1 else y


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
@pytest.mark.parametrize("name", list(NETS))
def test_added_file_gives_spandrels_pixels(home, tmp_path, name, fmt):
    _build, scale, arch, purpose, tiled, grey = NETS[name]
    path = save(name, tmp_path, fmt)
    spec = custom.add_custom_model(path)
    assert spec.arch == arch and spec.scales == [scale]
    assert spec.source["family"] == f"spandrel:{arch}"
    assert spec.source["params"]["purpose"] == purpose
    assert spec.source["params"]["input_channels"] == (1 if grey else 3)

    model = custom.load_custom_model(spec)
    assert model.tileable is tiled and model.scale == scale
    rgb = _image(20, 24, grey=grey)
    out = upscale_float(rgb, UpscaleOptions(model=spec.id, scale=scale, tile=0))
    ref = _reference(spandrel_descriptor(path), rgb)
    assert out.shape == ref.shape == (20 * scale, 24 * scale, 3)
    assert np.abs(out - ref).max() <= 1e-5


def test_grey_network_keeps_the_colour_of_a_colour_image(home, tmp_path):
    """A 1-channel network upscales the luma; the colour differences go bicubic, so the
    luma of the result is the network's output on the luma."""
    path = save("swinir-grey", tmp_path)
    spec = custom.add_custom_model(path)
    rgb = _image(20, 24, grey=False)
    out = upscale_float(rgb, UpscaleOptions(model=spec.id, scale=2, tile=0))
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    expected = spandrel_descriptor(path)(luma(x))[0, 0].numpy()
    got = luma(torch.from_numpy(out).permute(2, 0, 1)[None])[0, 0].numpy()
    inside = np.logical_and(out.min(axis=2) > 0, out.max(axis=2) < 1)  # not clipped by the 0..1 range
    assert inside.mean() > 0.35  # measured 0.41: random weights saturate much of the output
    assert np.abs(got - expected)[inside].max() <= 1e-5
    assert np.abs(out[..., 0] - out[..., 2]).max() > 0.05  # still in colour


@pytest.mark.parametrize("name", [n for n, v in NETS.items() if v[4]])
def test_tiles_match_the_whole_image(home, tmp_path, name):
    """Tiling SUPPORTED: two 64-px tiles with the model's context give the whole-image result."""
    scale = NETS[name][1]
    spec = custom.add_custom_model(save(name, tmp_path))
    rgb = _image(64, 128, grey=NETS[name][5], seed=3)
    whole = upscale_float(rgb, UpscaleOptions(model=spec.id, scale=scale, tile=0))
    tiled = upscale_float(rgb, UpscaleOptions(model=spec.id, scale=scale, tile=64))
    mse = float(np.mean((whole - tiled) ** 2))
    psnr = 10 * np.log10(1.0 / mse) if mse else float("inf")
    assert psnr > TILED_PSNR[name], psnr


def test_a_window_transformer_is_tiled_on_the_whole_image_s_window_grid(home, tmp_path):
    """spandrel says multiple_of 1 for Swin2SR (it pads to whole windows itself): 30-px
    tiles started off the window grid and differed from the whole image (29-45 dB)."""
    spec = custom.add_custom_model(save("swin2sr", tmp_path))
    model = custom.load_custom_model(spec)
    assert model.align % 4 == 0  # its window size
    rgb = _image(52, 70, grey=False, seed=5)
    whole = upscale_float(rgb, UpscaleOptions(model=spec.id, scale=2, tile=0))
    tiled = upscale_float(rgb, UpscaleOptions(model=spec.id, scale=2, tile=30))
    assert np.abs(whole - tiled).max() <= 1e-5


def test_openvino_refuses_real_cugan_with_a_way_on(home, tmp_path):
    """Real-CUGAN pads its input itself, so its converted graph gives another size: the
    refusal was the bare shapes, "OpenVINO gives (1, 3, 92, 76) for …, torch (1, 3, 90, 74)"."""
    from sr_desktop.engine.core.errors import SRDesktopError

    spec = custom.add_custom_model(save("realcugan", tmp_path))
    with pytest.raises(SRDesktopError, match=r"OpenVINO cannot run .* faithfully: .*--backend torch or auto runs it"):
        upscale_float(_image(29, 37, grey=False), UpscaleOptions(model=spec.id, scale=2, tile=0, backend="openvino"))


#: tiled vs whole, dB, measured with these random weights on this 64×128 image: HAT 148.2,
#: OmniSR 51.7, RealPLKSR 99.6, DnCNN bit-identical. HAT's and OmniSR's channel attention
#: pools over the whole tile, so no context makes their tiles exact (spandrel still says
#: SUPPORTED, and chaiNNer tiles them): with nine 48-px tiles of a 112×104 image they gave
#: 37.7 and 40.1 dB. Swin2SR: tiles on the whole image's window grid (the window size, not
#: spandrel's multiple_of 1, aligns them: 29-45 dB before). Real-CUGAN: run whole, as the
#: zoo's (its SE blocks pool over the whole input: 21.5 dB tiled).
TILED_PSNR = {"hat": 140.0, "omnisr": 50.0, "realplksr": 95.0, "dncnn-grey": 200.0, "swin2sr": 120.0}


def test_openvino_runs_the_network_of_a_plainly_called_architecture(home, tmp_path):
    """spandrel calls RealPLKSR's network as ``model(image)``: its call (pad, network, clamp,
    crop) is made by the engine with the network in OpenVINO — spandrel's pixels within float
    rounding. (Before, the engine called spandrel's descriptor, which never reached the
    backend, and OpenVINO refused every spandrel model.)"""
    pytest.importorskip("openvino")
    path = save("realplksr", tmp_path)
    spec = custom.add_custom_model(path)
    rgb = _image(21, 26, grey=False, seed=5)
    out = upscale_float(rgb, UpscaleOptions(model=spec.id, scale=2, tile=0, backend="openvino"))
    ref = _reference(spandrel_descriptor(path), rgb)
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-5


def test_backends_refuse_what_they_cannot_run_with_one_line_and_auto_runs_torch(home, tmp_path):
    """DnCNN is called with a noise level of spandrel's own (torch only); HAT's and OmniSR's
    converted graphs keep the size they were traced at (window partitions sized in Python).
    `--backend openvino` says so in one line; `auto` runs torch."""
    pytest.importorskip("openvino")
    from sr_desktop.engine.models.backends import choose
    from sr_desktop.engine.models.backends.openvino_runner import BackendError
    from sr_desktop.engine.models.loader import load_model

    expected = {"dncnn-grey": r"^--backend openvino cannot run custom-dncnn-grey: spandrel calls DnCNN's network "
                              r"with arguments of its own; --backend torch or auto runs it$",
                **{name: rf"^OpenVINO cannot run custom-{name} at another tile size \(its converted graph keeps "
                          r"the size it was traced at: .*reshape.*\)$" for name in ("hat", "omnisr")}}
    for name, message in expected.items():
        spec = custom.add_custom_model(save(name, tmp_path))
        with pytest.raises(BackendError, match=message):
            choose.apply_backend(load_model(spec.id, scale=NETS[name][1]), "openvino")
        assert choose.apply_backend(load_model(spec.id, scale=NETS[name][1]), "auto") == "torch"


BLOCKED_UPSCALE = """
from sr_desktop.cli.main import main
print(main(["upscale", {src!r}, "-o", {dst!r}, "--model", {model!r}, "--backend", "openvino", "--device", "cpu",
            "-q"]))
"""


def test_a_converted_spandrel_model_runs_without_torch_or_spandrel(home, tmp_path):
    """Once OpenVINO has converted a plainly called spandrel network, a later process runs it
    from the cached conversion without importing torch (nor spandrel, which imports it):
    spandrel's call and the engine's channel handling on numpy (`spandrel_conventions`), the
    torch side's output within float rounding, and the same file through the CLI (with
    ``--device cpu``: this environment's torch is a CUDA build, so ``auto`` could mean a GPU,
    which only torch can tell)."""
    import os

    from PIL import Image as PILImage

    from sr_desktop.engine.models.arch_host import HostArchModel, load_without_torch
    from sr_desktop.engine.models.backends import choose
    from sr_desktop.engine.models.loader import load_model
    from tests.without_torch import run_without_torch

    spec = custom.add_custom_model(save("realplksr", tmp_path))
    assert load_without_torch(spec.id, None, None, "cpu", "auto", "openvino") is None  # not converted yet
    torch_side = load_model(spec.id, scale=2)
    assert choose.apply_backend(torch_side, "openvino") == "openvino"
    host = load_without_torch(spec.id, None, None, "cpu", "auto", "openvino")
    assert isinstance(host, HostArchModel) and host.runner.key == torch_side.runner.key
    patch = _image(23, 30, grey=False, seed=9)
    with torch.inference_mode():
        expected = torch_side.run(torch.from_numpy(patch.transpose(2, 0, 1).copy())[None])[0].numpy()
    assert float(np.abs(host.upscale_patch(patch) - expected.transpose(1, 2, 0)).max()) < 1e-5

    src = tmp_path / "in.png"
    PILImage.fromarray((patch * 255).round().astype(np.uint8)).save(src)
    env = {**os.environ, "SR_DESKTOP_HOME": str(home)}
    for name, blocked in (("a.png", False), ("b.png", True)):
        code = BLOCKED_UPSCALE.format(src=str(src), dst=str(tmp_path / name), model=spec.id)
        proc = run_without_torch(code, env) if blocked else subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env)
        assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "0", proc.stderr
    a = np.asarray(PILImage.open(tmp_path / "a.png")).astype(int)
    b = np.asarray(PILImage.open(tmp_path / "b.png")).astype(int)
    assert a.shape == b.shape == (46, 60, 3) and int(np.abs(a - b).max()) <= 1
