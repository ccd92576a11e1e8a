"""One kernel rule: the GUI's kernel panel, the ZSSR model behind ``upscale --kernel`` and
the evaluation's ``kernel:FILE.npy`` degradation accept and refuse the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sr_desktop.app.kernel_jobs import load_kernel_file as gui_load_kernel
from sr_desktop.cli.main import main
from sr_desktop.engine.core.errors import KernelError, SRDesktopError
from sr_desktop.engine.core.kernel_file import (
    MAX_KERNEL_SIZE,
    as_kernel,
    check_kernel,
    kernel_scale,
    load_kernel_file,
    odd_canvas,
)
from sr_desktop.engine.metrics.degradation import parse_degradation
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.models.zssr import make_zssr_model
from sr_desktop.engine.models.zssr.zssr import bicubic_kernel


def gaussian(n: int = 13, sigma: float = 1.5) -> np.ndarray:
    r = np.arange(n) - n // 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


ACCEPTED = {
    "gaussian.npy": gaussian(),
    "scaled.npy": 3.0 * gaussian(),  # normalised on load
    "bicubic.npy": bicubic_kernel(2),  # negative lobes: 20.5 % of its mass
    "even.npy": np.ones((4, 4)),
    "delta.npy": np.ones((1, 1)),
    "float32.npy": gaussian().astype(np.float32),
    "ints.npy": np.ones((3, 3), dtype=np.int64),
    "large.npy": gaussian(MAX_KERNEL_SIZE, 10.0),
}

REFUSED = {
    # in words, not numpy's ("a kernel must be a 2-D array, got shape (3, 3, 3)", "dtype <U1")
    "cube.npy": (np.ones((3, 3, 3)), "a kernel is a square 2-D array of taps; this one has 3 dimensions \\(3×3×3\\)"),
    "row.npy": (np.ones(9), "this one has 9 values in one row"),
    "text.npy": (np.array(["a", "b"]), "the array holds text; a kernel's taps are real numbers"),
    "rect.npy": (np.ones((3, 5)), "square"),
    "nan.npy": (np.array([[0.5, np.nan], [0.25, 0.25]]), "NaN"),
    "negative.npy": (np.array([[0.7, -0.25], [0.3, 0.25]]), "negative"),
    "zero.npy": (np.zeros((3, 3)), "positive sum"),
    "minus.npy": (-gaussian(), "positive sum"),
    "huge.npy": (np.ones((MAX_KERNEL_SIZE + 2,) * 2), "too large"),
    "complex.npy": (gaussian().astype(np.complex128), "the array holds complex numbers"),
    "bool.npy": (np.ones((3, 3), dtype=bool), "the array holds true/false values"),
    "garbage.npy": (b"not a numpy file at all", "not a readable .npy"),
    "pickled.npy": (np.array([{"a": 1}], dtype=object), "not a readable .npy"),
    "kernel.txt": (b"0.25 0.25 0.25 0.25", "a kernel file is a .npy array"),
}


def _write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content, allow_pickle=True)
    return path


def _through_every_path(path):
    """The kernel as each front end reads it: the GUI's kernel panel, the ZSSR model of
    ``sr-desktop upscale --model zssr --kernel FILE`` and the evaluation's degradation."""
    gui = gui_load_kernel(path)
    zssr = make_zssr_model(2, kernel=str(path), device="cpu").kernel
    evaluation = parse_degradation(f"kernel:{path}").kernel
    return gui, zssr, evaluation


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_every_front_end_accepts_the_same_kernel_the_same_way(tmp_path, name):
    path = _write(tmp_path / name, ACCEPTED[name])
    gui, zssr, evaluation = _through_every_path(path)
    expected = np.asarray(ACCEPTED[name], dtype=np.float64)
    expected = expected / expected.sum()
    for k in (gui, evaluation):
        assert k.dtype == np.float64
        np.testing.assert_allclose(k, expected, rtol=1e-6)
    np.testing.assert_array_equal(zssr, odd_canvas(gui))  # ZSSR's degradation wants an odd canvas
    assert zssr.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_every_front_end_refuses_the_same_kernel_with_the_same_message(tmp_path, name):
    content, message = REFUSED[name]
    path = _write(tmp_path / name, content)
    with pytest.raises(KernelError, match=message) as gui:
        gui_load_kernel(path)
    with pytest.raises(KernelError) as zssr:
        make_zssr_model(2, kernel=str(path), device="cpu")
    with pytest.raises(EvaluationError) as evaluation:
        parse_degradation(f"kernel:{path}")
    assert str(gui.value) == str(zssr.value) == str(evaluation.value)
    assert "\n" not in str(gui.value)


