"""Models ▸ Add… in the main window (offscreen): a user's .pth is detected, registered,
listed and selected in the picker and usable; unsupported files give a one-line error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact
from sr_desktop.gui.app import create_application
from sr_desktop.gui.main_window.window import MainWindow
from sr_desktop.gui.settings import GuiSettings

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("module_home")]


class FileChooser:
    """Injectable Models ▸ Add… dialog: returns the queued answer, counts calls."""

    def __init__(self) -> None:
        self.answer: Path | None = None
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.answer


@pytest.fixture
def chooser():
    return FileChooser()


@pytest.fixture
def window(qtbot, tmp_path, chooser):
    create_application()
    win = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda _q: "discard",
                     ask_model_file=chooser)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.queue.shutdown(2.0)


def srvgg_pth(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2)
    torch.save({"params": net.state_dict()}, path)
    return path


def model_ids(picker) -> list[str]:
    return [spec.id for spec in picker.models()]


def test_add_a_pth_lists_and_selects_it_and_it_upscales(window, tmp_path, qtbot, chooser):
    chooser.answer = srvgg_pth(tmp_path / "my tiny net.pth")
    before = model_ids(window.picker)
    assert window.picker.set_scale(4)
    window.add_model_action.trigger()
    assert chooser.calls == 1
    spec = window.picker.spec()
    assert spec is not None and spec.custom and spec.id.startswith("custom-")
    assert spec.id not in before and model_ids(window.picker) == before + [spec.id]
    assert spec.arch.lower().startswith("srvgg") and spec.scales == [2]
    assert window.picker.model_id() == spec.id
    assert window.picker.scale() == 2  # its own scale (×4 carried over ran it twice)
    assert "custom" in window.picker.model_combo.currentText()
    assert window.message_bar.text() == ""
    assert spec.id in window.statusBar().currentMessage()
    if window.metrics_panel is not None:  # its model list follows
        assert spec.id in [m for m, _name in window.metrics_panel.models_provider()]

    # the new model runs through the normal upscale path
    image = tmp_path / "small.png"
    PILImage.fromarray(np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(image)
    assert window.open_paths([image])
    qtbot.waitUntil(window.is_idle, timeout=20000)
    window.start_upscale()
    qtbot.waitUntil(lambda: window.result is not None or window.last_error != "", timeout=30000)
    assert window.result is not None, window.last_error
    assert window.result.model == spec.id
    assert window.result.image.pixels.shape == (24, 20, 3)


def test_a_second_window_lists_the_added_model(window, tmp_path, qtbot, chooser):
    chooser.answer = srvgg_pth(tmp_path / "persisted.pth", seed=1)
    spec = window.add_model_dialog()
    assert spec is not None
    other = MainWindow(settings=GuiSettings(tmp_path / "other.ini"), confirm_discard=lambda _q: "discard")
    qtbot.addWidget(other)
    assert spec.id in model_ids(other.picker)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("weights.pth", b"this is not a torch file", "not a readable PyTorch file"),
        ("random.safetensors", b"\x00\x01garbage", "not a readable safetensors file"),
        ("lonely.param", b"7767517\n1 1\nInput data 0 1 data\n", "lonely.bin is missing"),
        ("empty.pth", b"", "empty.pth: the file is empty"),  # (it listed every architecture)
    ],
)
def test_an_unsupported_file_shows_the_error_and_changes_nothing(
        window, tmp_path, chooser, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    chooser.answer = path
    before_ids = model_ids(window.picker)
    before_selected = window.picker.model_id()
    assert window.add_model_dialog() is None
    text = window.message_bar.text()
    assert window.message_bar.level == "error" and message in text, text
    assert "\n" not in text
    assert model_ids(window.picker) == before_ids
    assert window.picker.model_id() == before_selected


def test_an_unknown_state_dict_names_the_supported_architectures(window, tmp_path, chooser):
    path = tmp_path / "other_arch.pth"
    torch.save({"params": {"conv.weight": torch.zeros(4, 3, 3, 3)}}, path)
    chooser.answer = path
    assert window.add_model_dialog() is None
    text = window.message_bar.text()
    assert "RRDBNet" in text and "SRVGGNetCompact" in text and "SPAN" in text, text


def test_cancelling_the_dialog_does_nothing(window, chooser):
    chooser.answer = None
    before = model_ids(window.picker)
    assert window.add_model_dialog() is None
    assert model_ids(window.picker) == before and window.message_bar.text() == ""


def test_the_window_keeps_painting_while_a_model_is_added(window, chooser, tmp_path, monkeypatch):
    """Detecting, copying and hashing the file ran in the slot: a large model froze the window."""
    import time

    from PySide6.QtCore import QTimer

    from sr_desktop.engine.models import custom

    real = custom.add_custom_model

    def slow(path, *args, **kwargs):
        time.sleep(0.6)  # a large file's copy and digest
        return real(path, *args, **kwargs)

    monkeypatch.setattr(custom, "add_custom_model", slow)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(40)
    chooser.answer = srvgg_pth(tmp_path / "slow.pth")
    spec = window.add_model_dialog()
    timer.stop()
    assert spec is not None and window.picker.model_id() == spec.id
    assert len(ticks) >= 6, len(ticks)


def test_models_added_and_removed_outside_the_window_show_up_in_its_picker(window, tmp_path, qtbot):
    """`sr-desktop models add/remove` in a shell while the window is open: the picker went on
    offering a removed model (Upscale then failed naming every model id) and did not list
    an added one until a restart."""
    from sr_desktop.engine.models.custom import add_custom_model, remove_custom_model

    spec = add_custom_model(srvgg_pth(tmp_path / "outside.pth"))  # as the CLI does, in this process
    qtbot.waitUntil(lambda: spec.id in model_ids(window.picker), timeout=10_000)
    assert window.picker.set_model_id(spec.id)
    remove_custom_model(spec.id)
    qtbot.waitUntil(lambda: spec.id not in model_ids(window.picker), timeout=10_000)
    assert window.picker.model_id() != spec.id and window.picker.spec() is not None
    assert f"{spec.name} is no longer in the model list" in window.statusBar().currentMessage()
    if window.metrics_panel is not None:
        assert spec.id not in [m for m, _name in window.metrics_panel.models_provider()]


def test_the_batch_dialog_follows_models_added_and_removed_while_it_is_open(qtbot, tmp_path):
    """Its picker was filled once: an added model never showed up, a removed one stayed
    selectable and Start failed the batch naming every model id."""
    from sr_desktop.engine.models.custom import add_custom_model, remove_custom_model
    from sr_desktop.gui.batch.dialog import BatchDialog

    create_application()
    dialog = BatchDialog()
    qtbot.addWidget(dialog)
    spec = add_custom_model(srvgg_pth(tmp_path / "for_batch.pth"))
    qtbot.waitUntil(lambda: spec.id in model_ids(dialog.picker), timeout=10_000)
    assert dialog.picker.set_model_id(spec.id)
    remove_custom_model(spec.id)
    qtbot.waitUntil(lambda: spec.id not in model_ids(dialog.picker), timeout=10_000)
    assert dialog.picker.spec() is not None and dialog.picker.model_id() != spec.id
    assert f"{spec.name} is no longer in the model list" in dialog.status_label.text()


def test_a_refresh_keeps_the_chosen_model_and_variant(window, qtbot):
    picker = window.picker
    assert picker.set_model_id("waifu2x-photo") and picker.set_variant("denoise3")
    picker.set_models(picker.models()[::-1])  # the same models, listed again
    assert (picker.model_id(), picker.variant()) == ("waifu2x-photo", "denoise3")


def test_the_added_message_names_every_scale_and_the_dialog_offers_every_kind(window, tmp_path, qtbot, chooser):
    """An SRCNN (×2, ×3, ×4) was announced as '×2'; the Add dialog's filter hid .pt, .ckpt
    and .bin files that `models add` reads."""
    from sr_desktop.engine.models.archs.srcnn import SRCNN
    from sr_desktop.gui.main_window.tools import MODEL_FILE_FILTER

    torch.manual_seed(0)
    path = tmp_path / "mine.pth"
    torch.save(SRCNN(n1=8, n2=4).state_dict(), path)
    chooser.answer = path
    window.add_model_action.trigger()
    spec = window.picker.spec()
    assert spec.scales == [2, 3, 4]
    assert "×2, ×3, ×4" in window.statusBar().currentMessage()
    for pattern in ("*.pth", "*.pt", "*.ckpt", "*.safetensors", "*.param", "*.bin"):
        assert pattern in MODEL_FILE_FILTER.split(";;")[0].strip("Models ()").split()


def test_models_remove_takes_an_added_model_out_and_a_lost_file_can_be_mended(window, tmp_path, qtbot):
    """A model whose stored file vanished was greyed out "not installed: sr-desktop models add
    FILE"; adding the file again listed a second entry and the broken one could not be
    removed from the window (Models had Add… only)."""
    from sr_desktop.gui.main_window.model_picker import MISSING_FILE_TEXT

    src = srvgg_pth(tmp_path / "mine.pth")
    spec = window.add_model(src)
    Path(spec.source["file"]).unlink()
    window.model_adder.refresh_models()  # listed again (the watcher follows the index, not the copies)
    item = window.picker.item_for(spec.id)
    assert not item.isEnabled() and MISSING_FILE_TEXT.lower() in item.text()
    assert "Models ▸ Remove model…" in item.toolTip()
    before = model_ids(window.picker)
    mended = window.add_model(src)  # what the entry says: add it again
    assert mended.id == spec.id and model_ids(window.picker) == before  # in its place, no second entry
    assert window.picker.item_for(spec.id).isEnabled()

    assert window.remove_model_action in window.models_menu.actions()
    offered = []
    window.model_adder.ask_model_to_remove = lambda mine: (offered.extend(mine)
                                                           or next(s for s in mine if s.id == spec.id))
    assert window.picker.model_id() == spec.id
    assert window.remove_model_dialog().id == spec.id
    assert offered and all(s.custom for s in offered) and spec.id in [s.id for s in offered]
    assert spec.id not in model_ids(window.picker) and window.picker.spec() is not None
    message = window.statusBar().currentMessage()
    assert message.startswith(f"Removed model {spec.name} ({spec.id})") and "is selected" in message
    window.model_adder.ask_model_to_remove = lambda mine: None  # the dialog cancelled
    assert window.remove_model_dialog() is None
    while window.model_adder.users_models():  # (the other tests' models share this home)
        window.model_adder.remove_model(window.model_adder.users_models()[0])
    window.model_adder.ask_model_to_remove = lambda mine: pytest.fail("nothing to choose from")
    assert window.remove_model_dialog() is None
    assert window.message_bar.text() == "You have added no models yet: Models ▸ Add model… adds one."
    assert window.message_bar.level == "hint"


def test_the_tooltips_say_the_licence_and_what_scales_interpolation_takes(window):
    from sr_desktop.engine.core.options import MAX_SCALE

    bicubic = window.picker.item_for("bicubic").toolTip()
    assert f"any from ×1 to ×{MAX_SCALE}" in bicubic and "Native scales" not in bicubic
    assert window.picker.set_model_id("bicubic")
    assert not any("native" in window.picker.scale_combo.itemText(i) for i in range(window.picker.scale_combo.count()))
    licensed = next(spec for spec in window.picker.models() if spec.license and spec.installed)
    assert f"Licence: {licensed.license}" in window.picker.item_for(licensed.id).toolTip()


def test_a_bug_while_adding_or_removing_a_model_is_said_and_the_status_cleared(window, tmp_path, chooser,
                                                                               monkeypatch):
    """An unforeseen error left "Adding x.pth…" in the status line for good (saving had the
    same fault)."""
    from sr_desktop.engine.models import custom

    def broken(*args, **kwargs):
        raise KeyError("injected")

    chooser.answer = srvgg_pth(tmp_path / "x.pth")
    real_add = custom.add_custom_model
    monkeypatch.setattr(custom, "add_custom_model", broken)
    assert window.add_model_dialog() is None
    assert window.message_bar.text() == "Cannot add x.pth: unexpected error: KeyError: 'injected' (details in the log)"
    assert "Adding" not in window.statusBar().currentMessage()
    monkeypatch.setattr(custom, "add_custom_model", real_add)
    spec = window.add_model_dialog()
    monkeypatch.setattr(custom, "remove_custom_model", broken)
    assert window.model_adder.remove_model(spec) is None
    assert window.message_bar.text() == (f"Cannot remove {spec.name}: unexpected error: KeyError: 'injected' "
                                         "(details in the log)")


def test_a_dropped_model_file_is_added_beside_the_dropped_images(window, tmp_path, qtbot):
    """A .pth dropped on the window said "Cannot open: x.pth (not a supported image type)"
    (chaiNNer takes a dropped model); an ncnn .bin dropped with its .param is the pair's."""
    from tests.test_gui_main_window import drop

    pth = srvgg_pth(tmp_path / "dropped net.pth", seed=3)
    image = tmp_path / "photo.png"
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    drop(window, [pth, image])
    qtbot.waitUntil(lambda: window.image is not None, timeout=20000)
    spec = window.picker.spec()
    assert spec is not None and spec.custom and spec.name == "dropped net"
    # said last, in the status line (the image's "Opening photo.png…" had taken it)
    assert window.message_bar.text() == "" and spec.id in window.statusBar().currentMessage()
    # a pair's .bin is not reported as a file that cannot be opened; a bad .param is the adder's error
    param, weights = tmp_path / "graph.param", tmp_path / "graph.bin"
    param.write_text("not a graph")
    weights.write_bytes(b"\0" * 8)
    drop(window, [param, weights])
    assert "graph.param" in window.message_bar.text() and "graph.bin" not in window.message_bar.text()


