"""A short real run: a tiny network beats bicubic on validation, writes its run folder,
registers itself, and upscales through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from train_fixtures import make_images

from sr_desktop.app.kernel_jobs import torch_threads
from sr_desktop.cli.main import main
from sr_desktop.engine.models.custom import list_custom_specs
from sr_desktop.engine.training import TrainOptions, train
from sr_desktop.engine.training.data import PatchSource
from sr_desktop.engine.training.degradations import Bicubic, parse_degradation

pytestmark = pytest.mark.usefixtures("module_home")  # (the models it registers stay here)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-data")
    return make_images(root / "data", 4, 96, seed=1), make_images(root / "val", 2, 64, seed=2)


def test_patch_pairs_are_aligned_crops_of_the_whole_lr(folders):
    source = PatchSource([folders[0]], 2, 16, Bicubic())
    rng = np.random.default_rng(0)
    lr, hr = source.pair(rng)
    assert lr.shape == (16, 16, 3) and hr.shape == (32, 32, 3)
    # the pair is found, up to the flip/transpose augmentation, in one image and its LR
    found = False
    for entry in source.entries:
        for variant_lr, variant_hr in _variants(lr, hr):
            for y in range(0, entry.lr.shape[0] - 15):
                for x in range(0, entry.lr.shape[1] - 15):
                    if np.array_equal(entry.lr[y:y + 16, x:x + 16], variant_lr):
                        crop = entry.hr[2 * y:2 * y + 32, 2 * x:2 * x + 32].astype(np.float32) / 255.0
                        found = np.array_equal(crop, variant_hr) or found
    assert found


def _variants(lr, hr):
    for t in (False, True):
        a, b = (lr.transpose(1, 0, 2), hr.transpose(1, 0, 2)) if t else (lr, hr)
        for fv in (False, True):
            for fh in (False, True):
                c, d = (a[::-1], b[::-1]) if fv else (a, b)
                yield (c[:, ::-1], d[:, ::-1]) if fh else (c, d)


def _orientations(image):
    """The 8 flips/transposes of an H×W×C array."""
    for t in (False, True):
        a = image.transpose(1, 0, 2) if t else image
        for fv in (False, True):
            for fh in (False, True):
                c = a[::-1] if fv else a
                yield np.ascontiguousarray(c[:, ::-1] if fh else c)


def test_an_image_too_small_to_train_on_is_not_a_default_validation_image(tmp_path):
    """Without --val the first two training images validate; one skipped as smaller than a
    patch was still among them (a 20×20 icon: the bicubic baseline 28.8 dB instead of 32.3)."""
    from sr_desktop.engine.training.validation import ValidationSet

    folder = make_images(tmp_path / "data", 2, 48, seed=5)
    Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(folder / "0_icon.png")  # listed first
    source = PatchSource([folder], 2, 16, Bicubic())
    assert source.skipped == 1 and [p.name for p in source.paths] == ["img0.png", "img1.png"]
    assert ValidationSet(None, source.paths, 2, Bicubic()).names == ["img0", "img1"]


def test_pairs_of_an_asymmetric_kernel_are_flipped_before_the_blur(folders, tmp_path):
    """A flipped or transposed pair must still be one of the given kernel: flipping a pair
    made with it gives one of the flipped kernel at another sampling phase (trained on such
    pairs, a σ 2.2/0.5 kernel measured 32.58 dB against 34.09). Every pair is a crop of some
    flip of an image and of that flipped image's LR made with the same kernel."""
    kernel = np.zeros((7, 7))
    kernel[3, 1:6] = [1, 2, 4, 2, 1]  # a horizontal streak: not symmetric under a transpose
    kernel[3, 5] = 3  # nor under a horizontal flip
    np.save(tmp_path / "streak.npy", kernel / kernel.sum())
    degradation = parse_degradation(f"kernel:{tmp_path / 'streak.npy'}")
    source = PatchSource([folders[0]], 2, 8, degradation)
    # each image's 8 orientations and their LR made with the kernel (in 8-bit steps), as whole images
    unused = np.random.default_rng(0)  # (no noise: finish only rounds)
    oriented = [[(hr, degradation.finish(degradation.whole(hr, 2), unused)) for hr in _orientations(entry.hr)]
                for entry in source.entries]
    rng = np.random.default_rng(3)
    orientations_seen = set()
    for _ in range(16):
        lr, hr = source.pair(rng)
        hr8 = np.round(hr * 255).astype(np.uint8)
        placed = [(k, y, x) for variants in oriented for k, (whole_hr, whole_lr) in enumerate(variants)
                  for y in range(whole_lr.shape[0] - 7) for x in range(whole_lr.shape[1] - 7)
                  if np.array_equal(whole_hr[2 * y:2 * y + 16, 2 * x:2 * x + 16], hr8)
                  and np.allclose(whole_lr[y:y + 8, x:x + 8], lr, atol=1e-6)]
        assert placed, "the pair is not a crop of a flipped image and of its LR made with the kernel"
        orientations_seen.add(placed[0][0])
    assert len(orientations_seen) > 2, "the pairs were not flipped or transposed"


