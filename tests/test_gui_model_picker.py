"""The model picker offers what the engine runs: variants at the picked scale."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from sr_desktop.engine.models.loader import resolve_scale_variant
from sr_desktop.engine.models.registry import get_model_spec, list_models

pytestmark = pytest.mark.gui


def _picker(qtbot, ids):
    from sr_desktop.gui.main_window.model_picker import ModelPicker

    picker = ModelPicker([s for s in list_models() if s.id in ids])
    qtbot.addWidget(picker)
    return picker


def _offered(picker) -> list[str]:
    return [picker.variant_combo.itemData(i) for i in range(picker.variant_combo.count())]


def test_variants_follow_the_scale(qtbot):
    """Real-CUGAN SE's denoise1/2 exist at ×2 only: at ×4 they were still offered and the
    upscale failed ("has no variant 'denoise1' at ×4")."""
    picker = _picker(qtbot, ("realcugan-se",))
    spec = get_model_spec("realcugan-se")
    assert picker.set_model_id("realcugan-se") and picker.set_scale(2)
    assert "denoise1" in _offered(picker) and picker.set_variant("denoise1")
    assert picker.set_scale(4)
    assert "denoise1" not in _offered(picker) and "denoise3" in _offered(picker)
    for variant in _offered(picker):  # everything offered runs
        assert resolve_scale_variant(spec, 4, variant) == (4, variant)
    assert picker.variant() == "default"  # the picked one was gone: the engine's default
    assert picker.set_variant("denoise3") and picker.set_scale(3)
    assert picker.variant() == "denoise3"  # kept where the scale has it
    assert picker.set_scale(2) and picker.set_variant("denoise2") and picker.set_scale(4)
    assert picker.variant() == "default" and picker.set_scale(2)
    assert picker.variant() == "denoise2"  # the user's choice again, not the default ×4 left
    picker.variant_combo.setCurrentIndex(picker.variant_combo.findData("denoise1"))  # as a click does
    assert picker.set_scale(3) and picker.set_scale(2) and picker.variant() == "denoise1"


def test_a_scale_without_the_plain_variant_shows_the_one_that_runs(qtbot):
    """waifu2x CUNet ×1 is denoise-only: the picker said "default", the engine ran denoise0,
    and the new result was at once marked as not what the picker is set to."""
    picker = _picker(qtbot, ("waifu2x-cunet",))
    spec = get_model_spec("waifu2x-cunet")
    assert picker.set_model_id("waifu2x-cunet") and picker.set_scale(1)
    assert "default" not in _offered(picker)
    assert picker.variant() == resolve_scale_variant(spec, 1, None)[1] == "denoise0"
    # not picked by the user: ×2 runs its own default again (denoise0 stuck, never chosen)
    assert picker.set_scale(2) and picker.variant() == "default"
    assert picker.set_scale(1) and picker.set_variant("denoise2") and picker.set_scale(2)
    assert picker.variant() == "denoise2"  # picked: it stays


def test_a_variant_never_chosen_is_not_handed_on_nor_remembered(qtbot, tmp_path):
    """The Batch dialog's copy of the picker, and the next start, took CUNet ×1's fallback
    denoise0 for the user's choice: at ×2 it stayed denoise0."""
    from sr_desktop.gui.settings import GuiSettings

    picker = _picker(qtbot, ("waifu2x-cunet",))
    assert picker.set_model_id("waifu2x-cunet") and picker.set_scale(1) and picker.variant() == "denoise0"
    other = _picker(qtbot, ("waifu2x-cunet",))
    assert other.take_choice_of(picker) and other.variant() == "denoise0"
    assert other.set_scale(2) and other.variant() == "default"
    settings = GuiSettings(tmp_path / "gui.ini")
    picker.save_settings(settings)
    restored = _picker(qtbot, ("waifu2x-cunet",))
    restored.load_settings(settings)
    assert restored.scale() == 1 and restored.set_scale(2) and restored.variant() == "default"
    picker.set_variant("denoise3")  # chosen: handed on and remembered
    assert other.take_choice_of(picker) and other.set_scale(2) and other.variant() == "denoise3"