def test_missing_file(tmp_path):
    with pytest.raises(KernelError, match="kernel file not found"):
        load_kernel_file(tmp_path / "absent.npy")
    with pytest.raises(EvaluationError, match="kernel file not found"):
        parse_degradation(f"kernel:{tmp_path / 'absent.npy'}")


def test_the_cli_reports_a_refused_kernel_on_one_line(tmp_path, capsys):
    from PIL import Image as PILImage

    src = tmp_path / "a.png"
    PILImage.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(src)
    bad = _write(tmp_path / "rect.npy", np.ones((3, 5)))
    code = main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "zssr", "--kernel", str(bad),
                 "--quiet"])
    err = capsys.readouterr().err  # refused once, before any file (exit 2: nothing was done)
    assert code == 2 and "rect.npy: a kernel must be square" in err and err.count("\n") == 1
    assert not (tmp_path / "b.png").exists()


def test_every_front_end_refuses_to_write_a_kernel_over_the_input_image(tmp_path, capsys):
    from PIL import Image as PILImage

    from sr_desktop.app.kernel_jobs import save_kernel_files

    src = tmp_path / "photo.png"
    PILImage.fromarray(np.full((96, 96, 3), 90, dtype=np.uint8)).save(src)
    before = src.read_bytes()
    code = main(["kernel", str(src), "-o", str(tmp_path / "k.npy"), "--png", str(src), "--overwrite", "--quiet"])
    assert code != 0 and "refusing to overwrite the input image" in capsys.readouterr().err
    with pytest.raises(KernelError, match="refusing to overwrite the input image"):
        save_kernel_files(gaussian(), tmp_path / "photo.npy", png=True, source=src, replace_png=True)
    assert src.read_bytes() == before
    assert not (tmp_path / "k.npy").exists() and not (tmp_path / "photo.npy").exists()


def test_a_folder_at_a_kernel_name_is_refused_before_the_estimation(tmp_path, capsys, monkeypatch):
    """`kernel -o dir.npy` ran the whole estimation, then failed naming the temporary file."""
    from PIL import Image as PILImage

    from sr_desktop.engine import kernelgan

    src = tmp_path / "photo.png"
    PILImage.fromarray(np.full((64, 64, 3), 90, dtype=np.uint8)).save(src)
    (tmp_path / "dir.npy").mkdir()
    (tmp_path / "dir.png").mkdir()
    monkeypatch.setattr(kernelgan, "estimate_kernel", lambda *a, **k: pytest.fail("estimated before refusing"))
    folders = (["-o", str(tmp_path / "dir.npy")], ["-o", str(tmp_path / "k.npy"), "--png", str(tmp_path / "dir.png")])
    for extra in folders:
        assert main(["kernel", str(src), *extra, "--overwrite", "-q"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith(" is a folder") and ".part" not in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.npy", "dir.png", "photo.png"]


def test_a_folder_the_kernel_cannot_be_written_in_is_refused_before_the_estimation(tmp_path, capsys, monkeypatch):
    """`kernel -o /read-only/k.npy` estimated for minutes, then failed to write the result."""
    from PIL import Image as PILImage

    from sr_desktop.engine import kernelgan
    from sr_desktop.engine.imageio import atomic

    src = tmp_path / "photo.png"
    PILImage.fromarray(np.full((64, 64, 3), 90, dtype=np.uint8)).save(src)
    locked = tmp_path / "locked"
    locked.mkdir()

    def probe(folder):
        if Path(folder) == locked:
            raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic, "probe_writable", probe)
    monkeypatch.setattr(kernelgan, "estimate_kernel", lambda *a, **k: pytest.fail("estimated before refusing"))
    for extra in (["-o", str(locked / "k.npy")], ["-o", str(tmp_path / "k.npy"), "--png", str(locked / "k.png")]):
        assert main(["kernel", str(src), *extra, "-q"]) == 2
        assert capsys.readouterr().err == f"sr-desktop: error: cannot write {extra[-1]}: Permission denied\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked", "photo.png"]