def test_a_model_dropped_with_other_files_keeps_their_summary_and_its_own_failure(window, tmp_path, qtbot):
    """Adding a dropped model cleared the message bar: the drop's "Cannot open: notes.txt"
    and a folder's batch offer were gone; a model that cannot be added is in that summary. An
    ncnn .bin dropped alone (its .param beside it) is added as Models ▸ Add model… does."""
    from tests.test_gui_main_window import drop

    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a model")
    drop(window, [srvgg_pth(tmp_path / "good net.pth", seed=4), notes, broken])
    text = window.message_bar.text()
    assert "notes.txt (not a supported image type)" in text and "broken.pth (not added as a model: " in text, text
    assert str(broken) not in text  # its name once, not its path as well
    assert window.picker.spec().name == "good net" and "good net" in window.statusBar().currentMessage()
    folder = tmp_path / "photos"
    folder.mkdir()
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "a.png")
    drop(window, [folder, srvgg_pth(tmp_path / "second net.pth", seed=5)])
    qtbot.waitUntil(lambda: window.image is not None, timeout=20000)
    assert window.message_bar.action_text() == "Batch export this folder…"
    assert window.picker.spec().name == "second net"
    qtbot.waitUntil(window.is_idle, timeout=20000)
    assert "second net" in window.statusBar().currentMessage()


