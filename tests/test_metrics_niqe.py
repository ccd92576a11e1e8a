"""NIQE (Mittal et al. 2013): the pieces on known inputs, behaviour on real photos, the bench."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image as PILImage
from scipy import ndimage

from sr_desktop.cli.main import main
from sr_desktop.engine.core.paths import RESOURCES_DIR
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.niqe import (
    aggd_fit,
    gaussian_window,
    load_pristine_model,
    niqe,
    niqe_features,
    niqe_or_none,
)


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    return np.asarray(PILImage.open(RESOURCES_DIR / "chelsea.png").convert("RGB"))


def test_gaussian_window_is_matlab_fspecial():
    w = gaussian_window()
    assert w.shape == (7, 7) and w.sum() == pytest.approx(1.0)
    # fspecial('gaussian', 7, 7/6): centre / edge-centre ratio is exp(3² / (2σ²))
    assert w[3, 3] / w[3, 0] == pytest.approx(math.exp(9 / (2 * (7 / 6) ** 2)))
    # the window stored with the released pristine model is the same one
    with np.load(RESOURCES_DIR / "niqe_pris_params.npz") as data:
        assert np.abs(data["gaussian_window"] - w).max() < 1e-15


def test_aggd_fit_recovers_gaussian_and_laplacian_shapes():
    rng = np.random.default_rng(0)
    sigma = 0.7
    alpha, left, right = aggd_fit(rng.normal(0.0, sigma, 200_000))
    assert abs(alpha - 2.0) < 0.03  # Gaussian: shape 2, β = σ·√2
    assert left == pytest.approx(sigma * math.sqrt(2), rel=0.02)
    assert right == pytest.approx(sigma * math.sqrt(2), rel=0.02)
    alpha, left, right = aggd_fit(rng.laplace(0.0, 0.5, 200_000))
    assert abs(alpha - 1.0) < 0.03  # Laplacian: shape 1, β = b
    assert left == pytest.approx(0.5, rel=0.03) and right == pytest.approx(0.5, rel=0.03)


def test_aggd_fit_sees_asymmetry():
    rng = np.random.default_rng(1)
    values = rng.normal(0.0, 1.0, 100_000)
    values[values > 0] *= 3.0
    _, left, right = aggd_fit(values)
    assert right / left == pytest.approx(3.0, rel=0.03)


def test_features_per_block_and_scale(chelsea):
    gray = chelsea[:, :, 1].astype(np.float64)  # 451×300 -> 4×3 blocks of 96
    features = niqe_features(gray)
    assert features.shape == (3 * 4, 36)
    assert np.isfinite(features).all()


def test_pristine_model_shapes():
    mean, cov = load_pristine_model()
    assert mean.shape == (36,) and cov.shape == (36, 36)
    assert np.allclose(cov, cov.T)


def test_niqe_rises_with_blur_and_noise(chelsea):
    clean = niqe(chelsea)
    blurred = ndimage.gaussian_filter(chelsea.astype(np.float64), sigma=(2.5, 2.5, 0))
    rng = np.random.default_rng(2)
    noisy = np.clip(chelsea + rng.normal(0, 25, chelsea.shape), 0, 255)
    # measured: clean 2.63, blurred 9.67, noisy 11.12 — distortion moves away from pristine
    assert 2.0 < clean < 6.0
    assert niqe(np.floor(blurred + 0.5)) > clean + 5.0
    assert niqe(noisy) > clean + 5.0


def test_uint8_and_float_input_agree(chelsea):
    assert niqe(chelsea) == pytest.approx(niqe(chelsea.astype(np.float64)), abs=1e-12)


def test_too_small_or_flat_images():
    with pytest.raises(EvaluationError, match="at least 96×96"):
        niqe(np.zeros((95, 200, 3), np.uint8))
    assert niqe_or_none(np.zeros((50, 50, 3), np.uint8)) is None
    assert niqe_or_none(np.full((200, 200, 3), 128, np.uint8)) is None  # flat: no statistics


def test_bench_reports_niqe(tmp_path, capsys, chelsea):
    folder = tmp_path / "set"
    folder.mkdir()
    PILImage.fromarray(chelsea[:200, :200]).save(folder / "cat.png")
    PILImage.fromarray(chelsea[:40, :40]).save(folder / "tiny.png")  # ×2 result 40×40: no NIQE
    out = tmp_path / "r.json"
    assert main(["bench", "--dataset", str(folder), "--scale", "2", "--json", str(out), "--quiet"]) == 0
    assert "NIQE" in capsys.readouterr().out
    model = json.loads(out.read_text())["models"][0]
    images = {i["name"]: i for i in model["images"]}
    assert images["tiny"]["niqe"] is None
    assert 2.0 < images["cat"]["niqe"] < 12.0
    assert model["niqe"] == pytest.approx(images["cat"]["niqe"])  # the mean skips images without one

    assert main(["bench", "--dataset", str(folder), "--scale", "2", "--json", str(out), "--quiet",
                 "--no-niqe", "--overwrite"]) == 0
    model = json.loads(out.read_text())["models"][0]
    assert model["niqe"] is None and all(i["niqe"] is None for i in model["images"])


def test_niqe_stops_between_columns_of_blocks_when_cancelled(monkeypatch):
    """The metrics panel's NIQE of a large result was not cancellable: the next image's
    numbers waited "Measuring…" for 48 s behind it."""
    import numpy as np

    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import CancelToken
    from sr_desktop.engine.metrics import niqe as niqe_module

    image = np.random.default_rng(0).integers(0, 256, (200, 480), dtype=np.uint8).astype(np.float64)
    cancel = CancelToken()
    seen = []
    real = niqe_module.block_features

    def counted(block):
        seen.append(1)
        if len(seen) == 2:
            cancel.cancel()
        return real(block)

    monkeypatch.setattr(niqe_module, "block_features", counted)
    with pytest.raises(Cancelled):
        niqe_module.niqe_of_gray(image, cancel=cancel)
    monkeypatch.undo()
    rows = 200 // niqe_module.BLOCK_SIZE
    assert len(seen) == rows  # one column of blocks, not the 5 × 2 of both scales
    assert niqe_module.niqe_or_none(image) == niqe_module.niqe_of_gray(image)  # no token: unchanged
