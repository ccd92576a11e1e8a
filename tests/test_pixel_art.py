"""The `scalenx` model: Scale2x/Scale3x pixel art (`engine/compute/pixel_art.py`)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.compute.pixel_art import pass_factors, scale_pixel_art
from sr_desktop.engine.core.options import AlphaMode, UpscaleOptions
from sr_desktop.engine.imageio import Image, read_image
from sr_desktop.engine.pipeline.upscale import upscale_image

BLACK, WHITE = (0, 0, 0), (255, 255, 255)


def _staircase() -> np.ndarray:
    """A black top-left corner on white: the middle pixel's top-left neighbours are black.

    B B W
    B W W
    W W W
    """
    image = np.full((3, 3, 3), 255, np.uint8)
    image[0, 0] = image[0, 1] = image[1, 0] = BLACK
    return image


def _blocks(pixels: np.ndarray, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)


def _colours(pixels: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in p) for p in pixels.reshape(-1, pixels.shape[2])}


def test_scale2x_takes_the_colour_where_two_neighbours_meet_across_a_corner():
    out = scale_pixel_art(_staircase(), 2)
    # the middle pixel's block (2..3, 2..3): its top-left corner takes D = B = black
    assert tuple(out[2, 2]) == BLACK
    assert all(tuple(out[y, x]) == WHITE for y, x in ((2, 3), (3, 2), (3, 3)))
    # the staircase's outer steps: black (0, 1)'s bottom-right corner takes H = F = white, and
    # black (1, 0)'s too; the rest of their blocks stays black
    assert tuple(out[1, 3]) == WHITE and tuple(out[3, 1]) == WHITE
    assert all(tuple(out[y, x]) == BLACK for y, x in ((0, 2), (0, 3), (1, 2), (2, 0), (2, 1), (3, 0)))
    # nearest leaves the middle block white
    assert tuple(_blocks(_staircase(), 2)[2, 2]) == WHITE


def test_scale3x_fills_the_corner_and_keeps_the_centre():
    out = scale_pixel_art(_staircase(), 3)
    block = out[3:6, 3:6]  # the middle pixel's 3×3
    assert tuple(block[0, 0]) == BLACK  # E0 = D
    assert tuple(block[1, 1]) == WHITE  # E4 = E always
    # E1 = B where D == B and E != C: C (top right) is white as E, so E1 stays white
    assert tuple(block[0, 1]) == WHITE and tuple(block[1, 0]) == WHITE
    assert all(tuple(block[y, x]) == WHITE for y in range(3) for x in range(3) if (y, x) != (0, 0))


def test_straight_edges_and_flat_areas_are_nearest_neighbour():
    halves = np.zeros((6, 8, 3), np.uint8)
    halves[:, 4:] = 200
    for scale in (2, 3, 4, 6):
        assert np.array_equal(scale_pixel_art(halves, scale), _blocks(halves, scale))


def test_scales_are_passes_of_two_and_three_and_the_rest_is_nearest():
    assert pass_factors(2) == ([2], 1) and pass_factors(4) == ([2, 2], 1) and pass_factors(6) == ([2, 3], 1)
    assert pass_factors(5) == ([], 5) and pass_factors(10) == ([2], 5) and pass_factors(1) == ([], 1)
    rng = np.random.default_rng(0)
    art = rng.choice(np.array([[0, 0, 0], [250, 10, 10], [10, 250, 10]], np.uint8), (12, 10))
    assert np.array_equal(scale_pixel_art(art, 4), scale_pixel_art(scale_pixel_art(art, 2), 2))
    assert np.array_equal(scale_pixel_art(art, 10), _blocks(scale_pixel_art(art, 2), 5))
    assert np.array_equal(scale_pixel_art(art, 1), art) and scale_pixel_art(art, 1) is not art
    # no colour that is not the input's, at any scale
    for scale in (2, 3, 4, 6, 9):
        assert _colours(scale_pixel_art(art, scale)) <= _colours(art)


def test_fully_transparent_pixels_count_as_one_colour_whatever_is_hidden_under_them():
    rng = np.random.default_rng(3)
    sprite = np.zeros((10, 10, 4), np.uint8)
    yy, xx = np.mgrid[:10, :10]
    sprite[(yy - 5) ** 2 + (xx - 5) ** 2 < 12] = (220, 40, 40, 255)
    hidden = sprite.copy()
    clear = hidden[:, :, 3] == 0
    hidden[clear, :3] = rng.integers(0, 256, (int(clear.sum()), 3), dtype=np.uint8)
    plain, noisy = scale_pixel_art(sprite, 2), scale_pixel_art(hidden, 2)
    # the same outline (alpha) and the same visible colours: the disc's staircase is rounded
    assert np.array_equal(plain[:, :, 3], noisy[:, :, 3])
    assert not np.array_equal(plain[:, :, 3], _blocks(sprite, 2)[:, :, 3])
    visible = plain[:, :, 3] > 0
    assert np.array_equal(plain[visible], noisy[visible])


def test_the_pipeline_is_exact_in_tiles_and_decides_alpha_with_the_colour():
    rng = np.random.default_rng(7)
    palette = np.array([[0, 0, 0, 0], [250, 20, 20, 255], [20, 20, 250, 255], [240, 240, 0, 255]], np.uint8)
    art = palette[rng.integers(0, 4, (40, 52))]
    for scale in (2, 3, 4):
        whole = upscale_image(Image(art), UpscaleOptions(model="scalenx", scale=scale, tile=0)).image.pixels
        tiled = upscale_image(Image(art), UpscaleOptions(model="scalenx", scale=scale, tile=16)).image.pixels
        assert np.array_equal(whole, tiled), scale
        assert np.array_equal(whole, scale_pixel_art(art, scale))
        # whatever --alpha says: colour and alpha come from the same neighbour
        resampled = upscale_image(Image(art), UpscaleOptions(model="scalenx", scale=scale, alpha=AlphaMode.RESAMPLE))
        assert np.array_equal(resampled.image.pixels, whole)
        assert _colours(whole) <= _colours(art)


def test_a_palette_sprite_comes_back_a_palette_png_resized_by_nearest(tmp_path, capsys):
    rng = np.random.default_rng(2)
    indices = rng.integers(0, 3, (16, 16)).astype(np.uint8)
    sprite = PILImage.fromarray(indices, "P")
    sprite.putpalette([0, 0, 0, 200, 30, 30, 30, 30, 200])
    sprite.save(tmp_path / "s.png")
    out = tmp_path / "big.png"
    assert main(["upscale", str(tmp_path / "s.png"), "-o", str(out), "--model", "scalenx", "--scale", "3",
                 "--width", "96"]) == 0
    assert "scalenx ×3" in capsys.readouterr().out
    with PILImage.open(out) as result:
        assert result.mode == "P" and result.size == (96, 96)
    pixels = read_image(out).pixels
    expected = _blocks(scale_pixel_art(np.asarray(sprite.convert("RGB")), 3), 2)
    assert np.array_equal(pixels[:, :, :3], expected)


@pytest.mark.parametrize("shape", [(5, 7, 2), (4, 4, 1)])
def test_grey_and_grey_alpha_images(shape):
    rng = np.random.default_rng(1)
    art = (rng.integers(0, 2, shape) * 255).astype(np.uint8)
    out = scale_pixel_art(art, 2)
    assert out.shape == (shape[0] * 2, shape[1] * 2, shape[2]) and _colours(out) <= _colours(art)


def test_scalenx_is_said_to_run_on_numpy_on_every_path_and_its_enlargement_is_said():
    from sr_desktop.engine.models.backends.choose import apply_backend
    from sr_desktop.engine.models.loader import load_model
    from sr_desktop.engine.pipeline.output_size import enlargement_note

    model = load_model("scalenx", 3)
    assert model.backend == "numpy"
    assert apply_backend(model, "torch") == "numpy" and model.backend == "numpy"  # ("pillow" once reset)
    # a larger scale adds ScaleNx's passes: the resize past it is said, as after a network
    assert enlargement_note((96, 96), (192, 192), "scalenx", 4) == (
        "resized up ×2.00 past scalenx ×4 by nearest neighbour (repeated pixels, no detail added: "
        "a larger scale adds the model's)")
    assert enlargement_note((96, 96), (192, 192), "nearest", 4) == ""


def test_a_scalenx_result_is_not_stale_when_only_the_alpha_option_changes():
    from sr_desktop.app.session import RunInfo

    sprite = np.zeros((6, 6, 4), np.uint8)
    sprite[2:4, 2:4] = 255
    options = UpscaleOptions(model="scalenx", scale=2, alpha=AlphaMode.MODEL)
    run = RunInfo.of(upscale_image(Image(sprite), options), options)
    assert run.differences(UpscaleOptions(model="scalenx", scale=2, alpha=AlphaMode.RESAMPLE)) == []