def test_a_bug_adding_a_dropped_model_is_in_the_drops_summary(window, tmp_path, qtbot, monkeypatch):
    """A bug while adding a model dropped with an image was shown in the message bar, which
    opening the image then cleared: nothing said the model was not added."""
    from sr_desktop.engine.models import custom
    from tests.test_gui_main_window import drop

    def bug(*args, **kwargs):
        raise KeyError("injected add bug")

    monkeypatch.setattr(custom, "add_custom_model", bug)
    image = tmp_path / "photo.png"
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    drop(window, [srvgg_pth(tmp_path / "net.pth"), image])
    qtbot.waitUntil(window.is_idle, timeout=20000)
    assert window.message_bar.text() == ("1 of 2 files could not be opened: net.pth (not added as a model: "
                                         "unexpected error: KeyError: 'injected add bug' (details in the log))")


def test_a_dropped_ncnn_bin_beside_its_param_is_added(window, tmp_path, qtbot, monkeypatch):
    from tests.test_gui_main_window import drop

    added = []
    monkeypatch.setattr(window.model_adder, "add_model", lambda path, say=None: added.append(path.name))
    (tmp_path / "net.param").write_text("7767517\n")
    (tmp_path / "net.bin").write_bytes(b"\0" * 8)
    (tmp_path / "other.bin").write_bytes(b"\0" * 8)  # no .param: not a model
    drop(window, [tmp_path / "net.bin"])
    assert added == ["net.bin"] and window.message_bar.text() == ""
    drop(window, [tmp_path / "net.param", tmp_path / "net.bin"])  # the pair: once, by its .param
    assert added == ["net.bin", "net.param"]
    drop(window, [tmp_path / "other.bin"])
    assert "other.bin (not a supported image type)" in window.message_bar.text()
    (tmp_path / "Mixed.Param").write_text("7767517\n")  # any case, as the engine pairs them
    (tmp_path / "Mixed.bin").write_bytes(b"\0" * 8)
    drop(window, [tmp_path / "Mixed.Param", tmp_path / "Mixed.bin"])
    drop(window, [tmp_path / "Mixed.bin"])
    assert added[-2:] == ["Mixed.Param", "Mixed.bin"]


