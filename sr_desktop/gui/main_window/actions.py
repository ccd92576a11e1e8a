"""The main window's actions (with shortcuts), menus and toolbar.

The actions are attributes of the window (``window.open_action`` …) because tests and
panels reach them there; this module only builds and arranges them. `ActionTarget` is
what it needs of the window.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget

from sr_desktop.gui.key_text import with_native_keys

ZOOM_PRESETS = ((1.0, "Ctrl+1"), (2.0, "Ctrl+2"), (4.0, "Ctrl+3"), (8.0, "Ctrl+4"))
SAVE_TIP = "Save the result (Ctrl+S)"
COPY_TIP = "Copy the result to the clipboard (Ctrl+C)"
#: Save's and Copy's tip while a region's result hides the whole image's
REGION_HIDES_RESULT = ("The after side shows a region's result: Clear the region to show the "
                       "whole image's result again and save it")


def shown_instead_text(label: str) -> str:
    """Save's and Copy's tip while the Metrics panel shows a map or an evaluated model on
    the after side (they saved the hidden result under it)."""
    return (f"The after side shows {label}: show the upscale result again to save or copy it (the "
            "Metrics panel's Show the upscale result, or Result in its View)")


class ActionTarget(Protocol):
    """The window's slots the actions call, and the widgets the menus use."""

    compare: object  # CompareView: zoom_fit, set_magnification, zoom_in, zoom_out
    filmstrip_dock: QDockWidget

    def open_dialog(self) -> None: ...
    def paste(self) -> None: ...
    def save(self): ...
    def save_as(self): ...
    def copy_result(self) -> bool: ...
    def open_batch_dialog(self, folder=None): ...
    def close(self) -> bool: ...
    def start_upscale(self): ...
    def enhance_current_region(self): ...
    def cancel_jobs(self) -> None: ...
    def add_model_dialog(self): ...
    def remove_model_dialog(self): ...
    def clear_cache_dialog(self): ...
    def set_region_tool(self, on: bool) -> None: ...
    def set_compare_mode(self, mode: str) -> None: ...
    def set_compare_swapped(self, on: bool) -> None: ...
    def show_shortcuts(self): ...
    def show_about(self): ...
    def open_documentation(self) -> bool: ...
    def toggle_animation(self) -> None: ...


def make_action(window, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    """A QAction of ``window`` calling ``slot()``; ``shortcut`` one key or a list of keys.
    It is also added to the window so its shortcut works with the menu bar hidden."""
    action = QAction(text, window)
    if shortcut is not None:
        if isinstance(shortcut, (list, tuple)):
            # a key given twice (a standard key that repeats an explicit one) makes Qt call
            # the shortcut ambiguous and do nothing
            action.setShortcuts([QKeySequence(s) for s in _unique(shortcut)])
        else:
            action.setShortcut(QKeySequence(shortcut))
    if tip:
        tip = with_native_keys(tip)
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)
    return action


def _unique(keys) -> list:
    """``keys`` without the ones that are empty or repeat an earlier one (as key text)."""
    seen, kept = set(), []
    for key in keys:
        text = QKeySequence(key).toString()
        if text and text not in seen:
            seen.add(text)
            kept.append(key)
    return kept


