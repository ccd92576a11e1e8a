"""`sr-desktop models`, `models add` and `models remove` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact


def test_models_json_lists_scales_variants_and_defaults(capsys):
    assert main(["models", "--json"]) == 0
    entries = {e["id"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["realcugan-se"]["scales"] == [2, 3, 4]
    assert entries["span"]["default_variant"] == "ch48"
    # bicubic and lanczos take any scale 1..16 (the table says so; the JSON said [2, 3, 4])
    assert entries["bicubic"]["scales"] == entries["lanczos"]["scales"] == list(range(1, 17))
    for entry in entries.values():
        assert entry["default_variant"] in entry["variants"]
        assert "installed" in entry
        assert sum(v["default"] for v in entry["variants_detail"]) == 1


def test_models_table(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "realesrgan-x4plus" in out and "installed" in out
    # VDSR's ×2 number is a ×2-only network's, not the paper's one network's: said in its row
    vdsr = next(line for line in out.splitlines() if line.startswith("vdsr "))
    assert "(×2: a network of its own; ×3, ×4: one shared network)" in vdsr
    srcnn = next(line for line in out.splitlines() if line.startswith("srcnn "))
    assert "network of its own" not in srcnn  # one network per scale: nothing to say


def test_add_use_and_remove_a_custom_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))  # (its own models alone: the messages list them)
    net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2)
    path = tmp_path / "2x_tiny_compact.pth"
    torch.save({"params": net.state_dict()}, path)
    assert main(["models", "add", str(path), "--name", "tiny compact"]) == 0
    added = capsys.readouterr().out
    assert "SRVGGNetCompact" in added and "(SRVGGNetCompact, ×2)" in added
    model_id = added.split()[1].rstrip(":")
    # the same weights again: added (as before), and said (three entries of one file went
    # without a word)
    assert main(["models", "add", str(path), "--name", "tiny again"]) == 0
    out, err = capsys.readouterr()
    twin = out.split()[1].rstrip(":")
    assert err.strip() == f"sr-desktop: note: the same weights are already added as {model_id} (tiny compact)"
    assert main(["models", "remove", twin]) == 0
    capsys.readouterr()

    assert main(["models", "--json"]) == 0
    ids = [e["id"] for e in json.loads(capsys.readouterr().out)]
    assert model_id in ids

    src = tmp_path / "in.png"
    PILImage.fromarray(np.full((12, 10, 3), 128, np.uint8)).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", model_id, "-q"]) == 0
    assert PILImage.open(tmp_path / "out.png").size == (20, 24)

    assert main(["models", "remove", model_id]) == 0
    capsys.readouterr()
    assert main(["models", "remove", model_id]) == 2
    assert f"no custom model with id '{model_id}' (you have added none)" in capsys.readouterr().err
    # a built-in model, and a model's name for its id, are said so ("no custom model with id …")
    assert main(["models", "remove", "srcnn"]) == 2
    assert "srcnn is a built-in model: only models you added can be removed" in capsys.readouterr().err
    assert main(["models", "add", str(path), "--name", "My tiny"]) == 0
    added_id = capsys.readouterr().out.split()[1].rstrip(":")
    assert main(["models", "remove", "my tiny"]) == 2
    assert f"the model named so has the id {added_id}" in capsys.readouterr().err
    assert main(["models", "remove", "nothing-of-that-name"]) == 2
    assert f"(yours: {added_id})" in capsys.readouterr().err


def test_unsupported_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "notes.pth"
    bad.write_bytes(b"not a model at all")
    assert main(["models", "add", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "RRDBNet" in err and "SPAN" in err and "Traceback" not in err


def test_the_table_keeps_its_columns_with_wide_characters_in_a_name():
    """Columns were padded by characters: a model named 中文模型 (two terminal cells each)
    pushed its row's SCALES and TAGS 4 cells right of the others'."""
    from sr_desktop.cli.cmd_models import _columns
    from sr_desktop.engine.core.text import terminal_width

    lines = _columns([("ID", "NAME", "SCALES"), ("custom-a", "中文模型", "x2"), ("custom-b", "Modèle", "x4")])
    columns = ("SCALES", "x2", "x4")
    cells_before = [terminal_width(line[:line.index(column)]) for line, column in zip(lines, columns, strict=True)]
    assert cells_before == [20, 20, 20]


def test_clear_cache_frees_the_converted_models_and_nothing_outside(tmp_path, capsys, monkeypatch):
    """The converted weights and OpenVINO conversions (tens of MB each) had no command to free
    them, only a folder to find: `models clear-cache` empties the cache and says how much it
    freed; a link in it goes as a link, what it leads to stays; the added models stay."""
    from sr_desktop.engine.core import paths

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    cache = paths.cache_dir()
    (cache / "models").mkdir(parents=True)
    (cache / "models" / "ncnn-1.safetensors").write_bytes(bytes(1_500_000))
    (cache / "openvino" / "0").mkdir(parents=True)
    (cache / "openvino" / "0" / "model.bin").write_bytes(bytes(500_000))
    (cache / "backends.json").write_text("{}")
    outside = tmp_path / "photos"
    outside.mkdir()
    (outside / "keep.png").write_bytes(b"mine")
    (cache / "link").symlink_to(outside, target_is_directory=True)
    added = paths.data_dir() / "custom_models"
    added.mkdir(parents=True)
    (added / "mine.pth").write_bytes(b"weights")

    assert main(["models", "clear-cache"]) == 0
    assert capsys.readouterr().out == f"freed 1.9 MiB in {cache} (made again at their next use)\n"
    assert list(cache.iterdir()) == []
    assert (outside / "keep.png").read_bytes() == b"mine" and (added / "mine.pth").exists()
    assert main(["models", "clear-cache", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"freed_bytes": 0, "folder": str(cache), "kept": []}
    assert main(["models", "clear-cache"]) == 0
    assert capsys.readouterr().out == f"freed 0 B in {cache} (made again at their next use)\n"


def test_clear_cache_says_what_it_could_not_delete_and_fails(tmp_path, capsys, monkeypatch):
    """An entry in use elsewhere or without permission is named on stderr with why, the rest
    is deleted and counted, and the exit status is 1 (the JSON lists it under "kept")."""
    import shutil

    from sr_desktop.engine.core import paths
    from sr_desktop.engine.models import user_cache

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    cache = paths.cache_dir()
    (cache / "models").mkdir(parents=True)
    (cache / "models" / "ncnn-1.safetensors").write_bytes(bytes(1_000_000))
    (cache / "openvino").mkdir()
    (cache / "openvino" / "model.bin").write_bytes(bytes(300_000))
    real_rmtree = shutil.rmtree

    def refuse_openvino(path, *args, **kwargs):
        if Path(path).name == "openvino":
            raise PermissionError(13, "Permission denied", str(path))
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(user_cache.shutil, "rmtree", refuse_openvino)
    assert main(["models", "clear-cache"]) == 1
    out, err = capsys.readouterr()
    assert out == f"freed 976.6 KiB in {cache} (made again at their next use)\n"
    assert err == "sr-desktop: error: not deleted: openvino: Permission denied\n"
    assert sorted(p.name for p in cache.iterdir()) == ["openvino"]
    assert main(["models", "clear-cache", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["kept"] == ["openvino: Permission denied"]


def test_the_cache_size_is_what_clearing_frees_when_the_cache_folder_is_a_link(tmp_path, monkeypatch):
    """A cache folder linked to another disk was measured as the link (27 B), and the window
    asked to delete that before deleting megabytes behind it."""
    from sr_desktop.engine.core import paths
    from sr_desktop.engine.models.user_cache import cache_bytes, clear_cache

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    elsewhere = tmp_path / "big-disk"
    (elsewhere / "models").mkdir(parents=True)
    (elsewhere / "models" / "ncnn-1.safetensors").write_bytes(bytes(500_000))
    cache = paths.cache_dir()
    cache.rmdir()
    cache.symlink_to(elsewhere, target_is_directory=True)
    assert cache_bytes() == 500_000
    assert clear_cache() == (500_000, []) and cache.is_symlink() and list(elsewhere.iterdir()) == []