def test_an_index_that_cannot_be_read_is_named_and_its_models_stay_listed(qtbot, tmp_path, monkeypatch):
    """A damaged custom-models index made every added model vanish from the picker, with no
    line in the window."""
    from sr_desktop.engine.models.custom import add_custom_model
    from sr_desktop.engine.models.custom_index import index_path

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    spec = add_custom_model(srvgg_pth(tmp_path / "mine.pth"))
    index = index_path()
    index.write_bytes(index.read_bytes()[:40])
    create_application()
    win = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda _q: "discard")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.message_bar.text() != "", timeout=5000)
    assert win.message_bar.text().startswith(f"The custom model index {index} cannot be read (")
    assert "The models found in its folder are listed" in win.message_bar.text()
    assert spec.id in model_ids(win.picker)


def test_models_clear_cache_asks_then_frees_the_cache_and_says_what_stayed(window, monkeypatch):
    """The user cache (tens of MB per converted network) could be emptied only with `sr-desktop
    models clear-cache`: Models ▸ Clear model cache… asks with its size, deletes it, says how
    much it freed, and names what could not be deleted."""
    from sr_desktop.engine.core import paths
    from sr_desktop.engine.models import user_cache

    cache = paths.cache_dir()
    (cache / "models").mkdir(parents=True, exist_ok=True)
    (cache / "models" / "ncnn-test.safetensors").write_bytes(bytes(3 * 1024 * 1024))
    assert window.clear_cache_action in window.models_menu.actions()
    size = user_cache.cache_bytes()
    asked = []
    window.model_adder.ask_clear_cache = lambda n, folder: asked.append((n, folder)) or False
    assert window.clear_cache_dialog() is None  # cancelled: nothing deleted
    assert asked == [(size, cache)] and (cache / "models" / "ncnn-test.safetensors").exists()

    window.model_adder.ask_clear_cache = lambda n, folder: True
    assert window.clear_cache_dialog() == size
    assert list(cache.iterdir()) == []
    assert window.statusBar().currentMessage() == (
        f"Freed {size / 1024 ** 2:.1f} MiB of the model cache (made again at each model's next use)")
    window.model_adder.ask_clear_cache = lambda n, folder: pytest.fail("nothing to ask about")
    assert window.clear_cache_dialog() is None
    assert window.statusBar().currentMessage() == "The model cache is empty: nothing to clear"

    (cache / "openvino").mkdir()
    (cache / "openvino" / "a.bin").write_bytes(b"x")
    (cache / "backends.json").write_text("{}")
    monkeypatch.setattr(user_cache, "clear_cache", lambda: (2, ["openvino: Permission denied"]))
    window.model_adder.ask_clear_cache = lambda n, folder: True
    assert window.clear_cache_dialog() == 2
    assert window.message_bar.text() == (
        "Freed 2 B of the model cache (made again at each model's next use); not deleted: "
        "openvino: Permission denied")