def build_actions(w: ActionTarget) -> None:
    """Create every action of the window ``w`` as an attribute."""
    std = QKeySequence.StandardKey
    a = lambda *args, **kw: make_action(w, *args, **kw)  # noqa: E731 - local shorthand
    w.open_action = a("&Open…", w.open_dialog, std.Open, "Open images (Ctrl+O)")
    w.paste_action = a("&Paste image", w.paste, std.Paste, "Open the image on the clipboard (Ctrl+V)")
    w.save_action = a("&Save result", w.save, std.Save, SAVE_TIP)
    w.save_as_action = a("Save result &as…", w.save_as, "Ctrl+Shift+S",
                         "Save the result with a new name, format or quality")
    w.copy_action = a("&Copy result", w.copy_result, std.Copy, COPY_TIP)
    w.batch_action = a("&Batch export…", w.open_batch_dialog, "Ctrl+B", "Upscale a folder of images (Ctrl+B)")
    # Ctrl+Q as well: the standard key is empty on some desktops (and offscreen)
    w.quit_action = a("&Quit", w.close, ["Ctrl+Q", std.Quit], "Close the window (Ctrl+Q)")
    w.upscale_action = a("&Upscale", w.start_upscale, ["Ctrl+Return", "Ctrl+Enter"],
                         "Upscale the whole image (Ctrl+Return)")
    w.region_action = a("Enhance &region", w.enhance_current_region, "Ctrl+R",
                        "Upscale only the selected region (none selected, zoomed in: the part in view)")
    w.cancel_action = a("&Cancel", w.cancel_jobs, "Esc", "Cancel the running job (Esc)")
    w.add_model_action = a("&Add model…", w.add_model_dialog, "Ctrl+Shift+M",
                           "Add your own model file (.pth, .safetensors, or an ncnn .param with its .bin)")
    w.remove_model_action = a("&Remove model…", w.remove_model_dialog, None,
                              "Take one of the models you added out of the list")
    w.clear_cache_action = a("&Clear model cache…", w.clear_cache_dialog, None,
                             "Delete the converted weights, OpenVINO conversions and measured backend "
                             "choices (made again at each model's next use) to free their room")
    w.fit_action = a("Zoom to &fit", lambda: w.compare.zoom_fit(), "Ctrl+0", "The whole image in the view (Ctrl+0)")
    w.zoom_actions = [
        a(f"Zoom {int(factor * 100)} %", lambda f=factor: w.compare.set_magnification(f), key,
          f"The original at {int(factor * 100)} % of its pixel size, also after an upscale ({key})")
        for factor, key in ZOOM_PRESETS
    ]
    w.zoom_in_action = a("Zoom &in", lambda: w.compare.zoom_in(), ["Ctrl+=", "Ctrl++", std.ZoomIn],
                         "Magnify the view (Ctrl+=, or the wheel)")
    w.zoom_out_action = a("Zoom &out", lambda: w.compare.zoom_out(), ["Ctrl+-", std.ZoomOut],
                          "Shrink the view (Ctrl+-, or the wheel)")

    w.region_tool_action = QAction("&Region tool", w)
    w.region_tool_action.setCheckable(True)
    w.region_tool_action.setShortcut(QKeySequence("R"))
    w.region_tool_action.setToolTip(
        "Region tool (R): drag on the image selects a region to enhance (Shift+drag works without it)"
    )
    w.region_tool_action.toggled.connect(w.set_region_tool)
    w.addAction(w.region_tool_action)
    w.mode_group = QActionGroup(w)
    w.split_action = a("&Split view", lambda: w.set_compare_mode("split"), "Ctrl+Alt+S",
                       "One image with a divider to drag (Ctrl+Alt+S)")
    w.side_action = a("Side &by side", lambda: w.set_compare_mode("side_by_side"), "Ctrl+Alt+B",
                      "Before and after next to each other (Ctrl+Alt+B)")
    w.swap_action = a("S&wap sides", lambda: w.set_compare_swapped(w.swap_action.isChecked()), "Ctrl+Alt+X",
                      "The result on the left and the original on the right, in either view (Ctrl+Alt+X)")
    w.swap_action.setCheckable(True)
    w.play_action = a("P&lay / pause animation", w.toggle_animation, "K",
                      "Play or pause an animated image, before and after in sync (K)")
    w.shortcuts_action = a("&Keyboard shortcuts", w.show_shortcuts, "F1",
                           "Every keyboard shortcut of the window (F1)")
    w.about_action = a("&About SR Desktop", w.show_about, None,
                       "The version, the libraries, where the app keeps its files, the licences")
    # (Qt's own notice: the LGPL asks a program that shows notices to show the library's)
    w.about_qt_action = a("About &Qt", QApplication.aboutQt, None, "Qt's version and licence (LGPL v3)")
    w.documentation_action = a("&Documentation", w.open_documentation, None,
                               "The guides (the window, models, formats, training, benchmarks…), read here")
    for action in (w.split_action, w.side_action):
        action.setCheckable(True)
        w.mode_group.addAction(action)


def build_menus_and_toolbar(w: ActionTarget) -> None:
    """File, Process, Models, View (with Panels) and Tools menus, and the toolbar."""
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(w.open_action)
    w.recent_menu = file_menu.addMenu("Open &recent")
    file_menu.addAction(w.paste_action)
    file_menu.addSeparator()
    for action in (w.save_action, w.save_as_action, w.copy_action):
        file_menu.addAction(action)
    file_menu.addSeparator()
    file_menu.addAction(w.batch_action)
    file_menu.addSeparator()
    file_menu.addAction(w.quit_action)

    process = bar.addMenu("&Process")
    for action in (w.upscale_action, w.region_action, w.cancel_action):
        process.addAction(action)

    w.models_menu = bar.addMenu("&Models")
    w.models_menu.addAction(w.add_model_action)
    w.models_menu.addAction(w.remove_model_action)
    w.models_menu.addSeparator()
    w.models_menu.addAction(w.clear_cache_action)

    view = bar.addMenu("&View")
    view.addAction(w.split_action)
    view.addAction(w.side_action)
    view.addAction(w.swap_action)
    view.addAction(w.region_tool_action)
    view.addAction(w.play_action)
    view.addSeparator()
    view.addAction(w.fit_action)
    for action in (*w.zoom_actions, w.zoom_in_action, w.zoom_out_action):
        view.addAction(action)
    view.addSeparator()
    w.panels_menu = view.addMenu("&Panels")
    w.panels_menu.addAction(w.filmstrip_dock.toggleViewAction())

    w.tools_menu = bar.addMenu("&Tools")
    w.tools_menu.menuAction().setVisible(False)  # shown once a tool is added

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(w.documentation_action)
    help_menu.addAction(w.shortcuts_action)
    help_menu.addAction(w.about_action)
    help_menu.addAction(w.about_qt_action)

    w.toolbar = toolbar = w.addToolBar("Main")
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    groups = (
        (w.open_action, w.save_action, w.copy_action),
        (w.upscale_action, w.cancel_action),
        (w.split_action, w.side_action, w.region_tool_action),
        (w.fit_action, w.zoom_actions[0]),
    )
    for i, group in enumerate(groups):
        if i:
            toolbar.addSeparator()
        for action in group:
            toolbar.addAction(action)
    toolbar.addSeparator()  # the side panels' toggles follow (see MainWindow.add_side_panel)
