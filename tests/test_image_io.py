"""Image I/O round trips: depth, channels, palette/CMYK/1-bit, EXIF orientation, ICC, EXIF,
quality, resolution, alpha flattening."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from icc_profiles import srgb_icc, swapped_primaries_icc
from PIL import Image as PILImage
from PIL import ImageOps

from sr_desktop.engine.core.errors import ImageWriteError
from sr_desktop.engine.imageio import (
    IMAGE_SUFFIXES,
    SaveOptions,
    format_for_path,
    is_image_path,
    read_image,
    read_image_bytes,
    suffix_for_format,
    write_image,
)
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.imageio.metadata import FileMetadata
from sr_desktop.engine.imageio.png import encode_png
from sr_desktop.engine.imageio.tiff import encode_tiff

cv2 = pytest.importorskip("cv2")

ARTIST = 0x013B
MAKE = 0x010F
ORIENTATION = 0x0112
EXIF_IFD = 0x8769
DATE_ORIGINAL = 0x9003
PIXEL_X, PIXEL_Y = 0xA002, 0xA003


def random_pixels(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=np.int64).astype(dtype)


def exif_block(orientation=1, width=None, height=None) -> bytes:
    exif = PILImage.Exif()
    exif[MAKE] = "TestCam"
    exif[ARTIST] = "Ada Artist"
    exif[ORIENTATION] = orientation
    sub = {DATE_ORIGINAL: "2021:02:03 04:05:06"}
    if width:
        sub[PIXEL_X] = width
        sub[PIXEL_Y] = height
    exif[EXIF_IFD] = sub
    return exif.tobytes()


def load_exif(raw: bytes) -> PILImage.Exif:
    exif = PILImage.Exif()
    exif.load(raw)
    return exif


def to_rgb_order(cv_array):
    if cv_array.ndim == 2:
        return cv_array[:, :, None]
    if cv_array.shape[2] == 3:
        return cv_array[:, :, ::-1]
    return cv_array[:, :, [2, 1, 0, 3]]


# ----------------------------------------------------------------- depth and channels


@pytest.mark.parametrize("fmt", ["png", "tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_tiff_round_trip_is_exact(tmp_path, fmt, dtype, channels):
    pixels = random_pixels((23, 31, channels), dtype)
    out = write_image(Image(pixels), tmp_path / f"x.{fmt}")
    back = read_image(out)
    assert back.pixels.dtype == dtype
    if fmt == "tif" and dtype == np.uint16 and channels == 2:
        # documented: 16-bit gray+alpha TIFF is written as 16-bit RGBA
        assert back.pixels.shape == (23, 31, 4)
        np.testing.assert_array_equal(back.pixels, pixels[:, :, [0, 0, 0, 1]])
    else:
        assert back.pixels.shape == pixels.shape
        np.testing.assert_array_equal(back.pixels, pixels)
    assert back.source_format == ("PNG" if fmt == "png" else "TIFF")
    assert back.path == out


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_tiff_with_associated_alpha_is_read_as_straight_alpha(tmp_path, dtype):
    """ExtraSamples 1: the colour is stored multiplied by alpha. A 16-bit one was refused
    ("16-bit decoders disagree"): OpenCV gives the stored samples, Pillow divides by alpha."""
    top = np.iinfo(dtype).max
    straight = np.zeros((5, 7, 4), np.float64)
    straight[...] = (0.6, 0.3, 0.15, 0.5)
    straight[0, 0] = 0
    straight[1, 1] = (0.6, 0.3, 0.15, 1.0)
    stored = np.rint(np.concatenate([straight[..., :3] * straight[..., 3:], straight[..., 3:]], axis=2) * top)
    buf = io.BytesIO()
    encode_tiff(buf, stored.astype(dtype), level=1)
    unassociated = struct.pack("<HHII", 338, 3, 1, 2)
    assert buf.getvalue().count(unassociated) == 1
    (tmp_path / "a.tif").write_bytes(buf.getvalue().replace(unassociated, struct.pack("<HHII", 338, 3, 1, 1)))
    back = read_image(tmp_path / "a.tif")
    assert back.pixels.dtype == dtype and back.pixels.shape == (5, 7, 4)
    np.testing.assert_allclose(back.pixels / top, straight, atol=2.5 / top)


@pytest.mark.parametrize("ext", [".png", ".tiff"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_our_png_tiff_read_identically_by_opencv(tmp_path, ext, channels):
    pixels = random_pixels((17, 13, channels), np.uint16, seed=3)
    buf = io.BytesIO()
    (encode_png if ext == ".png" else encode_tiff)(buf, pixels)
    decoded = cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(to_rgb_order(decoded), pixels)


@pytest.mark.parametrize("ext", [".png", ".tiff"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_files_written_by_opencv_keep_16_bits(tmp_path, ext, channels):
    pixels = random_pixels((19, 11, channels), np.uint16, seed=4)
    bgr = pixels[:, :, 0] if channels == 1 else to_rgb_order(pixels)  # RGB<->BGR is symmetric
    path = tmp_path / f"cv{ext}"
    assert cv2.imwrite(str(path), bgr)
    back = read_image(path)
    assert back.pixels.dtype == np.uint16
    np.testing.assert_array_equal(back.pixels, pixels)


def test_pillow_16bit_gray_png_and_8bit_la_png(tmp_path):
    gray = random_pixels((9, 12), np.uint16, seed=5)
    PILImage.fromarray(gray).save(tmp_path / "g16.png")
    back = read_image(tmp_path / "g16.png")
    assert back.pixels.dtype == np.uint16 and back.channels == 1
    np.testing.assert_array_equal(back.pixels[:, :, 0], gray)

    la = random_pixels((9, 12, 2), np.uint8, seed=6)
    planes = [PILImage.fromarray(la[:, :, 0]), PILImage.fromarray(la[:, :, 1])]
    PILImage.merge("LA", planes).save(tmp_path / "la.png")
    back = read_image(tmp_path / "la.png")
    assert back.mode == "LA"
    np.testing.assert_array_equal(back.pixels, la)


def test_palette_with_and_without_transparency(tmp_path):
    index = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255]
    im = PILImage.new("P", (3, 2))
    im.putdata(index.ravel().tolist())
    im.putpalette(palette)
    im.save(tmp_path / "opaque.png")
    im.save(tmp_path / "clear.png", transparency=bytes([255, 0, 128]))

    opaque = read_image(tmp_path / "opaque.png")
    assert opaque.mode == "RGB"
    colors = np.array(palette, dtype=np.uint8).reshape(3, 3)
    np.testing.assert_array_equal(opaque.pixels, colors[index])

    clear = read_image(tmp_path / "clear.png")
    assert clear.mode == "RGBA"
    np.testing.assert_array_equal(clear.pixels[:, :, :3], colors[index])
    np.testing.assert_array_equal(clear.pixels[:, :, 3], np.array([255, 0, 128])[index])


def test_rgb_png_with_transparent_colour_gets_alpha(tmp_path):
    pixels = np.array([[[10, 20, 30], [1, 2, 3]]], dtype=np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "t.png", transparency=(1, 2, 3))
    back = read_image(tmp_path / "t.png")
    assert back.mode == "RGBA"
    np.testing.assert_array_equal(back.pixels, [[[10, 20, 30, 255], [1, 2, 3, 0]]])


def test_a_1_bit_png_with_a_transparent_colour_keeps_it(tmp_path):
    """A 1-bit PNG's tRNS (line art on a transparent background) was dropped: opaque, black
    where it was clear. (2- and 4-bit grey come as L from Pillow, which kept it.)"""
    bits = np.array([[True, False, False], [True, True, False]])
    PILImage.fromarray(bits).convert("1").save(tmp_path / "ink.png", transparency=0)
    back = read_image(tmp_path / "ink.png")
    assert back.mode == "LA"
    np.testing.assert_array_equal(back.pixels[:, :, 1], np.where(bits, 255, 0))
    np.testing.assert_array_equal(back.pixels[:, :, 0], np.where(bits, 255, 0))
    PILImage.fromarray(bits).convert("1").save(tmp_path / "plain.png")
    assert read_image(tmp_path / "plain.png").mode == "L"


def test_cmyk_jpeg_becomes_rgb_without_the_cmyk_profile(tmp_path):
    cmyk = np.zeros((16, 32, 4), dtype=np.uint8)
    cmyk[:, :16, 0] = 255  # pure cyan
    cmyk[:, 16:, 3] = 255  # pure black
    PILImage.fromarray(cmyk, mode="CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    back = read_image(tmp_path / "cmyk.jpg")
    assert back.mode == "RGB" and back.pixels.dtype == np.uint8
    assert back.icc_profile is None
    cyan = back.pixels[4:12, 2:14].reshape(-1, 3).mean(axis=0)
    black = back.pixels[4:12, 18:30].reshape(-1, 3).mean(axis=0)
    # measured exact; 1 level for another libjpeg's CMYK decoding
    np.testing.assert_allclose(cyan, [0, 255, 255], atol=1)
    np.testing.assert_allclose(black, [0, 0, 0], atol=1)


@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp"])
def test_one_bit_images_become_gray_0_255(tmp_path, ext):
    bits = (random_pixels((10, 14), np.uint8, seed=7) > 127)
    PILImage.fromarray(bits).convert("1").save(tmp_path / f"b{ext}")
    back = read_image(tmp_path / f"b{ext}")
    assert back.mode == "L"
    np.testing.assert_array_equal(back.pixels[:, :, 0], bits.astype(np.uint8) * 255)


# ----------------------------------------------------------------- EXIF orientation

# Transposition that stores an upright picture so that EXIF orientation N shows it upright.
STORE_FOR_ORIENTATION = {
    2: PILImage.Transpose.FLIP_LEFT_RIGHT,
    3: PILImage.Transpose.ROTATE_180,
    4: PILImage.Transpose.FLIP_TOP_BOTTOM,
    5: PILImage.Transpose.TRANSPOSE,
    6: PILImage.Transpose.ROTATE_90,  # shown with a 90° clockwise turn
    7: PILImage.Transpose.TRANSVERSE,
    8: PILImage.Transpose.ROTATE_270,
}


def stored_for(upright: np.ndarray, orientation: int) -> np.ndarray:
    if orientation == 1:
        return upright
    pil = PILImage.fromarray(upright)
    return np.array(pil.transpose(STORE_FOR_ORIENTATION[orientation]))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_png_applied_and_reset(tmp_path, orientation):
    upright = random_pixels((6, 10, 3), np.uint8, seed=11)
    stored = stored_for(upright, orientation)
    path = tmp_path / f"o{orientation}.png"
    PILImage.fromarray(stored).save(path, exif=exif_block(orientation))
    # the test file itself is right: Pillow's own transpose also gives the upright picture
    with PILImage.open(path) as check:
        np.testing.assert_array_equal(np.array(ImageOps.exif_transpose(check)), upright)

    image = read_image(path)
    np.testing.assert_array_equal(image.pixels, upright)
    assert load_exif(image.exif)[ORIENTATION] == 1
    out = write_image(image, tmp_path / f"w{orientation}.png")
    with PILImage.open(out) as written:
        assert written.getexif()[ORIENTATION] == 1
        assert written.getexif()[ARTIST] == "Ada Artist"
    np.testing.assert_array_equal(read_image(out).pixels, upright)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("orientation", [3, 6, 7])
def test_exif_orientation_png_and_tiff_any_depth(tmp_path, orientation, dtype):
    upright = random_pixels((5, 9, 3), dtype, seed=12)
    stored = np.stack([stored_for(upright[:, :, c], orientation) for c in range(3)], axis=2)
    for name, encoder in (("o.png", encode_png), ("o.tif", encode_tiff)):
        with open(tmp_path / name, "wb") as fh:
            encoder(fh, stored, FileMetadata(exif=exif_block(orientation)))
        image = read_image(tmp_path / name)
        np.testing.assert_array_equal(image.pixels, upright)
        assert load_exif(image.exif).get(ORIENTATION, 1) == 1  # TIFF readers drop the tag


@pytest.mark.parametrize("orientation", [2, 5, 6, 8])
def test_exif_orientation_jpeg(tmp_path, orientation):
    # 8×8 blocks of flat colour survive JPEG almost exactly
    blocks = random_pixels((3, 5, 3), np.uint8, seed=13)
    upright = np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))
    path = tmp_path / "o.jpg"
    PILImage.fromarray(stored_for(upright, orientation)).save(
        path, quality=100, subsampling=0, exif=exif_block(orientation)
    )
    image = read_image(path)
    assert image.pixels.shape == upright.shape
    assert np.abs(image.pixels.astype(int) - upright).max() <= 2  # measured 1; 1 more for other libjpeg
    assert load_exif(image.exif)[ORIENTATION] == 1


def test_a_camera_jpeg_with_a_second_image_is_one_photo(tmp_path):
    """A JPEG carrying a second image in an MPF segment (a Fujifilm's or Nikon's large preview,
    a phone's HDR gain map) is one photo, its first image: Pillow makes it an MPO of 2 frames,
    and it was read as a 2-frame animation (`upscale` to .jpg refused it, to .png wrote an APNG
    whose second frame was the preview)."""
    from sr_desktop.engine.imageio.animation import read_image_or_animation

    blocks = random_pixels((4, 6, 3), np.uint8, seed=3)
    photo = np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))
    path = tmp_path / "DSCF0001.JPG"
    main = PILImage.fromarray(photo)
    main.save(path, format="MPO", save_all=True, append_images=[main.resize((12, 8))], quality=100,
              subsampling=0, exif=exif_block(6))
    assert PILImage.open(path).n_frames == 2  # (what Pillow makes of it)
    read = read_image_or_animation(path)
    assert isinstance(read, Image) and "frames" not in read.info
    assert read.pixels.shape == (48, 32, 3)  # the first image, turned upright (orientation 6)
    assert np.abs(read.pixels.astype(int) - np.rot90(photo, -1)).max() <= 2
    out = tmp_path / "out.jpg"
    write_image(read, out)
    assert PILImage.open(out).format == "JPEG"


def test_a_progressive_jpeg_is_written_progressive_and_a_baseline_one_baseline(tmp_path):
    """A progressive JPEG (a web export's) came back baseline."""
    from sr_desktop.engine.core.options import UpscaleOptions
    from sr_desktop.engine.pipeline.upscale import upscale_file

    pixels = random_pixels((16, 24, 3), np.uint8, seed=5)
    for progressive in (True, False):
        src, out = tmp_path / f"in{progressive}.jpg", tmp_path / f"out{progressive}.jpg"
        PILImage.fromarray(pixels).save(src, quality=90, progressive=progressive)
        upscale_file(src, out, UpscaleOptions(model="bicubic", scale=2))
        with PILImage.open(out) as written:
            assert bool(written.info.get("progressive")) is progressive and written.size == (48, 32)


GPS_XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
           b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
           b'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
           b'exif:GPSLatitude="48,51.5N" exif:GPSLongitude="2,17.8E"><exif:GPSAltitude>35/1</exif:GPSAltitude>'
           b'<dc:creator><rdf:Seq><rdf:li>Ada Artist</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF>'
           b'</x:xmpmeta><?xpacket end="w"?>')


@pytest.mark.parametrize("fmt", ["jpg", "png", "tiff", "webp"])
def test_no_gps_keeps_the_metadata_but_the_position(tmp_path, fmt):
    """The only switch was --no-metadata, which also dropped the date, the camera, the rights
    and the colour profile (a wide-gamut photo's colours then shifted): `drop_gps` erases
    EXIF's GPS data (its bytes too, not only the link) and XMP's GPS properties, and keeps
    the rest."""
    from sr_desktop.engine.imageio.exif import TAG_GPS_IFD

    exif = PILImage.Exif()
    exif[MAKE] = "TestCam"
    exif[EXIF_IFD] = {DATE_ORIGINAL: "2021:02:03 04:05:06"}
    exif[TAG_GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.75), 3: "E", 4: (2.0, 17.0, 48.5), 6: 35.25}
    src = tmp_path / "gps.jpg"
    PILImage.fromarray(random_pixels((16, 24, 3), np.uint8)).save(
        src, exif=exif.tobytes(), xmp=GPS_XMP, icc_profile=swapped_primaries_icc())
    image = read_image(src)
    kept, dropped = tmp_path / f"kept.{fmt}", tmp_path / f"dropped.{fmt}"
    write_image(image, kept, SaveOptions(format=fmt))
    write_image(image, dropped, SaveOptions(format=fmt, drop_gps=True))
    assert load_exif(read_image(kept).exif).get_ifd(TAG_GPS_IFD)[1] == "N"
    out = read_image(dropped)
    written = load_exif(out.exif)
    assert written[MAKE] == "TestCam" and written.get_ifd(EXIF_IFD)[DATE_ORIGINAL] == "2021:02:03 04:05:06"
    assert TAG_GPS_IFD not in written and not written.get_ifd(TAG_GPS_IFD)
    assert out.icc_profile == image.icc_profile
    # the position's bytes are gone, not only unlinked (48°51'29.75": the rational 119/4)
    assert struct.pack("<II", 119, 4) not in out.exif and b"GPS" not in (out.xmp or b"")
    if fmt != "tiff":  # (TIFF writes no XMP of its source here)
        assert b"Ada Artist" in out.xmp