def test_a_grey_validation_image_is_scored_as_the_bench_scores_it(folders, tmp_path):
    """The grey was repeated in RGB and its Y scored (16 + 0.859·g): 1.3 dB above what
    `sr-desktop bench` measured on the same image."""
    from sr_desktop.engine.metrics.evaluate import evaluate_image, read_hr
    from sr_desktop.engine.metrics.upscalers import MatlabBicubic
    from sr_desktop.engine.training.validation import ValidationSet

    grey = tmp_path / "grey"
    grey.mkdir()
    Image.open(sorted(folders[1].iterdir())[0]).convert("L").save(grey / "g.png")
    validation = ValidationSet(grey, [], 2, Bicubic())
    bench = evaluate_image(read_hr(grey / "g.png"), MatlabBicubic(2), 2).scores.psnr_y
    assert validation.grey == [True]
    # the baseline's float output against the bench's 8-bit one: within rounding
    assert validation.bicubic().psnr_y == pytest.approx(bench, abs=0.05)


def test_realesrgan_and_kernel_patches(folders, tmp_path):
    kernel = np.zeros((5, 5))
    kernel[1:4, 1:4] = 1
    np.save(tmp_path / "k.npy", kernel)
    for spec in ("realesrgan", f"kernel:{tmp_path / 'k.npy'},noise=5,jpeg=80"):
        source = PatchSource([folders[0]], 2, 16, parse_degradation(spec))
        lr, hr = source.batch(seed=0, index=3, size=2)
        assert lr.shape == (2, 3, 16, 16) and hr.shape == (2, 3, 32, 32)
        assert 0 <= float(lr.min()) and float(lr.max()) <= 1
        again, _ = source.batch(seed=0, index=3, size=2)
        assert np.array_equal(lr.numpy(), again.numpy())  # batch i is the same every time


def test_200_iterations_beat_bicubic_then_the_model_upscales(folders, tmp_path, capsys):
    out = tmp_path / "run"
    options = TrainOptions(arch="VDSR:num_layers=4,num_feat=16", scale=2, data=(str(folders[0]),),
                           val=str(folders[1]), out=str(out), iterations=200, batch=8, patch=24,
                           lr=1e-3, val_every=100, device="cpu", name="test vdsr")
    with torch_threads(1):  # small convolutions: one thread is fastest on shared cores
        result = train(options)
    # measured: validation L1 0.0326 vs bicubic 0.0351; PSNR-Y 34.88 vs 32.20 dB
    assert result.validation["l1"] < 0.97 * result.baseline["l1"]
    assert result.validation["psnr_y"] > result.baseline["psnr_y"] + 1.5
    for name in ("model.safetensors", "curves.png", "log.jsonl", "checkpoint/latest.json"):
        assert (out / name).is_file(), name
    assert list((out / "val").glob("sr-*.png"))
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in records} == {"baseline", "precision", "train", "val", "registered"}
    assert [r["model"] for r in records if r["kind"] == "registered"] == [result.model_id]
    assert Image.open(out / "curves.png").size == (840, 300)
    # the model alone says how it was trained and on what (the checkpoint alone did)
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as fh:
        meta = fh.metadata()
    training, environment = json.loads(meta["training"]), json.loads(meta["environment"])
    assert (training["seed"], training["batch"], training["patch"], training["lr"], training["iterations"]) == (
        options.seed, 8, 24, 1e-3, 200)
    assert environment["threads"] == 1 and environment["device"].startswith("CPU") and environment["torch"]
    logged = next(r["precision"] for r in records if r["kind"] == "precision")
    assert environment["precision"] == logged
    # registered: in the custom models, saying how it was trained, and usable by `upscale`
    (spec,) = [s for s in list_custom_specs() if s.id == result.model_id]
    # (VDSR serves ×2-×4: the scale it learnt is said)
    assert spec.scales == [2, 3, 4]
    assert (f"trained here at ×2: 200 iterations on {folders[0].name} (loss l1:1), validation PSNR-Y "
            f"{result.validation['psnr_y']:.2f} dB") in spec.description
    up = tmp_path / "up.png"
    assert main(["upscale", str(folders[1] / "img0.png"), "-o", str(up), "--model", result.model_id,
                 "--scale", "2"]) == 0
    assert Image.open(up).size == (128, 128)


