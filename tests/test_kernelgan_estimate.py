"""KernelGAN estimation end to end (short CPU runs), the `sr-desktop kernel` CLI, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.compute.degrade import degrade_with_kernel
from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.kernelgan import FAST_PRESET, KernelError, estimate_kernel
from sr_desktop.engine.kernelgan.kernel_ops import bicubic_kernel_x2, center_of_mass, shift_to_center
from sr_desktop.engine.kernelgan.score import kernel_psnr

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _hr() -> np.ndarray:
    img = np.asarray(PILImage.open(ROOT / "resources" / "chelsea.png").convert("RGB"), dtype=np.float64) / 255.0
    h, w = img.shape[:2]
    return img[h // 2 - 128 : h // 2 + 128, w // 2 - 128 : w // 2 + 128]


def _wide_kernel() -> np.ndarray:
    """An elongated, wide ×2 blur: far from the bicubic assumption."""
    y, x = np.mgrid[0:11, 0:11] - 5.0
    c, s = np.cos(0.6), np.sin(0.6)
    u, v = c * x + s * y, -s * x + c * y
    k = np.exp(-0.5 * (u**2 / 4.0 + v**2 / 1.0))
    return shift_to_center(k / k.sum(), pad=False)


@pytest.fixture(scope="module")
def synthetic_lr():
    truth = _wide_kernel()
    lr = np.round(np.clip(degrade_with_kernel(_hr(), truth, 2), 0, 1) * 255) / 255
    return lr, truth


def test_short_run_moves_toward_true_kernel(synthetic_lr):
    lr, truth = synthetic_lr
    seen = []
    # The fast preset (≤ 1000 iterations of 4 crops, early stop: ~400 here). Much shorter
    # schedules are unreliable (measured: 300 iterations land anywhere in 31-45 dB by seed).
    est = estimate_kernel(lr, method="kernelgan", seed=0, device="cpu", progress=seen.append, kernel_every=100,
                          **FAST_PRESET)
    bicubic = kernel_psnr(bicubic_kernel_x2(), truth)
    got = kernel_psnr(est.kernel, truth)
    # measured 46.24 vs 32.25 dB (+13.99), identical with 1 or 2 threads; 4 dB margin as
    # GAN training amplifies float rounding differences on other CPUs
    assert got > bicubic + 10.0, (got, bicubic)
    assert est.kernel.shape[0] % 2 == 1 and est.kernel.sum() == pytest.approx(1.0)
    n = est.kernel.shape[0]
    np.testing.assert_allclose(center_of_mass(est.kernel), [n // 2 + 0.5] * 2, rtol=0, atol=0.01)  # measured 0.0026
    assert 350 <= est.iterations_run <= 1000
    # Progress: monotone iteration counts, losses, and the kernel every 100 iterations.
    its = [p.extra["iteration"] for p in seen if "loss_g" in p.extra]
    assert its == sorted(its) and its[-1] == est.iterations_run
    assert sum("kernel" in p.extra for p in seen) >= 3
    assert seen[-1].done == seen[-1].total


def test_x4_estimate_is_analytic_from_x2(synthetic_lr):
    lr, _ = synthetic_lr
    est = estimate_kernel(lr, method="kernelgan", scale=4, iterations=20, seed=1, device="cpu")
    n = est.kernel_x2.shape[0]
    assert est.kernel.shape == (2 * n - 1, 2 * n - 1)
    assert est.kernel.sum() == pytest.approx(1.0)


def test_cancel_stops_the_run(synthetic_lr):
    lr, _ = synthetic_lr
    token = CancelToken()

    def cancel_at_20(info):
        if info.extra.get("iteration", 0) >= 20:
            token.cancel()

    with pytest.raises(Cancelled):
        estimate_kernel(lr, method="kernelgan", iterations=500, seed=0, device="cpu", progress=cancel_at_20,
                        cancel=token)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(KernelError, match="too small"):
        estimate_kernel(np.zeros((50, 50, 3)), iterations=5)
    with pytest.raises(KernelError, match="scale 2 or 4"):
        estimate_kernel(np.zeros((100, 100, 3)), scale=3, iterations=5)
    with pytest.raises(KernelError, match="NaN"):
        estimate_kernel(np.full((100, 100, 3), np.nan), iterations=5)
    with pytest.raises(KernelError, match="unknown kernel estimation option"):
        estimate_kernel(np.zeros((100, 100, 3)), iterations=5, bogus=1)
    with pytest.raises(KernelError, match="expected an H×W or H×W×C image"):
        estimate_kernel(np.zeros((100, 100, 5)), iterations=5)
    with pytest.raises(KernelError, match=r"or floats in 0\.\.1, got object"):  # e.g. NaN hidden in Python objects
        estimate_kernel(np.full((100, 100, 3), np.nan, dtype=object), iterations=5)
    assert issubclass(KernelError, SRDesktopError)


def test_the_whole_image_is_validated_though_the_fit_sees_its_centre():
    # the fit reads a central crop of at most 512 px; a NaN outside it is still one clear error
    img = np.random.default_rng(0).random((600, 600, 3), dtype=np.float32)
    img[0, 0, 0] = np.nan
    with pytest.raises(KernelError, match="NaN"):
        estimate_kernel(img, method="sharpness")
    with pytest.raises(KernelError, match="too small"):
        estimate_kernel(np.zeros((80, 40), np.uint8), method="sharpness")


def test_cli_writes_kernel_and_png(tmp_path, synthetic_lr, capsys):
    lr, _ = synthetic_lr
    src = tmp_path / "lr.png"
    PILImage.fromarray(np.round(lr * 255).astype(np.uint8)).save(src)
    out, png = tmp_path / "k.npy", tmp_path / "k.png"
    rc = main(["kernel", "--method", "kernelgan", str(src), "-o", str(out), "--iterations", "30", "--seed", "3",
               "--device", "cpu", "--png", str(png), "-q"])
    assert rc == 0
    k = np.load(out)
    assert k.ndim == 2 and k.shape[0] == k.shape[1] and k.sum() == pytest.approx(1.0)
    pic = PILImage.open(png)
    assert pic.format == "PNG" and pic.size[0] >= 10 * k.shape[0]
    # Refuses to overwrite without --overwrite; writes nothing for bad input.
    rc = main(["kernel", str(src), "-o", str(out), "--iterations", "5", "-q"])
    assert rc != 0 and "exists" in capsys.readouterr().err


def test_cli_bad_input_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"hello")
    out = tmp_path / "k.npy"
    rc = main(["kernel", str(bad), "-o", str(out), "--iterations", "5"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and err.startswith("sr-desktop: error:") and "\n" not in err
    assert not out.exists()
    tiny = tmp_path / "tiny.png"
    PILImage.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tiny)
    rc = main(["kernel", str(tiny), "-o", str(out), "--iterations", "5"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "too small" in err and not out.exists()
    assert list(tmp_path.glob(".kernel-*")) == []


def test_auto_device_is_the_cpu_even_beside_a_gpu(monkeypatch):
    """KernelGAN's `auto` stays on the CPU (faster there than on an H200, docs/kernelgan.md);
    an explicit device is honoured, and ZSSR's estimation follows the user's choice."""
    import torch

    from sr_desktop.engine.kernelgan.train import resolve_kernelgan_device
    from sr_desktop.engine.models.zssr.model import ZSSRModel

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_kernelgan_device("auto") == torch.device("cpu")
    assert resolve_kernelgan_device("AUTO") == torch.device("cpu")
    assert resolve_kernelgan_device(None) == torch.device("cpu")
    assert resolve_kernelgan_device(torch.device("cuda")) == torch.device("cuda")
    assert resolve_kernelgan_device("cuda") == torch.device("cuda")
    assert ZSSRModel(2, kernel="estimate", device="auto").kernel_device == "auto"


def test_per_image_models_get_the_users_device_choice_through_get_model(monkeypatch):
    """ZSSR / map-sr loaded the way the app loads them: an explicit --device cuda keeps their
    kernel estimation on CUDA, auto leaves it to KernelGAN's rule (the CPU), and --device cpu
    beside a GPU gets ZSSR's CPU settings."""
    import torch

    from sr_desktop.engine.models.zssr.model import CPU_CROP
    from sr_desktop.engine.pipeline.model_cache import get_model

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for model_id in ("zssr", "map-sr"):
        explicit = get_model(model_id, 2, device="cuda", precision="fp32", kernel="estimate")
        assert explicit.device.type == "cuda" and explicit.kernel_device == "cuda"
        auto = get_model(model_id, 2, device="auto", precision="fp32", kernel="estimate")
        assert auto.device.type == "cuda" and auto.kernel_device == "auto"
    on_cpu = get_model("zssr", 2, device="cpu", kernel="estimate")
    assert on_cpu.device.type == "cpu" and on_cpu.options.crop == CPU_CROP