def test_no_gps_leaves_out_every_xmp_gps_property_or_the_packet():
    """A drone's position in its own namespace (DJI's drone-dji:GpsLatitude) and one inside
    Iptc4xmpExt:LocationCreated were written back: only exif:GPS… went. Every property named
    GPS… goes, in any namespace; a packet holding one in a form not edited here (a default
    namespace on the element) is not written; words in a caption stay."""
    from sr_desktop.engine.imageio.xmp import without_gps_xmp

    def packet(body: str, extra_ns: str = "") -> bytes:
        return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
                'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
                f'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"{extra_ns}{body}'
                '</rdf:Description></rdf:RDF></x:xmpmeta>').encode()

    drone = packet(' drone-dji:GpsLatitude="+48.858370" drone-dji:GpsLongtitude="+2.294481" exif:GPSAltitude="35/1">'
                   '<Iptc4xmpExt:LocationCreated><rdf:Bag><rdf:li rdf:parseType="Resource"><Iptc4xmpExt:City>Paris'
                   '</Iptc4xmpExt:City><Iptc4xmpExt:GPSLatitude>48.85</Iptc4xmpExt:GPSLatitude></rdf:li></rdf:Bag>'
                   '</Iptc4xmpExt:LocationCreated><dc:description>gps = on, Paris</dc:description>')
    out = without_gps_xmp(drone).decode()
    assert "48.85" not in out and "2.29" not in out and "GPSAltitude" not in out
    assert "<Iptc4xmpExt:City>Paris</Iptc4xmpExt:City>" in out and "gps = on, Paris" in out
    assert without_gps_xmp(packet('><GPSLatitude xmlns="http://ns.adobe.com/exif/1.0/">48,51N</GPSLatitude>')) is None


