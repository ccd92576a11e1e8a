"""Without spandrel (the optional extra ``sr-desktop[community]``): a checkpoint none of the
project's architectures knows gets the unknown-architecture line plus how to install the
community architectures; spandrel is never imported for the project's own files."""

from __future__ import annotations

import importlib.abc
import json
import sys

import pytest
import torch

from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.models import custom, registry
from sr_desktop.engine.models.archs import SRVGGNetCompact
from sr_desktop.engine.models.community import importer

HINT = "community architectures (HAT, DAT, SwinIR, …): pip install 'sr-desktop[community]'"


class _Refuse(importlib.abc.MetaPathFinder):
    """Makes ``import spandrel`` fail with `error`."""

    def __init__(self, error: Exception):
        self.error = error

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "spandrel":
            raise self.error
        return None


@pytest.fixture
def spandrel_fails(monkeypatch, tmp_path):
    """Returns a function that makes ``import spandrel`` raise the given error (fresh lazy import)."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    for name in [m for m in sys.modules if m.split(".")[0] == "spandrel"]:
        monkeypatch.delitem(sys.modules, name)
    importer._import.cache_clear()

    def install(error: Exception) -> None:
        monkeypatch.setattr(sys, "meta_path", [_Refuse(error), *sys.meta_path])

    yield install
    importer._import.cache_clear()


def _unknown_file(tmp_path):
    path = tmp_path / "4x_HAT_community.pth"
    torch.save({"conv_first.weight": torch.zeros(8, 3, 3, 3),
                "layers.0.residual_group.blocks.0.norm1.weight": torch.ones(8)}, path)
    return path


def test_unknown_file_without_spandrel_says_how_to_get_it(spandrel_fails, tmp_path):
    spandrel_fails(ModuleNotFoundError("No module named 'spandrel'", name="spandrel"))
    path = _unknown_file(tmp_path)
    expected = (f"unsupported model file {path}: not an {custom.supported_families()} state dict, "
                f"nor an ncnn .param/.bin pair (no known layer names); {HINT}")
    for call in (custom.detect_model_file, custom.add_custom_model, custom.load_model_file):
        with pytest.raises(ModelError) as err:
            call(path)
        assert str(err.value) == expected
    assert not list(custom.custom_models_dir().iterdir())


def test_a_broken_spandrel_install_is_named(spandrel_fails, tmp_path):
    """spandrel present but its torchvision built for another torch: said in the same line."""
    spandrel_fails(RuntimeError("operator torchvision::nms does not exist"))
    with pytest.raises(ModelError) as err:
        custom.add_custom_model(_unknown_file(tmp_path))
    assert str(err.value).endswith(
        f"; {HINT} (spandrel is installed but does not import: RuntimeError: operator torchvision::nms does not exist)")
    assert "\n" not in str(err.value)


def test_a_model_added_through_spandrel_needs_it_to_load(spandrel_fails, tmp_path):
    spandrel_fails(ModuleNotFoundError("No module named 'spandrel'", name="spandrel"))
    folder = custom.custom_models_dir() / "custom-hat"
    folder.mkdir()
    _unknown_file(tmp_path).replace(folder / "custom-hat.pth")
    (custom.custom_models_dir() / "index.json").write_text(json.dumps({"version": 1, "models": [
        {"id": "custom-hat", "name": "hat", "arch": "HAT", "scale": 4, "scales": [4], "format": "pth",
         "files": ["custom-hat.pth"], "family": "spandrel:HAT", "license": "", "recommended_tile": 256}]}))
    spec = registry.get_model_spec("custom-hat")
    assert spec.source["family"] == "spandrel:HAT" and spec.installed
    with pytest.raises(ModelError) as err:
        custom.load_custom_model(spec)
    assert str(err.value) == f"custom-hat was added through spandrel: spandrel is not installed; {HINT}"


def test_the_projects_own_architectures_never_import_spandrel(spandrel_fails, tmp_path):
    spandrel_fails(AssertionError("spandrel imported for one of the project's own architectures"))
    path = tmp_path / "compact_x2.pth"
    torch.save(SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2).state_dict(), path)
    assert custom.add_custom_model(path).arch == "SRVGGNetCompact"
    assert "spandrel" not in sys.modules
