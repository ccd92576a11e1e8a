"""Training on real pairs (`sr-desktop train --lr-data`, `--val-lr`; the Train dialog's LR images):
LR images given beside the HR ones, paired by name, take the place of a degradation, for
training and validation; what cannot make a pair is one clear line."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from PIL import Image
from safetensors import safe_open
from train_fixtures import make_images

from sr_desktop.cli.main import main
from sr_desktop.engine.training.degradations import parse_degradation
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.options import TrainOptions
from sr_desktop.engine.training.pairs import PairedPatchSource, match_pairs, read_pair
from sr_desktop.engine.training.validation import ValidationSet


def box_down(pixels: np.ndarray, scale: int) -> np.ndarray:
    """The mean of each scale×scale block (an exact, position-telling degradation)."""
    h, w = pixels.shape[0] // scale * scale, pixels.shape[1] // scale * scale
    blocks = pixels[:h, :w].astype(np.float64).reshape(h // scale, scale, w // scale, scale, -1)
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)


def make_pairs(root, count: int, size: int, scale: int, seed: int, lr_name: str = "{stem}x{scale}"):
    """HR images in root/HR and their block-mean LR images in root/LR, named `lr_name`."""
    hr_dir = make_images(root / "HR", count, size, seed)
    (root / "LR").mkdir()
    for path in sorted(hr_dir.iterdir()):
        lr = box_down(np.asarray(Image.open(path).convert("RGB")), scale)
        Image.fromarray(lr).save(root / "LR" / (lr_name.format(stem=path.stem, scale=scale) + ".png"))
    return hr_dir, root / "LR"


@pytest.mark.parametrize(("hr_name", "lr_name"), [
    ("0001", "0001x2"),  # DIV2K
    ("Canon_001_HR", "Canon_001_LR2"),  # RealSR
    ("img_hr", "img_lr"),
    ("photo", "photo"),
])
def test_pairs_are_matched_by_name_with_the_datasets_tags_ignored(tmp_path, hr_name, lr_name):
    for folder, name in (("HR", hr_name), ("LR", lr_name)):
        (tmp_path / folder / "sub").mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / folder / "sub" / f"{name}.png")
        Image.new("RGB", (8, 8)).save(tmp_path / folder / f"{folder.lower()}only.png")  # no partner
    with pytest.raises(TrainingError, match=r"1 HR image\(s\) of .*HR have no LR image.*: hronly\.png"):
        match_pairs([tmp_path / "HR"], [tmp_path / "LR"], 2)
    (tmp_path / "HR" / "hronly.png").unlink()
    pairs = match_pairs([tmp_path / "HR"], [tmp_path / "LR"], 2)
    assert pairs == [(tmp_path / "HR" / "sub" / f"{hr_name}.png", tmp_path / "LR" / "sub" / f"{lr_name}.png")]


def test_an_lr_image_pairs_in_its_own_sub_folder_only(tmp_path):
    for folder, sub in (("HR", "a"), ("LR", "b")):
        (tmp_path / folder / sub).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / folder / sub / "x.png")
    with pytest.raises(TrainingError, match="have no LR image"):
        match_pairs([tmp_path / "HR"], [tmp_path / "LR"], 2)


def test_an_lr_folder_inside_the_hr_folder_or_around_it_is_refused(tmp_path):
    hr, lr = make_pairs(tmp_path / "pairs", 1, 32, 2, seed=1)
    inner = hr / "LR"
    inner.mkdir()
    with pytest.raises(TrainingError, match=r"--lr-data .*HR/LR is inside the --data folder .*HR: its images would"):
        match_pairs([hr], [inner], 2)
    with pytest.raises(TrainingError, match=r"--data .*HR/LR is inside the --lr-data folder .*HR"):
        match_pairs([inner], [hr], 2)


def test_lr_images_without_an_hr_image_are_logged_and_left_out(tmp_path, caplog):
    hr, lr = make_pairs(tmp_path, 2, 32, 2, seed=1)
    Image.new("RGB", (16, 16)).save(lr / "stray.png")
    with caplog.at_level(logging.WARNING):
        assert len(match_pairs([hr], [lr], 2)) == 2
    assert "1 LR image(s) of" in caplog.text and "left out" in caplog.text


def test_an_hr_image_a_few_pixels_larger_is_cropped_and_other_sizes_are_refused(tmp_path):
    Image.new("RGB", (35, 33), "red").save(tmp_path / "hr.png")
    Image.new("RGB", (11, 11)).save(tmp_path / "lr.png")
    hr, lr, grey = read_pair(tmp_path / "hr.png", tmp_path / "lr.png", 3)  # 35 = 3·11 + 2, 33 = 3·11
    assert hr.shape == (33, 33, 3) and lr.shape == (11, 11, 3) and not grey
    with pytest.raises(TrainingError, match=r"hr\.png is 35×33; its LR image lr\.png is 11×11, not 1/2 of it$"):
        read_pair(tmp_path / "hr.png", tmp_path / "lr.png", 2)
    Image.new("RGB", (35, 33)).save(tmp_path / "same.png")
    with pytest.raises(TrainingError, match=r"not 1/2 of it but as large: an LR image shows the HR image's scene at "
                                             r"1/2 of its size \(RealSR's version 3 LR images are upscaled back"):
        read_pair(tmp_path / "hr.png", tmp_path / "same.png", 2)


@pytest.mark.parametrize("cache_bytes", [1 << 30, 0])
def test_every_patch_pair_is_the_given_lr_of_its_hr_patch_after_the_same_flips(tmp_path, cache_bytes):
    hr, lr = make_pairs(tmp_path, 3, 60, 3, seed=2)
    source = PairedPatchSource([hr], [lr], 3, 8, cache_bytes)
    lr_batch, hr_batch = source.batch(seed=0, index=0, size=32)
    assert lr_batch.shape == (32, 3, 8, 8) and hr_batch.shape == (32, 3, 24, 24)
    for lr_patch, hr_patch in zip(lr_batch, hr_batch, strict=True):
        hr_pixels = np.round(hr_patch.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        expected = box_down(hr_pixels, 3).astype(np.float32) / 255
        np.testing.assert_allclose(lr_patch.permute(1, 2, 0).numpy(), expected, atol=1e-6)
    # the same seed and index draw the same batch (a resumed run's)
    again = PairedPatchSource([hr], [lr], 3, 8, cache_bytes).batch(seed=0, index=0, size=32)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(again, (lr_batch, hr_batch), strict=True))


def test_pairs_smaller_than_a_patch_are_skipped_and_none_left_is_one_line(tmp_path):
    hr, lr = make_pairs(tmp_path, 2, 30, 2, seed=3)
    with pytest.raises(TrainingError, match=r"no training image is at least 32×32 pixels .*smaller --patch"):
        PairedPatchSource([hr], [lr], 2, 16, 1 << 30)


def test_validation_scores_the_given_lr_images_cropped_with_their_hr(tmp_path):
    hr, lr = make_pairs(tmp_path, 2, 80, 2, seed=4)
    val = ValidationSet(hr, [], 2, parse_degradation("bicubic"), max_side=40, lr_folder=lr)
    assert val.lr_paths == sorted(lr.iterdir())
    for (lr_pixels, hr_pixels), path in zip(val.pairs, val.lr_paths, strict=True):
        given = np.asarray(Image.open(path))
        assert hr_pixels.shape == (40, 40, 3) and lr_pixels.shape == (20, 20, 3)
        np.testing.assert_array_equal(np.round(lr_pixels * 255).astype(np.uint8), given[10:30, 10:30])
        np.testing.assert_array_equal(box_down(hr_pixels, 2), given[10:30, 10:30])


@pytest.mark.parametrize(("extra", "message"), [
    ({"degradation": "realesrgan"}, "--lr-data gives the LR images: --degradation realesrgan"),
    ({"downscales": (0.9,)}, "--downscale resizes the HR images"),
    ({"arch": "vdsr", "mixed_scales": (3,)}, "--lr-data gives LR images of one scale"),
    ({"val": "V"}, "with --lr-data, --val needs --val-lr"),
    ({"lr_data": ("LR", "LR")}, r"--lr-data names 2 folder\(s\) for 1 --data folder\(s\)"),
    ({"lr_data": ("nowhere",)}, "--lr-data folder nowhere: not found"),
])
def test_settings_that_do_not_go_with_given_lr_images_are_one_line(tmp_path, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    for name in ("HR", "LR", "V"):
        (tmp_path / name).mkdir()
    fields = {"arch": "fsrcnn", "scale": 2, "data": ("HR",), "out": "run", "lr_data": ("LR",), **extra}
    with pytest.raises(TrainingError, match=message):
        TrainOptions(**fields)


def test_val_lr_needs_val_and_may_validate_a_run_of_a_made_degradation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("HR", "V", "VLR"):
        (tmp_path / name).mkdir()
    with pytest.raises(TrainingError, match="--val-lr gives the LR images of the --val folder: give --val too"):
        TrainOptions(arch="fsrcnn", scale=2, data=("HR",), out="run", val_lr="VLR")
    assert TrainOptions(arch="fsrcnn", scale=2, data=("HR",), out="run", val="V", val_lr="VLR").val_lr == "VLR"


def run_args(tmp_path, *extra: str) -> list[str]:
    return ["train", "--arch", "fsrcnn", "--scale", "2", "--data", str(tmp_path / "HR"), "--out",
            str(tmp_path / "run"), "--batch", "4", "--patch", "12", "--threads", "1", "-q", *extra]


def test_a_paired_run_trains_records_its_lr_folders_and_resumes_only_with_them(tmp_path, capsys):
    make_pairs(tmp_path, 3, 48, 2, seed=5)
    assert main(run_args(tmp_path, "--lr-data", str(tmp_path / "LR"), "--iterations", "6")) == 0
    out = capsys.readouterr().out
    assert "trained FSRCNN ×2: 6 iterations" in out
    with safe_open(tmp_path / "run" / "model.safetensors", "pt") as f:
        meta = f.metadata()
    assert meta["degradation"] == "paired" and json.loads(meta["lr_data"]) == [str(tmp_path / "LR")]
    assert json.loads(meta["training"])["lr_data"] == [str(tmp_path / "LR")]
    # --resume without --lr-data takes the run's; another folder is refused
    assert main(run_args(tmp_path, "--resume", "--iterations", "8")) == 0
    assert "8 iterations" in capsys.readouterr().out
    (tmp_path / "LR2").mkdir()
    for path in (tmp_path / "LR").iterdir():
        (tmp_path / "LR2" / path.name).write_bytes(path.read_bytes())
    assert main(run_args(tmp_path, "--resume", "--iterations", "10", "--lr-data", str(tmp_path / "LR2"))) == 2
    assert f"cannot resume: the run was made with --lr-data {tmp_path / 'LR'}, not {tmp_path / 'LR2'}" in \
        capsys.readouterr().err


def test_a_pair_that_does_not_fit_is_named_in_one_line(tmp_path, capsys):
    make_pairs(tmp_path, 2, 48, 2, seed=6)
    Image.new("RGB", (48, 48)).save(tmp_path / "LR" / "img1x2.png")  # upscaled back: the HR's size
    assert main(run_args(tmp_path, "--lr-data", str(tmp_path / "LR"), "--iterations", "2")) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("sr-desktop: error: cannot use 1 training pair(s): img1.png is 48×48; its LR image img1x2.png is "
                   "48×48, not 1/2 of it but as large: an LR image shows the HR image's scene at 1/2 of its size "
                   "(RealSR's version 3 LR images are upscaled back: shrink them by 2 first; a camera's wide shot: "
                   "crop it to the tele shot's view, register it, and shrink it to 1/2)")


@pytest.mark.parametrize(("degradation", "said"), [
    ("paired", "600 iterations on HR paired with their LR images (loss l1:1)"),
    ("realesrgan", "600 iterations on HR degraded by realesrgan (loss l1:1)"),
    ("kernel:/runs/k/cam.npy,noise=5", "600 iterations on HR degraded by kernel:cam.npy,noise=5 (loss l1:1)"),
    ("bicubic", "600 iterations on HR (loss l1:1)"),
])
def test_the_model_list_says_how_a_model_trained_here_got_its_lr_images(degradation, said):
    from sr_desktop.engine.models.custom_index import training_summary

    record = {"iterations": 600, "data": ["/x/HR"], "losses": "l1:1", "degradation": degradation}
    assert training_summary(record) == f"trained here: {said}"


def _blank(folder, *names, size=(8, 8)):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("RGB", size).save(folder / name)
    return folder


@pytest.mark.parametrize(("hr_name", "lr_name"), [
    ("DSC_1450_x1", "DSC_1450_x2"),  # DRealSR
    ("box2", "box2x2"),  # a tag-like end of the HR's own name
    ("tumblr", "tumblr_lr"),
])
def test_more_dataset_names_pair(tmp_path, hr_name, lr_name):
    hr, lr = _blank(tmp_path / "HR", f"{hr_name}.png"), _blank(tmp_path / "LR", f"{lr_name}.png")
    assert match_pairs([hr], [lr], 2) == [(hr / f"{hr_name}.png", lr / f"{lr_name}.png")]


def test_two_lr_images_for_one_hr_and_the_lr_images_left_over_are_named(tmp_path):
    hr, lr = _blank(tmp_path / "HR", "img.png"), _blank(tmp_path / "LR", "img_lr.png", "img_x2.png")
    with pytest.raises(TrainingError, match=r"1 HR image\(s\) of --data .*HR have two or more LR images in --lr-data "
                                            r".*LR \(keep one each\): img\.png: img_lr\.png, img_x2\.png$"):
        match_pairs([hr], [lr], 2)
    hr, lr = _blank(tmp_path / "H2", "a.png"), _blank(tmp_path / "L2", "b_x2.png")
    with pytest.raises(TrainingError, match=r"have no LR image of the same name .*: a\.png; LR images left over: "
                                            r"b_x2\.png$"):
        match_pairs([hr], [lr], 2)


def test_realsrs_one_folder_of_hr_and_lr_images_pairs_by_their_tags(tmp_path, capsys):
    """RealSR keeps Canon_001_HR.png and Canon_001_LR2.png side by side: refused as "the --data
    folder itself", and without --lr-data both were trained on as HR images without a word."""
    folder = make_images(tmp_path / "Canon" / "Train" / "2", 2, 48, seed=8)
    for path in sorted(folder.glob("img*.png")):
        lr = box_down(np.asarray(Image.open(path).convert("RGB")), 2)
        Image.fromarray(lr).save(folder / f"{path.stem}_LR2.png")
        path.rename(folder / f"{path.stem}_HR.png")
    assert [(h.name, low.name) for h, low in match_pairs([folder], [folder], 2)] == [
        ("img0_HR.png", "img0_LR2.png"), ("img1_HR.png", "img1_LR2.png")]
    args = ["train", "--arch", "fsrcnn", "--scale", "2", "--data", str(folder), "--batch", "4", "--patch", "12",
            "--threads", "1", "--iterations", "2", "-q"]
    assert main([*args, "--out", str(tmp_path / "unpaired")]) == 0
    assert ("2 training image(s) have their LR image beside them (by name, e.g. img0_LR2.png): both are trained on "
            "as HR images; to train on the pairs, give the same folder as --lr-data too") in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "paired"), "--lr-data", str(folder)]) == 0
    assert "their LR image beside them" not in capsys.readouterr().err
    untagged = make_images(tmp_path / "plain", 1, 32, seed=9)
    with pytest.raises(TrainingError, match="is the --data folder itself, and none of its images is tagged as an LR "
                                            r"image \(NAME_LR2, NAMEx2, NAME_x2\)"):
        match_pairs([untagged], [untagged], 2)