def test_no_gps_on_the_command_line(tmp_path):
    """`upscale --no-gps` and `batch --no-gps` (its report says so); the dialogs' box:
    tests/test_gui_batch_dialog.py."""
    from sr_desktop.cli.main import main
    from sr_desktop.engine.imageio.exif import TAG_GPS_IFD

    exif = PILImage.Exif()
    exif[MAKE] = "TestCam"
    exif[TAG_GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.75)}
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "gps.jpg"
    PILImage.fromarray(random_pixels((16, 24, 3), np.uint8)).save(src, exif=exif.tobytes())
    assert main(["upscale", str(src), "-o", str(tmp_path / "a.jpg"), "--model", "bicubic", "--scale", "2",
                 "--no-gps", "-q"]) == 0
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2",
                 "--no-gps", "--report", str(tmp_path / "r.json"), "--no-progress"]) == 0
    for out in (tmp_path / "a.jpg", tmp_path / "out" / "gps_x2_bicubic.jpg"):
        written = load_exif(read_image(out).exif)
        assert written[MAKE] == "TestCam" and TAG_GPS_IFD not in written
    assert json.loads((tmp_path / "r.json").read_text())["options"]["drop_gps"] is True


def test_no_gps_erases_a_big_endian_blocks_gps_in_place():
    """A camera's big-endian EXIF (Nikon, Canon's TIFF-based raws' JPEGs): the GPS entry
    leaves IFD0, the entries after it move up, the GPS directory is zeroed, and the other
    bytes stay where they were."""
    from sr_desktop.engine.imageio.exif import EXIF_PREFIX, without_gps

    def entry(tag, typ, count, value):
        return struct.pack(">HHI", tag, typ, count) + value

    # IFD0 at 8: Make (ASCII, at 60), GPS IFD (at 72), Copyright (ASCII "(c)\0" inline); next IFD 0
    ifd0 = (struct.pack(">H", 3) + entry(0x010F, 2, 8, struct.pack(">I", 60))
            + entry(0x8825, 4, 1, struct.pack(">I", 72))
            + entry(0x8298, 2, 4, b"(c)\0") + struct.pack(">I", 0))
    tiff = bytearray(b"MM\0*" + struct.pack(">I", 8) + ifd0)
    tiff += bytes(60 - len(tiff)) + b"Nikon\0\0\0" + bytes(4)
    gps = struct.pack(">H", 1) + entry(2, 5, 3, struct.pack(">I", 90)) + struct.pack(">I", 0)
    tiff += gps + struct.pack(">6I", 48, 1, 51, 1, 2975, 100)
    out = without_gps(EXIF_PREFIX + bytes(tiff))
    body = out[len(EXIF_PREFIX):]
    assert len(body) == len(tiff) and body[60:68] == b"Nikon\0\0\0"
    assert struct.unpack_from(">H", body, 8)[0] == 2
    assert [struct.unpack_from(">H", body, 10 + 12 * i)[0] for i in range(2)] == [0x010F, 0x8298]
    assert struct.unpack_from(">I", body, 10 + 24)[0] == 0  # (the next-IFD pointer moved up)
    assert body[72:] == bytes(len(body) - 72)
    assert without_gps(EXIF_PREFIX + body) == EXIF_PREFIX + body  # (none left: unchanged)
    # a block that ends at IFD0's last entry (no next-directory pointer) grew by 4 bytes
    short = b"MM\0*" + struct.pack(">I", 8) + struct.pack(">H", 1) + entry(0x8825, 4, 1, struct.pack(">I", 10**6))
    assert without_gps(EXIF_PREFIX + short) == EXIF_PREFIX + short[:8] + bytes(2 + 12)


def _adobe_rgb_exif(index: bytes = b"R03\0") -> bytes:
    """A camera's EXIF stating Adobe RGB the DCF way: ColorSpace uncalibrated (0xFFFF) and the
    interoperability index R03, no profile."""
    def entry(tag, typ, count, value):
        return struct.pack("<HHI", tag, typ, count) + value

    ifd0 = struct.pack("<H", 1) + entry(0x8769, 4, 1, struct.pack("<I", 26)) + struct.pack("<I", 0)
    exif = (struct.pack("<H", 2) + entry(0xA001, 3, 1, struct.pack("<HH", 0xFFFF, 0))
            + entry(0xA005, 4, 1, struct.pack("<I", 56)) + struct.pack("<I", 0))
    interop = struct.pack("<H", 1) + entry(0x0001, 2, 4, index) + struct.pack("<I", 0)
    return b"Exif\0\0II*\0" + struct.pack("<I", 8) + ifd0 + exif + interop