def test_zoo_compact_converts_for_fine_tuning():
    from sr_desktop.engine.models.registry import get_model_spec
    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.networks import network_from_model

    if not get_model_spec("realesr-animevideov3").installed:
        pytest.skip("realesr-animevideov3 is not installed")
    net = network_from_model("realesr-animevideov3", 4)  # checked against the graph inside (1e-4)
    assert net.arch == "SRVGGNetCompact" and net.params["num_feat"] == 64 and net.params["num_conv"] == 16
    with pytest.raises(TrainingError, match="--scale 4"):
        network_from_model("realesr-animevideov3", 2)
    with pytest.raises(TrainingError, match="cannot train") as refused:
        network_from_model("waifu2x-photo", 2)
    # the models a user can name, not the internal family ("trainable zoo families: srvgg")
    assert "of the zoo, realesrgan-x4plus, realesrgan-x4plus-anime, realesr-animevideov3" in str(refused.value)


def test_zoo_rrdbnets_convert_for_fine_tuning():
    """Issue 14: "zoo models included where their architecture is trainable in torch" —
    RRDBNet is (train --arch ESRGAN), but realesrgan-x4plus and realsr-df2k were refused as
    "an ncnn graph this app runs but cannot train". The converted module must give the
    graph's output (checked inside `network_from_zoo`)."""
    from sr_desktop.engine.models.registry import get_model_spec
    from sr_desktop.engine.training.networks import network_from_model

    for model_id, blocks in (("realesrgan-x4plus-anime", 6), ("realesrgan-x4plus", 23)):
        if not get_model_spec(model_id).installed:
            pytest.skip(f"{model_id} is not installed")
        net = network_from_model(model_id, 4)
        assert net.arch == "RRDBNet" and net.params["num_block"] == blocks and net.params["num_upsample"] == 2


def test_the_steps_before_the_first_iteration_are_named_and_stop_at_cancel(folders, tmp_path):
    """The window said "Reading the images…" through the bicubic baseline and the making of
    the optimiser, and Cancel waited for all of it (21 s under load)."""
    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import TRAINING_SETUP_STAGE, CancelToken

    options = TrainOptions(arch="VDSR:num_layers=4,num_feat=16", scale=2, data=(str(folders[0]),),
                           val=str(folders[1]), out=str(tmp_path / "run"), iterations=50, batch=4, patch=24,
                           device="cpu")
    cancel, said = CancelToken(), []

    def heard(info):
        said.append((info.stage, info.message, info.done))
        if info.message.startswith("Preparing"):
            cancel.cancel()  # pressed while the optimiser is made

    with pytest.raises(Cancelled):
        train(options, heard, cancel)
    assert said == [(TRAINING_SETUP_STAGE, "Measuring the bicubic baseline…", 0),
                    (TRAINING_SETUP_STAGE, "Preparing the network and its optimiser…", 0)]
    assert not (tmp_path / "run").exists()  # nothing resumes it: its log and folders are not left


def test_a_run_cancelled_before_its_first_checkpoint_leaves_no_files(folders, tmp_path, monkeypatch):
    """A run stopped (or failed) before anything was saved left its log, its validation
    inputs and the folders it made (a found issue of the long-job review); in a folder that
    was there, what was there stays (the lock file is kept, as `run_lock` says)."""
    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import CancelToken
    from sr_desktop.engine.training import Trainer
    from sr_desktop.engine.training.errors import TrainingError

    def cancelled_in_its_setup(out):
        options = TrainOptions(arch="VDSR:num_layers=4,num_feat=16", scale=2, data=(str(folders[0]),),
                               val=str(folders[1]), out=str(out), iterations=50, batch=4, patch=24, device="cpu")
        cancel = CancelToken()
        with pytest.raises(Cancelled):
            train(options, lambda info: cancel.cancel() if info.message.startswith("Preparing") else None, cancel)

    cancelled_in_its_setup(tmp_path / "new" / "deeper" / "run")
    assert not (tmp_path / "new").exists()

    kept = tmp_path / "mine"
    kept.mkdir()
    (kept / "notes.txt").write_text("the user's")
    cancelled_in_its_setup(kept)
    assert sorted(p.name for p in kept.iterdir()) == [".sr-desktop-train.lock", "notes.txt"]

    def failed(*_args):
        raise TrainingError("a failure in the set-up")

    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "prepare", failed)
        options = TrainOptions(arch="VDSR:num_layers=4,num_feat=16", scale=2, data=(str(folders[0]),),
                               val=str(folders[1]), out=str(tmp_path / "failed"), iterations=50, batch=4, patch=24,
                               device="cpu")
        with pytest.raises(TrainingError, match="a failure in the set-up"):
            train(options)
    assert not (tmp_path / "failed").exists()
