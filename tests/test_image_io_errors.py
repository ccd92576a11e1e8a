"""Image I/O failure cases: every bad input is one ImageReadError naming the file; writes are
atomic, never replace the input and never leave partial files."""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
import zlib

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageFile

from sr_desktop.engine.core.errors import ImageReadError, ImageWriteError, OptionError
from sr_desktop.engine.imageio import SaveOptions, read_image, read_image_bytes, write_image
from sr_desktop.engine.imageio import write as image_io
from sr_desktop.engine.imageio.image import Image


def small_rgb(seed=0, shape=(40, 50, 3)):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def save_with_pillow(path, fmt, **params):
    PILImage.fromarray(small_rgb()).save(path, fmt, **params)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def bomb_png(width: int, height: int) -> bytes:
    """A valid-looking PNG header claiming a huge size, with a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def reason_of(path, **kwargs) -> ImageReadError:
    with pytest.raises(ImageReadError) as info:
        read_image(path, **kwargs)
    error = info.value
    assert str(path) in str(error)  # the message names the file
    assert "\n" not in str(error)
    return error


# ----------------------------------------------------------------- reading


def test_missing_file(tmp_path):
    assert reason_of(tmp_path / "nope.png").reason == "file not found"


def test_directory(tmp_path):
    assert "folder" in reason_of(tmp_path).reason


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert reason_of(path).reason == "file is empty"


def test_text_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("hello, this is not a picture\n" * 5)
    assert reason_of(path).reason == "not an image file"


def test_other_image_format_is_named(tmp_path):
    path = save_with_pillow(tmp_path / "a.ico", "ICO")
    assert "unsupported image format ICO" in reason_of(path).reason


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp"),
                                        ("TIFF", ".tif"), ("BMP", ".bmp")])
def test_truncated_files(tmp_path, fmt, suffix):
    whole = save_with_pillow(tmp_path / f"whole{suffix}", fmt).read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    reason = reason_of(path).reason
    assert "truncated or corrupt" in reason


def test_truncated_16bit_png(tmp_path):
    whole = io.BytesIO()
    image_io.encode_png(whole, small_rgb().astype(np.uint16) * 257)
    path = tmp_path / "cut16.png"
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    assert "truncated or corrupt" in reason_of(path).reason


def test_garbage_after_png_signature(tmp_path):
    path = tmp_path / "junk.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert "corrupt" in reason_of(path).reason


def test_decompression_bomb_header_rejected_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(30000, 30000))
    error = reason_of(path)
    assert error.reason == "image is 30000×30000 = 900 MP, above the 200 MP limit"


def test_lowered_pixel_limit(tmp_path):
    path = save_with_pillow(tmp_path / "a.png", "PNG")
    assert "above the 1000 pixels limit" in reason_of(path, max_pixels=1000).reason
    assert read_image(path, max_pixels=2000).pixels.shape == (40, 50, 3)


def test_pillow_bomb_errors_map_to_read_error(tmp_path, monkeypatch):
    path = save_with_pillow(tmp_path / "a.png", "PNG")

    def explode(self):
        raise PILImage.DecompressionBombError("too many pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", explode)
    assert "too large" in reason_of(path).reason


def test_truncated_images_are_not_tolerated_globally():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_read_image_bytes_errors_name_the_source():
    with pytest.raises(ImageReadError, match="<memory>: not an image file"):
        read_image_bytes(b"plain text")
    with pytest.raises(ImageReadError, match="pasted.png: file is empty"):
        read_image_bytes(b"", name="pasted.png")


# ----------------------------------------------------------------- writing


def test_unknown_suffix_and_format(tmp_path):
    image = Image(small_rgb())
    with pytest.raises(ImageWriteError, match=r"unknown output suffix \.ico"):
        write_image(image, tmp_path / "x.ico")
    with pytest.raises(ImageWriteError, match="unknown format 'heic'"):
        write_image(image, tmp_path / "x.png", SaveOptions(format="heic"))
    with pytest.raises(OptionError, match="quality must be 1..100, got 0"):  # the options themselves
        write_image(image, tmp_path / "x.jpg", SaveOptions(quality=0))
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_the_input(tmp_path):
    src = save_with_pillow(tmp_path / "in.png", "PNG")
    before = src.read_bytes()
    image = read_image(src)
    for target in (src, tmp_path / "sub" / ".." / "in.png"):
        with pytest.raises(ImageWriteError, match="refusing to overwrite the input"):
            write_image(image, target, overwrite=True)
    link = tmp_path / "link.png"
    link.symlink_to(src)
    with pytest.raises(ImageWriteError, match="refusing to overwrite the input"):
        write_image(image, link, overwrite=True)
    assert src.read_bytes() == before


def test_refuses_protected_paths(tmp_path):
    other = save_with_pillow(tmp_path / "other.png", "PNG")
    with pytest.raises(ImageWriteError, match="refusing to overwrite an input"):
        write_image(Image(small_rgb(1)), other, overwrite=True, protect=[other])


def test_existing_target_needs_overwrite(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(ImageWriteError, match=r"file exists \(use --overwrite\)"):
        write_image(Image(small_rgb()), target)
    assert target.read_bytes() == b"old"
    write_image(Image(small_rgb()), target, overwrite=True)
    assert read_image(target).pixels.shape == (40, 50, 3)


def test_a_file_replaced_keeps_its_permissions(tmp_path):
    """--overwrite made a private (0600) output world-readable (0644): the new file took the
    umask's mode."""
    target = tmp_path / "private.png"
    target.write_bytes(b"old")
    target.chmod(0o600)
    write_image(Image(small_rgb()), target, overwrite=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and read_image(target).pixels.shape == (40, 50, 3)


def test_target_is_a_folder(tmp_path):
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ImageWriteError, match="is a folder"):
        write_image(Image(small_rgb()), tmp_path / "d.png", overwrite=True)


