"""The sharpness fit (engine/kernelgan/sharpness_fit.py) and ``estimate_kernel``'s methods."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli import cmd_kernel
from sr_desktop.cli.main import main
from sr_desktop.engine.compute.degrade import degrade_with_kernel
from sr_desktop.engine.core.errors import Cancelled
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.kernelgan import KernelError, estimate_kernel, options, train
from sr_desktop.engine.kernelgan.confidence import RELIABLE_AT
from sr_desktop.engine.kernelgan.kernel_ops import center_of_mass
from sr_desktop.engine.kernelgan.score import kernel_psnr
from sr_desktop.engine.kernelgan.sharpness_fit import MISFIT_TRUSTED, SharpnessFit, fit_kernel, gaussian_kernel
from sr_desktop.engine.models.zssr import make_zssr_model

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def blurred_lr(kernel: np.ndarray, side: int = 256) -> np.ndarray:
    """The bundled cat photo's central side² crop, blurred with `kernel`, ×½, 8-bit."""
    hr = np.asarray(PILImage.open(RESOURCES / "chelsea.png").convert("RGB"), dtype=np.float64) / 255.0
    h, w = hr.shape[:2]
    crop = hr[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2]
    return np.round(np.clip(degrade_with_kernel(crop, kernel, 2), 0.0, 1.0) * 255.0) / 255.0


@pytest.fixture(scope="module")
def elongated():
    """An elongated blur (σ 2.0 / 0.8, λ1/λ2 = 6.25) at 30° and the LR it makes."""
    kernel = gaussian_kernel(2.0, 0.8, np.pi / 6, size=13, center=6.5)
    return kernel, blurred_lr(kernel)


def test_gaussian_kernel_is_normalised_and_centred_on_the_x2_convention():
    k = gaussian_kernel(1.0, 0.7, 1.0)
    assert k.shape == (17, 17) and k.min() >= 0 and k.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(center_of_mass(k), [8.5, 8.5], atol=1e-9)
    # the widest searched blur loses a little of one tail to the canvas (8.5 px left of the
    # centre, 7.5 right): measured 0.013 px
    np.testing.assert_allclose(center_of_mass(gaussian_kernel(2.9, 1.74, 0.3)), [8.5, 8.5], atol=0.02)


def test_the_fit_finds_an_elongated_blur_and_its_orientation(elongated):
    truth, lr = elongated
    fit = fit_kernel(lr)
    # measured: σ 2.15 / 1.02 at 30°, kernel PSNR 48.3 dB, misfit 0.0004 (KernelGAN's
    # estimates of elongated kernels came out near-round: 40-42 dB, docs/kernelgan.md)
    assert abs(np.degrees(fit.angle) - 30.0) <= 10.0
    assert fit.sigma_major / fit.sigma_minor >= 1.6
    assert kernel_psnr(fit.kernel, truth) >= 45.0
    assert fit.misfit <= MISFIT_TRUSTED and fit.confidence > 0.5
    again = fit_kernel(lr)
    np.testing.assert_array_equal(fit.kernel, again.kernel)  # no randomness


@pytest.fixture
def alive_runs(monkeypatch):
    """KernelGAN runs that count as alive (confidence at least 0.6): a few iterations leave the
    generator dead (confidence 0), and auto averages no dead run with the fit."""
    real = train._run_once

    def alive(*args, **kwargs):
        kernel, iterations_run, confidence = real(*args, **kwargs)
        return kernel, iterations_run, max(confidence, 0.6)

    monkeypatch.setattr(train, "_run_once", alive)


def test_auto_leaves_a_dead_kernelgan_run_out_of_the_fits_average(elongated):
    """Both runs' generators dead (confidence 0, the kernel numerical noise) were averaged
    50/50 with a trusted fit, and the result called reliable."""
    truth, lr = elongated
    est = estimate_kernel(lr, iterations=5, seed=0, device="cpu")  # (5 iterations: dead)
    assert all(h["confidence"] == 0.0 for h in est.history if "confidence" in h)
    fit = estimate_kernel(lr, method="sharpness")
    assert est.method == "sharpness" and est.reliable and est.seed == 0 and est.iterations_run > 0
    np.testing.assert_array_equal(est.kernel_x2, fit.kernel_x2)


def test_auto_averages_the_fit_with_kernelgan_where_the_fit_explains_the_image(elongated, alive_runs):
    _, lr = elongated
    est = estimate_kernel(lr, iterations=5, seed=0, device="cpu")
    assert est.method == "combined" and est.iterations_run > 0 and est.reliable and est.seed == 0
    assert est.fit_misfit is not None and est.fit_misfit <= MISFIT_TRUSTED
    fit = estimate_kernel(lr, method="sharpness")
    kernelgan = estimate_kernel(lr, iterations=5, seed=0, device="cpu", method="kernelgan")
    np.testing.assert_allclose(est.kernel_x2, train.average_kernels([fit.kernel_x2, kernelgan.kernel_x2], how="mean"))
    assert est.confidence == pytest.approx(fit.confidence)  # the fit's misfit decides, as it gates
    x4 = estimate_kernel(lr, scale=4, iterations=5, seed=0, device="cpu")
    assert x4.method == "combined" and x4.kernel.shape[0] > est.kernel.shape[0]
    assert x4.kernel.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(x4.kernel_x2, est.kernel_x2)  # ×4 is derived from the same ×2 mean