@pytest.mark.parametrize("word", ["estimated", "Estimate", "estimat"])
def test_a_mistyped_estimate_is_said_so_not_taken_for_a_kernel_file(tmp_path, capsys, word):
    """`--kernel estimated` said "estimated: a kernel file must be a .npy array"."""
    from PIL import Image as PILImage

    src = tmp_path / "a.png"
    PILImage.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(src)
    code = main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "map-sr", "--kernel", word])
    assert code == 2 and capsys.readouterr().err == (
        f"sr-desktop: error: --kernel takes a .npy kernel file or the word estimate; '{word}' is neither "
        "(did you mean --kernel estimate?)\n")
    with pytest.raises(KernelError, match=f"^{word}: kernel file not found$"):  # (it was "must be a .npy array")
        load_kernel_file(word)
    # a missing file named so is a missing file, not the word
    code = main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "map-sr", "--kernel", f"{word}.npy"])
    assert code == 2 and capsys.readouterr().err == f"sr-desktop: error: {word}.npy: kernel file not found\n"


def test_check_kernel_rules():
    # KernelGAN's older ringing is accepted unchanged (then normalised)
    ringing = gaussian()
    ringing[6, 0] = ringing[0, 6] = -0.05 * ringing.max()
    np.testing.assert_allclose(check_kernel(ringing), ringing / ringing.sum(), rtol=1e-12)
    assert check_kernel(gaussian() * 1.02).sum() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(KernelError, match="^k: a kernel must be square"):
        check_kernel(np.ones((2, 3)), "k")
    assert as_kernel(gaussian()).shape == (13, 13)
    assert odd_canvas(np.ones((4, 4))).shape == (5, 5) and odd_canvas(np.ones((3, 3))).shape == (3, 3)
    assert kernel_scale(np.ones((17, 17))) == 2 and kernel_scale(np.ones((33, 33))) == 4
    assert issubclass(KernelError, SRDesktopError)


