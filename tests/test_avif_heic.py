"""AVIF (Pillow's own plugin) and HEIC/HEIF photos (pillow-heif, the optional extra `heic`):
read, turned upright, upscaled and written as PNG; without the plugin, one line naming it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import features

from sr_desktop.cli.main import main
from sr_desktop.engine.core.errors import ImageReadError
from sr_desktop.engine.imageio import heif_avif, is_image_path, read_image
from sr_desktop.engine.imageio.animation import Animation, read_image_or_animation

needs_avif = pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF")


def _picture(height: int = 48, width: int = 64) -> np.ndarray:
    """Smooth colours (lossy codecs keep them within a few levels) with a bright corner."""
    yy, xx = np.mgrid[0:height, 0:width]
    picture = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) * 255 // (width + height)], axis=2)
    picture[:8, :8] = 255
    return picture.astype(np.uint8)


def _pillow_heif():
    return pytest.importorskip("pillow_heif", reason="pillow-heif (sr-desktop[heic]) is not installed")


@needs_avif
def test_an_avif_is_read_upright_with_its_profile_and_its_frames(tmp_path):
    picture = _picture()
    PILImage.fromarray(picture).save(tmp_path / "a.avif", quality=100)
    image = read_image(tmp_path / "a.avif")
    assert image.source_format == "AVIF" and image.pixels.shape == picture.shape
    assert np.abs(image.pixels.astype(int) - picture).mean() < 3
    sideways = PILImage.fromarray(picture)
    exif = sideways.getexif()
    exif[0x0112] = 6  # (Pillow writes it as the file's rotation, and reads it back as this tag)
    sideways.save(tmp_path / "turned.avif", exif=exif.tobytes(), quality=100)
    assert read_image(tmp_path / "turned.avif").pixels.shape == (64, 48, 3)
    frames = [PILImage.fromarray(np.roll(picture, 8 * i, axis=1)) for i in range(3)]
    frames[0].save(tmp_path / "moving.avif", save_all=True, append_images=frames[1:], duration=120, quality=100)
    animation = read_image_or_animation(tmp_path / "moving.avif")
    assert isinstance(animation, Animation) and len(animation.frames) == 3 and animation.durations == [120] * 3


def test_heic_photos_are_read_upright_and_a_burst_gives_its_primary_image(tmp_path):
    pillow_heif = _pillow_heif()
    picture = _picture()
    pillow_heif.from_bytes(mode="RGB", size=(64, 48), data=picture.tobytes()).save(tmp_path / "a.heic", quality=95)
    image = read_image(tmp_path / "a.heic")
    assert image.source_format == "HEIF" and image.pixels.shape == picture.shape and "frames" not in image.info
    assert np.abs(image.pixels.astype(int) - picture).mean() < 4
    sideways = PILImage.fromarray(picture)
    exif = sideways.getexif()
    exif[0x0112] = 6
    pillow_heif.register_heif_opener()
    sideways.save(tmp_path / "turned.heic", exif=exif.tobytes(), quality=95)
    turned = read_image(tmp_path / "turned.heic")  # (libheif turns it; the tag left says 1: not twice)
    expected = np.rot90(picture, k=-1)
    assert turned.pixels.shape == expected.shape and np.abs(turned.pixels.astype(int) - expected).mean() < 4
    burst = pillow_heif.from_pillow(PILImage.fromarray(picture))
    burst.add_from_pillow(PILImage.fromarray(255 - picture))
    burst.save(tmp_path / "burst.heic", quality=95)
    still = read_image_or_animation(tmp_path / "burst.heic")
    assert not isinstance(still, Animation) and np.abs(still.pixels.astype(int) - picture).mean() < 4


def test_a_heic_upscales_through_the_command_line_into_a_png(tmp_path, capsys):
    pillow_heif = _pillow_heif()
    pillow_heif.from_bytes(mode="RGB", size=(64, 48), data=_picture().tobytes()).save(tmp_path / "a.heic")
    assert main(["upscale", str(tmp_path / "a.heic"), "-o", f"{tmp_path / 'out'}/", "--model", "bicubic",
                 "--scale", "2", "-q"]) == 0
    assert read_image(tmp_path / "out" / "a.png").pixels.shape == (96, 128, 3)


def test_without_its_plugin_a_heic_is_one_line_saying_what_to_install(tmp_path, monkeypatch):
    """An iPhone photo was "not an image file"."""
    monkeypatch.setattr(heif_avif, "_HEIF_READY", False)
    # the start of a HEIC file: its ftyp box (brand heic), then what any box could hold
    (tmp_path / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    with pytest.raises(ImageReadError) as refused:
        read_image(tmp_path / "IMG_0001.HEIC")
    assert refused.value.reason == ("a HEIC/HEIF photo: reading it needs the optional package pillow-heif "
                                    "(pip install pillow-heif, or sr-desktop[heic])")
    assert is_image_path("IMG_0001.HEIC") and is_image_path("b.avif")  # (a batch lists them, and names them)


def test_a_heic_branded_mif1_is_read_not_taken_for_a_broken_avif(tmp_path, monkeypatch):
    """Pillow's AVIF plugin takes the brands mif1/msf1 of any HEIF file, then fails on a HEVC
    one: such a HEIC photo (Nokia's reference files, some phones) was "truncated or corrupt,
    or an unsupported AVIF variant", pillow-heif never tried."""
    pillow_heif = _pillow_heif()
    picture = _picture()
    pillow_heif.from_bytes(mode="RGB", size=(64, 48), data=picture.tobytes()).save(tmp_path / "a.heic", quality=95)
    data = bytearray((tmp_path / "a.heic").read_bytes())
    assert data[4:12] == b"ftypheic"
    data[8:12] = b"mif1"  # (its compatible brands still say heic)
    (tmp_path / "mif1.heic").write_bytes(bytes(data))
    assert np.abs(read_image(tmp_path / "mif1.heic").pixels.astype(int) - picture).mean() < 4
    monkeypatch.setattr(heif_avif, "_HEIF_READY", False)
    with pytest.raises(ImageReadError, match="needs the optional package pillow-heif"):
        read_image(tmp_path / "mif1.heic")


@needs_avif
def test_a_cut_avif_is_still_said_to_be_truncated(tmp_path):
    PILImage.fromarray(_picture()).save(tmp_path / "a.avif", quality=90)
    data = (tmp_path / "a.avif").read_bytes()
    (tmp_path / "cut.avif").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image(tmp_path / "cut.avif")


def test_a_turned_heic_s_exif_follows_the_turn_libheif_made(tmp_path):
    """pillow-heif resets the EXIF orientation of the HEIC photos libheif turns upright: the
    block was kept as if unturned, its X/Y resolution not swapped and its sideways thumbnail
    linked (an AVIF's, whose tag Pillow leaves for the reader to turn, were right)."""
    _pillow_heif()
    from sr_desktop.engine.imageio.exif import TAG_ORIENTATION

    sideways = PILImage.fromarray(_picture())
    exif = sideways.getexif()
    exif[TAG_ORIENTATION], exif[0x011A], exif[0x011B] = 6, 72.0, 300.0
    sideways.save(tmp_path / "turned.heic", exif=exif.tobytes(), quality=95)
    image = read_image(tmp_path / "turned.heic")
    kept = PILImage.Exif()
    kept.load(image.exif)
    assert image.pixels.shape[:2] == (64, 48)
    assert (kept.get(TAG_ORIENTATION), float(kept[0x011A]), float(kept[0x011B])) == (1, 300.0, 72.0)


def test_a_heic_s_nclx_colour_space_becomes_its_profile(tmp_path):
    """A HEIC in Display P3 stated only by its nclx box (Android phones, encoders) was read
    as sRGB: its output had no profile and showed 60 levels off. An ICC profile made from the
    code points now carries it (the same colour a browser shows: (60, 160, 90) in P3 is
    (0, 163, 82) in sRGB)."""
    import io

    from PIL import ImageCms

    _pillow_heif()
    flat = PILImage.new("RGB", (32, 24), (60, 160, 90))
    flat.save(tmp_path / "p3.heic", quality=100, color_primaries=12, transfer_characteristics=13,
              matrix_coefficients=6, full_range_flag=1)
    image = read_image(tmp_path / "p3.heic")
    assert image.icc_profile is not None
    shown = ImageCms.profileToProfile(PILImage.fromarray(image.pixels), ImageCms.ImageCmsProfile(
        io.BytesIO(image.icc_profile)), ImageCms.createProfile("sRGB"))
    assert np.abs(np.array(shown.getpixel((16, 12))) - (0, 163, 82)).max() <= 2
    flat.save(tmp_path / "srgb.heic", quality=100, color_primaries=1, transfer_characteristics=13,
              matrix_coefficients=6, full_range_flag=1)
    assert read_image(tmp_path / "srgb.heic").icc_profile is None  # (sRGB: nothing to attach)


def test_cicp_profiles_of_every_primaries_and_curve_load_and_keep_white():
    import io

    from PIL import ImageCms

    from sr_desktop.engine.imageio.cicp_profile import PRIMARIES, icc_from_cicp

    for primaries in PRIMARIES:
        for transfer in (13, 1, 4, 8):
            icc = icc_from_cicp(primaries, transfer)
            if primaries == 1 and transfer in (13, 1):  # (sRGB, and BT.709 taken for it)
                assert icc is None
                continue
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            white = ImageCms.profileToProfile(PILImage.new("RGB", (1, 1), (255, 255, 255)), profile,
                                              ImageCms.createProfile("sRGB"))
            assert np.abs(np.array(white.getpixel((0, 0))) - 255).max() <= 1, (primaries, transfer)
    assert icc_from_cicp(9, 16) is None and icc_from_cicp(99, 13) is None  # (PQ; unknown primaries)


@needs_avif
def test_an_avif_s_nclx_colour_space_becomes_its_profile(tmp_path):
    """Pillow gives no AVIF's CICP: its colr box is read from the file."""
    import io

    from PIL import ImageCms

    from sr_desktop.engine.imageio.cicp_profile import nclx_in_iso_media

    PILImage.new("RGB", (32, 24), (60, 160, 90)).save(tmp_path / "srgb.avif", quality=100)
    data = bytearray((tmp_path / "srgb.avif").read_bytes())
    assert nclx_in_iso_media(bytes(data)) == (1, 13) and read_image(tmp_path / "srgb.avif").icc_profile is None
    at = data.index(b"colrnclx") + 8
    data[at:at + 2] = (12).to_bytes(2, "big")  # (Display P3 primaries, as a P3 encoder writes them)
    (tmp_path / "p3.avif").write_bytes(bytes(data))
    image = read_image(tmp_path / "p3.avif")
    shown = ImageCms.profileToProfile(PILImage.fromarray(image.pixels), ImageCms.ImageCmsProfile(
        io.BytesIO(image.icc_profile)), ImageCms.createProfile("sRGB"))
    assert np.abs(np.array(shown.getpixel((16, 12))) - (0, 163, 82)).max() <= 3
    for broken in (bytes(data[:40]), bytes(data[:at]), b"\x00\x00\x00\x01meta" + bytes(8), bytes(200)):
        assert nclx_in_iso_media(broken) is None  # (never an error: the file is read as sRGB)
