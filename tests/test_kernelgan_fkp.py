"""The FKP kernel prior (engine/kernelgan/fkp*.py): the flow, the shipped weights, its
training, KernelGAN-FKP (`prior="fkp"`) and `sr-desktop kernel --prior fkp`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.compute.degrade import degrade_with_kernel
from sr_desktop.engine.core import paths
from sr_desktop.engine.kernelgan import KernelError, estimate_kernel
from sr_desktop.engine.kernelgan.fkp import FlowKernelPrior, decode_kernel, encode_kernel
from sr_desktop.engine.kernelgan.fkp_train import FKPTrainOptions, family_kernels, train_fkp
from sr_desktop.engine.kernelgan.fkp_weights import WEIGHTS_NAME, load_prior, sidecar_path, weights_path
from sr_desktop.engine.kernelgan.synthetic import random_kernel_x2

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def prior() -> FlowKernelPrior:
    return load_prior()


@pytest.fixture(scope="module")
def family() -> torch.Tensor:
    return torch.as_tensor(family_kernels(200, np.random.default_rng(99)), dtype=torch.float32)


@pytest.fixture(scope="module")
def small_lr() -> np.ndarray:
    """A 96-px ×2 LR of the sample cat blurred by a family kernel."""
    img = np.asarray(PILImage.open(ROOT / "resources" / "chelsea.png").convert("RGB"), dtype=np.float64) / 255.0
    h, w = img.shape[:2]
    hr = img[h // 2 - 96 : h // 2 + 96, w // 2 - 96 : w // 2 + 96]
    lr = degrade_with_kernel(hr, random_kernel_x2(np.random.default_rng(3)), 2)
    return np.round(np.clip(lr, 0, 1) * 255) / 255


def test_shipped_weights_are_found_where_bundled_files_are(prior):
    assert weights_path() == paths.MODELS_DIR / WEIGHTS_NAME
    meta = json.loads(sidecar_path(weights_path()).read_text())
    assert meta["hparams"] == prior.hparams and prior.kernel_size == 11
    assert weights_path().stat().st_size < 2 * 1024 * 1024  # 1,312,376 bytes shipped
    setup = (ROOT / "setup.py").read_text()
    assert '"fkp/*.safetensors", "fkp/*.json"' in setup  # into the wheel's sr_desktop/_data/models


def test_flow_is_invertible_and_the_kernel_transform_exact(prior, family):
    u = encode_kernel(family)
    with torch.no_grad():
        z, logdet = prior(u)
        back = prior.inverse(z)
    assert z.shape == u.shape == (200, 121) and logdet.shape == (200,)
    assert float((back - u).abs().max()) < 1e-5  # measured 9.5e-7 (float32)
    assert torch.allclose(decode_kernel(u, 11), family.clamp_min(0) / family.clamp_min(0).sum((1, 2), keepdim=True),
                          atol=1e-6)


def test_family_kernels_are_far_more_likely_than_noise(prior, family):
    noise = torch.rand(200, 11, 11, generator=torch.Generator().manual_seed(0))
    noise = noise / noise.sum(dim=(1, 2), keepdim=True)
    with torch.no_grad():
        lp_family = prior.kernel_log_prob(family)
        lp_noise = prior.kernel_log_prob(noise)
    # measured: median 147 nats for family kernels, below -5e5 for uniform noise
    assert float(lp_family.median()) > 120
    assert float(lp_noise.max()) < float(lp_family.min()) - 1000


def test_samples_are_valid_kernels_of_the_family(prior):
    from sr_desktop.engine.kernelgan.kernel_ops import kernel_summary

    k = prior.sample(64, torch.Generator().manual_seed(1))
    assert k.shape == (64, 11, 11)
    assert float(k.min()) >= 0.0
    assert torch.allclose(k.sum(dim=(1, 2)), torch.ones(64), atol=1e-5)
    sigma = [kernel_summary(x.double().numpy())["sigma_major"] for x in k]
    assert 0.5 < np.median(sigma) < 2.5  # the family: σ of λ ~ U(0.35, 5), i.e. 0.6-2.2 px


def test_training_is_seeded_and_learns():
    opts = FKPTrainOptions(blocks=2, hidden=16, samples=400, steps=40, batch=64, progress_every=10)
    seen = []
    a = train_fkp(opts, progress=seen.append)
    b = train_fkp(opts)
    for (name, x), (_, y) in zip(a.prior.state_dict().items(), b.prior.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    nll = [p.extra["nll"] for p in seen]
    assert len(nll) == 4 and nll[-1] < nll[0]
    with pytest.raises(KernelError, match="kernel_size must be odd"):
        FKPTrainOptions(kernel_size=10)


def test_kernelgan_fkp_short_run_is_valid_and_seeded(small_lr):
    kwargs = {"iterations": 40, "batch": 2, "seed": 5, "device": "cpu", "prior": "fkp", "method": "kernelgan"}
    a = estimate_kernel(small_lr, **kwargs)
    b = estimate_kernel(small_lr, **kwargs)
    assert a.kernel.shape[0] == a.kernel.shape[1] >= 17  # 11×11 padded to 13×13, then centred
    assert a.kernel.min() >= 0 and a.kernel.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(a.kernel, b.kernel)
    # it does not follow the free generator: another parametrisation, another kernel
    c = estimate_kernel(small_lr, **{**kwargs, "prior": "none"})
    assert a.kernel.shape != c.kernel.shape or not np.allclose(a.kernel, c.kernel)
    with pytest.raises(KernelError, match="unknown kernel prior"):
        estimate_kernel(small_lr, iterations=5, prior="gaussian")


def _png(tmp_path: Path, lr: np.ndarray) -> Path:
    src = tmp_path / "lr.png"
    PILImage.fromarray(np.round(lr * 255).astype(np.uint8)).save(src)
    return src


def test_cli_prior_is_in_the_json(tmp_path, small_lr, capsys):
    src = _png(tmp_path, small_lr)
    for prior in ("fkp", "none"):
        out = tmp_path / f"{prior}.npy"
        rc = main(["kernel", "--method", "kernelgan", str(src), "-o", str(out), "--iterations", "20", "--batch", "1",
                  "--seed", "1",
                   "--device", "cpu", "--prior", prior, "--json", "-q"])
        record = json.loads(capsys.readouterr().out)
        assert rc == 0 and record["prior"] == prior and np.load(out).sum() == pytest.approx(1.0)


def _move_models(monkeypatch, tmp_path: Path) -> Path:
    models = tmp_path / "models"
    (models / "fkp").mkdir(parents=True)
    monkeypatch.setattr(paths, "MODELS_DIR", models)
    return models / WEIGHTS_NAME


def test_missing_or_corrupt_weights_are_one_line_errors(tmp_path, monkeypatch, small_lr, capsys):
    target = _move_models(monkeypatch, tmp_path)
    with pytest.raises(KernelError, match="not installed"):
        estimate_kernel(small_lr, iterations=5, prior="fkp")
    shipped = paths.bundled_root() / "models" / WEIGHTS_NAME
    shutil.copyfile(shipped, target)
    shutil.copyfile(sidecar_path(shipped), sidecar_path(target))
    assert load_prior().kernel_size == 11
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(KernelError, match="corrupt"):
        load_prior()
    src = _png(tmp_path, small_lr)
    out = tmp_path / "k.npy"
    rc = main(["kernel", str(src), "-o", str(out), "--iterations", "5", "--prior", "fkp", "-q"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and err.startswith("sr-desktop: error:") and "corrupt" in err and "\n" not in err
    assert not out.exists()
    sidecar_path(target).write_text("{not json")
    with pytest.raises(KernelError, match="unreadable"):
        load_prior()
