"""The "Literature" group: the SR literature's architectures listed with paper, year and
published PSNR, marked "needs weights" in `sr-desktop models`, the CLI and the GUI picker."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.models import loader, registry
from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact

# a home of its own: checkpoints other modules add (a SAN, "test vdsr") change what it lists and says
pytestmark = pytest.mark.usefixtures("module_home")

#: Set5 PSNR (dB, Y) at ×2/×3/×4 as published by each paper (None: not reported); SRCNN ×4
#: is 30.49 in its TPAMI table (later papers reprint it as 30.48). SPSR and EnhanceNet are
#: perceptual (no PSNR listed), as ESRGAN's GAN model; ProSR lists the release's Set14 numbers only (no Set5).
SET5 = {
    "srcnn": (36.66, 32.75, 30.49), "fsrcnn": (37.00, 33.16, 30.71), "espcn": (None, 32.55, None),
    "vdsr": (37.53, 33.66, 31.35), "lapsrn": (37.52, None, 31.54), "srresnet": (None, None, 32.05),
    "edsr": (38.11, 34.65, 32.46), "edsr-baseline": (37.99, 34.37, 32.09), "mdsr": (38.11, 34.66, 32.50),
    "rdn": (38.24, 34.71, 32.47), "rcan": (38.27, 34.74, 32.63),
    "ddbpn": (38.09, None, 32.47), "esrgan": (None, None, None), "spsr": (None, None, None),
    "enhancenet": (None, None, None), "prosr": (None, None, None),
    "san": (38.31, 34.75, 32.64), "csnln": (38.28, 34.74, 32.68),
}
#: rows with Set14 numbers but no Set5 (the release's README table)
SET14_ONLY = {"prosr": (34.12, None, 28.94)}


def test_every_literature_row_has_its_paper_and_published_numbers():
    specs = {s.id: s for s in registry.list_literature_models()}
    assert list(specs) == list(SET5)
    for model_id, expected in SET5.items():
        spec = specs[model_id]
        assert spec.group == "literature" and spec.kind == "feedforward"
        # (SRCNN, 2014, is the first; a later paper is a row like any other)
        assert spec.paper and 2014 <= spec.year <= datetime.date.today().year and spec.description
        if spec.trained:  # weights trained for this project ship with it (test_literature_weights.py)
            assert spec.installed and spec.status == "installed" and spec.install_command is None
        else:
            assert not spec.installed and spec.needs_weights and spec.status == "needs weights"
            assert spec.install_command == "sr-desktop models add FILE"
        set14 = SET14_ONLY.get(model_id, expected)
        for scale, value, beside in zip((2, 3, 4), expected, set14, strict=True):
            got = spec.published.get(f"x{scale}", {})
            assert got.get("Set5") == value, (model_id, scale)
            assert (got.get("Set14") is None) == (beside is None), (model_id, scale)  # Set14 beside each
    assert specs["rcan"].published["x4"]["Set14"] == 28.87
    assert specs["vdsr"].published["x3"]["Set14"] == 29.77
    assert specs["ddbpn"].published["x4"]["Set14"] == 28.82 and specs["ddbpn"].scales == [2, 4, 8]
    assert specs["ddbpn"].published["x8"] == {"Set5": 27.21, "Set14": 25.13}
    assert specs["lapsrn"].published["x8"] == {"Set5": 26.14}  # (its reprints' Set14 numbers differ)
    assert (specs["ddbpn"].year, specs["spsr"].year, specs["spsr"].scales) == (2018, 2020, [4])
    assert "LPIPS" in specs["spsr"].published["protocol"]
    assert specs["san"].published["x4"]["Set14"] == 28.92 and specs["san"].scales == [2, 3, 4, 8]
    assert specs["csnln"].published["x3"]["Set14"] == 30.66 and specs["csnln"].year == 2020
    assert specs["prosr"].published["x8"] == {"Set14": 25.25} and specs["prosr"].scales == [2, 4, 8]
    assert specs["enhancenet"].scales == [4] and "perceptual" in specs["enhancenet"].published["protocol"]
    assert (specs["esrgan"].year, specs["esrgan"].scales) == (2018, [4])
    assert "PI" in specs["esrgan"].published["protocol"]


def test_every_published_number_names_its_table_and_how_it_was_checked():
    """Each row says which table its numbers come from and whether they were checked here
    (against which reprint or figure), or not; `models --json` shows both."""
    for spec in registry.list_literature_models():
        assert spec.published["source"] and spec.published["checked"], spec.id
        numbers = any(k.startswith("x") for k in spec.published)
        assert numbers == (spec.id not in ("esrgan", "spsr", "enhancenet")), spec.id
        if numbers:
            assert "table" in spec.published["source"].lower(), spec.id
    checked = {s.id for s in registry.list_literature_models() if s.published["checked"].startswith("checked")}
    assert checked == {"srcnn", "vdsr", "lapsrn", "edsr", "rdn", "rcan", "ddbpn", "prosr", "san", "csnln"}


def test_the_zoo_is_unchanged_and_the_literature_follows_it():
    zoo = [s.id for s in registry.list_zoo_models()]
    assert not set(zoo) & set(SET5)
    ids = [s.id for s in registry.list_models()]
    assert ids[: len(zoo) + len(SET5)] == zoo + list(SET5)  # custom models come after both
    assert registry.get_model_spec("edsr").needs_weights


def test_models_json_and_table_show_the_group(capsys):
    assert main(["models", "--json"]) == 0
    entries = {e["id"]: e for e in json.loads(capsys.readouterr().out)}
    vdsr = entries["vdsr"]
    assert vdsr["group"] == "literature" and vdsr["year"] == 2016 and "Kim" in vdsr["paper"]
    assert vdsr["published"]["x2"] == {"Set5": 37.53, "Set14": 33.03}
    assert "Kim et al." in vdsr["published"]["source"] and vdsr["published"]["checked"].startswith("checked")
    rcan = entries["rcan"]  # no weights ship for RCAN
    assert rcan["status"] == "needs weights" and rcan["installed"] is False and rcan["trained"] == {}
    assert entries["realesrgan-x4plus"]["group"] == "" and entries["bicubic"]["status"] == "installed"
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("Literature"):]
    assert "SET5 ×2/×3/×4" in section
    line = next(row for row in section.splitlines() if row.startswith("vdsr "))
    assert "2016" in line and "37.53/33.66/31.35" in line and "33.03/29.77/28.01" in line
    line = next(row for row in section.splitlines() if row.startswith("rcan "))
    assert "2018" in line and "38.27/34.74/32.63" in line and "34.12/30.65/28.87" in line
    assert line.endswith("needs weights: sr-desktop models add FILE")
    espcn = next(row for row in section.splitlines() if row.startswith("espcn "))
    assert "-/32.55/-" in espcn
    # ×8: published Set5/Set14 for the models with a ×8 network, and what the shipped ×8 measures
    assert "×8 SET5/SET14" in section
    ddbpn = next(row for row in section.splitlines() if row.startswith("ddbpn "))
    assert "27.21/25.13" in ddbpn
    lapsrn = next(row for row in section.splitlines() if row.startswith("lapsrn "))
    measured = registry.get_model_spec("lapsrn").trained["8"]["measured"]
    assert f"{measured['Set5']['psnr']:.2f}/{measured['Set14']['psnr']:.2f}" in lapsrn
    assert " 26.14/- " in lapsrn
    assert "/25.25 " in next(row for row in section.splitlines() if row.startswith("prosr "))
    assert "vdsr" not in out[: out.index("Literature")]


def test_upscale_with_a_model_that_needs_weights_is_one_line(tmp_path, capsys):
    src = tmp_path / "in.png"
    PILImage.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(src)
    for model_id in ("san", "rcan"):
        assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", model_id]) == 2
        err = capsys.readouterr().err
        assert err == (f"sr-desktop: error: {model_id} needs weights: add a checkpoint with "
                       "`sr-desktop models add FILE`\n")
    assert not (tmp_path / "out.png").exists()
    with pytest.raises(ModelError, match="needs weights"):
        loader.load_model("edsr", scale=2)


def test_an_added_checkpoint_is_a_custom_model_listed_before_the_literature_in_the_picker(
        tmp_path, capsys, qtbot):
    from sr_desktop.gui.main_window.model_picker import LITERATURE_HEADING, ModelPicker

    path = tmp_path / "tiny.pth"
    torch.save(SRVGGNetCompact(num_feat=4, num_conv=1, upscale=2).state_dict(), path)
    assert main(["models", "add", str(path), "--name", "lit tiny"]) == 0
    model_id = capsys.readouterr().out.split()[1].rstrip(":")
    try:
        specs = registry.list_models()
        assert specs[-1].id == model_id and specs[-1].status == "installed" and specs[-1].custom
        picker = ModelPicker(specs)
        qtbot.addWidget(picker)
        rows = [picker._model_items.item(r).text() for r in range(picker._model_items.rowCount())]
        custom_row = rows.index(picker.item_for(model_id).text())
        assert custom_row < rows.index(LITERATURE_HEADING)  # the group stays at the bottom
        assert picker.item_for(model_id).isEnabled() and picker.set_model_id(model_id)
    finally:
        assert main(["models", "remove", model_id]) == 0


def test_picker_lists_the_literature_disabled_under_its_heading(qtbot, tmp_path):
    from sr_desktop.gui.main_window.model_picker import LITERATURE_HEADING, ModelPicker
    from sr_desktop.gui.metrics.evaluate_section import installed_models

    picker = ModelPicker(registry.list_models())
    qtbot.addWidget(picker)
    items = picker._model_items
    texts = [items.item(row).text() for row in range(items.rowCount())]
    heading = texts.index(LITERATURE_HEADING)
    assert not items.item(heading).isEnabled() and not items.item(heading).isSelectable()
    literature = registry.list_literature_models()
    assert texts[heading + 1:] == [
        f"{s.name} ({s.year})" + ("" if s.trained else "  — needs weights")
        + ("  — training incomplete (" + ", ".join(f"×{k}" for k in sorted(int(k) for k, r in s.trained.items()
                                                                          if r["incomplete"])) + ")"
           if s.trained and "training incomplete" in s.tags else "") for s in literature]
    shipped = {s.id for s in literature if s.trained}
    for model_id in SET5:
        item = picker.item_for(model_id)
        assert item is not None and item.isEnabled() == (model_id in shipped)
        assert "sr-desktop models add FILE" in item.toolTip() or model_id in shipped
        # SPSR publishes no PSNR (a perceptual method): its tooltip has no PSNR line
        numbers = any(v is not None for v in SET5[model_id] + SET14_ONLY.get(model_id, ()))
        assert ("Published PSNR" in item.toolTip()) == numbers
        assert picker.set_model_id(model_id) == (model_id in shipped)
    assert "CVPR 2016" in picker.item_for("vdsr").toolTip() and "37.53" in picker.item_for("vdsr").toolTip()
    # its ×2 number is a ×2-only network's, not the paper's one network's
    assert "×2: a network of its own; ×3, ×4: one shared network." in picker.item_for("vdsr").toolTip()
    assert picker.spec() is not None and picker.spec().installed  # the default is a runnable model
    assert picker.set_model_id("bicubic") and picker.model_id() == "bicubic"
    assert {m for m, _ in installed_models()} & set(SET5) == shipped  # the leaderboard offers the shipped ones

    picker.resize(480, 160)
    picker.show()
    qtbot.waitExposed(picker)
    picker.model_combo.showPopup()
    popup = picker.model_combo.view().window()
    popup.resize(480, 640)
    shot = tmp_path / "picker-popup.png"
    assert popup.grab().save(str(shot)) and shot.stat().st_size > 1000
    picker.model_combo.hidePopup()