def test_a_camera_jpeg_in_adobe_rgb_stated_by_its_exif_gets_an_adobe_rgb_profile(tmp_path):
    """Cameras set to Adobe RGB write no profile, only EXIF's ColorSpace "uncalibrated" and
    the index R03: such a photo was shown and converted as sRGB, its colours dulled (Adobe
    RGB (200, 40, 40) shown as sRGB (200, 40, 40), where it is (233, 35, 35)). It gets an
    Adobe RGB profile, shown converted and written with the result; R98 (sRGB) gets none."""
    from PIL import ImageCms

    pixels = np.full((8, 8, 3), (200, 40, 40), np.uint8)
    adobe, srgb = tmp_path / "adobe.jpg", tmp_path / "srgb.jpg"
    PILImage.fromarray(pixels).save(adobe, exif=_adobe_rgb_exif(), quality=100, subsampling=0)
    PILImage.fromarray(pixels).save(srgb, exif=_adobe_rgb_exif(b"R98\0"), quality=100, subsampling=0)
    assert read_image(srgb).icc_profile is None
    image = read_image(adobe)
    profile = ImageCms.ImageCmsProfile(io.BytesIO(image.icc_profile))
    assert ImageCms.getProfileDescription(profile).startswith("Adobe RGB (1998)")
    shown = np.array(ImageCms.profileToProfile(PILImage.fromarray(image.pixels), profile,
                                               ImageCms.createProfile("sRGB")))[4, 4]
    assert np.abs(shown.astype(int) - (233, 35, 35)).max() <= 2  # (the colour science's value: 232.7, 35.1, 35.1)
    out = tmp_path / "out.png"
    write_image(image, out, SaveOptions())
    assert read_image(out).icc_profile == image.icc_profile


def _gps_block(endian: str, gps_entries: list[tuple[int, int]], lat_at: int | None = None,
               next_pointer: bool = True) -> tuple[bytes, int]:
    """An EXIF block: IFD0 with Make ("Canon") and the GPS pointer entries `gps_entries`
    ((type, offset): None offset = the GPS directory's place), a GPS directory whose latitude
    (3 rationals) lies at `lat_at` (None: after it). (block, where the GPS directory is)."""
    def entry(tag, typ, count, value):
        return struct.pack(endian + "HHI", tag, typ, count) + value

    count = 1 + len(gps_entries)
    make_at = 8 + 2 + 12 * count + (4 if next_pointer else 0)
    gps_at = make_at + 8
    lat_at = gps_at + 2 + 12 * 2 + 4 if lat_at is None else lat_at

    def pointer(typ, offset):
        offset = gps_at if offset is None else offset
        return struct.pack(endian + "HH", offset, 0) if typ == 3 else struct.pack(endian + "I", offset)

    ifd0 = (struct.pack(endian + "H", count) + entry(0x010F, 2, 6, struct.pack(endian + "I", make_at))
            + b"".join(entry(0x8825, typ, 1, pointer(typ, offset)) for typ, offset in gps_entries)
            + (struct.pack(endian + "I", 0) if next_pointer else b""))
    gps = (struct.pack(endian + "H", 2) + entry(1, 2, 2, b"N\0\0\0") + entry(2, 5, 3, struct.pack(endian + "I", lat_at))
           + struct.pack(endian + "I", 0) + struct.pack(endian + "6I", 48, 1, 51, 1, 2975, 100))
    header = (b"II*\0" if endian == "<" else b"MM\0*") + struct.pack(endian + "I", 8)
    return b"Exif\0\0" + header + ifd0 + b"Canon\0\0\0" + gps, gps_at


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize(("case", "gps_entries", "lat_at", "next_pointer"), [
    ("listed twice", [(4, 10**6), (4, None)], None, True),  # (only the first was removed: readers found the second)
    ("a SHORT pointer", [(3, None)], None, True),  # (unlinked, its bytes left)
    ("beyond the block", [(4, 10**6)], None, True),  # (the whole block was dropped, camera and date with it)
    ("pointing at IFD0", [(4, 8)], None, True),  # (IFD0's values were zeroed: the camera's name)
    ("a value in the camera's name", [(4, None)], "make", True),
])
def test_no_gps_removes_every_gps_pointer_and_nothing_else(endian, case, gps_entries, lat_at, next_pointer):
    from sr_desktop.engine.imageio.exif import EXIF_PREFIX, TAG_GPS_IFD, without_gps

    make_at = 8 + 2 + 12 * (1 + len(gps_entries)) + (4 if next_pointer else 0)
    raw, gps_at = _gps_block(endian, gps_entries, make_at if lat_at == "make" else None, next_pointer)
    out = without_gps(raw)
    assert out is not None and len(out) == len(raw), case
    exif = load_exif(out[len(EXIF_PREFIX):])
    assert exif[MAKE] == "Canon" and TAG_GPS_IFD not in exif and not exif.get_ifd(TAG_GPS_IFD), case
    if lat_at is None and any(offset is None for _typ, offset in gps_entries):
        # a real GPS directory: it and its latitude zeroed, to the block's end
        assert out[len(EXIF_PREFIX) + gps_at:] == bytes(len(raw) - len(EXIF_PREFIX) - gps_at), case


def _camera_exif(orientation: int, thumbnail: bytes) -> bytes:
    """A camera's EXIF: orientation, X/Y resolution 300/150 (RATIONALs) in IFD0, and a JPEG
    thumbnail in IFD1, stored in the orientation of the pixels (as cameras do)."""
    import struct

    def ifd(entries, following):
        return (struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHI", *e[:3]) + e[3] for e in entries)
                + struct.pack("<I", following))

    ifd0_size = 2 + 3 * 12 + 4
    rationals = 8 + ifd0_size
    ifd1 = rationals + 16
    thumb = ifd1 + 2 + 2 * 12 + 4
    ifd0 = ifd([(0x0112, 3, 1, struct.pack("<HH", orientation, 0)), (0x011A, 5, 1, struct.pack("<I", rationals)),
                (0x011B, 5, 1, struct.pack("<I", rationals + 8))], ifd1)
    tiff = (b"II*\0" + struct.pack("<I", 8) + ifd0 + struct.pack("<IIII", 300, 1, 150, 1)
            + ifd([(0x0201, 4, 1, struct.pack("<I", thumb)), (0x0202, 4, 1, struct.pack("<I", len(thumbnail)))], 0)
            + thumbnail)
    return b"Exif\0\0" + tiff


@pytest.mark.parametrize("orientation, turned", [(1, False), (3, False), (6, True), (8, True), (9, False)])
def test_turning_a_photo_upright_drops_its_sideways_thumbnail_and_turns_its_resolution(tmp_path, orientation,
                                                                                       turned):
    """The thumbnail (IFD1) stayed in the stored orientation while the tag said upright: a
    portrait photo's thumbnail showed sideways; a quarter turn kept EXIF's X/Y resolution."""
    from PIL import ExifTags

    small = io.BytesIO()
    PILImage.new("RGB", (12, 20), (90, 30, 10)).save(small, "JPEG")
    path = tmp_path / "camera.jpg"
    PILImage.new("RGB", (24, 40), (200, 120, 40)).save(path, quality=95,
                                                       exif=_camera_exif(orientation, small.getvalue()))
    image = read_image(path)
    exif = PILImage.Exif()
    exif.load(image.exif)
    assert exif[ORIENTATION] == 1
    # kept only where it is still right (9 is no orientation: the reader leaves the pixels)
    assert bool(exif.get_ifd(ExifTags.IFD.IFD1)) is (orientation in (1, 9))
    assert (float(exif[282]), float(exif[283])) == ((150.0, 300.0) if turned else (300.0, 150.0))
    write_image(image, tmp_path / "out.jpg")
    with PILImage.open(tmp_path / "out.jpg") as written:
        again = written.getexif()
        assert (float(again[282]), float(again[283])) == (float(exif[282]), float(exif[283]))



