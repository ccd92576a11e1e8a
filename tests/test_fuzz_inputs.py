"""Fuzzing every input the engine reads (issue 18): a seeded generator makes a few hundred
damaged files from small seeds of every format, plus the odd entries a folder can hold.

Each file goes through `sr-desktop upscale` (in-process through the CLI's `main`, and a few
through real subprocesses), then all of them through one `sr-desktop batch`. Checked: no
traceback, exit codes only 0/1, an output only for exit 0 and then decodable in full at
twice the input's size, no temp file left, every error line names its file, every entry in
the batch report.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.core.text import printable
from sr_desktop.engine.imageio import is_temp_path
from sr_desktop.engine.imageio.animation import Animation, read_image_or_animation

# Pillow warns about damaged metadata while decoding; the CLI sends those to its log.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ROOT = Path(__file__).resolve().parents[1]
SEED = 18
MIN_FILES = 300


def _encode(pixels: np.ndarray, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, fmt, **params)
    return buffer.getvalue()


def _animation(fmt: str, **params) -> bytes:
    rng = np.random.default_rng(3)
    frames = [PILImage.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)) for _ in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=[30, 40, 50], **params)
    return buffer.getvalue()


def _seeds() -> dict[str, bytes]:
    """Small valid files of every format and layout the engine reads."""
    rng = np.random.default_rng(SEED)
    rgb = rng.integers(0, 256, (14, 18, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (14, 18, 4), dtype=np.uint8)
    gray16 = rng.integers(0, 65536, (14, 18), dtype=np.uint16)
    return {
        "rgb.png": _encode(rgb, "PNG"),
        "rgba.png": _encode(rgba, "PNG"),
        "gray16.png": _encode(gray16, "PNG"),
        "photo.jpg": _encode(rgb, "JPEG", quality=90),
        "lossy.webp": _encode(rgb, "WEBP", quality=80),
        "lossless.webp": _encode(rgba, "WEBP", lossless=True),
        "raw.tif": _encode(rgb, "TIFF"),
        "deflate.tif": _encode(rgba, "TIFF", compression="tiff_deflate"),
        "pic.bmp": _encode(rgb, "BMP"),
        "still.gif": _encode(rgb, "GIF"),
        "anim.gif": _animation("GIF", loop=0),
        "anim.png": _animation("PNG", loop=0),
        "anim.webp": _animation("WEBP", lossless=True),
        "pages.tif": _animation("TIFF"),
    }


def _mutations(name: str, data: bytes, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """About twenty damaged copies of one seed file."""
    out: list[tuple[str, bytes]] = []
    stem, suffix = name.rsplit(".", 1)
    for i in range(10):  # random byte flips, 1..8 bytes anywhere past the signature
        mutated = bytearray(data)
        for pos in rng.integers(4, len(data), size=int(rng.integers(1, 9))):
            mutated[pos] ^= int(rng.integers(1, 256))
        out.append((f"{stem}_flip{i}.{suffix}", bytes(mutated)))
    for i, cut in enumerate(sorted({int(c) for c in rng.integers(1, len(data), size=7)} | {len(data) // 2})):
        out.append((f"{stem}_cut{i}.{suffix}", data[:cut]))  # truncations at many offsets
    for label, value in (("huge", 0x7FFFFFFF), ("zero", 0), ("neg", 0xFFFFFFFF)):
        out.append((f"{stem}_{label}.{suffix}", _tamper_size(data, value)))
    return out


def _tamper_size(data: bytes, value: int) -> bytes:
    """The declared width/height of a seed set to ``value`` (huge, zero or negative)."""
    d = bytearray(data)
    if d.startswith(b"\x89PNG"):
        d[16:24] = struct.pack(">II", value, value & 0xFFFF)
        d[29:33] = struct.pack(">I", zlib.crc32(bytes(d[12:29])) & 0xFFFFFFFF)  # a valid CRC
    elif d.startswith(b"BM"):
        d[18:26] = struct.pack("<Ii", value & 0xFFFFFFFF, -1 if value == 0xFFFFFFFF else value & 0x7FFFFFFF)
    elif d.startswith(b"GIF"):
        d[6:10] = struct.pack("<HH", value & 0xFFFF, value & 0xFFFF)
    elif d.startswith(b"II*"):
        ifd = struct.unpack("<I", d[4:8])[0]
        for i in range(struct.unpack("<H", d[ifd : ifd + 2])[0]):
            entry = ifd + 2 + 12 * i
            if struct.unpack("<H", d[entry : entry + 2])[0] in (256, 257):
                d[entry + 2 : entry + 12] = struct.pack("<HII", 4, 1, value)
    elif d[:4] == b"RIFF":
        d[4:8] = struct.pack("<I", value)  # RIFF size
    elif d[:2] == b"\xff\xd8" and b"\xff\xc0" in d:
        sof = d.index(b"\xff\xc0")
        d[sof + 5 : sof + 9] = struct.pack(">HH", value & 0xFFFF, value & 0xFFFF)
    return bytes(d)


def _png_chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(body, zlib.crc32(kind)) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _special_files(folder: Path) -> None:
    """Entries no image library makes: not-images, odd shapes, a bomb, links, a FIFO, a folder."""
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.jpg").write_text("just some text\n" * 20)
    (folder / "drawing.png").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    (folder / "one.png").write_bytes(_encode(np.full((1, 1, 3), 7, np.uint8), "PNG"))
    (folder / "strip.png").write_bytes(_encode(np.zeros((1, 20000, 3), np.uint8), "PNG"))
    (folder / "tall.png").write_bytes(_encode(np.zeros((20000, 1), np.uint8), "PNG"))
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    bomb = zlib.compress(b"\x00" * (1 << 20), 9)  # a small stream that would inflate to 30 GB
    (folder / "bomb.png").write_bytes(sig + ihdr + _png_chunk(b"IDAT", bomb) + _png_chunk(b"IEND", b""))
    good = _encode(np.zeros((6, 6, 3), np.uint8), "PNG")
    (folder / "badcrc.png").write_bytes(good[:29] + b"\0\0\0\0" + good[33:])
    (folder / "badlen.png").write_bytes(good[:33] + struct.pack(">I", 0x7FFFFFF0) + good[37:])
    (folder / "x.png").mkdir()
    (folder / "loop1.png").symlink_to("loop2.png")
    (folder / "loop2.png").symlink_to("loop1.png")
    (folder / "dangling.png").symlink_to("missing.png")
    os.mkfifo(folder / "pipe.png")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "in"
    folder.mkdir()
    rng = np.random.default_rng(SEED)
    for name, data in _seeds().items():
        (folder / name).write_bytes(data)
        for mutated_name, mutated in _mutations(name, data, rng):
            (folder / mutated_name).write_bytes(mutated)
    _special_files(folder)
    return folder


def _expected_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of an input the engine reads, None for one it refuses."""
    try:
        item = read_image_or_animation(path)
    except SRDesktopError:
        return None
    return item.width, item.height


