"""FSRCNN's data augmentation (`sr-desktop train --downscale 0.9 0.8 0.7 0.6`): each
training image also enters the data resized to those fractions of its size, its LR made
from the resized HR; bad fractions are one clear line; older checkpoints still resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open
from train_fixtures import make_images

from sr_desktop.cli.main import main
from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.training.data import PatchSource, read_rgb8
from sr_desktop.engine.training.degradations import parse_degradation
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.options import TrainOptions


def test_each_image_also_enters_at_each_fraction_of_its_size_with_its_own_lr(tmp_path):
    data = make_images(tmp_path / "data", 2, 100, seed=3)
    bicubic = parse_degradation("bicubic")
    plain = PatchSource([data], 3, 8, bicubic)
    augmented = PatchSource([data], 3, 8, bicubic, downscales=(0.9, 0.6))
    assert [e.size for e in plain.entries] == [(99, 99)] * 2
    # 100 → 90 (a multiple of 3) and 60; each modcropped to the scale
    assert [(e.factor, e.size) for e in augmented.entries] == [(1.0, (99, 99)), (0.9, (90, 90)), (0.6, (60, 60))] * 2
    entry = augmented.entries[1]
    expected_hr = imresize(read_rgb8(entry.path), 0.9)
    np.testing.assert_array_equal(entry.hr, expected_hr)
    np.testing.assert_array_equal(entry.lr, bicubic.whole(expected_hr, 3))
    # an image too small at a fraction is skipped at that fraction only
    small = PatchSource([data], 3, 30, bicubic, downscales=(0.9, 0.6))
    assert [e.factor for e in small.entries] == [1.0, 0.9] * 2 and (small.skipped, small.copies_skipped) == (0, 2)


def test_uncached_entries_are_rebuilt_at_their_fraction(tmp_path):
    data = make_images(tmp_path / "data", 1, 64, seed=4)
    bicubic = parse_degradation("bicubic")
    cached = PatchSource([data], 2, 8, bicubic, downscales=(0.75,))
    uncached = PatchSource([data], 2, 8, bicubic, cache_bytes=0, downscales=(0.75,))
    assert uncached.cached_bytes == 0 and all(e.hr is None for e in uncached.entries)
    for a, b in zip(cached.entries, uncached.entries, strict=True):
        hr, lr = uncached._arrays(b)
        np.testing.assert_array_equal(hr, a.hr)
        np.testing.assert_array_equal(lr, a.lr)


@pytest.mark.parametrize("fractions", [(1.0,), (0.05,), (0.8, 0.8), (float("nan"),)])
def test_fractions_outside_0_1_or_repeated_are_refused(tmp_path, fractions):
    with pytest.raises(TrainingError, match="--downscale takes distinct fractions"):
        TrainOptions(arch="fsrcnn", scale=3, data=(str(tmp_path),), out=str(tmp_path / "run"), downscales=fractions)


def test_the_cli_refuses_a_bad_fraction_in_one_line(tmp_path, capsys):
    data = make_images(tmp_path / "data", 1, 48, seed=5)
    code = main(["train", "--arch", "fsrcnn", "--scale", "3", "--data", str(data), "--out", str(tmp_path / "run"),
                 "--downscale", "1.5", "--iterations", "2", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "--downscale takes distinct fractions" in err[0]
    assert not (tmp_path / "run").exists()


def test_a_run_trains_on_the_augmented_data_and_resumes_with_the_same_fractions(tmp_path, capsys):
    data = make_images(tmp_path / "data", 2, 64, seed=6)
    run = tmp_path / "run"
    base = ["train", "--arch", "fsrcnn", "--scale", "2", "--data", str(data), "--out", str(run), "--batch", "2",
            "--patch", "8", "--threads", "1", "-q", "--downscale", "0.8"]
    assert main([*base, "--iterations", "2"]) == 0
    assert main([*base, "--iterations", "4", "--resume"]) == 0
    capsys.readouterr()
    with safe_open(str(run / "model.safetensors"), "pt") as fh:
        assert json.loads(fh.metadata()["downscales"]) == [0.8]  # the model records its data
    other = [a if a != "0.8" else "0.7" for a in base]
    assert main([*other, "--iterations", "6", "--resume"]) != 0
    assert "the run was made with --downscale 0.8, not 0.7" in capsys.readouterr().err


def test_a_kernel_degradation_makes_the_bench_s_8_bit_lr(tmp_path):
    """Training and validation used the blurred LR in floating point, the bench rounds it to
    8 bits as an image file holds it: the validation of a kernel run was 0.001-0.003 dB off
    `bench --degradation kernel:K` on the same images."""
    from sr_desktop.engine.metrics.degradation import Degradation, degrade_uint8

    kernel = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(np.float64)
    kernel /= kernel.sum()
    np.save(tmp_path / "k.npy", kernel)
    hr = np.random.default_rng(5).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    training = parse_degradation(f"kernel:{tmp_path / 'k.npy'}")
    lr = training.finish(training.whole(hr, 2), np.random.default_rng(0))
    bench = degrade_uint8(hr, 2, Degradation(kind="kernel", kernel=kernel))
    np.testing.assert_array_equal(np.rint(lr * 255).astype(np.uint8), bench)
    assert np.abs(lr * 255 - np.rint(lr * 255)).max() < 1e-3  # (8-bit steps)


def test_images_past_the_cache_are_not_degraded_at_the_start(tmp_path):
    """Every image's LR was made at the start and those past --cache-mb thrown away (each
    patch then made its own again): the start took as long with a 1 MB cache as with 2 GB."""
    data = make_images(tmp_path / "data", 6, 48, seed=2)
    bicubic = parse_degradation("bicubic")
    calls = []
    real = type(bicubic).whole

    class Counting(type(bicubic)):
        def whole(self, hr, scale):
            calls.append(hr.shape)
            return real(self, hr, scale)

    counting = Counting()
    one_image = 48 * 48 * 3 + 24 * 24 * 3 * 4  # (an HR in uint8 and its LR in float32)
    source = PatchSource([data], 2, 8, counting, cache_bytes=2 * one_image)
    assert len(source.entries) == 6 and len(calls) == 2  # the two the cache keeps
    assert sum(entry.lr is not None for entry in source.entries) == 2
    lr, hr = source.pair(np.random.default_rng(0))  # (an uncached image's pair: made when drawn)
    assert lr.shape[:2] == (8, 8) and hr.shape[:2] == (16, 16)