def test_a_turned_photos_exif_without_a_next_directory_pointer_is_kept():
    """A block ending right after IFD0's entries: unlinking IFD1 wrote past its end, and the
    whole block (camera, GPS, dates) was dropped for every turned photo."""
    import struct

    from sr_desktop.engine.imageio.exif import patch_exif

    tiff = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0)
    patched = patch_exif(b"Exif\0\0" + tiff)
    assert patched is not None
    exif = PILImage.Exif()
    with pytest.warns(UserWarning, match="Corrupt EXIF"):  # Pillow wants the pointer too; the tags read
        exif.load(patched)
    assert exif[ORIENTATION] == 1


# ----------------------------------------------------------------- ICC, EXIF, dpi


@pytest.mark.parametrize("fmt", ["png", "jpg", "webp", "tif"])
def test_icc_profile_and_exif_survive_read_write_read(tmp_path, fmt):
    icc = srgb_icc()
    src = tmp_path / "src.png"
    PILImage.fromarray(random_pixels((12, 16, 3), np.uint8, seed=14)).save(
        src, icc_profile=icc, exif=exif_block(width=16, height=12)
    )
    image = read_image(src)
    assert image.icc_profile == icc

    bigger = image.with_pixels(np.repeat(np.repeat(image.pixels, 2, axis=0), 2, axis=1))
    out = write_image(bigger, tmp_path / f"out.{fmt}")
    back = read_image(out)
    assert back.icc_profile == icc
    exif = load_exif(back.exif)
    assert exif[ARTIST] == "Ada Artist" and exif[MAKE] == "TestCam"
    assert exif.get_ifd(EXIF_IFD)[DATE_ORIGINAL] == "2021:02:03 04:05:06"
    # pixel dimensions follow the written pixels
    assert exif.get_ifd(EXIF_IFD)[PIXEL_X] == 32 and exif.get_ifd(EXIF_IFD)[PIXEL_Y] == 24


def test_16bit_png_keeps_icc_exif_and_dpi(tmp_path):
    icc = srgb_icc()
    image = Image(random_pixels((8, 9, 4), np.uint16, seed=15), icc_profile=icc,
                  exif=exif_block(), info={"dpi": (300.0, 300.0)})
    for name in ("a.png", "a.tif"):
        back = read_image(write_image(image, tmp_path / name))
        np.testing.assert_array_equal(back.pixels, image.pixels)
        assert back.icc_profile == icc
        assert load_exif(back.exif)[ARTIST] == "Ada Artist"
        assert back.info["dpi"] == (300.0, 300.0)


def _png_with_chunks(path, pixels, chunks: list[tuple[bytes, bytes]]):
    """A PNG of `pixels` with the extra chunks put before its image data."""
    import struct
    import zlib

    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, "PNG")
    data = buffer.getvalue()
    at = data.index(b"IDAT") - 4
    extra = b"".join(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
                     for kind, body in chunks)
    path.write_bytes(data[:at] + extra + data[at:])
    return path


def test_a_png_keeps_its_gamma_and_chromaticity(tmp_path):
    """gAMA and cHRM say how a PNG without a profile is seen: a linear (gamma 1.0) image
    written without them was shown far darker by viewers that honour them."""
    import struct

    chroma = (0.3127, 0.329, 0.64, 0.33, 0.3, 0.6, 0.15, 0.06)
    src = _png_with_chunks(tmp_path / "linear.png", random_pixels((8, 9, 3), np.uint8), [
        (b"gAMA", struct.pack(">I", 100000)), (b"cHRM", struct.pack(">8I", *(round(v * 1e5) for v in chroma)))])
    image = read_image(src)
    assert image.info["gamma"] == 1.0 and image.info["chromaticity"] == pytest.approx(chroma)
    with PILImage.open(write_image(image, tmp_path / "out.png")) as back:
        assert back.info["gamma"] == 1.0 and back.info["chromaticity"] == pytest.approx(chroma)
    # with the sRGB chunk (or a profile) the gamma says nothing more: not carried
    srgb = _png_with_chunks(tmp_path / "srgb.png", random_pixels((8, 9, 3), np.uint8), [
        (b"sRGB", b"\x00"), (b"gAMA", struct.pack(">I", 45455))])
    assert "gamma" not in read_image(srgb).info
    write_image(image, tmp_path / "out.jpg")  # a format without the chunks: written without them


def _iptc_records() -> bytes:
    import struct

    def record(dataset: int, text: str) -> bytes:
        data = text.encode("utf-8")
        return bytes([0x1C, 2, dataset]) + struct.pack(">H", len(data)) + data

    return record(80, "Ada Lovelace") + record(116, "© 2026 Ada") + record(120, "A caption, two words")


def test_iptc_records_survive_jpeg_and_tiff(tmp_path):
    """Caption, creator and copyright in IPTC-IIM (a Photoshop APP13 resource in a JPEG, tag
    33723 in a TIFF) were dropped from every output."""
    import struct

    records = _iptc_records()
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(records)) + records + b"\x00" * (len(records) % 2)
    thumbnail = b"8BIM\x04\x0c\x00\x00" + struct.pack(">I", 4) + b"old!"  # not carried
    payload = b"Photoshop 3.0\x00" + thumbnail + resource
    app13 = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    PILImage.fromarray(random_pixels((8, 9, 3), np.uint8)).save(tmp_path / "in.jpg", extra=app13)
    image = read_image(tmp_path / "in.jpg")
    assert image.info["iptc"] == records
    for name in ("out.jpg", "out.tif"):
        back = read_image(write_image(image, tmp_path / name))
        assert back.info["iptc"] == records, name
    with PILImage.open(tmp_path / "out.jpg") as written:
        assert set(written.info["photoshop"]) == {0x0404}  # the records only, no old thumbnail
    assert "iptc" not in read_image(write_image(image, tmp_path / "out.png")).info  # no place in a PNG
    stripped = write_image(image, tmp_path / "bare.jpg", SaveOptions(keep_metadata=False), overwrite=True)
    assert "iptc" not in read_image(stripped).info  # --no-metadata


def test_iptc_records_of_a_tiff_tag_typed_long_are_read(tmp_path):
    """Photoshop types tag 33723 LONG: Pillow's value of it kept one number (its tag table
    says one), and the records were dropped."""
    import struct

    records = _iptc_records()
    data = records + b"\0" * (-len(records) % 4)
    pixels = bytes(4)
    entries = [(256, 3, 1, struct.pack("<HH", 2, 0)), (257, 3, 1, struct.pack("<HH", 2, 0)),
               (258, 3, 1, struct.pack("<HH", 8, 0)), (259, 3, 1, struct.pack("<HH", 1, 0)),
               (262, 3, 1, struct.pack("<HH", 1, 0)), (273, 4, 1, None), (277, 3, 1, struct.pack("<HH", 1, 0)),
               (279, 4, 1, struct.pack("<I", len(pixels))), (33723, 4, len(data) // 4, None)]
    start = 8 + 2 + 12 * len(entries) + 4  # the IPTC bytes, then the pixels, after the directory
    values = {273: struct.pack("<I", start + len(data)), 33723: struct.pack("<I", start)}
    directory = b"".join(struct.pack("<HHI", tag, kind, count) + (value or values[tag])
                         for tag, kind, count, value in entries)
    path = tmp_path / "long.tif"
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries)) + directory
                     + b"\0\0\0\0" + data + pixels)
    assert read_image(path).info["iptc"] == records