def test_creates_parent_folders_and_respects_umask(tmp_path):
    out = write_image(Image(small_rgb()), tmp_path / "a" / "b" / "c.png")
    assert out.is_file()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("fmt", ["png", "jpg", "tif"])
def test_failure_mid_write_leaves_nothing(tmp_path, monkeypatch, fmt):
    def failing_png(fh, *args, **kwargs):
        fh.write(b"\x89PNG partial data")
        raise ValueError("encoder blew up")

    def failing_pillow_save(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image_io, "encode_png", failing_png)
    monkeypatch.setattr(image_io, "encode_tiff", failing_png)
    monkeypatch.setattr(PILImage.Image, "save", failing_pillow_save)
    target = tmp_path / f"out.{fmt}"
    with pytest.raises(ImageWriteError) as info:
        write_image(Image(small_rgb()), target)
    assert str(target) in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no target, no temporary file


def test_failure_keeps_the_previous_file(tmp_path, monkeypatch):
    target = write_image(Image(small_rgb(1)), tmp_path / "out.png")
    before = target.read_bytes()

    def failing_png(fh, *args, **kwargs):
        fh.write(b"\x89PNG partial data")
        raise KeyboardInterrupt  # e.g. the user cancels while encoding

    monkeypatch.setattr(image_io, "encode_png", failing_png)
    with pytest.raises(KeyboardInterrupt):
        write_image(Image(small_rgb(2)), target, overwrite=True)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_unwritable_folder_gives_write_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(ImageWriteError, match=f"{blocker} is a file, not a folder"):  # (was: cannot create the folder)
        write_image(Image(small_rgb()), blocker / "out.png")


def test_atomic_files_get_the_users_usual_mode(tmp_path):
    # every output, report and cache is written through atomic_write: not mkstemp's 0600
    from sr_desktop.engine.imageio.atomic import atomic_write

    target = tmp_path / "report.json"
    atomic_write(target, lambda fh: fh.write(b"{}"))
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_bytes() == b"{}" and target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_link_to_a_missing_file_is_not_said_to_be_an_existing_file(tmp_path):
    """`-o link.png`, a link whose file is gone, said "file exists (use --overwrite)"."""
    image = Image(small_rgb())
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "gone.png")
    with pytest.raises(ImageWriteError) as refused:
        write_image(image, link)
    assert str(refused.value) == (f"cannot write {link}: it is a link to {tmp_path / 'gone.png'}, which does not "
                                  "exist (use --overwrite to write the image there)")
    write_image(image, link, overwrite=True)  # written where it points, the link kept
    assert link.is_symlink() and read_image(tmp_path / "gone.png").width == 50


def test_a_name_too_long_leaves_no_empty_folders_behind(tmp_path):
    """`-o new/sub/<300 bytes>.png` made new/sub, then failed to write: the folders stayed,
    empty. The name is refused before any folder is made, a folder's name too."""
    image = Image(small_rgb())
    for target, said in ((tmp_path / "new" / "sub" / ("x" * 300 + ".png"), "(304 bytes; "),
                         (tmp_path / "new" / ("x" * 300) / "a.png", "(a folder's name in it: 300 bytes; ")):
        with pytest.raises(ImageWriteError, match="File name too long") as refused:
            write_image(image, target)
        assert said in str(refused.value) and refused.value.errno == errno.ENAMETOOLONG
    assert list(tmp_path.iterdir()) == []