def _check_output(path: Path, size: tuple[int, int]) -> None:
    item = read_image_or_animation(path)  # a full decode: raises on a damaged output
    assert (item.width, item.height) == (2 * size[0], 2 * size[1]), path
    if isinstance(item, Animation):
        assert all((f.width, f.height) == (2 * size[0], 2 * size[1]) or not item.is_timed for f in item.frames)


def _no_temp_files(folder: Path) -> None:
    left = [p for p in folder.rglob("*") if is_temp_path(p) or p.name.endswith(".partial")]
    assert not left, left


def test_every_fuzzed_file_through_upscale(corpus: Path, tmp_path: Path, capfd):
    entries = sorted(corpus.iterdir())
    assert len(entries) >= MIN_FILES, len(entries)
    outputs = tmp_path / "out"
    counts = {0: 0, 1: 0}
    for src in entries:
        dst = outputs / (src.name.replace(".", "_") + ".png")
        if src.suffix == ".gif" or src.stem.startswith(("anim", "pages")):
            dst = dst.with_suffix(".tif" if src.suffix == ".tif" else ".gif")
        code = main(["upscale", str(src), "-o", str(dst), "--model", "bicubic", "--scale", "2", "-q"])
        out, err = capfd.readouterr()
        assert code in (0, 1), (src, code, err)
        assert "Traceback" not in err and "Traceback" not in out, (src, err)
        counts[code] += 1
        if code == 0:
            assert err == "", (src, err)
            size = _expected_size(src)
            assert size is not None, f"{src} was upscaled but does not read"
            _check_output(dst, size)
        else:
            assert not dst.exists(), src
            lines = err.splitlines()
            assert len(lines) == 2 and printable(src.name) in lines[0], (src, err)  # the file, the summary
    _no_temp_files(outputs)
    # measured: 74 upscaled, 245 refused of 319 (seed 18); the corpus must exercise both paths
    assert counts[0] >= 70 and counts[1] >= 240, counts


def test_a_few_fuzzed_files_through_real_subprocesses(corpus: Path, tmp_path: Path):
    picks = ["rgb_flip0.png", "deflate_cut3.tif", "bomb.png", "loop1.png", "anim_flip2.gif", "pipe.png"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "sr_desktop", "upscale", *(str(corpus / p) for p in picks),
                        "-o", str(tmp_path / "out"), "--model", "bicubic", "--scale", "2", "-q"],
                       capture_output=True, text=True, env=env, timeout=240)
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr
    failed = [line for line in r.stderr.splitlines() if line.startswith("sr-desktop: error:")]
    for name in ("bomb.png", "loop1.png", "pipe.png"):
        assert any(name in line for line in failed), (name, r.stderr)
    assert all(any(p in line for p in picks) for line in failed), r.stderr
    _no_temp_files(tmp_path / "out")


def test_every_fuzzed_entry_through_one_batch(corpus: Path, tmp_path: Path, capfd):
    report = tmp_path / "report.json"
    code = main(["batch", str(corpus), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2",
                 "--no-progress", "--report", str(report)])
    _, err = capfd.readouterr()
    assert code in (0, 1) and "Traceback" not in err
    files = json.loads(report.read_text())["files"]
    assert sorted(Path(f["input"]).name for f in files) == sorted(p.name for p in corpus.iterdir())
    failed_lines = [line for line in err.splitlines() if line.startswith("sr-desktop: failed: ")]
    assert len(failed_lines) == sum(f["status"] == "failed" for f in files)
    for record in files:
        if record["status"] == "ok":
            size = _expected_size(Path(record["input"]))
            assert size is not None and record["input_size"] == list(size)
            _check_output(Path(record["output"]), size)
        elif record["status"] == "failed":
            assert record["error"] and "\n" not in record["error"]
            assert record["output"] is None or not Path(record["output"]).exists()
            assert any(printable(record["input"]) in line for line in failed_lines)
    _no_temp_files(tmp_path / "out")