def test_validation_pairs_are_said_in_validations_words(tmp_path):
    hr, lr = make_pairs(tmp_path, 1, 48, 2, seed=10)
    (lr / "img0x2.png").rename(lr / "other.png")
    with pytest.raises(TrainingError, match=r"1 HR image\(s\) of --val .* have no LR image of the same name in "
                                            r"--val-lr .*: img0\.png; LR images left over: other\.png"):
        ValidationSet(hr, [], 2, parse_degradation("bicubic"), lr_folder=lr)


def test_a_resume_takes_the_validation_folders_it_is_not_given(tmp_path, capsys):
    """`--resume --val V` of a paired run was refused for want of the --val-lr it records."""
    make_pairs(tmp_path, 2, 48, 2, seed=11)
    val_hr, val_lr = make_pairs(tmp_path / "val", 1, 48, 2, seed=12)
    paired = ["--lr-data", str(tmp_path / "LR")]
    assert main(run_args(tmp_path, *paired, "--val", str(val_hr), "--val-lr", str(val_lr), "--iterations", "2")) == 0
    assert main(run_args(tmp_path, *paired, "--val", str(val_hr), "--resume", "--iterations", "3")) == 0
    assert main(run_args(tmp_path, *paired, "--val-lr", str(val_lr), "--resume", "--iterations", "4")) == 0
    capsys.readouterr()
    with safe_open(tmp_path / "run" / "model.safetensors", "pt") as f:
        assert json.loads(f.metadata()["training"])["degradation"] == "paired"
    # a pair changed since: counted as pairs ("8 then, 8 now" of 4 pairs)
    Image.open(tmp_path / "LR" / "img0x2.png").transpose(Image.FLIP_LEFT_RIGHT).save(tmp_path / "LR" / "img0x2.png")
    assert main(run_args(tmp_path, *paired, "--resume", "--iterations", "5")) == 0
    assert "the training images changed since the checkpoint (2 then, 2 now)" in capsys.readouterr().err


