"""What a distributor reads: every model's licence and paper, the upstream notices, the wheel's
licence expression (resources/LICENSES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sr_desktop.engine.core import paths
from sr_desktop.engine.models.registry import list_zoo_models

LICENSES = paths.RESOURCES_DIR / "LICENSES.md"
ROOT = Path(__file__).resolve().parents[1]


def _packaged_models():
    return [spec for spec in list_zoo_models() if spec.source.get("package")]


def test_every_packaged_model_names_its_paper_and_its_licence_and_licenses_md_its_notice():
    # (the 12 ready-made models had no paper, RealSR's and SPAN's published Apache-2.0 was
    # "not stated", and the packages without a licence file left their notices nowhere)
    text = LICENSES.read_text(encoding="utf-8")
    models = _packaged_models()
    assert len(models) >= 12
    for spec in models:
        assert spec.paper and spec.year, spec.id
        assert spec.license and "not stated" not in spec.license, spec.id
        assert f"`{spec.id}`" in text, spec.id
    span = next(spec for spec in models if spec.id == "span")
    assert "Apache-2.0" in span.license and "GPL-3.0" in span.license


def test_licenses_md_names_qt_and_the_training_sets_of_the_shipped_weights():
    text = LICENSES.read_text(encoding="utf-8")
    assert "LGPL" in text and "PySide6" in text
    for dataset in ("T91", "General100", "BSD200"):
        assert dataset in text


def test_the_wheels_licence_expression_covers_what_it_ships():
    tomllib = pytest.importorskip("tomllib")  # (Python 3.11+)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # the photos are CC0 and NIQE's parameters come in basicsr's Apache-2.0 container
    assert set(project["license"].split(" AND ")) == {"MIT", "CC0-1.0", "Apache-2.0", "LicenseRef-NIQE"}
    assert {"LICENSE", "resources/LICENSES.md", "resources/NIQE-NOTICE.txt"} <= set(project["license-files"])


NON_COMMERCIAL = "CC BY-NC 4.0 (spandrel-extra-arches: not for commercial use)"


def _compact_file(tmp_path) -> Path:
    import torch

    from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact

    path = tmp_path / "compact_x2.pth"
    torch.save(SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2).state_dict(), path)
    return path


def test_a_non_commercial_model_says_its_licence_in_the_table_and_at_every_run(tmp_path, capsys):
    """Its licence was only in `models --json` and the tooltip: the table and a run with it
    said nothing."""
    import json

    from PIL import Image as PILImage

    from sr_desktop.cli.main import main
    from sr_desktop.engine.models import custom

    spec = custom.add_custom_model(_compact_file(tmp_path))
    index = custom.custom_models_dir() / "index.json"
    data = json.loads(index.read_text())
    next(entry for entry in data["models"] if entry["id"] == spec.id)["license"] = NON_COMMERCIAL  # (an extra arch's)
    index.write_text(json.dumps(data))
    assert main(["models"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(spec.id))
    assert row.endswith(f"; licence: {NON_COMMERCIAL})")
    PILImage.new("RGB", (12, 10)).save(tmp_path / "a.png")
    assert main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--model", spec.id]) == 0
    assert f"sr-desktop: note: {spec.id} is under {NON_COMMERCIAL}" in capsys.readouterr().err
    (tmp_path / "in").mkdir()
    (tmp_path / "a.png").rename(tmp_path / "in" / "a.png")
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--model", spec.id, "--no-progress"]) == 0
    assert f"sr-desktop: note: {spec.id} is under {NON_COMMERCIAL}" in capsys.readouterr().err
    # a permissive one says nothing
    assert main(["upscale", str(tmp_path / "in" / "a.png"), "-o", str(tmp_path / "c.png"), "--model", "bicubic"]) == 0
    assert "note" not in capsys.readouterr().err


def test_a_model_fine_tuned_from_another_takes_its_licence_along(tmp_path):
    """A fine-tune of realesr-animevideov3 (BSD-3-Clause weights) was registered with no
    licence and no word of where it started."""
    from sr_desktop.engine.models import custom
    from sr_desktop.engine.models.registry import get_model_spec
    from sr_desktop.engine.training.export import model_metadata, write_model
    from sr_desktop.engine.training.networks import build_network

    net = build_network("compact", 2)
    tuned = write_model(net, tmp_path / "tuned.safetensors",
                        model_metadata(net, iterations=5, init="realesr-animevideov3", data=["T91"]))
    spec = custom.add_custom_model(tuned, name="my tune")
    upstream = get_model_spec("realesr-animevideov3").license
    assert spec.license == f"fine-tuned from realesr-animevideov3, under its licence: {upstream}"
    assert "fine-tuned from realesr-animevideov3" in spec.description
    from_file = write_model(net, tmp_path / "other.safetensors",
                            model_metadata(net, iterations=5, init=str(tmp_path / "someones_x2.pth")))
    assert custom.add_custom_model(from_file).license == "fine-tuned from someones_x2.pth: that file's licence applies"
    scratch = write_model(net, tmp_path / "scratch.safetensors", model_metadata(net, iterations=5))
    assert custom.add_custom_model(scratch).license == ""


def test_an_added_models_tooltip_says_its_licence_once(tmp_path):
    import html
    import json

    from sr_desktop.engine.models import custom
    from sr_desktop.engine.models.registry import get_model_spec
    from sr_desktop.gui.main_window.model_picker import _entry_tooltip

    spec = custom.add_custom_model(_compact_file(tmp_path))
    index = custom.custom_models_dir() / "index.json"
    data = json.loads(index.read_text())
    next(entry for entry in data["models"] if entry["id"] == spec.id)["license"] = NON_COMMERCIAL
    index.write_text(json.dumps(data))
    tip = _entry_tooltip(get_model_spec(spec.id), [])
    assert tip.count(html.escape(NON_COMMERCIAL)) == 1  # (in its description, then a "Licence:" line again)


def test_a_null_licence_in_an_edited_index_is_no_licence(tmp_path, capsys):
    import json

    from PIL import Image as PILImage

    from sr_desktop.cli.main import main
    from sr_desktop.engine.models import custom

    spec = custom.add_custom_model(_compact_file(tmp_path))
    index = custom.custom_models_dir() / "index.json"
    data = json.loads(index.read_text())
    next(entry for entry in data["models"] if entry["id"] == spec.id)["license"] = None
    index.write_text(json.dumps(data))
    assert main(["models"]) == 0  # (exit 3: "argument of type 'NoneType' is not iterable")
    PILImage.new("RGB", (12, 10)).save(tmp_path / "a.png")
    assert main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--model", spec.id]) == 0
    capsys.readouterr()


def test_a_fine_tune_started_from_a_file_follows_it_to_its_licence(tmp_path):
    """Started from a trained file (not its id), a fine-tune of a fine-tune of
    realesr-animevideov3 said only "that file's licence applies"; one registered before
    licences were recorded said nothing."""
    import json

    from sr_desktop.engine.models import custom
    from sr_desktop.engine.models.registry import get_model_spec
    from sr_desktop.engine.training.export import model_metadata, write_model
    from sr_desktop.engine.training.networks import build_network

    net = build_network("compact", 2)
    first = write_model(net, tmp_path / "first.safetensors", model_metadata(net, init="realesr-animevideov3"))
    second = write_model(net, tmp_path / "second.safetensors", model_metadata(net, init=str(first)))
    upstream = get_model_spec("realesr-animevideov3").license
    assert custom.add_custom_model(second).license == (
        f"fine-tuned from first.safetensors, fine-tuned from realesr-animevideov3, under its licence: {upstream}")
    scratch = write_model(net, tmp_path / "scratch.safetensors", model_metadata(net))
    on_scratch = write_model(net, tmp_path / "on_scratch.safetensors", model_metadata(net, init=str(scratch)))
    assert custom.add_custom_model(on_scratch).license == ""  # the user's own, all along
    elsewhere = write_model(net, tmp_path / "elsewhere.safetensors", model_metadata(net, init="custom-gone"))
    assert custom.add_custom_model(elsewhere).license == (
        "fine-tuned from custom-gone (a model not on this machine): its licence applies")
    # an entry of an earlier version: its start recorded, no licence
    spec = custom.add_custom_model(first, name="earlier")
    index = custom.custom_models_dir() / "index.json"
    data = json.loads(index.read_text())
    del next(entry for entry in data["models"] if entry["id"] == spec.id)["license"]
    index.write_text(json.dumps(data))
    assert get_model_spec(spec.id).license == "fine-tuned from realesr-animevideov3: its licence applies"