def test_the_fit_alone_where_kernelgan_diverges_beside_it(elongated, monkeypatch, alive_runs):
    truth, lr = elongated
    real = train._run_once

    def diverge(img, scale, iterations, *args):
        raise train._Diverged("kernel sum 0", iterations)

    monkeypatch.setattr(train, "_run_once", diverge)
    est = estimate_kernel(lr, iterations=5, seed=0, device="cpu")
    assert est.method == "sharpness" and est.reliable and kernel_psnr(est.kernel_x2, truth) >= 45.0
    assert est.seed == 0 and est.iterations_run == 10  # the run and its retry were made, and are reported
    with pytest.raises(KernelError, match="diverged"):
        estimate_kernel(lr, iterations=5, seed=0, device="cpu", method="kernelgan")

    def second_restart_diverges(img, scale, iterations, dev, run_seed, *args):
        if run_seed == 1 or run_seed >= 3:  # restart 2 (seed 1) and every retry (seeds 3, 4, … after 0..2)
            raise train._Diverged("kernel sum 0", iterations)
        return real(img, scale, iterations, dev, run_seed, *args)

    monkeypatch.setattr(train, "_run_once", second_restart_diverges)
    est = estimate_kernel(lr, iterations=5, seed=0, restarts=3, device="cpu")
    assert est.method == "combined" and len(est.restart_kernels) == 2  # restarts 1 and 3 kept


def test_auto_falls_back_to_kernelgan_where_no_gaussian_explains_the_image():
    noise = np.random.default_rng(0).random((96, 96, 3))  # no blur, no cross-scale structure
    fit = fit_kernel(noise)
    assert fit.misfit > MISFIT_TRUSTED  # measured 0.0069
    est = estimate_kernel(noise, iterations=5, seed=0, device="cpu", retry_doubtful=0)
    assert est.method == "kernelgan" and est.iterations_run > 0
    assert est.fit_misfit == pytest.approx(fit.misfit)
    forced = estimate_kernel(noise, iterations=5, device="cpu", method="sharpness")
    assert forced.method == "sharpness" and forced.confidence < fit_kernel(blurred_lr(gaussian_kernel(
        1.5, 1.5, 0.0, size=13, center=6.5))).confidence
    with pytest.raises(KernelError, match="unknown kernel estimation method 'gan'"):
        estimate_kernel(noise, iterations=5, method="gan")


def test_a_textureless_image_is_not_a_perfect_fit():
    black = fit_kernel(np.zeros((96, 96, 3)))
    assert black.misfit == float("inf") and black.confidence == 0.0 and not black.trusted
    est = estimate_kernel(np.zeros((96, 96, 3)), method="sharpness", device="cpu")
    assert est.method == "sharpness" and not est.reliable


def test_the_reliable_cut_is_the_misfit_threshold():
    def fit(misfit):
        return SharpnessFit(gaussian_kernel(1.0, 1.0, 0.0), 1.0, 1.0, 0.0, misfit, 1)

    assert fit(0.0).confidence == 1.0 and fit(MISFIT_TRUSTED).confidence == pytest.approx(RELIABLE_AT)
    assert fit(MISFIT_TRUSTED).trusted and not fit(MISFIT_TRUSTED * 1.01).trusted
    assert fit(MISFIT_TRUSTED * 1.01).confidence < RELIABLE_AT


def test_cancel_stops_the_fit(elongated):
    _, lr = elongated
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        estimate_kernel(lr, device="cpu", cancel=token)


def test_cancel_is_looked_at_every_16_kernels(elongated):
    """64 kernels between looks made Cancel wait 4–6 s on the largest crop."""
    from sr_desktop.engine.kernelgan.sharpness_fit import fit_kernel

    class Counting(CancelToken):
        looks = 0

        def raise_if_cancelled(self) -> None:
            Counting.looks += 1

    _, lr = elongated
    fit = fit_kernel(lr, cancel=Counting())
    assert Counting.looks >= fit.candidates // 16


def test_every_front_end_offers_the_engines_methods_and_zssr_defaults_to_auto():
    assert cmd_kernel.METHODS is options.METHODS  # one list, from the torch-free options module
    assert make_zssr_model(2, kernel="estimate", device="cpu").kernel_method == "auto"
    assert make_zssr_model(2, kernel="estimate", device="cpu", kernel_method="sharpness").kernel_method == "sharpness"
    with pytest.raises(KernelError, match="unknown kernel estimation method"):
        make_zssr_model(2, kernel="estimate", device="cpu", kernel_method="gan")