def test_pairs_that_lie_off_are_named_with_their_offset(tmp_path, capsys):
    from sr_desktop.engine.compute.pair_offset import offset_words, pair_offset

    hr, lr = make_pairs(tmp_path, 2, 128, 2, seed=13)
    exact = pair_offset(np.asarray(Image.open(hr / "img0.png").convert("RGB")),
                        np.asarray(Image.open(lr / "img0x2.png").convert("RGB")))
    assert max(map(abs, exact)) < 0.2  # (0.08 on such a generated image; 1e-7 on Set5's baby: well under 0.5)
    # img1's LR taken 2 LR px further left and 1 further down of a larger scene: its content lies 2 px right, 1 up
    big = np.asarray(Image.open(make_images(tmp_path / "big", 1, 144, seed=14) / "img0.png").convert("RGB"))
    Image.fromarray(big[8:136, 8:136]).save(hr / "img1.png")
    shifted = box_down(big[10:138, 4:132], 2)
    Image.fromarray(shifted).save(lr / "img1x2.png")
    dx, dy = pair_offset(big[8:136, 8:136], shifted)
    # (phase correlation's sub-pixel estimate runs short on these wave images: 1.7, 0.8; on a photo it is exact)
    assert (round(dx), round(dy)) == (2, -1) and offset_words(dx, dy).endswith(" px right, 0.8 px up")
    assert offset_words(2.04, -0.96) == "2.0 px right, 1.0 px up" and offset_words(-0.3, 0.01) == "0.3 px left"
    assert main(run_args(tmp_path, "--lr-data", str(lr), "--iterations", "2")) == 0
    assert ("1 of 2 training pair(s) lie off by more than half an LR pixel (the LR image's content from the HR "
            f"image's): img1.png: {offset_words(dx, dy)}; --align moves the HR images onto them") in \
        capsys.readouterr().err