def test_a_name_too_long_is_a_write_error_and_temp_names_fit(tmp_path):
    from sr_desktop.engine.core.errors import one_line
    from sr_desktop.engine.imageio.atomic import temp_path_for

    image = Image(small_rgb())
    with pytest.raises(ImageWriteError, match="File name too long"):
        write_image(image, tmp_path / ("x" * 300 + ".png"))
    # a 254-byte name of accented letters is legal; its temporary sibling must be too
    legal = tmp_path / ("é" * 125 + ".png")
    assert len(os.fsencode(temp_path_for(legal).name)) <= 255
    write_image(image, legal)
    assert read_image(legal).width == 50
    # what the system refused reads as the file's name and the reason
    with pytest.raises(OSError) as refused:
        (tmp_path / ("y" * 300)).stat()
    assert one_line(refused.value) == f"{'y' * 300}: File name too long"


def test_a_file_another_process_makes_meanwhile_is_not_replaced_without_overwrite(tmp_path, monkeypatch):
    target = tmp_path / "same.png"
    real_encode = image_io._encode

    def encode_while_another_run_finishes(fh, image, fmt, options):
        real_encode(fh, image, fmt, options)
        target.write_bytes(b"the other run's finished output")  # it checked, found none, and wrote

    monkeypatch.setattr(image_io, "_encode", encode_while_another_run_finishes)
    image = Image(np.zeros((4, 4, 3), np.uint8))
    # both runs reported "-> same.png" with exit 0; one image was silently lost
    with pytest.raises(ImageWriteError, match="file exists \\(use --overwrite\\)"):
        write_image(image, target)
    assert target.read_bytes() == b"the other run's finished output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.png"]  # no temp file left
    monkeypatch.setattr(image_io, "_encode", real_encode)
    write_image(image, target, overwrite=True)  # replacing is what --overwrite asks for
    assert target.read_bytes().startswith(b"\x89PNG")


def _gif_with_first_frame_at(width: int, height: int, frame: PILImage.Image, left: int, top: int) -> bytes:
    """A GIF of a `width`×`height` canvas whose only frame is `frame` placed at (left, top)."""
    buffer = io.BytesIO()
    frame.save(buffer, "GIF")
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen: the canvas
    flags = data[10]
    at = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while data[at] == 0x21:  # extensions before the image descriptor
        at += 2
        while data[at]:
            at += data[at] + 1
        at += 1
    assert data[at] == 0x2C
    data[at + 1:at + 5] = struct.pack("<HH", left, top)
    return bytes(data)


def test_a_gif_whose_frame_covers_part_of_its_canvas_is_read(tmp_path):
    rng = np.random.default_rng(3)
    frame = PILImage.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).quantize(16)
    path = tmp_path / "partial.gif"
    path.write_bytes(_gif_with_first_frame_at(32, 24, frame, 4, 4))
    with PILImage.open(path) as im:
        expected = np.asarray(im.convert("RGB"))
    # was refused: "image data is truncated or corrupt (data for 0 of 24 rows)"
    image = read_image(path)
    assert image.pixels.shape == (24, 32, 3)
    assert np.array_equal(image.pixels, expected)


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_an_uncompressed_tiff_stored_on_its_side_is_read_upright(tmp_path, orientation):
    rng = np.random.default_rng(orientation)
    stored = rng.integers(0, 255, (16, 32, 3), dtype=np.uint8)
    raw, lzw = tmp_path / "raw.tif", tmp_path / "lzw.tif"
    PILImage.fromarray(stored).save(raw, tiffinfo={274: orientation})  # no compression: plain strips
    PILImage.fromarray(stored).save(lzw, tiffinfo={274: orientation}, compression="tiff_lzw")
    # the raw one was refused: "image data is truncated or corrupt (data for 16 of 32 rows)"
    upright = read_image(raw).pixels
    assert upright.shape == (32, 16, 3)
    assert np.array_equal(upright, read_image(lzw).pixels)


@pytest.mark.parametrize("suffix, side", [(".jpg", 65501), (".webp", 16384)])
def test_a_result_too_large_for_its_format_is_one_clear_refusal(tmp_path, capfd, suffix, side):
    image = Image(np.zeros((2, side, 3), np.uint8))
    target = tmp_path / f"wide{suffix}"
    # libjpeg printed "Maximum supported image dimension is 65500 pixels", then "broken data stream"
    with pytest.raises(ImageWriteError, match=f"at most {side - 1} pixels a side, the result is {side}×2"):
        write_image(image, target)
    assert capfd.readouterr().err == "" and list(tmp_path.iterdir()) == []