def test_iptc_records_are_cut_at_their_last_whole_record():
    from sr_desktop.engine.imageio.iptc import _whole_records

    records = _iptc_records()
    assert _whole_records(records + b"\x00\x00\x00") == records  # LONG padding of a TIFF tag
    assert _whole_records(records + records[:7]) == records  # a cut record after whole ones
    assert _whole_records(b"\x00" + records) is None and _whole_records(b"") is None


def test_a_jpeg_without_a_stated_resolution_gets_none(tmp_path):
    """Pillow says 72 dpi for a JPEG whose EXIF has no resolution (and JFIF no unit); that
    72 was written into the output as if the file had said it."""
    exif = PILImage.Exif()
    exif[MAKE] = "TestCam"
    PILImage.fromarray(random_pixels((8, 8, 3), np.uint8)).save(tmp_path / "n.jpg", exif=exif.tobytes())
    assert "dpi" not in read_image(tmp_path / "n.jpg").info
    PILImage.fromarray(random_pixels((8, 8, 3), np.uint8)).save(tmp_path / "d.jpg", dpi=(300, 300))
    assert read_image(tmp_path / "d.jpg").info["dpi"] == (300.0, 300.0)
    exif[0x0128], exif[0x011A], exif[0x011B] = 2, 200.0, 200.0
    PILImage.fromarray(random_pixels((8, 8, 3), np.uint8)).save(tmp_path / "e.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "e.jpg").info["dpi"] == (200.0, 200.0)
    from PIL import TiffImagePlugin

    exif[0x011A] = exif[0x011B] = TiffImagePlugin.IFDRational(0, 0)  # a resolution of 0/0: none stated
    PILImage.fromarray(random_pixels((8, 8, 3), np.uint8)).save(tmp_path / "z.jpg", exif=exif.tobytes())
    assert "dpi" not in read_image(tmp_path / "z.jpg").info


def test_keep_metadata_false_writes_none(tmp_path):
    image = Image(random_pixels((8, 9, 3), np.uint8), icc_profile=srgb_icc(),
                  exif=exif_block(), info={"dpi": (300.0, 300.0)})
    for name in ("a.png", "a.jpg", "a.tif"):
        back = read_image(write_image(image, tmp_path / name, SaveOptions(keep_metadata=False)))
        assert back.icc_profile is None and back.exif is None


@pytest.mark.parametrize("name,dtype", [("g.jpg", np.uint8), ("g.png", np.uint8), ("g.png", np.uint16),
                                        ("g.tif", np.uint8)])
def test_grey_images_with_a_profile_are_read(tmp_path, name, dtype):
    """Grey files carrying an ICC profile (Photoshop's grey JPEGs do) were refused as
    "truncated or corrupt": the reader asked a 2-D array for its third axis."""
    value = 77 if dtype == np.uint8 else 30000
    PILImage.fromarray(np.full((12, 16), value, dtype)).save(tmp_path / name, icc_profile=srgb_icc())
    image = read_image(tmp_path / name)
    assert image.pixels.shape == (12, 16, 1) and image.pixels.dtype == dtype
    assert int(image.pixels.min()) == int(image.pixels.max()) == value


def _with_trns(png: bytes, value: bytes) -> bytes:
    import struct
    import zlib

    at = png.index(b"IDAT") - 4
    return png[:at] + struct.pack(">I", len(value)) + b"tRNS" + value + \
        struct.pack(">I", zlib.crc32(b"tRNS" + value)) + png[at:]


def test_16bit_pngs_with_a_transparent_colour_keep_it_as_alpha(tmp_path):
    """A 16-bit grey or RGB PNG whose tRNS names one transparent colour: read with a 16-bit
    alpha plane (it was dropped: the transparent pixels came out opaque black)."""
    import cv2

    grey = np.full((6, 8), 40000, np.uint16)
    grey[:, :3] = 0
    PILImage.fromarray(grey).save(tmp_path / "g.png", transparency=0)
    back = read_image(tmp_path / "g.png")
    assert back.pixels.shape == (6, 8, 2) and back.pixels.dtype == np.uint16
    assert back.pixels[0, 0].tolist() == [0, 0] and back.pixels[0, 5].tolist() == [40000, 65535]

    rgb = np.full((6, 8, 3), (1000, 30001, 60003), np.uint16)
    rgb[:, :3] = 0
    ok, png = cv2.imencode(".png", rgb[:, :, ::-1])
    assert ok
    (tmp_path / "c.png").write_bytes(_with_trns(png.tobytes(), bytes(6)))
    back = read_image(tmp_path / "c.png")
    assert back.pixels.shape == (6, 8, 4) and back.pixels.dtype == np.uint16
    assert back.pixels[0, 0].tolist() == [0, 0, 0, 0]
    assert back.pixels[0, 5].tolist() == [1000, 30001, 60003, 65535]
    again = read_image(write_image(back, tmp_path / "again.png"))
    np.testing.assert_array_equal(again.pixels, back.pixels)


@pytest.mark.parametrize("fmt", ["bmp", "gif"])
def test_a_profile_the_format_cannot_hold_is_applied_to_the_colours(tmp_path, fmt):
    """GIF and BMP have no place for a profile: it was dropped and the stored values written
    as they were (an Adobe RGB green 139 levels off). The colours are converted to sRGB."""
    image = Image(np.full((6, 8, 3), (255, 0, 0), np.uint8), icc_profile=swapped_primaries_icc())
    out = write_image(image, tmp_path / f"x.{fmt}")
    with PILImage.open(out) as written:
        assert written.convert("RGB").getpixel((3, 2)) == (0, 255, 0)
    kept = write_image(image, tmp_path / "x.png")  # a PNG carries the profile: values as they are
    assert read_image(kept).icc_profile == image.icc_profile and read_image(kept).pixels[0, 0].tolist() == [255, 0, 0]
    plain = write_image(image, tmp_path / f"plain.{fmt}", SaveOptions(keep_metadata=False))  # asked to drop it
    with PILImage.open(plain) as written:
        assert written.convert("RGB").getpixel((3, 2)) == (255, 0, 0)


def test_rgb_profile_is_not_written_with_gray_pixels(tmp_path):
    image = Image(random_pixels((8, 9, 1), np.uint8), icc_profile=srgb_icc())
    back = read_image(write_image(image, tmp_path / "g.png"))
    assert back.icc_profile is None and back.mode == "L"


# ----------------------------------------------------------------- lossy formats


def test_quality_changes_jpeg_and_webp_size(tmp_path):
    y, x = np.mgrid[0:96, 0:128]
    smooth = np.stack([x * 2, y * 2, (x + y)], axis=2).astype(np.uint8)
    noisy = np.clip(smooth + random_pixels(smooth.shape, np.uint8, seed=16) // 8, 0, 255)
    image = Image(noisy.astype(np.uint8))
    for fmt in ("jpg", "webp"):
        low = write_image(image, tmp_path / f"q50.{fmt}", SaveOptions(quality=50))
        high = write_image(image, tmp_path / f"q95.{fmt}", SaveOptions(quality=95))
        assert low.stat().st_size < high.stat().st_size


def test_webp_quality_100_is_lossless_with_alpha(tmp_path):
    pixels = random_pixels((20, 24, 4), np.uint8, seed=17)
    back = read_image(write_image(Image(pixels), tmp_path / "l.webp", SaveOptions(quality=100)))
    np.testing.assert_array_equal(back.pixels, pixels)


def test_jpeg_flattens_alpha_on_white_and_keeps_gray(tmp_path):
    pixels = np.zeros((16, 16, 4), dtype=np.uint8)
    pixels[:, :8] = [0, 0, 255, 255]  # opaque blue
    pixels[:, 8:] = [0, 0, 255, 0]  # fully transparent
    back = read_image(write_image(Image(pixels), tmp_path / "a.jpg", SaveOptions(quality=100)))
    assert back.mode == "RGB"
    # measured 1.0 and 0 levels; 1 more for another libjpeg
    np.testing.assert_allclose(back.pixels[4:12, 1:6].reshape(-1, 3).mean(0), [0, 0, 255], atol=2)
    np.testing.assert_allclose(back.pixels[4:12, 10:15].reshape(-1, 3).mean(0), [255] * 3, atol=1)

    gray = Image(random_pixels((16, 16, 2), np.uint8))
    assert read_image(write_image(gray, tmp_path / "g.jpg")).mode == "L"


def test_16bit_to_8bit_rounds(tmp_path):
    values = np.array([[0, 128, 129, 257 * 7, 257 * 7 + 128, 257 * 7 + 129, 65535]], np.uint16)
    back = read_image(write_image(Image(values), tmp_path / "r.bmp"))
    assert back.pixels.dtype == np.uint8 and back.mode == "L"
    np.testing.assert_array_equal(back.pixels[0, :, 0], [0, 0, 1, 7, 7, 8, 255])


def test_bmp_rgb_round_trip_and_alpha_flattened(tmp_path):
    rgb = random_pixels((7, 9, 3), np.uint8, seed=18)
    np.testing.assert_array_equal(read_image(write_image(Image(rgb), tmp_path / "a.bmp")).pixels, rgb)
    rgba = np.dstack([rgb, np.zeros((7, 9), np.uint8)])
    back = read_image(write_image(Image(rgba), tmp_path / "b.bmp"))
    assert back.mode == "RGB" and (back.pixels == 255).all()


def test_webp_gray_written_as_rgb(tmp_path):
    gray = random_pixels((8, 8, 1), np.uint8)
    back = read_image(write_image(Image(gray), tmp_path / "g.webp", SaveOptions(quality=100)))
    np.testing.assert_array_equal(back.pixels, np.repeat(gray, 3, axis=2))


# ----------------------------------------------------------------- helpers


def test_format_helpers():
    assert suffix_for_format("jpeg") == ".jpg" and suffix_for_format("TIFF") == ".tif"
    assert suffix_for_format("png") == ".png" and suffix_for_format("webp") == ".webp"
    assert format_for_path("a/B.JPEG") == "jpg" and format_for_path("x.tif") == "tiff"
    with pytest.raises(ImageWriteError, match=r"\.png, \.jpg"):
        format_for_path("x.ico")
    with pytest.raises(ImageWriteError, match="supported: png, jpg"):
        suffix_for_format("ico")
    assert format_for_path("x.GIF") == "gif" and suffix_for_format("gif") == ".gif"
    assert is_image_path("photo.JPG") and not is_image_path("notes.txt")
    assert {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"} <= IMAGE_SUFFIXES


def test_format_option_overrides_suffix(tmp_path):
    out = write_image(Image(random_pixels((4, 4, 3), np.uint8)), tmp_path / "x.png",
                      SaveOptions(format="jpeg"))
    assert read_image(out).source_format == "JPEG"


def test_read_image_bytes(tmp_path):
    pixels = random_pixels((5, 6, 3), np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, "PNG")
    image = read_image_bytes(buf.getvalue())
    np.testing.assert_array_equal(image.pixels, pixels)
    assert image.path is None and image.source_format == "PNG"


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_pixel_data_from_opencv_and_from_numpy_filter_decode_the_same(monkeypatch, channels, dtype):
    """Small images take OpenCV's libpng for the IDAT stream, large ones the numpy filter:
    both decode to the same pixels with the same metadata chunks."""
    import sr_desktop.engine.imageio.png as png

    pixels = random_pixels((23, 31, channels), dtype, seed=21)
    meta = FileMetadata(icc_profile=srgb_icc(), exif=exif_block(), dpi=(300, 300))
    streams = []
    for limit in (png.CV2_MAX_BYTES, 0):
        monkeypatch.setattr(png, "CV2_MAX_BYTES", limit)
        buf = io.BytesIO()
        encode_png(buf, pixels, meta)
        streams.append(buf.getvalue())
    assert streams[0] != streams[1]  # two encoders, not one path taken twice
    for stream in streams:
        decoded = cv2.imdecode(np.frombuffer(stream, np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(to_rgb_order(decoded), pixels)
        with PILImage.open(io.BytesIO(stream)) as im:
            assert im.info.get("icc_profile") == meta.icc_profile
            assert round(im.info["dpi"][0]) == 300
            assert load_exif(im.info["exif"]).get(ARTIST) == "Ada Artist"


# ---------------------------------------------- flattening, GIF alpha, JPEG chroma, dpi
def test_alpha_is_flattened_on_white_with_rounding(tmp_path):
    """colour·a + 255·(1 − a), rounded: colour 0 at alpha 128 is 127 (0.498·255 = 127.0),
    colour 100 at alpha 200 is 133 (78.4 + 55.0 = 133.4); truncation made 132."""
    pixels = np.array([[[0, 0, 0, 128], [100, 100, 100, 200]]], np.uint8)
    write_image(Image(pixels), tmp_path / "flat.bmp")
    back = read_image(tmp_path / "flat.bmp").pixels
    assert back[0, :, 0].tolist() == [127, 133]


def test_a_gif_keeps_a_half_transparent_area_transparent(tmp_path):
    """GIF has one transparent colour: alpha below 128 is transparent, the rest opaque."""
    alpha = np.array([[0, 64, 127, 128, 200, 255]], np.uint8)
    pixels = np.dstack([np.full((1, 6, 3), 90, np.uint8), alpha])
    write_image(Image(pixels), tmp_path / "a.gif")
    back = read_image(tmp_path / "a.gif").pixels
    assert back[0, :, 3].tolist() == [0, 0, 0, 255, 255, 255]


@pytest.mark.parametrize("quality,expected", [(95, (1, 1)), (89, (2, 2))])
def test_jpeg_chroma_is_full_from_quality_90(tmp_path, quality, expected):
    """4:4:4 at quality 90 and above (no colour smearing at the edges the user asked to
    keep), 4:2:0 below."""
    write_image(Image(random_pixels((16, 16, 3), np.uint8)), tmp_path / "q.jpg", SaveOptions(quality=quality))
    with PILImage.open(tmp_path / "q.jpg") as im:
        sampling = im.layer[0][1:3]  # the luma component's horizontal, vertical sampling factors
    assert tuple(sampling) == expected


def test_a_quarter_turned_photo_s_resolution_follows_its_axes(tmp_path):
    """A portrait photo stored on its side with 300 × 200 dpi is 200 × 300 dpi upright."""
    exif = PILImage.Exif()
    exif[0x0112] = 6
    PILImage.fromarray(random_pixels((8, 12, 3), np.uint8)).save(
        tmp_path / "turned.jpg", exif=exif.tobytes(), dpi=(300, 200))
    image = read_image(tmp_path / "turned.jpg")
    assert (image.width, image.height) == (8, 12) and image.info["dpi"] == (200.0, 300.0)


def test_the_size_in_ifd0_is_the_written_one_and_no_interop_offset_goes_into_a_tiff(tmp_path):
    """Phones record the size in IFD0 (ImageWidth/ImageLength) too: it kept the source's.
    A TIFF output copied the Exif directory's Interoperability offset as a number: it pointed
    into the new file's pixel data."""
    import struct

    def ifd(entries, at):
        head, extra = struct.pack("<H", len(entries)), b""
        base = at + 2 + 12 * len(entries) + 4
        for tag, typ, count, value in entries:
            if len(value) <= 4:
                head += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0")
            else:
                head += struct.pack("<HHI", tag, typ, count) + struct.pack("<I", base + len(extra))
                extra += value
        return head + struct.pack("<I", 0) + extra

    exif_at = 8 + 2 + 3 * 12 + 4
    ifd0 = ifd([(0x0100, 3, 1, struct.pack("<H", 24)), (0x0101, 3, 1, struct.pack("<H", 16)),
                (0x8769, 4, 1, struct.pack("<I", exif_at))], 8)
    interop_at = exif_at + 2 + 12 + 4
    exif = ifd([(0xA005, 4, 1, struct.pack("<I", interop_at))], exif_at)
    block = b"Exif\0\0II*\0" + struct.pack("<I", 8) + ifd0 + exif + ifd([(1, 2, 4, b"R98\0")], interop_at)
    src = tmp_path / "phone.jpg"
    PILImage.fromarray(random_pixels((16, 24, 3), np.uint8)).save(src, exif=block, quality=95)
    for name in ("big.jpg", "big.png", "big.tif"):
        out = write_image(read_image(src).with_pixels(random_pixels((32, 48, 3), np.uint8)), tmp_path / name)
        with PILImage.open(out) as im:
            exif = im.getexif()
            if name != "big.tif":
                assert (exif[0x0100], exif[0x0101]) == (48, 32), name
            else:
                assert 0xA005 not in exif.get_ifd(0x8769)


def test_what_a_format_cannot_keep_is_said():
    """16-bit into JPEG, transparency into JPEG/BMP/GIF, grey into WebP happened without a word."""
    from sr_desktop.engine.imageio import lossy_changes

    half = np.zeros((4, 4, 4), np.uint16)
    half[..., 3] = 30000
    assert lossy_changes(half, "jpg") == ["16 bits → 8", "transparency flattened onto white"]
    assert lossy_changes(half, "gif") == ["16 bits → 8", "partial transparency made all or nothing"]
    assert lossy_changes(half, "png") == lossy_changes(half, "tiff") == []
    opaque = np.full((4, 4, 4), 255, np.uint8)
    assert lossy_changes(opaque, "jpg") == [] and lossy_changes(opaque[..., :1], "webp") == ["grey stored as RGB"]


def test_metadata_a_format_cannot_hold_is_said(tmp_path):
    """A camera JPEG saved as BMP or GIF lost its colour profile and EXIF without a word."""
    from PIL import ImageCms

    from sr_desktop.engine.imageio import lossy_changes

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = PILImage.Exif()
    exif[0x010F] = "Camera"
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "m.jpg", exif=exif.tobytes(),
                                                           icc_profile=profile)
    image = read_image(tmp_path / "m.jpg")
    assert lossy_changes(image, "bmp") == ["ICC profile and EXIF not kept (BMP holds none)"]
    assert lossy_changes(image, "gif") == ["ICC profile and EXIF not kept (GIF holds none)"]
    assert lossy_changes(image, "png") == lossy_changes(image, "jpg") == lossy_changes(image, "webp") == []
    write_image(image, tmp_path / "m.bmp")
    with PILImage.open(tmp_path / "m.bmp") as written:  # (what the note says: nothing of it kept)
        assert "icc_profile" not in written.info and not written.getexif()
    bare = read_image(tmp_path / "m.bmp")
    assert lossy_changes(bare, "gif") == []


def _sprite_with_colours(count: int, side: int = 32) -> np.ndarray:
    """RGBA: `count` distinct opaque colours in a band, the rest transparent (its colour black)."""
    rgba = np.zeros((side, side, 4), np.uint8)
    rng = np.random.default_rng(count)
    colours = rng.choice(256**3, size=count, replace=False)
    flat = rgba.reshape(-1, 4)
    for i, c in enumerate(colours):
        flat[i] = (c >> 16 & 255, c >> 8 & 255, c & 255, 255)
    return rgba


@pytest.mark.parametrize("animated", [False, True])
def test_a_transparent_gif_keeps_every_colour_when_they_fit_the_palette(tmp_path, animated):
    """Pillow's RGBA quantiser (a fast octree) kept 8 of a sprite's 32 colours; a GIF holds
    255 beside its transparent one."""
    from sr_desktop.engine.imageio.animation import Animation, write_animation

    frames = [_sprite_with_colours(255), _sprite_with_colours(32)]
    out = tmp_path / "s.gif"
    if animated:
        write_animation(Animation([Image(f) for f in frames], [100, 100], 0, ["none", "none"], "GIF"), out)
    else:
        frames = frames[:1]
        write_image(Image(frames[0]), out, SaveOptions(format="gif"))
    with PILImage.open(out) as gif:
        for index, expected in enumerate(frames):
            gif.seek(index)
            got = np.asarray(gif.convert("RGBA"))
            visible = expected[:, :, 3] == 255
            assert np.array_equal(got[:, :, 3] == 255, visible)  # transparent where it was
            assert np.array_equal(got[visible][:, :3], expected[visible][:, :3])  # every colour exact


def test_a_gif_of_more_colours_than_its_palette_is_median_cut_and_keeps_its_transparency(tmp_path):
    rgba = _sprite_with_colours(600, side=32)
    write_image(Image(rgba), tmp_path / "m.gif", SaveOptions(format="gif"))
    with PILImage.open(tmp_path / "m.gif") as gif:
        got = np.asarray(gif.convert("RGBA"))
    visible = rgba[:, :, 3] == 255
    assert np.array_equal(got[:, :, 3] == 255, visible)
    # (median cut: 240 colours of the 255 it may have; the octree gave transparent sprites 8 of 32)
    assert len(np.unique(got[visible][:, :3], axis=0)) >= 200


def test_a_palette_image_upscaled_in_its_own_colours_is_written_with_its_palette(tmp_path):
    """A 4-colour sprite with a transparent entry came back as RGBA (93 colours hidden under
    its transparent pixels, ten times the file): the palette and its indices are kept where
    every visible colour of the result is one of its entries, and said lost where not."""
    from sr_desktop.engine.core.options import UpscaleOptions
    from sr_desktop.engine.imageio import lossy_changes
    from sr_desktop.engine.pipeline.upscale import upscale_image

    rng = np.random.default_rng(5)
    indices = rng.integers(0, 4, (12, 10), dtype=np.uint8)
    sprite = PILImage.fromarray(indices, "P")
    sprite.putpalette([30, 40, 50, 200, 0, 0, 255, 255, 255, 9, 9, 200])
    sprite.info["transparency"] = bytes([0, 128, 255, 255])  # entry 0 clear, entry 1 half
    sprite.save(tmp_path / "sprite.png", transparency=bytes([0, 128, 255, 255]))
    image = read_image(tmp_path / "sprite.png")
    result = upscale_image(image, UpscaleOptions(model="nearest", scale=3)).image
    assert lossy_changes(result, "png") == []
    write_image(result, tmp_path / "x3.png")
    with PILImage.open(tmp_path / "x3.png") as written:
        assert written.mode == "P" and written.getpalette()[:12] == [30, 40, 50, 200, 0, 0, 255, 255, 255, 9, 9, 200]
        assert written.info["transparency"] == bytes([0, 128])  # (the opaque entries at the end left out)
        assert np.array_equal(np.asarray(written), np.repeat(np.repeat(indices, 3, axis=0), 3, axis=1))
    smooth = upscale_image(image, UpscaleOptions(model="bicubic", scale=3)).image  # colours between them
    assert lossy_changes(smooth, "png") == ["palette not kept (colours beyond it)"]
    write_image(smooth, tmp_path / "smooth.png")
    with PILImage.open(tmp_path / "smooth.png") as written:
        assert written.mode == "RGBA"
    # a 1-bit image: two entries, black and white
    PILImage.fromarray(indices > 1).save(tmp_path / "bits.png")
    write_image(upscale_image(read_image(tmp_path / "bits.png"), UpscaleOptions(model="nearest", scale=2)).image,
                tmp_path / "bits_x2.png")
    with PILImage.open(tmp_path / "bits_x2.png") as written:
        assert written.mode == "P" and written.getpalette()[:6] == [0, 0, 0, 255, 255, 255]
        assert np.array_equal(np.asarray(written) == 1, np.repeat(np.repeat(indices > 1, 2, axis=0), 2, axis=1))