def _shifted_scene(scale: int, shift: tuple[int, int]):
    """HR = a window of the bundled photo; LR = the block mean of the window whose content lies
    `shift` HR pixels right and down of it (LR pixel u shows HR pixels u·scale − shift on)."""
    from pathlib import Path

    photo = np.asarray(Image.open(Path(__file__).resolve().parents[1] / "resources" / "sample.jpg").convert("RGB"))
    sx, sy = shift
    side = 240
    return (photo[80:80 + side, 200:200 + side],
            box_down(photo[80 - sy:80 - sy + side, 200 - sx:200 - sx + side], scale))


@pytest.mark.parametrize(("scale", "shift"), [(2, (4, -2)), (3, (-6, 3)), (4, (8, 8))])
def test_align_moves_the_hr_image_onto_its_lr_image_exactly(tmp_path, scale, shift):
    from sr_desktop.engine.compute.pair_offset import alignment_shift, shifted_pair

    hr, lr = _shifted_scene(scale, shift)
    assert not np.array_equal(box_down(hr, scale), lr)
    # (measured again once moved: the first estimate of 2 LR px at ×4 is 1.75, 7 HR px)
    assert alignment_shift(hr, lr, scale)[0] == shift
    hr2, lr2 = shifted_pair(hr, lr, scale, shift)
    assert hr2.shape[:2] == (lr2.shape[0] * scale, lr2.shape[1] * scale) and lr2.shape[0] >= 240 // scale - 3
    np.testing.assert_array_equal(box_down(hr2, scale), lr2)  # no pixel resampled: the block means again


