"""map-sr: the torch degradations equal the project's NumPy ones, the solvers, the
per-image model (progress, cancel, errors, ×4, "estimate"), the loader and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.compute.degrade import degrade_with_kernel
from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.kernelgan.synthetic import random_kernel_x2
from sr_desktop.engine.models.loader import load_model
from sr_desktop.engine.models.map_sr import MapSRModel, make_map_sr_model
from sr_desktop.engine.models.map_sr.operators import BicubicDegradation, KernelDegradation
from sr_desktop.engine.models.map_sr.solver import MapSROptions, map_sr, objective

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _photo(size: int) -> np.ndarray:
    img = np.asarray(PILImage.open(ROOT / "resources" / "sample.jpg").convert("RGB"), dtype=np.float64) / 255.0
    return img[100 : 100 + size, 200 : 200 + size]


def _t(img: np.ndarray, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(img.transpose(2, 0, 1)), dtype=dtype)[None]


def _np(t: torch.Tensor) -> np.ndarray:
    return t[0].detach().numpy().transpose(1, 2, 0)


def _psnr(a, b) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


KERNELS = {
    "gaussian 11": random_kernel_x2(np.random.default_rng(3)),
    "even 4": np.full((4, 4), 1 / 16),
    "wide 33 (asymmetric)": (lambda k: k / k.sum())(np.random.default_rng(4).random((33, 33))),
    "1 tap": np.ones((1, 1)),
}


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_kernel_degradation_is_degrade_with_kernel(name, scale):
    x = np.random.default_rng(0).random((23, 30, 3))  # odd sizes: the border and the last kept row
    k = KERNELS[name]
    ref = degrade_with_kernel(x, k, scale)
    out = _np(KernelDegradation(k, scale, CPU, torch.float64)(_t(x)))
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)  # float64: measured 0.0
    out32 = _np(KernelDegradation(k, scale, CPU)(_t(x, torch.float32)))
    np.testing.assert_allclose(out32, ref, rtol=0, atol=2e-6)  # float32: measured ≤ 6.5e-7


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_degradation_is_matlab_imresize(scale):
    x = np.random.default_rng(1).random((26, 33, 3))
    ref = imresize(x, scale=1.0 / scale)
    out = _np(BicubicDegradation(scale, CPU, torch.float64)(_t(x)))
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)  # measured 2.2e-16


def _problem(scale=2, size=32):
    hr = _photo(size)
    k = KERNELS["gaussian 11"]
    lr = degrade_with_kernel(hr, k, scale)
    y = _t(lr, torch.float32)
    x0 = torch.nn.functional.interpolate(y, scale_factor=scale, mode="bicubic", align_corners=False)
    return hr, k, lr, y, x0


def test_tikhonov_cg_solves_the_normal_equations():
    hr, k, lr, y, x0 = _problem()
    degrade = KernelDegradation(k, 2, CPU)
    opts = MapSROptions(prior="tikhonov", alpha=3e-4, iterations=300)
    x = map_sr(y, x0, degrade, 2, opts).requires_grad_(True)
    grad = torch.autograd.grad(objective(x, y, degrade, opts, 2), x)[0]
    x0 = x0.requires_grad_(True)
    grad0 = torch.autograd.grad(objective(x0, y, degrade, opts, 2), x0)[0]
    # the minimiser of a quadratic: its gradient vanishes (relative to the start's)
    ratio = float(grad.norm()) / float(grad0.norm())
    assert ratio < 1e-3, ratio  # measured 1.5e-4 (float32)


@pytest.mark.parametrize("variant", ["default", "tikhonov"])
def test_the_model_inverts_the_degradation_and_beats_bicubic(variant):
    hr, k, lr, y, x0 = _problem(size=48)
    model = make_map_sr_model(2, kernel=k, device="cpu", variant=variant)
    seen = []
    sr = model.upscale_array(lr.astype(np.float32), progress=seen.append)
    assert sr.shape == (48, 48, 3) and sr.dtype == np.float32
    assert 0.0 <= sr.min() and sr.max() <= 1.0
    bicubic = np.clip(_np(x0).astype(np.float64), 0, 1)
    # the LR re-degradation matches y far better than bicubic's
    err = np.abs(degrade_with_kernel(sr, k, 2) - lr).mean()
    err_bicubic = np.abs(degrade_with_kernel(bicubic, k, 2) - lr).mean()
    assert err < 0.03 * err_bicubic  # measured TV 0.0155×, Tikhonov 0.0052× (of 0.0034)
    gain = _psnr(sr, hr) - _psnr(bicubic, hr)
    assert gain > 1.2, gain  # measured TV +1.43 dB, Tikhonov +1.47 dB (34.32 dB bicubic)
    assert seen and seen[-1].done == seen[-1].total == model.options.iterations and seen[-1].stage == "map-sr"


def test_a_canvas_centred_kernel_is_aligned_so_the_result_is_not_shifted():
    """LR made with a Gaussian at the bicubic alignment (LR pixel i ↔ HR 2i + 0.5); the user
    gives the Gaussian centred on its canvas, as kernel files usually are. Measured 35.36 dB;
    used unaligned (before) the result lay half an HR pixel off: 32.11 dB."""
    from sr_desktop.engine.compute.degrade import gaussian_kernels
    from sr_desktop.engine.kernelgan.kernel_ops import aligned_kernel

    g = gaussian_kernels(np.array([[1.6, 1.0, 0.5]]), 13)[0]
    hr = _photo(48)
    lr = np.clip(degrade_with_kernel(hr, aligned_kernel(g, 2), 2), 0, 1)
    sr = make_map_sr_model(2, kernel=g, device="cpu").upscale_array(lr.astype(np.float32)).astype(np.float64)
    assert _psnr(sr[4:-4, 4:-4], hr[4:-4, 4:-4]) > 34.5


def test_bicubic_kernel_option_inverts_matlab_imresize():
    hr = _photo(32)
    lr = imresize(hr, scale=0.5)
    sr = make_map_sr_model(2, device="cpu", variant="tikhonov").upscale_array(lr.astype(np.float32))
    err = np.abs(imresize(sr.astype(np.float64), scale=0.5) - lr).mean()
    err_bicubic = np.abs(imresize(np.clip(imresize(lr, scale=2.0), 0, 1), scale=0.5) - lr).mean()
    assert err < 0.01 * err_bicubic  # measured 0.0025×


def test_x4_with_a_x2_kernel_uses_the_analytic_x4_kernel_and_cancel_works():
    model = make_map_sr_model(4, kernel=KERNELS["gaussian 11"], device="cpu", iterations=5)
    assert model.degradation(model.kernel).size == 21  # 3·11 − 2 taps, n//2 cropped per side
    out = model.upscale_array(_photo(16).astype(np.float32))
    assert out.shape == (64, 64, 3)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        model.upscale_array(_photo(16).astype(np.float32), cancel=token)


def test_estimate_runs_kernelgan_first(monkeypatch):
    import sr_desktop.engine.kernelgan as kernelgan

    calls = []

    class Estimate:
        kernel_x2 = KERNELS["gaussian 11"]

    def fake(rgb, **kwargs):
        calls.append(kwargs)
        return Estimate()

    monkeypatch.setattr(kernelgan, "estimate_kernel", fake)
    model = make_map_sr_model(2, kernel="estimate", device="cpu", iterations=3, kernel_restarts=2)
    model.upscale_array(_photo(16).astype(np.float32))
    assert calls and calls[0]["restarts"] == 2 and calls[0]["scale"] == 2
    assert calls[0]["method"] == "auto"  # the fit averaged with KernelGAN where the fit explains the image
    assert model.last_kernel_estimate is not None
    make_map_sr_model(2, kernel="estimate", device="cpu", iterations=3, kernel_method="kernelgan").upscale_array(
        _photo(16).astype(np.float32))
    assert calls[1]["method"] == "kernelgan"
    with pytest.raises(SRDesktopError, match="unknown kernel estimation method 'gan'"):
        make_map_sr_model(2, kernel="estimate", kernel_method="gan")


def test_errors_are_one_line_model_errors(tmp_path):
    with pytest.raises(SRDesktopError, match="×2 and ×4"):
        make_map_sr_model(3)
    with pytest.raises(SRDesktopError, match="no variant"):
        make_map_sr_model(2, variant="l1")
    with pytest.raises(SRDesktopError, match="unknown map-sr option"):
        make_map_sr_model(2, bogus=1)
    with pytest.raises(SRDesktopError, match="unknown map-sr prior"):
        make_map_sr_model(2, prior="l0")
    with pytest.raises(SRDesktopError, match="alpha"):
        make_map_sr_model(2, alpha=-1.0)
    with pytest.raises(SRDesktopError, match="iterations"):
        make_map_sr_model(2, iterations=0)
    with pytest.raises(SRDesktopError, match="not found"):
        make_map_sr_model(2, kernel=tmp_path / "absent.npy")
    with pytest.raises(SRDesktopError, match="square"):
        make_map_sr_model(2, kernel=np.ones((3, 5)))
    with pytest.raises(SRDesktopError, match="too small"):
        make_map_sr_model(2, device="cpu").upscale_array(np.zeros((4, 4, 3), np.float32))


def test_loader_dispatches_per_image_models_by_family():
    model = load_model("map-sr", scale=4, variant="tikhonov", kernel=KERNELS["gaussian 11"], device="cpu")
    assert isinstance(model, MapSRModel) and model.scale == 4 and model.options.prior == "tikhonov"
    assert model.kind == "per_image" and model.id == "map-sr"
    assert load_model("map-sr", scale=2).options.prior == "tv"
    assert type(load_model("zssr", scale=2)).__name__ == "ZSSRModel"
    with pytest.raises(SRDesktopError, match="not ×3"):
        load_model("map-sr", scale=3)


def test_cli_upscale_with_a_kernel_file_and_bad_kernels(tmp_path, capsys):
    src = tmp_path / "in.png"
    PILImage.fromarray(np.round(_photo(16) * 255).astype(np.uint8)).save(src)
    k = tmp_path / "k.npy"
    np.save(k, KERNELS["gaussian 11"])
    out = tmp_path / "out.png"
    code = main(["upscale", str(src), "-o", str(out), "--model", "map-sr", "--scale", "2", "--variant",
                 "tikhonov", "--kernel", str(k), "--device", "cpu", "--quiet"])
    assert code == 0 and PILImage.open(out).size == (32, 32)
    code = main(["upscale", str(src), "-o", str(tmp_path / "bic.png"), "--model", "map-sr", "--scale", "2",
                 "--variant", "tikhonov", "--device", "cpu", "--quiet"])  # no --kernel: the bicubic degradation
    assert code == 0 and (tmp_path / "bic.png").exists()
    capsys.readouterr()
    (tmp_path / "k.txt").write_text("0.25 0.25 0.25 0.25")  # (a missing one is "not found", whatever its suffix)
    for kernel, message in ((tmp_path / "absent.npy", "kernel file not found"),
                            (tmp_path / "k.txt", "a kernel file is a .npy array")):
        code = main(["upscale", str(src), "-o", str(tmp_path / "x.png"), "--model", "map-sr", "--kernel",
                     str(kernel), "--quiet"])
        err = capsys.readouterr().err  # refused before any file: one line, exit 2
        assert code == 2 and message in err and "Traceback" not in err
        assert err.count("\n") == 1
        assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("reliable", [True, False])
def test_cli_estimate_says_how_far_to_trust_the_kernel(tmp_path, capsys, monkeypatch, reliable):
    import sr_desktop.engine.kernelgan as kernelgan

    class Estimate:
        kernel_x2 = KERNELS["gaussian 11"]
        confidence = 0.81 if reliable else 0.12
        doubt = ""  # (the score alone says it)

    Estimate.reliable = reliable
    monkeypatch.setattr(kernelgan, "estimate_kernel", lambda rgb, **kwargs: Estimate())
    src = tmp_path / "in.png"
    PILImage.fromarray(np.round(_photo(16) * 255).astype(np.uint8)).save(src)
    code = main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "map-sr", "--scale", "2",
                 "--variant", "tikhonov", "--kernel", "estimate", "--device", "cpu", "--quiet"])
    assert code == 0
    err = capsys.readouterr().err
    if reliable:  # --quiet keeps a reliable estimate silent
        assert "confidence" not in err
    else:  # a doubtful one is said even with --quiet
        assert "in.png: estimated kernel confidence 0.12, DOUBTFUL" in err


def test_an_animation_says_how_far_to_trust_its_least_confident_frames_kernel(tmp_path, capsys, monkeypatch):
    """Each frame's kernel was estimated and nothing was said of any (a still image's is)."""
    import sr_desktop.engine.kernelgan as kernelgan

    confidences = iter([0.81, 0.12])

    def estimate(rgb, **kwargs):
        class Estimate:
            kernel_x2 = KERNELS["gaussian 11"]
            confidence = next(confidences)
            reliable = confidence >= 0.45
            doubt = ""
        return Estimate()

    monkeypatch.setattr(kernelgan, "estimate_kernel", estimate)
    frames = [PILImage.fromarray(np.round(_photo(16) * 255).astype(np.uint8)), PILImage.new("RGB", (16, 16), 90)]
    src = tmp_path / "in.png"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100)
    code = main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "map-sr", "--scale", "2",
                 "--variant", "tikhonov", "--kernel", "estimate", "--device", "cpu", "--quiet"])
    assert code == 0
    assert "in.png: estimated kernel confidence 0.12 (the least confident of 2 frames), DOUBTFUL" in \
        capsys.readouterr().err


def test_a_result_made_with_a_kernel_says_so_to_whoever_describes_it():
    """The Metrics panel titled a kernel run "MAP-SR (…) ×2" where the window said "(with a
    blur kernel)": it described the result without the job's options."""
    from sr_desktop.app.session import RunInfo
    from sr_desktop.engine.core.options import UpscaleOptions
    from sr_desktop.engine.imageio import Image
    from sr_desktop.engine.pipeline.upscale import upscale_image

    image = Image(np.round(_photo(16) * 255).astype(np.uint8))
    with_kernel = upscale_image(image, UpscaleOptions(model="map-sr", scale=2, variant="tikhonov", device="cpu",
                                                      kernel=KERNELS["gaussian 11"]))
    assert with_kernel.with_kernel and RunInfo.of(with_kernel).title == "MAP-SR (with a blur kernel) · tikhonov ×2"
    plain = upscale_image(image, UpscaleOptions(model="map-sr", scale=2, variant="tikhonov", device="cpu"))
    assert not plain.with_kernel and "blur kernel" not in RunInfo.of(plain).title