def test_a_tiff_without_resolution_does_not_come_out_at_1_dpi(tmp_path):
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "plain.tif")
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "300.tif", dpi=(300, 300))
    assert "dpi" not in read_image(tmp_path / "plain.tif").info  # Pillow reports (1, 1)
    assert read_image(tmp_path / "300.tif").info["dpi"] == (300.0, 300.0)


def _with_photometric(tiff: bytes, value: int) -> bytes:
    """A little-endian TIFF with its first page's PhotometricInterpretation (262) set to `value`."""
    import struct

    data = bytearray(tiff)
    assert data[:2] == b"II"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        if struct.unpack_from("<H", data, entry)[0] == 262:
            struct.pack_into("<H", data, entry + 8, value)
            return bytes(data)
    raise AssertionError("no PhotometricInterpretation tag")


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # (Pillow's, of the damaged header)
def test_a_float_rgb_tiff_is_named_as_such_not_as_damaged(tmp_path):
    """A valid 32-bit float RGB TIFF (OpenCV writes them) was "truncated or corrupt"; a
    float grey one already said "unsupported pixel format F"."""
    import cv2

    path = tmp_path / "float.tif"
    ok, data = cv2.imencode(".tif", np.random.default_rng(0).random((8, 8, 3)).astype(np.float32))
    assert ok
    path.write_bytes(data.tobytes())
    with pytest.raises(ImageReadError) as refused:
        read_image(path)
    # (OpenCV 5 writes plain 32-bit floats, OpenCV 4 SGILog: both float images, named so)
    assert refused.value.reason in ("unsupported pixel format: 32-bit floating-point samples; 8- and 16-bit "
                                    "unsigned integer images are read",
                                    "unsupported pixel format: LogLuv high-dynamic-range (floating-point) "
                                    "samples; 8- and 16-bit unsigned integer images are read")
    # one Pillow opens itself: a signed grey's negative samples were clipped to 0 without a word
    PILImage.fromarray(np.array([[-5, 300], [7, -70000]], np.int32), mode="I").save(tmp_path / "signed.tif")
    with pytest.raises(ImageReadError, match="32-bit signed integer samples"):
        read_image(tmp_path / "signed.tif")
    PILImage.fromarray(np.ones((4, 4), np.float32), mode="F").save(tmp_path / "grey_float.tif")
    with pytest.raises(ImageReadError, match="32-bit floating-point samples"):
        read_image(tmp_path / "grey_float.tif")
    # OpenCV before 5 writes float TIFFs as SGILog (LogLuv), its samples tagged 16-bit signed:
    # it was named "16-bit signed integer samples"
    logluv = tmp_path / "logluv.tif"
    logluv.write_bytes(_with_photometric(data.tobytes(), 32845))
    with pytest.raises(ImageReadError, match="LogLuv high-dynamic-range \\(floating-point\\) samples"):
        read_image(logluv)
    damaged = tmp_path / "damaged.tif"
    damaged.write_bytes(data.tobytes()[:8] + b"\x00" * 40)  # a header whose tags cannot be read
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image(damaged)


def test_a_png_with_a_large_text_chunk_is_read_and_a_text_bomb_named(tmp_path):
    """A valid PNG with a 1.5-MB compressed comment (an image generator's workflow, say) was
    refused as "truncated or corrupt" (Pillow's 1 MB text limit); one decompressing past 16 MB
    is still refused, with the reason."""
    from PIL import PngImagePlugin

    for name, size in (("large.png", 3 << 19), ("bomb.png", 20 << 20)):
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", "x" * size, zip=True)
        PILImage.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(tmp_path / name, pnginfo=info)
    assert read_image(tmp_path / "large.png").pixels.shape == (8, 8, 3)
    with pytest.raises(ImageReadError, match="decompresses to more than 16 MB"):
        read_image(tmp_path / "bomb.png")


def test_a_complete_png_is_not_inflated_a_second_time(tmp_path, monkeypatch):
    """The check of a header declaring more rows than the data hold inflated every PNG's data
    a second time (23-28 % of reading it); it runs only where data may be missing (a last
    pixel 0, which Pillow leaves there, or an interlaced file), and still finds them."""
    from sr_desktop.engine.imageio import read as reader

    counted = []
    real = reader.missing_rows
    monkeypatch.setattr(reader, "missing_rows", lambda data: counted.append(1) or real(data))
    save_with_pillow(tmp_path / "a.png", "PNG")
    read_image(tmp_path / "a.png")
    assert counted == []
    black_last_pixel = small_rgb()
    black_last_pixel[-1, -1] = 0
    PILImage.fromarray(black_last_pixel).save(tmp_path / "b.png")
    assert np.array_equal(read_image(tmp_path / "b.png").pixels, black_last_pixel) and counted == [1]