def test_a_run_with_align_trains_on_aligned_patches_and_keeps_it_on_resume(tmp_path, capsys):
    hr_img, lr_img = _shifted_scene(2, (4, -2))
    (tmp_path / "HR").mkdir()
    (tmp_path / "LR").mkdir()
    Image.fromarray(hr_img).save(tmp_path / "HR" / "a.png")
    Image.fromarray(lr_img).save(tmp_path / "LR" / "a.png")
    for align, exact in ((False, False), (True, True)):
        source = PairedPatchSource([tmp_path / "HR"], [tmp_path / "LR"], 2, 8, 1 << 30, align=align)
        lr_batch, hr_batch = source.batch(seed=0, index=0, size=16)
        matches = [np.allclose(lr.permute(1, 2, 0).numpy(),
                               box_down(np.round(hr.permute(1, 2, 0).numpy() * 255).astype(np.uint8), 2) / 255,
                               atol=1e-6) for lr, hr in zip(lr_batch, hr_batch, strict=True)]
        assert all(matches) is exact and (any(matches) is exact or align is False)
    assert main(run_args(tmp_path, "--lr-data", str(tmp_path / "LR"), "--patch", "8", "--iterations", "2",
                         "--align")) == 0
    assert "; aligned (--align" in capsys.readouterr().err
    assert main(run_args(tmp_path, "--lr-data", str(tmp_path / "LR"), "--patch", "8", "--iterations", "3",
                         "--resume")) == 0  # (--align left out: the run's own)
    with safe_open(tmp_path / "run" / "model.safetensors", "pt") as f:
        assert json.loads(f.metadata()["training"])["align"] is True
    with pytest.raises(TrainingError, match="--align moves the HR images of given pairs onto their LR images"):
        TrainOptions(arch="fsrcnn", scale=2, data=(str(tmp_path / "HR"),), out=str(tmp_path / "r2"), align=True)
