"""`sr-desktop upscale` works with every model id of the registry on a small image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.core.paths import SAMPLE_IMAGE
from sr_desktop.engine.models.registry import list_models

# the literature group needs weights first (tests/test_literature_registry.py checks its message)
ZOO = [s for s in list_models() if not s.custom and s.kind != "per_image" and s.group != "literature"]


@pytest.fixture(scope="module")
def small_photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "crop.png"
    with PILImage.open(SAMPLE_IMAGE) as im:
        im.convert("RGB").crop((300, 150, 320, 166)).save(path)
    return path


def test_the_registry_has_every_id_of_the_issue():
    ids = {s.id for s in list_models()}
    assert {"realesrgan-x4plus", "realesrgan-x4plus-anime", "realesr-animevideov3", "realsr-df2k",
            "waifu2x-photo", "waifu2x-anime", "waifu2x-cunet", "realcugan-se", "realcugan-pro",
            "srmd", "srmdnf", "span", "bicubic", "lanczos"} <= ids


@pytest.mark.parametrize("spec", ZOO, ids=[s.id for s in ZOO])
def test_upscale_with_every_model(spec, small_photo, tmp_path, capsys):
    out = tmp_path / f"{spec.id}.png"
    scale = max(spec.scales)
    code = main(["upscale", str(small_photo), "-o", str(out), "--model", spec.id, "--scale", str(scale),
                 "--quiet"])
    assert code == 0, capsys.readouterr().err
    with PILImage.open(out) as res:
        assert res.size == (20 * scale, 16 * scale)
        pixels = np.asarray(res.convert("RGB"), dtype=float)
    # A real picture came out: close to the input when shrunk back, not flat or noise.
    with PILImage.open(small_photo) as src:
        reference = np.asarray(src.convert("RGB"), dtype=float)
    shrunk = pixels.reshape(16, scale, 20, scale, 3).mean(axis=(1, 3))
    assert np.abs(shrunk - reference).mean() < 4.5, spec.id  # measured 0.29 (span) - 4.22 (realesrgan-x4plus)
    assert pixels.std() > 70  # measured 70.92 - 72.56 over the zoo