def test_transparency_is_a_choice_kept_in_the_settings_and_handed_on(qtbot, tmp_path):
    """Only `upscale --alpha resample` could keep a sprite's alpha edge clean (SPAN ×4 left
    holes in it): the window and the batch dialog had no such choice."""
    from sr_desktop.engine.core.options import AlphaMode
    from sr_desktop.gui.settings import GuiSettings

    picker = _picker(qtbot, ("bicubic", "lanczos"))
    assert picker.options().alpha == AlphaMode.MODEL
    assert picker.set_alpha("resample") and picker.options().alpha == AlphaMode.RESAMPLE
    settings = GuiSettings(tmp_path / "gui.ini")
    picker.save_settings(settings)
    restored = _picker(qtbot, ("bicubic", "lanczos"))
    restored.load_settings(settings)
    assert restored.alpha() == "resample"
    other = _picker(qtbot, ("bicubic", "lanczos"))
    assert other.take_choice_of(picker) and other.alpha() == "resample"


def test_restored_settings_get_the_variants_of_the_restored_scale(qtbot, tmp_path):
    from sr_desktop.gui.settings import GuiSettings

    settings = GuiSettings(tmp_path / "gui.ini")
    settings.set("model", "realcugan-se")
    settings.set("scale", 2)
    settings.set("variant", "denoise2")
    picker = _picker(qtbot, ("realcugan-se",))
    picker.load_settings(settings)
    assert (picker.scale(), picker.variant()) == (2, "denoise2")
    settings.set("scale", 4)
    picker.load_settings(settings)  # a stored variant the scale lacks: the default instead
    assert picker.scale() == 4 and picker.variant() == "default" and "denoise2" not in _offered(picker)


def test_a_remembered_model_that_is_gone_is_named_at_start(qtbot, tmp_path):
    """The picker quietly showed the default model (and the settings file was overwritten
    with it) when the model used last had been removed or lost its file."""
    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    create_application()
    settings = GuiSettings(tmp_path / "gui.ini")
    settings.set("model", "custom-removed-since")
    window = MainWindow(settings=settings, confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.message_bar.text() != "", timeout=5000)
    message = window.message_bar.text()
    assert message.startswith("The model used last, custom-removed-since, is no longer in the model list")
    assert message.endswith(f"; {window.picker.spec().name} is selected.")