def test_cli_method_and_json(tmp_path, elongated, capsys, alive_runs):
    _, lr = elongated
    src = tmp_path / "lr.png"
    PILImage.fromarray(np.round(lr * 255).astype(np.uint8)).save(src)
    out = tmp_path / "k.npy"
    rc = main(["kernel", str(src), "-o", str(out), "--iterations", "10", "--seed", "1", "--device", "cpu", "--json",
               "-q"])
    record = json.loads(capsys.readouterr().out)
    assert rc == 0 and record["method"] == "combined" and record["iterations_run"] > 0 and record["seed"] == 1
    assert 0 < record["fit_misfit"] <= MISFIT_TRUSTED and record["reliable"] is True
    assert np.load(out).sum() == pytest.approx(1.0)
    rc = main(["kernel", str(src), "-o", str(tmp_path / "g.npy"), "--method", "kernelgan", "--iterations", "10",
               "--seed", "1", "--device", "cpu", "--json", "-q"])
    record = json.loads(capsys.readouterr().out)
    assert rc == 0 and record["method"] == "kernelgan" and record["fit_misfit"] is None
    rc = main(["kernel", str(src), "-o", str(tmp_path / "s.npy"), "--method", "sharpness"])
    line = capsys.readouterr().out
    assert rc == 0 and "sharpness fit, misfit" in line and line.rstrip().endswith(", reliable")
    rc = main(["kernel", str(src), "-o", str(tmp_path / "c.npy"), "--iterations", "10", "--device", "cpu"])
    line = capsys.readouterr().out
    assert rc == 0 and "mean of the sharpness fit (misfit 0.0" in line and "KernelGAN, " in line
    with pytest.raises(SystemExit) as exited:
        main(["kernel", str(src), "-o", str(tmp_path / "x.npy"), "--method", "gan"])
    assert exited.value.code == 2 and "invalid choice: 'gan'" in capsys.readouterr().err


def test_cli_json_is_strict_json_on_a_flat_image(tmp_path, capsys):
    """A flat image's sharpness fit has an infinite misfit, printed as ``Infinity`` — not
    JSON (strict parsers refused the line); it is null."""
    src = tmp_path / "flat.png"
    PILImage.new("RGB", (128, 128), (50, 50, 50)).save(src)
    rc = main(["kernel", str(src), "-o", str(tmp_path / "k.npy"), "--method", "sharpness", "--json"])
    text = capsys.readouterr().out

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    record = json.loads(text, parse_constant=refuse)
    assert rc == 0 and record["fit_misfit"] is None and record["method"] == "sharpness"


@pytest.fixture
def threads_seen(monkeypatch):
    """Torch's thread count at the start of every KernelGAN run, with torch set to 2 threads
    for the test (restored after)."""
    import torch

    real, seen = train._run_once, []

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "_run_once", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield seen
    torch.set_num_threads(before)


def test_cli_kernel_trains_on_one_thread_and_restores_the_count(tmp_path, elongated, threads_seen):
    import torch

    _, lr = elongated
    src = tmp_path / "lr.png"
    PILImage.fromarray(np.round(lr * 255).astype(np.uint8)).save(src)
    rc = main(["kernel", str(src), "-o", str(tmp_path / "k.npy"), "--method", "kernelgan", "--iterations", "5",
               "--seed", "0", "--device", "cpu", "-q"])
    assert rc == 0 and threads_seen and set(threads_seen) == {1}  # KernelGANOptions.threads, set by the engine
    assert torch.get_num_threads() == 2


def test_the_fit_runs_under_the_thread_limit_too(elongated, threads_seen, monkeypatch):
    import torch

    real, seen = train.fit_kernel, []

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "fit_kernel", spy)
    train.estimate_kernel(elongated[1], method="sharpness")
    assert seen == [1] and torch.get_num_threads() == 2


def test_torch_threads_sets_nothing_when_the_count_is_already_right(monkeypatch):
    import torch

    from sr_desktop.engine.compute.devices import torch_threads

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    calls = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n) or real(n))
    try:
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert calls == []
        with torch_threads(2):
            assert torch.get_num_threads() == 2
        assert calls == [2, 1] and torch.get_num_threads() == 1
    finally:
        real(before)


def test_kernelgan_threads_none_keeps_torchs_setting(elongated, threads_seen):
    """ZSSR and map-sr estimate through the engine too: its thread limit is an option."""
    import torch

    _, lr = elongated
    train.estimate_kernel(lr, iterations=5, seed=0, device="cpu", method="kernelgan", threads=None, retry_doubtful=0)
    train.estimate_kernel(lr, iterations=5, seed=0, device="cpu", method="kernelgan", threads=1, retry_doubtful=0)
    assert threads_seen == [2, 1] and torch.get_num_threads() == 2