def test_a_kernel_and_its_picture_are_written_both_or_neither(tmp_path, capsys, monkeypatch):
    from PIL import Image as PILImage

    from sr_desktop.engine.kernelgan import kernel_ops

    rng = np.random.default_rng(0)
    src = tmp_path / "photo.png"
    PILImage.fromarray((rng.random((96, 96, 3)) * 255).astype(np.uint8)).save(src)

    def no_room(*_a, **_k):
        raise OSError(28, "No space left on device", str(tmp_path / "k.png"))

    monkeypatch.setattr(kernel_ops, "save_kernel_png", no_room)
    code = main(["kernel", str(src), "-o", str(tmp_path / "k.npy"), "--png", str(tmp_path / "k.png"),
                 "--method", "sharpness", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_a_kernel_of_huge_finite_taps_is_normalised_not_zeroed():
    # the sum of 25 taps of 1e308 overflowed to inf and k / inf made an all-zero kernel
    k = check_kernel(np.full((5, 5), 1e308))
    assert np.allclose(k, 1 / 25) and np.isclose(k.sum(), 1.0)


def test_a_1x1_kernel_gives_the_identity_at_x4():
    # analytic_kernel_x4 cropped [0:-0] and returned an empty array: map-sr degraded with
    # nothing and ZSSR failed after training its ×2 stage
    from sr_desktop.engine.kernelgan.kernel_ops import analytic_kernel_x4

    assert analytic_kernel_x4(np.ones((1, 1))).tolist() == [[1.0]]
    assert analytic_kernel_x4(np.ones((3, 3)) / 9).shape == (5, 5)  # 7×7, one row/column cropped per side


@pytest.mark.parametrize("flag, value", [("--iterations", "100000000000000000000"), ("--iterations", "1000000000"),
                                         ("--batch", "100000000000000000000"), ("--restarts", "100000000000000000000")])
def test_kernel_counts_beyond_their_limits_are_one_line(tmp_path, capsys, flag, value):
    # an OverflowError or a 30 GiB allocation: "unexpected error", exit 3
    from PIL import Image as PILImage

    src = tmp_path / "in.png"
    PILImage.new("RGB", (96, 96), (120, 80, 40)).save(src)
    assert main(["kernel", str(src), "-o", str(tmp_path / "k.npy"), flag, value]) == 2
    top = {"--iterations": 100000, "--batch": 64, "--restarts": 16}[flag]
    assert capsys.readouterr().err.strip() == f"sr-desktop: error: {flag[2:]} must lie in 1..{top}, got {value}"
    # the engine's own limits: the window, ZSSR's estimate and the API get the same line
    from sr_desktop.engine.kernelgan import KernelError, estimate_kernel

    with pytest.raises(KernelError, match=rf"^{flag[2:]} must lie in 1..{top}, got {value}$"):
        estimate_kernel(np.full((48, 48, 3), 0.5), **{flag[2:]: int(value)})


def test_the_cli_notes_what_it_does_not_use(tmp_path, capsys):
    """Said in one line each: a ×4-size kernel used at ×2, KernelGAN's options given to the
    sharpness fit, the frames of an animation after the first (all went without a word)."""
    from PIL import Image as PILImage

    rng = np.random.default_rng(0)
    src = tmp_path / "photo.png"
    PILImage.fromarray((rng.random((96, 96, 3)) * 255).astype(np.uint8)).save(src)
    big = tmp_path / "k4.npy"
    np.save(big, gaussian(33, 3.0))
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "map-sr", "--scale", "2",
                 "--kernel", str(big), "--variant", "tikhonov"]) == 0
    assert ("k4.npy is 33×33, the size of a ×4 kernel; at ×2 it is used as a ×2 kernel, and a ×4 kernel's blur is "
            "twice too wide there: estimate one at ×2 (sr-desktop kernel --scale 2)") in capsys.readouterr().err
    small = tmp_path / "small.png"  # without --scale the model runs ×4: nothing to note
    PILImage.fromarray((rng.random((24, 24, 3)) * 255).astype(np.uint8)).save(small)
    assert main(["upscale", str(small), "-o", str(tmp_path / "out4.png"), "--model", "map-sr",
                 "--kernel", str(big), "--variant", "tikhonov"]) == 0
    assert "note" not in capsys.readouterr().err
    assert main(["kernel", str(src), "-o", str(tmp_path / "k.npy"), "--method", "sharpness", "--iterations", "300",
                 "--prior", "fkp"]) == 0
    assert "--iterations, --prior set KernelGAN's run; --method sharpness does not use them" in capsys.readouterr().err
    broken = tmp_path / "broken.png"  # the file's refusal alone: the note read as its cause
    broken.write_bytes(b"not an image")
    assert main(["kernel", str(broken), "-o", str(tmp_path / "b.npy"), "--method", "sharpness", "--batch", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "note:" not in err and "broken.png" in err
    gif = tmp_path / "anim.gif"
    frames = [PILImage.fromarray((rng.random((96, 96, 3)) * 255).astype(np.uint8)) for _ in range(3)]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    assert main(["kernel", str(gif), "-o", str(tmp_path / "g.npy"), "--method", "sharpness"]) == 0
    assert "anim.gif has 3 frames or pages; the kernel is estimated from the first" in capsys.readouterr().err


def test_a_failed_save_from_the_window_names_the_users_file_not_the_temporary_one(tmp_path, monkeypatch):
    """The window's save (the app layer's) said "cannot save the kernel to
    /…/.k.npy.24808-1ac6aa56.part: Operation not permitted"; the command line named k.npy."""
    from sr_desktop.app.kernel_jobs import save_kernel_files
    from sr_desktop.engine.kernelgan import kernel_ops

    def refused(_kernel, path):
        raise PermissionError(1, "Operation not permitted", str(path.with_name(f".{path.name}.24808-1a.part")))

    monkeypatch.setattr(kernel_ops, "save_kernel_npy", refused)
    with pytest.raises(KernelError) as failed:
        save_kernel_files(np.full((5, 5), 1 / 25), tmp_path / "k.npy", png=False)
    assert str(failed.value) == f"cannot save the kernel to {tmp_path / 'k.npy'}: Operation not permitted"


def test_a_kernel_file_whose_header_declares_a_huge_array_is_refused_before_it_is_read(tmp_path):
    """A 200-byte .npy declaring 2^20 × 2^20 values: numpy allocated 8 TB (the CLI said "not
    enough memory… close other programs", the window's Load kernel printed a traceback)."""
    from sr_desktop.engine.core.errors import KernelError
    from sr_desktop.engine.core.kernel_file import load_kernel_file

    path = tmp_path / "lie.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (2**20, 2**20)})
        fh.write(b"\0" * 64)
    with pytest.raises(KernelError, match="kernel too large"):
        load_kernel_file(path)


def test_a_missing_input_is_named_before_an_existing_output(tmp_path, capsys):
    """`kernel nothere.png -o k.npy` with k.npy there said "k.npy exists (use --overwrite
    to replace it)": --overwrite then gave the real reason."""
    (tmp_path / "k.npy").write_bytes(b"kept")
    code = main(["kernel", str(tmp_path / "nothere.png"), "-o", str(tmp_path / "k.npy")])
    err = capsys.readouterr().err
    assert code == 2 and err == f"sr-desktop: error: cannot read {tmp_path / 'nothere.png'}: file not found\n"
    assert (tmp_path / "k.npy").read_bytes() == b"kept"
