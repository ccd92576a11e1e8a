"""XMP packets (rating, keywords, rights) are carried from the input to the upscaled file,
with what they say about the pixels (orientation, size, thumbnail, resolution) made true."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sr_desktop.cli.main import main
from sr_desktop.engine.imageio.xmp import sized_xmp, upright_xmp

HEAD = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n<rdf:Description rdf:about=""'
        ' xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"\n')
TAIL = '</rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>'
KEYWORDS = '<dc:subject><rdf:Bag><rdf:li>harbour</rdf:li><rdf:li>dusk</rdf:li></rdf:Bag></dc:subject>\n'
THUMBNAIL = ('<xmp:Thumbnails><rdf:Alt><rdf:li rdf:parseType="Resource"><xmpGImg:image '
             'xmlns:xmpGImg="http://ns.adobe.com/xap/1.0/g/img/">/9j/4AAQ</xmpGImg:image></rdf:li></rdf:Alt>'
             '</xmp:Thumbnails>\n')
PACKET = (HEAD + ' xmp:Rating="4" tiff:Orientation="6" exif:PixelXDimension="40" exif:PixelYDimension="30">\n'
          '<tiff:XResolution>300/1</tiff:XResolution><tiff:YResolution>240/1</tiff:YResolution>\n'
          + THUMBNAIL + KEYWORDS + TAIL)


def test_a_turned_photo_s_packet_is_made_upright_and_sized_and_the_rest_kept_as_written():
    upright = upright_xmp(PACKET.encode(), turned=6)
    written = sized_xmp(upright, (60, 80)).decode()
    expected = (HEAD + ' xmp:Rating="4" tiff:Orientation="1" exif:PixelXDimension="60" exif:PixelYDimension="80">\n'
                '<tiff:XResolution>240/1</tiff:XResolution><tiff:YResolution>300/1</tiff:YResolution>\n'
                '\n' + KEYWORDS + TAIL)  # (the thumbnail's line left empty)
    assert written == expected


def test_an_upright_photo_keeps_its_thumbnail_and_resolution():
    packet = PACKET.replace('tiff:Orientation="6"', 'tiff:Orientation="1"')
    assert upright_xmp(packet.encode(), turned=1).decode() == packet


def test_element_form_and_another_prefix_for_the_tiff_namespace_are_edited():
    packet = (HEAD.replace('xmlns:tiff="http://ns.adobe.com/tiff/1.0/"', 'xmlns:t="http://ns.adobe.com/tiff/1.0/"')
              + '>\n<t:Orientation>8</t:Orientation><t:ImageWidth>40</t:ImageWidth>'
              '<t:ImageLength>30</t:ImageLength>\n' + KEYWORDS + TAIL)
    written = sized_xmp(upright_xmp(packet.encode(), turned=8), (60, 80)).decode()
    assert '<t:Orientation>1</t:Orientation><t:ImageWidth>60</t:ImageWidth><t:ImageLength>80</t:ImageLength>' in written
    assert KEYWORDS in written


@pytest.mark.parametrize("form", ['<tiff:Orientation rdf:resource="6"/>',
                                  '<tiff:Orientation><rdf:value>6</rdf:value></tiff:Orientation>'])
def test_a_packet_whose_orientation_cannot_be_edited_is_dropped(form):
    """Written back, it would tell a viewer to turn the upright pixels again."""
    assert upright_xmp((HEAD + '>\n' + form + KEYWORDS + TAIL).encode(), turned=6) is None


def test_a_packet_with_the_tiff_namespace_as_its_default_is_dropped():
    """Unprefixed <Orientation>6</Orientation> cannot be found by a prefix: written back
    unchanged, it said 6 of upright pixels."""
    packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description rdf:about="">'
              '<Orientation xmlns="http://ns.adobe.com/tiff/1.0/">6</Orientation>'
              '</rdf:Description></rdf:RDF></x:xmpmeta>')
    assert upright_xmp(packet.encode(), turned=6) is None


def test_a_packet_that_is_not_utf8_is_dropped():
    assert upright_xmp(PACKET.encode("utf-16"), turned=1) is None


@pytest.fixture
def portrait_jpeg(tmp_path):
    """A JPEG stored 40×30 with EXIF orientation 6 (shown 30×40) and the packet above."""
    path = tmp_path / "in.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    pixels = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), xmp=PACKET.encode(), quality=95)
    return path


@pytest.mark.parametrize("suffix", ["png", "jpg", "webp", "tiff"])
def test_upscale_writes_the_packet_upright_and_at_the_new_size(portrait_jpeg, tmp_path, suffix, capsys):
    out = tmp_path / f"out.{suffix}"
    assert main(["upscale", str(portrait_jpeg), "-o", str(out), "--model", "bicubic", "--scale", "2", "-q"]) == 0, \
        capsys.readouterr().err
    with Image.open(out) as im:
        assert im.size == (60, 80)
        packet = im.info["xmp"].decode()
    assert 'tiff:Orientation="1"' in packet and 'exif:PixelXDimension="60" exif:PixelYDimension="80"' in packet
    assert "<rdf:li>harbour</rdf:li>" in packet and 'xmp:Rating="4"' in packet and "Thumbnails" not in packet


@pytest.mark.parametrize("suffix", ["bmp", "gif"])
def test_formats_without_a_place_for_xmp_are_written_without_it(portrait_jpeg, tmp_path, suffix, capsys):
    out = tmp_path / f"out.{suffix}"
    assert main(["upscale", str(portrait_jpeg), "-o", str(out), "--model", "bicubic", "--scale", "2", "-q"]) == 0, \
        capsys.readouterr().err
    with Image.open(out) as im:
        assert im.size == (60, 80) and "xmp" not in im.info


def test_no_metadata_leaves_the_packet_out(portrait_jpeg, tmp_path, capsys):
    out = tmp_path / "bare.png"
    assert main(["upscale", str(portrait_jpeg), "-o", str(out), "--model", "bicubic", "--scale", "2",
                 "--no-metadata", "-q"]) == 0, capsys.readouterr().err
    with Image.open(out) as im:
        assert "xmp" not in im.info


def test_a_packet_too_large_for_a_jpeg_segment_is_left_out_and_the_photo_written(tmp_path, capsys):
    src = tmp_path / "big.png"
    big = HEAD + ">\n<dc:description>" + "x" * 70000 + "</dc:description>\n" + TAIL
    from PIL import PngImagePlugin

    chunks = PngImagePlugin.PngInfo()
    chunks.add_itxt("XML:com.adobe.xmp", big)
    Image.new("RGB", (16, 12), (120, 80, 40)).save(src, pnginfo=chunks)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.jpg"), "--model", "bicubic", "--scale", "2",
                 "-q"]) == 0, capsys.readouterr().err
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "bicubic", "--scale", "2",
                 "-q"]) == 0, capsys.readouterr().err
    with Image.open(tmp_path / "out.jpg") as jpg, Image.open(tmp_path / "out.png") as png:
        assert jpg.size == (32, 24) and "xmp" not in jpg.info
        assert len(png.info["xmp"]) > 70000


@pytest.mark.parametrize("suffix", ["webp", "png"])
def test_an_animation_keeps_its_packet(tmp_path, suffix, capsys):
    from PIL import PngImagePlugin

    src = tmp_path / f"anim.{suffix}"
    frames = [Image.new("RGB", (16, 12), c) for c in ((200, 0, 0), (0, 200, 0))]
    packet = HEAD + ' tiff:ImageWidth="16" tiff:ImageLength="12">\n' + KEYWORDS + TAIL
    extra = {"xmp": packet.encode()} if suffix == "webp" else {"pnginfo": PngImagePlugin.PngInfo()}
    if suffix == "png":
        extra["pnginfo"].add_itxt("XML:com.adobe.xmp", packet)
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)
    out = tmp_path / f"out.{suffix}"
    assert main(["upscale", str(src), "-o", str(out), "--model", "bicubic", "--scale", "2", "-q"]) == 0, \
        capsys.readouterr().err
    with Image.open(out) as im:
        assert getattr(im, "n_frames", 1) == 2
        written = im.info["xmp"].decode()
    assert 'tiff:ImageWidth="32" tiff:ImageLength="24"' in written and "<rdf:li>dusk</rdf:li>" in written


def test_a_hostile_packet_of_unclosed_tags_is_dropped_at_once():
    """A lazy regex looked for each unclosed tag's end over the rest of the packet: 8,000 of
    them in 230 KB took 12.6 s (quadratic: 20,000 would take about 80 s); now a few ms."""
    import time

    packet = HEAD + ">" + "<xmp:Thumbnails " * 20000 + "x" * 100000 + TAIL
    start = time.perf_counter()
    assert upright_xmp(packet.encode(), turned=6) is None
    assert time.perf_counter() - start < 5.0