def test_a_remembered_choice_the_window_cannot_show_is_kept_in_the_settings(qtbot, tmp_path):
    """A model of another install (or a compare mode of another version) was replaced in the
    settings by the window's fallback at its first close: that install lost its choice."""
    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    create_application()
    settings = GuiSettings(tmp_path / "gui.ini")
    settings.set("model", "hat-l")
    settings.set("scale", 2)
    settings.set("compare_mode", "slider")
    window = MainWindow(settings=settings, confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    window.show()
    assert window.picker.model_id() != "hat-l"
    window.close()
    again = GuiSettings(tmp_path / "gui.ini")
    assert (again.get("model"), again.get("scale"), again.get("compare_mode")) == ("hat-l", 2, "slider")
    # a choice made in the window is stored as before
    window = MainWindow(settings=again, confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    assert window.picker.set_model_id("bicubic") and window.picker.set_scale(3)
    window.set_compare_mode("side_by_side")
    window.close()
    stored = GuiSettings(tmp_path / "gui.ini")
    assert (stored.get("model"), stored.get("scale"), stored.get("compare_mode")) == ("bicubic", 3, "side_by_side")


def test_a_backend_that_cannot_run_the_model_is_greyed_out_with_why(qtbot, tmp_path):
    """Every backend was offered for every model: OpenVINO for bicubic (and, kept from an
    earlier session, it failed every bicubic upscale: "bicubic (resample, cpu, float32)
    cannot use it"), ncnn for SRCNN."""
    from sr_desktop.gui.settings import GuiSettings

    picker = _picker(qtbot, ("bicubic", "srcnn", "realesr-animevideov3"))
    model = picker.backend_combo.model()

    def offered():
        return {picker.backend_combo.itemData(i): model.item(i).isEnabled()
                for i in range(picker.backend_combo.count())}

    assert picker.set_model_id("realesr-animevideov3") and picker.set_backend("openvino")
    from sr_desktop.engine.models.backends.ncnn_runner import ncnn_version

    assert offered() == {"auto": True, "torch": True, "openvino": True, "ncnn": ncnn_version() is not None}
    settings = GuiSettings(tmp_path / "gui.ini")
    picker.save_settings(settings)
    assert picker.set_model_id("srcnn") and picker.backend() == "openvino"
    ncnn_tip = model.item(picker.backend_combo.findData("ncnn")).toolTip()
    assert offered()["ncnn"] is False and ("not one of them" in ncnn_tip or "not installed" in ncnn_tip)
    assert picker.set_model_id("bicubic") and picker.backend() == "auto"  # (greyed out: back to auto)
    assert offered() == {"auto": True, "torch": True, "openvino": False, "ncnn": False}
    assert not picker.set_backend("openvino") and picker.options().backend.value == "auto"
    settings.set("model", "bicubic")
    restored = _picker(qtbot, ("bicubic", "srcnn", "realesr-animevideov3"))
    restored.load_settings(settings)  # the earlier session's openvino: not for bicubic
    assert restored.model_id() == "bicubic" and restored.backend() == "auto"


def test_backends_follow_the_device_auto_resolves_to_and_vulkan_keeps_ncnn(qtbot):
    """On a machine with a torch GPU, auto runs there: OpenVINO (CPU only) was still offered
    and failed every upscale. On vulkan, ncnn (its GPU path) was greyed out as "a GPU"."""
    from sr_desktop.engine.models.backends.ncnn_runner import ncnn_version

    picker = _picker(qtbot, ("fsrcnn", "realesr-animevideov3"))
    model = picker.backend_combo.model()

    def enabled(backend: str) -> bool:
        return model.item(picker.backend_combo.findData(backend)).isEnabled()

    assert picker.set_model_id("fsrcnn") and picker.device() == "auto"
    picker._torch_gpu = True  # (as on a CUDA machine)
    picker.fit_backends()
    assert not enabled("openvino") and not picker.set_backend("openvino")
    picker._torch_gpu = False
    picker.fit_backends()
    assert enabled("openvino")
    if picker._vulkan_text is not None and ncnn_version() is not None:
        assert picker.set_model_id("realesr-animevideov3") and picker.set_device("vulkan")
        assert enabled("ncnn") and picker.set_backend("ncnn") and picker.backend() == "ncnn"


def test_a_greyed_out_device_says_why(qtbot, monkeypatch):
    """Its tooltip said "cuda is not available on this machine" to the owner of an NVIDIA
    card whose torch is a CPU-only build; the inventory knew why."""
    from sr_desktop.engine.models.backends import inventory
    from sr_desktop.engine.models.backends.inventory import DeviceInfo

    monkeypatch.setattr(inventory, "compute_devices", lambda: [
        DeviceInfo("cpu", "Test CPU", True),
        DeviceInfo("cuda", "torch 2.13.0+cpu is a CPU-only build", False),
        DeviceInfo("mps", "no Apple GPU (MPS)", False),
        DeviceInfo("vulkan", "the ncnn runtime is not installed", False)])
    picker = _picker(qtbot, ("bicubic",))
    items = picker.device_combo.model()
    cuda = items.item(picker.device_combo.findData("cuda"))
    assert not cuda.isEnabled()
    assert cuda.toolTip() == "cuda is not available: torch 2.13.0+cpu is a CPU-only build"
    assert items.item(picker.device_combo.findData("mps")).toolTip() == "mps is not available: no Apple GPU (MPS)"


def test_a_resampling_model_offers_every_whole_scale_it_runs(qtbot):
    """nearest's description says any integer scale, and the command line takes 1..16, but the
    list stopped at ×2, ×3, ×4, ×8: pixel art's ×5, ×6 or ×16 could not be picked."""
    picker = _picker(qtbot, ("nearest", "span"))
    assert picker.set_model_id("nearest")
    offered = [picker.scale_combo.itemData(i) for i in range(picker.scale_combo.count())]
    assert offered == list(range(2, 17)) and picker.set_scale(6)
    assert picker.options().scale == 6 and picker.options().model == "nearest"
    assert picker.scale_combo.currentText() == "×6"  # (no "native": every scale is)
    assert picker.set_model_id("span")  # a network: its own and the reachable scales
    assert [picker.scale_combo.itemData(i) for i in range(picker.scale_combo.count())] == [2, 3, 4, 8]


def test_a_model_says_what_it_is_for_in_plain_words_its_paper_words_on_hover(qtbot):
    """A photographer picking a model met "argmin_x ‖(x ⊗ k)↓s − y‖² + α·prior(x)" and "NTIRE
    2024 efficient SR winner" under the list: a model of the manifest says what it is good
    for there, its technical description on hover; the literature's keep their description."""
    picker = _picker(qtbot, ("realesrgan-x4plus", "map-sr", "span", "fsrcnn"))
    for model_id in ("realesrgan-x4plus", "map-sr", "span"):
        spec = get_model_spec(model_id)
        assert spec.use and spec.to_json()["use"] == spec.use
        assert picker.set_model_id(model_id)
        shown = picker.description.text()
        assert "JPEG" in shown if model_id != "map-sr" else "blur" in shown
        assert spec.description.split(" ")[0] not in shown.split("<br>")[0]
        tip = picker.item_for(model_id).toolTip()
        assert "<b>For:</b>" in tip and spec.description.split(" (")[0].split(":")[0] in tip
    assert picker.set_model_id("fsrcnn")
    assert picker.description.text().startswith("SRCNN on the low-resolution image")


def test_the_iterations_row_is_a_per_image_model_s_and_reaches_its_options(qtbot):
    """ZSSR trained 1000 iterations (minutes on a CPU) and map-sr solved 300 whatever the
    user wanted: the Iterations row sets them, shown for those models only, at their default
    again for another model; the batch dialog's picker takes it over."""
    picker = _picker(qtbot, ("zssr", "map-sr", "bicubic"))
    picker.show()
    assert picker.set_model_id("bicubic")
    assert picker.iterations_spin.isHidden() and picker.iterations_label.isHidden()
    picker.iterations_spin.setValue(50)  # (hidden: not this model's)
    assert picker.iterations() is None and picker.options().iterations is None
    assert picker.set_model_id("zssr")
    assert not picker.iterations_spin.isHidden() and picker.iterations_spin.text() == "default"
    assert "1000 on a CPU" in picker.iterations_spin.toolTip()
    # (the Blur kernel panel's Iterations field is KernelGAN's: a screen reader tells them apart)
    assert picker.iterations_spin.accessibleName() == "Iterations (ZSSR, map-sr)"
    from sr_desktop.gui.kernel.panel import KernelPanel

    kernel_panel = KernelPanel()
    qtbot.addWidget(kernel_panel)
    assert kernel_panel.iterations_spin.accessibleName() == "KernelGAN iterations"
    assert picker.options().iterations is None
    with qtbot.waitSignal(picker.optionsChanged):
        picker.iterations_spin.setValue(200)
    assert picker.options().iterations == 200
    other = _picker(qtbot, ("zssr", "map-sr", "bicubic"))
    assert other.take_choice_of(picker) and other.options().iterations == 200
    # kept when the list is reloaded with the model still in it (a model added elsewhere)
    assert picker.reload([s for s in list_models() if s.id in ("zssr", "map-sr")]) is None
    assert picker.model_id() == "zssr" and picker.options().iterations == 200
    assert picker.set_model_id("map-sr")
    assert picker.options().iterations is None and "Tikhonov 100" in picker.iterations_spin.toolTip()
