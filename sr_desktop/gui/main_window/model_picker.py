"""Model, scale and advanced-option (device, precision, backend, tile) picker.

Every model of the registry is listed with its name and tags; its description is shown
below the combo. Models whose package is not installed are listed disabled, with the
command that installs them in the entry's text and tooltip. The literature's architectures
come last under a "Literature" heading, disabled until weights are added, each with its
paper, year and published PSNR in the tooltip.

Over 500 lines because the picker is one widget whose parts depend on each other: the
model list and its tooltips, the scale and variant rows that follow the model, and the
Advanced section whose device, precision, backend and tile choices each check the others.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from sr_desktop.engine.compute.devices import describe_device
from sr_desktop.engine.core.errors import ModelError, OptionError
from sr_desktop.engine.core.options import (
    DEFAULT_MODEL,
    MAX_PER_IMAGE_ITERATIONS,
    MAX_SCALE,
    MIN_TILE,
    PRECISION_CHOICES,
    UPSCALE_DEVICE_CHOICES,
    AlphaMode,
    Backend,
    UpscaleOptions,
    parse_tile,
)
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.literature import (
    INCOMPLETE_TAG,
    incomplete_text,
    measured_psnr,
    network_sharing_text,
    trained_scales,
    training_data_text,
)
from sr_desktop.engine.models.loader import is_zoo_spec, resolve_scale_variant
from sr_desktop.engine.models.registry import variants_at
from sr_desktop.engine.models.spec import LITERATURE, ModelSpec
from sr_desktop.engine.pipeline.scale_plan import plan_for_spec
from sr_desktop.gui.dialog_words import in_dialog_words
from sr_desktop.gui.widgets import ElidingComboBox, WrapLabel, follow_palette

#: scales the engine reaches for any model (native passes plus resampling, see scale_plan.py)
REACHABLE_SCALES = (2, 3, 4, 8)
_SPEC_ROLE = Qt.ItemDataRole.UserRole + 1


#: what the Iterations row sets, per per-image family (defaults as `make_zssr_model` and
#: `make_map_sr_model` set them)
ITERATIONS_TIPS = {
    "zssr": "The most iterations ZSSR trains on this image at each of its ×2 steps (×4 is two; default: 1000 "
            "on a CPU, 3000 on a GPU; it stops sooner once its learning rate has decayed). Fewer for a quick "
            "look, more for finer detail",
    "map-sr": "The solver's iterations on this image (default: 300, Tikhonov 100). Fewer for a quick look, more "
              "for a closer fit",
}


def default_models() -> list[ModelSpec]:
    """The registry's models (imported lazily so the picker can be built without it)."""
    from sr_desktop.engine.models.registry import list_models

    return list_models()


def scale_choices(spec: ModelSpec | None) -> list[int]:
    """Scales to offer for ``spec``: its native ones plus those the engine can reach; every
    whole scale from ×2 to ×`MAX_SCALE` for a resampling model (nearest's description said
    "any integer scale" beside a list without ×5, ×6 or ×16: pixel art's usual factors)."""
    if spec is not None and spec.kind == ModelKind.RESAMPLE:
        return list(range(2, MAX_SCALE + 1))
    native = set(spec.scales) if spec is not None else set()
    return sorted(native | set(REACHABLE_SCALES))


LITERATURE_HEADING = "Literature"
#: what the list says of a model the user added whose stored file is gone
MISSING_FILE_TEXT = "Its stored file is missing"


def _entry_text(spec: ModelSpec) -> str:
    if spec.group == LITERATURE:
        text = f"{spec.name} ({spec.year})" if spec.year else spec.name
        if spec.needs_weights:
            return text + "  — needs weights"
        incomplete = incomplete_text(spec.trained)
        return text + (f"  — {incomplete}" if incomplete else "")
    tags = f"  [{', '.join(spec.tags)}]" if spec.tags else ""
    text = f"{spec.name}{tags}"
    if not spec.installed and spec.custom:
        return f"{text}  — {MISSING_FILE_TEXT.lower()}"
    if not spec.installed:
        text += f"  — not installed: {spec.install_command or 'no install command known'}"
    return text


def _psnr_lines(psnr: Callable[[str, int], float | None]) -> list[str]:
    """'Set5: ×2 37.53 · ×4 31.35 dB' lines of `psnr(dataset, scale)` (None: no number)."""
    lines = []
    for dataset in ("Set5", "Set14"):
        cells = [f"×{k} {value:.2f}" for k in (2, 3, 4, 8) if (value := psnr(dataset, k)) is not None]
        if cells:
            lines.append(f"{dataset}: " + " · ".join(cells) + " dB")
    return lines


def _trained_lines(spec: ModelSpec) -> list[str]:
    """What the shipped weights are: measured PSNR, training data and time, the target."""
    measured = _psnr_lines(lambda dataset, scale: measured_psnr(spec, dataset, scale))
    lines = ["Measured here (<code>sr-desktop bench</code>, Y channel): " + "<br>".join(measured)]
    if sharing := network_sharing_text(spec.trained):
        lines.append(sharing[0].upper() + sharing[1:] + ".")
    for scale in trained_scales(spec.trained):
        rec = spec.trained[str(scale)]
        hours = rec.get("train_seconds", 0) / 3600
        line = (f"×{scale}: trained here on {training_data_text(rec)}, "
                f"{rec.get('iterations', 0):,} iterations ({hours:.1f} h, {rec.get('hardware', '?')})")
        if rec.get("init"):
            line += f", fine-tuned from {rec['init']}"
        if rec.get("incomplete"):
            line += f" — <b>{INCOMPLETE_TAG}</b>: below the target of {rec['target']['psnr']:.2f} dB on Set5"
        lines.append(line)
    return lines


def _entry_tooltip(spec: ModelSpec, added: list[ModelSpec]) -> str:
    # the model's own words escaped: an added model named "<font size=7>…" (or added from such
    # a file) was drawn as HTML
    esc = html.escape
    lines = [f"<b>{esc(spec.name)}</b> ({esc(spec.id)})"]
    if spec.paper:
        lines.append(f"<i>{esc(spec.paper)}</i>")
    if spec.use:
        lines.append(f"<b>For:</b> {esc(spec.use)}")
    if spec.description:
        lines.append(esc(spec.description))
    if spec.tags and spec.group != LITERATURE:
        lines.append("Tags: " + esc(", ".join(spec.tags)))
    if spec.kind == ModelKind.RESAMPLE:  # interpolation: no scale is more its own than another
        lines.append(f"Scales: any from ×1 to ×{MAX_SCALE} (<code>--scale</code> of the command line; "
                     "the Scale list offers the usual ones)")
    else:
        lines.append("Native scales: " + ", ".join(f"×{s}" for s in spec.scales))
    if spec.license and spec.license not in spec.description:  # (an added model's description says it)
        lines.append(f"Licence: {esc(spec.license)}")
    published = _psnr_lines(spec.published_psnr) if spec.group == LITERATURE else []
    if published:
        lines.append("Published PSNR (Y channel): " + "<br>".join(published))
    if spec.trained and spec.installed:
        lines += _trained_lines(spec)
    if spec.source.get("own_weights"):
        lines.append(esc(spec.source["own_weights"]))
    if spec.needs_weights:
        lines.append(f"Needs weights: add a checkpoint with <code>{spec.install_command}</code> "
                     "(or Models ▸ Add model…); it becomes a custom model.")
        if spec.source.get("weights"):
            lines.append(f"Weights: {esc(spec.source['weights'])}")
        from sr_desktop.engine.models.registry import checkpoints_of

        if yours := checkpoints_of(spec, added):
            lines.append(f"Your checkpoint of it runs as {esc(', '.join(yours))}.")
    elif not spec.installed and spec.custom:
        lines.append(MISSING_FILE_TEXT + ": Models ▸ Add model… the file again (it takes this entry's place) "
                     "or Models ▸ Remove model… it.")
    elif not spec.installed:
        lines.append(f"Not installed. Install with: <code>{spec.install_command or '?'}</code>")
    return "<br>".join(lines)


#: the picker's fields for the flags the engine's errors name ("try a smaller --tile", "use
#: --precision fp32"), as the window and the Batch dialog, which both show a picker, say them
PICKER_FIELDS = {
    "--model": "Model", "--variant": "Variant", "--scale": "Scale", "--device": "Device",
    "--precision": "Precision", "--backend": "Backend", "--tile": "Tile", "--alpha": "Alpha",
}


def _select(combo: QComboBox, data, enabled_only: bool = False) -> bool:
    """Select the item of `combo` holding `data` (not a greyed-out one with `enabled_only`);
    False when there is none."""
    index = combo.findData(data)
    ok = index >= 0 and (not enabled_only or combo.model().item(index).isEnabled())
    if ok:
        combo.setCurrentIndex(index)
    return ok


class ModelPicker(QWidget):
    """Combos for model / variant / scale and a collapsible "Advanced" section.

    ``optionsChanged`` is emitted on any change; ``options()`` returns the engine's
    ``UpscaleOptions`` for the current choice.
    """

    #: the Vulkan GPU that the ``vulkan`` device means (its description), None without one
    _vulkan_text: str | None = None

    optionsChanged = Signal()

    def __init__(self, models: list[ModelSpec] | None = None, parent=None) -> None:
        super().__init__(parent)
        self._models = list(models) if models is not None else default_models()
        self._updating = False
        #: the variant the user (or the settings) chose for the model shown; None: its default
        self._chosen_variant: str | None = None
        #: (model, scale) and the other choices as the settings hold them (after `load_settings`,
        #: what it showed): only what changed since is stored, so a choice this window cannot
        #: show (a model of another install, device cuda:1 on a machine without it) and one
        #: another window made are not written over by what this one merely shows
        self._stored_choice: tuple[str | None, int] | None = None
        self._stored_options: dict[str, str] = {}
        self._stored_in: Path | None = None  # the settings file they are of

        self.model_combo = ElidingComboBox()
        self.model_combo.setObjectName("modelCombo")
        self.model_combo.setAccessibleName("Model")
        self.model_combo.setToolTip("The network that upscales; in the open list, hover a model for its paper, "
                                    "scales, licence and measured PSNR")
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(18)
        self._model_items = QStandardItemModel(self)
        self._fill_model_items()
        self.model_combo.setModel(self._model_items)

        # a WrapLabel: a plain wrapped QLabel in this form got too few lines and ran over
        # the Variant row
        self.description = WrapLabel()
        self.description.setObjectName("modelDescription")
        self.description.setTextFormat(Qt.TextFormat.RichText)
        self.description.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.variant_combo = QComboBox()
        self.variant_combo.setAccessibleName("Variant")
        self.variant_combo.setToolTip("The model's weights to use: a denoise level, a width, a style")
        self.variant_label = QLabel("Variant")
        self.variant_label.setBuddy(self.variant_combo)  # screen readers announce the label with it
        self.scale_combo = QComboBox()
        self.scale_combo.setObjectName("scaleCombo")
        self.scale_combo.setAccessibleName("Scale")
        self.scale_combo.setToolTip("How many times wider and taller the result is. (native): a scale the network "
                                    "makes itself; another runs it once or more and resizes the rest")

        # ZSSR's and map-sr's one knob of time against detail (shown for them only)
        self.iterations_spin = QSpinBox()
        self.iterations_spin.setRange(0, MAX_PER_IMAGE_ITERATIONS)
        self.iterations_spin.setSingleStep(100)
        self.iterations_spin.setSpecialValueText("default")
        self.iterations_spin.setAccessibleName("Iterations (ZSSR, map-sr)")
        self.iterations_label = QLabel("Iterations")
        self.iterations_label.setBuddy(self.iterations_spin)

        self.device_combo = QComboBox()
        for name in UPSCALE_DEVICE_CHOICES:
            self.device_combo.addItem(name, name)
        self.device_combo.setAccessibleName("Device")
        self.device_combo.setToolTip("What runs the model: auto takes a GPU when there is one, else the CPU")
        self.precision_combo = QComboBox()
        self.precision_combo.setAccessibleName("Precision")
        self.precision_combo.setToolTip("The numbers the model computes in: fp32 is exact; fp16 is "
                                        "faster on a GPU, a little less exact; auto chooses for the device")
        for name in PRECISION_CHOICES:
            self.precision_combo.addItem(name, name)
        self._disable_unavailable_devices()
        self.device_combo.currentIndexChanged.connect(self._fit_precision_to_device)
        self._fit_precision_to_device()
        self.backend_combo = QComboBox()
        self.backend_combo.setAccessibleName("Backend")
        self.backend_combo.setToolTip(
            "What runs the network: auto = the fastest of torch, OpenVINO and (for the zoo's models) "
            "the ncnn runtime on this computer, measured once per model, leaving out one that needs more than "
            "twice the memory of the leanest; OpenVINO and ncnn run on the CPU")
        for name in Backend.choices():
            self.backend_combo.addItem(name, name)
        self.device_combo.currentIndexChanged.connect(self.fit_backends)
        self.alpha_combo = QComboBox()
        self.alpha_combo.setAccessibleName("Alpha (transparency)")
        self.alpha_combo.addItem("through the model", AlphaMode.MODEL.value)
        self.alpha_combo.addItem("resampled (clean edges)", AlphaMode.RESAMPLE.value)
        self.alpha_combo.setToolTip(
            "How an image's transparency (alpha) is enlarged: through the model, as a grey image, "
            "or by Lanczos resampling — cleaner edges for sprites and cut-outs where a model "
            "leaves holes or speckle in the alpha")
        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(0, 4096)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setSpecialValueText("auto")
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip(f"Tile size in input pixels (at least {MIN_TILE}); auto fits it to free memory")
        self.tile_spin.setAccessibleName("Tile size")
        self.tile_spin.editingFinished.connect(self._snap_tile)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Model", self.model_combo)
        form.addRow("", self.description)
        form.addRow(self.variant_label, self.variant_combo)
        form.addRow("Scale", self.scale_combo)
        form.addRow(self.iterations_label, self.iterations_spin)

        advanced_form = QFormLayout()
        advanced_form.addRow("Device", self.device_combo)
        advanced_form.addRow("Precision", self.precision_combo)
        advanced_form.addRow("Backend", self.backend_combo)
        advanced_form.addRow("Tile", self.tile_spin)
        advanced_form.addRow("Alpha", self.alpha_combo)
        advanced_body = QWidget()
        advanced_body.setLayout(advanced_form)
        self.advanced = QCollapsible("Advanced")
        self.advanced.setDuration(0)
        follow_palette(self.advanced.toggleButton(), self._style_advanced_toggle)
        self.advanced.addWidget(advanced_body)
        # folded, superqt only sets the section's height to 0: its controls stayed in the Tab
        # order, and the arrow keys changed a Tile or Device nobody could see
        self._advanced_controls = (self.device_combo, self.precision_combo, self.backend_combo, self.tile_spin,
                                   self.alpha_combo)
        self._advanced_focus = {w: w.focusPolicy() for w in self._advanced_controls}
        self.advanced.toggled.connect(self._advanced_folded)
        self._advanced_folded(self.advanced.isExpanded())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.advanced)

        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.scale_combo.currentIndexChanged.connect(self._on_scale_changed)
        self.variant_combo.currentIndexChanged.connect(self._on_variant_picked)
        for combo in (self.variant_combo, self.device_combo, self.precision_combo, self.backend_combo,
                      self.alpha_combo):
            combo.currentIndexChanged.connect(self._emit_changed)
        self.tile_spin.valueChanged.connect(self._emit_changed)
        self.iterations_spin.valueChanged.connect(self._emit_changed)

        self.model_combo.setCurrentIndex(self._default_index())
        self._on_model_changed()

    def _style_advanced_toggle(self) -> None:
        # superqt draws its toggle without a border or focus outline: with the focus on it,
        # nothing showed where Space would act; a frame in the highlight colour does
        toggle = self.advanced.toggleButton()
        toggle.setStyleSheet("")  # (set again: a style sheet keeps the palette of when it was set)
        toggle.setStyleSheet(
            "QPushButton { text-align: left; border: 1px solid transparent; border-radius: 3px; outline: none; }"
            "QPushButton:focus { border-color: palette(highlight); }")
        # pointing the way the app's other fold toggles do (superqt's default folded arrow
        # points up, as if the section opened upwards); drawn in the toggle's text colour,
        # so after its palette
        self.advanced.setCollapsedIcon("▸")
        self.advanced.setExpandedIcon("▾")

    def _advanced_folded(self, expanded: bool) -> None:
        """Folded, the Advanced controls take no keyboard focus (unfolded, their own)."""
        for widget in self._advanced_controls:
            widget.setFocusPolicy(self._advanced_focus[widget] if expanded else Qt.FocusPolicy.NoFocus)
            if not expanded and widget.hasFocus():
                widget.clearFocus()

    # -- queries ------------------------------------------------------------------------

    def models(self) -> list[ModelSpec]:
        return list(self._models)

    def spec(self) -> ModelSpec | None:
        """The selected model's spec (None when no model is installed)."""
        index = self.model_combo.currentIndex()
        if index < 0:
            return None
        return self._model_items.item(index).data(_SPEC_ROLE)

    def item_for(self, model_id: str) -> QStandardItem | None:
        """The combo entry of `model_id` (None if not listed)."""
        for row, spec in self._spec_rows():
            if spec.id == model_id:
                return self._model_items.item(row)
        return None

    def model_id(self) -> str | None:
        spec = self.spec()
        return spec.id if spec is not None else None

    def scale(self) -> int:
        return int(self.scale_combo.currentData() or 4)

    def variant(self) -> str | None:
        return self.variant_combo.currentData() if self.variant_combo.count() else None

    def device(self) -> str:
        return str(self.device_combo.currentData())

    def torch_device(self) -> str:
        """The device for torch's jobs (kernel estimation, ZSSR): the chosen one, or ``auto``
        when that is ``vulkan`` (the ncnn runtime's GPU, which torch cannot use)."""
        device = self.device()
        return "auto" if device.startswith("vulkan") else device

    def precision(self) -> str:
        return str(self.precision_combo.currentData())

    def backend(self) -> str:
        return str(self.backend_combo.currentData())

    def alpha(self) -> str:
        """``model`` or ``resample``: how transparency is enlarged (`AlphaMode`)."""
        return str(self.alpha_combo.currentData())

    def iterations(self) -> int | None:
        """The Iterations row's number for a per-image model (ZSSR, map-sr); None for its
        default, and for any other model (the row is hidden then)."""
        spec = self.spec()
        value = self.iterations_spin.value()
        return value if spec is not None and spec.is_per_image and value > 0 else None

    def tile(self) -> int | str:
        value = self.tile_spin.value()
        return "auto" if value == 0 else max(MIN_TILE, int(value))

    def options(self, fallback_model: str | None = None) -> UpscaleOptions:
        """``UpscaleOptions`` for the current choice (the engine's one constructor, which
        checks every value). With no model installed: `fallback_model` if given, else
        `ModelError`."""
        model = self.model_id() or fallback_model
        if model is None:
            raise ModelError("no model is installed (see the model list for install commands)")
        return UpscaleOptions(
            model=model,
            scale=self.scale(),
            variant=self.variant() if self.spec() is not None else None,
            device=self.device(),
            tile=self.tile(),
            precision=self.precision(),
            backend=self.backend(),
            alpha=self.alpha(),
            iterations=self.iterations(),
        )

    # -- setters ------------------------------------------------------------------------
    def set_models(self, models: list[ModelSpec]) -> None:
        """Replace the model list (e.g. after Models ▸ Add model…), keeping the selected model
        when it is still listed (else the default one)."""
        previous, variant, iterations = self.model_id(), self.variant(), self.iterations_spin.value()
        self._updating = True
        try:
            self._models = list(models)
            self._model_items.clear()
            self._fill_model_items()
            kept = previous is not None and self.set_model_id(previous)
            if not kept:
                self.model_combo.setCurrentIndex(self._default_index())
        finally:
            self._updating = False
        self._on_model_changed()
        if kept and variant:  # (the model's default variant was chosen again)
            self.set_variant(variant)
        if kept:  # (and its default iterations: the next Upscale trained 1000 after a model was added)
            self.iterations_spin.setValue(iterations)

    def reload(self, models: list[ModelSpec]) -> str | None:
        """`set_models` when the list changed (a model added or removed elsewhere); the line
        to show when the selected model is gone ("X is no longer in the model list; Y is
        selected"), else None."""
        if models == self._models:
            return None
        before = self.spec()
        self.set_models(models)
        now = self.spec()
        if before is None or (now is not None and now.id == before.id):
            return None
        return f"{before.name} is no longer in the model list" + (f"; {now.name} is selected" if now else "")

    def set_model_id(self, model_id: str) -> bool:
        """Select ``model_id``; False if it is unknown or not installed."""
        for row, spec in self._spec_rows():
            if spec.id == model_id and self._model_items.item(row).isEnabled():
                self.model_combo.setCurrentIndex(row)
                return True
        return False

    def set_scale(self, scale: int) -> bool:
        if not 0 < int(scale) <= MAX_SCALE:  # (findData of a number beyond Qt's int raised)
            return False
        index = self.scale_combo.findData(int(scale))
        if index >= 0:
            self.scale_combo.setCurrentIndex(index)
        return index >= 0

    def set_variant(self, variant: str) -> bool:
        """Pick `variant`, remembered through scales that lack it; False when not offered."""
        self._chosen_variant = variant
        return self._select_variant(variant)

    def _select_variant(self, variant: str) -> bool:
        return _select(self.variant_combo, variant)

    def set_device(self, device: str) -> bool:
        return _select(self.device_combo, device, enabled_only=True)

    def set_precision(self, precision: str) -> bool:
        return _select(self.precision_combo, precision, enabled_only=True)

    def set_backend(self, backend: str) -> bool:
        return _select(self.backend_combo, backend, enabled_only=True)

    def set_alpha(self, alpha: str) -> bool:
        return _select(self.alpha_combo, alpha)

    def _snap_tile(self) -> None:
        # 1..15 px are no tile the tiler runs (the engine refused them after Upscale, naming a
        # "0 (whole image)" the box does not offer): typed, they become the smallest one
        if 0 < self.tile_spin.value() < MIN_TILE:
            self.tile_spin.setValue(MIN_TILE)

    def set_tile(self, tile: int | str) -> None:
        """Show a tile request ("auto", N; a stored value that is not one shows auto)."""
        try:
            size = parse_tile(tile).size
        except OptionError:
            size = None
        self.tile_spin.setValue(size if size is not None and size <= self.tile_spin.maximum() else 0)

    def take_choice_of(self, other: ModelPicker) -> bool:
        """Select what `other` has selected (model, scale, variant, iterations, device,
        precision, backend, tile, transparency) as far as this picker lists it; False when it does not
        list the model."""
        model = other.model_id()
        if model is None or not self.set_model_id(model):
            return False
        self.set_scale(other.scale())
        if other._chosen_variant:  # (what the user chose; the scale's own default follows by itself)
            self.set_variant(other._chosen_variant)
        self.set_device(other.device())
        self.set_precision(other.precision())
        self.set_backend(other.backend())
        self.set_tile(other.tile())
        self.set_alpha(other.alpha())
        self.iterations_spin.setValue(other.iterations() or 0)
        return True

    # -- persistence --------------------------------------------------------------------
    def load_settings(self, settings) -> str | None:
        """Restore the choices stored in a `GuiSettings`; the line to show when the stored
        model cannot be selected (removed, its package or file gone), else None."""
        self._updating = True
        unavailable = None
        try:
            stored = settings.get("model")
            if stored and not self.set_model_id(stored):
                unavailable = stored
            self.set_scale(settings.get("scale"))
            # what was shown for the stored choice: unchanged, it is not written over the
            # stored one (a model of another install, or a scale this one lacks, was lost at
            # the first close of a window that could not select it)
            self._stored_choice = (self.model_id(), self.scale())
            if settings.get("variant"):
                self.set_variant(settings.get("variant"))
            self.set_device(settings.get("device"))
            self.set_precision(settings.get("precision"))
            self.set_backend(settings.get("backend"))
            self.set_tile(settings.get("tile"))
            self.set_alpha(settings.get("alpha"))
            self._stored_options = self._options()
            self._stored_in = settings.path
        finally:
            self._updating = False
        self.optionsChanged.emit()
        if unavailable is None:
            return None
        listed = next((spec for spec in self._models if spec.id == unavailable), None)
        now = self.spec()
        return (f"The model used last, {listed.name if listed else unavailable}, is "
                + ("no longer in the model list" if listed is None else "not available now (see its entry)")
                + (f"; {now.name} is selected" if now is not None else ""))

    def save_settings(self, settings) -> None:
        """Store in a `GuiSettings` the choices changed since they were last loaded or stored
        (model and scale together): one this window could not select stays for the install
        that can, and one another window stored stays unless changed here."""
        if settings.path != self._stored_in:  # another file: everything
            self._stored_choice, self._stored_options, self._stored_in = None, {}, settings.path
        choice = (self.model_id(), self.scale())
        if choice != self._stored_choice:
            if self.model_id():
                settings.set("model", self.model_id())
            settings.set("scale", self.scale())
            self._stored_choice = choice
        for key, value in self._options().items():
            if self._stored_options.get(key) != value:
                settings.set(key, value)
                self._stored_options[key] = value

    def _options(self) -> dict[str, str]:
        """The choices besides model and scale, as the settings store them."""
        # the variant the user chose, not a scale's fallback (denoise0 of CUNet ×1 came back at ×2)
        return {"variant": self._chosen_variant or "", "device": self.device(), "precision": self.precision(),
                "backend": self.backend(), "tile": str(self.tile()), "alpha": self.alpha()}

    # -- internals ----------------------------------------------------------------------
    def _fill_model_items(self) -> None:
        literature = [spec for spec in self._models if spec.group == LITERATURE]
        for spec in [spec for spec in self._models if spec.group != LITERATURE]:
            self._model_items.appendRow(self._spec_item(spec))
        if literature:
            heading = QStandardItem(LITERATURE_HEADING)
            heading.setEnabled(False)
            heading.setSelectable(False)
            font = QFont()
            font.setBold(True)
            heading.setFont(font)
            shipped = ", ".join(spec.name for spec in literature if spec.trained and spec.installed)
            heading.setToolTip("Architectures of the SR literature, listed with their papers. "
                               + (f"{shipped}: weights trained for this app ship with it (published "
                                  "and measured PSNR in their tooltips). " if shipped else "")
                               + "Add a checkpoint with <code>sr-desktop models add FILE</code> "
                               "(or Models ▸ Add model…) to use any of them.")
            self._model_items.appendRow(heading)
            for spec in literature:
                self._model_items.appendRow(self._spec_item(spec))

    def _spec_item(self, spec: ModelSpec) -> QStandardItem:
        item = QStandardItem(_entry_text(spec))
        item.setData(spec, _SPEC_ROLE)
        # (the models it lists: the index of added models was read once per literature row)
        item.setToolTip(_entry_tooltip(spec, [s for s in self._models if s.custom]))
        item.setEnabled(bool(spec.installed))
        return item

    def _spec_rows(self) -> list[tuple[int, ModelSpec]]:
        """(combo row, spec) of every model entry (headings have no spec)."""
        rows = []
        for row in range(self._model_items.rowCount()):
            spec = self._model_items.item(row).data(_SPEC_ROLE)
            if spec is not None:
                rows.append((row, spec))
        return rows

    def _default_index(self) -> int:
        """The engine's default model if installed, else the first installed one."""
        installed = [(row, spec) for row, spec in self._spec_rows() if spec.installed]
        preferred = [row for row, spec in installed if spec.id == DEFAULT_MODEL]
        return (preferred or [row for row, _ in installed] or [-1])[0]

    def _disable_unavailable_devices(self) -> None:
        # the inventory asks torch only for a build that can have GPUs: importing it here
        # took 1.7 s of the window's 2.4 s start on a CPU-only build
        from sr_desktop.engine.models.backends.inventory import compute_devices
        from sr_desktop.engine.models.backends.ncnn_runner import vulkan_gpu, vulkan_gpus

        available = {"auto": True, "cpu": True, "cuda": False, "mps": False, "vulkan": False}
        why_not: dict[str, str] = {}  # ("torch 2.13.0+cpu is a CPU-only build", not "not available")
        for info in compute_devices():
            family = info.device.split(":")[0]
            available[family] = available.get(family, False) or info.available
            if not info.available:
                why_not[family] = info.name
        gpus = vulkan_gpus()
        self._vulkan_text = describe_device(vulkan_gpu("vulkan")) if gpus else None
        items = self.device_combo.model()
        for i, name in enumerate(UPSCALE_DEVICE_CHOICES):
            if not available[name]:
                items.item(i).setEnabled(False)
                items.item(i).setToolTip(f"{name} is not available: {why_not[name]}" if name in why_not
                                         else f"{name} is not available on this machine")
        self._torch_gpu = available["cuda"] or available["mps"]

    def _runs_on_torch_gpu(self) -> bool:
        """The device picked is a torch GPU: CUDA or MPS, or auto on a machine with one."""
        device = self.device()
        return device.startswith(("cuda", "mps")) or (device == "auto" and self._torch_gpu)

    def _fit_precision_to_device(self) -> None:
        """fp16 is offered for a device that runs it (a GPU, or auto when it picks one);
        the engine refuses it on the CPU, so there it is greyed out, with why."""
        gpu = self._runs_on_torch_gpu() or self.device().startswith("vulkan")
        fp16 = self.precision_combo.model().item(self.precision_combo.findData("fp16"))
        fp16.setEnabled(gpu)
        fp16.setToolTip("" if gpu else "fp16 needs a GPU (CUDA, MPS or Vulkan); the device picked runs on the CPU")
        if not gpu and self.precision() == "fp16":
            self.set_precision("auto")

    def _fit_vulkan_to(self, spec: ModelSpec | None) -> None:
        """``vulkan`` runs the zoo's models only: offered for those, greyed out (with why) for
        the others, and a model of another kind picked on it moves the device to ``auto``."""
        if self._vulkan_text is None:
            return
        item = self.device_combo.model().item(self.device_combo.findData("vulkan"))
        fits = spec is not None and is_zoo_spec(spec)
        item.setEnabled(fits)
        item.setToolTip(f"{self._vulkan_text} through the ncnn runtime, as Upscayl" if fits else
                        f"vulkan runs the model zoo's models only (through the ncnn runtime); "
                        f"{spec.name if spec else 'this model'} is not one of them")
        if not fits and self.device() == "vulkan":
            self.set_device("auto")

    def fit_backends(self) -> None:
        """OpenVINO and ncnn run networks on the CPU in fp32, ncnn the zoo's own models only:
        offered where they can run the model picked on the device picked, greyed out (with
        why) elsewhere, and a backend greyed out moves to ``auto`` (an OpenVINO kept from an
        earlier session failed every bicubic upscale in words of its internals). OpenVINO is
        greyed out too for a network it refused before (`openvino_refusals`; the window calls
        this after a job fails: a refused network stayed offered, each try converting it again
        to the same refusal)."""
        from sr_desktop.engine.models.backends.ncnn_runner import ncnn_version

        spec = self.spec()
        name = spec.name if spec is not None else "this model"
        device = self.device()
        # (OpenVINO and ncnn's CPU path were refused at every upscale on auto's GPU; vulkan is
        # ncnn's own GPU path)
        torch_gpu = self._runs_on_torch_gpu()
        network = spec is not None and spec.kind == ModelKind.FEEDFORWARD
        why_not = {
            "openvino": (f"{name} is not a network OpenVINO can run (a resampling method, or one trained on each "
                         "image)" if not network else "OpenVINO runs on the CPU; the device picked is a GPU"
                         if torch_gpu or device.startswith("vulkan") else self._openvino_refusal(spec)),
            "ncnn": ("the ncnn runtime is not installed (pip install ncnn)" if ncnn_version() is None else
                     f"ncnn runs the model zoo's own models; {name} is not one of them"
                     if spec is None or not is_zoo_spec(spec) else
                     "ncnn runs on the CPU or a Vulkan GPU (device cpu or vulkan); the device picked is "
                     "torch's GPU" if torch_gpu else None),
        }
        items = self.backend_combo.model()
        for backend, reason in why_not.items():
            index = self.backend_combo.findData(backend)
            if index < 0:
                continue
            items.item(index).setEnabled(reason is None)
            items.item(index).setToolTip(reason or "")
            if reason is not None and self.backend() == backend:
                self.set_backend("auto")

    def _openvino_refusal(self, spec: ModelSpec) -> str | None:
        """Why OpenVINO refused the network the picked scale and variant of `spec` run, or None."""
        from sr_desktop.engine.models.backends.openvino_refusals import refusal_for

        try:
            native = plan_for_spec(spec, self.scale()).native
            _, variant = resolve_scale_variant(spec, native, self.variant())
        except ModelError:
            return None
        reason = refusal_for(spec.id, native, variant)
        if reason is None:
            return None
        return f"OpenVINO refused {spec.name} ×{native} here: {in_dialog_words(reason, PICKER_FIELDS)}"

    def _on_model_changed(self) -> None:
        spec = self.spec()
        self._chosen_variant = None  # (another model: its default)
        previous_scale = self.scale_combo.currentData()
        updating, self._updating = self._updating, True
        try:
            self.scale_combo.clear()
            for s in scale_choices(spec):
                native = spec is not None and s in spec.scales and spec.kind != ModelKind.RESAMPLE
                self.scale_combo.addItem(f"×{s}" + (" (native)" if native else ""), s)
            target = previous_scale if previous_scale else (max(spec.scales) if spec else 4)
            if not self.set_scale(target) and spec is not None:
                self.set_scale(max(spec.scales))
            self._fill_variants(spec)
            self._fit_iterations_to(spec)
            self._fit_vulkan_to(spec)
            self.fit_backends()
        finally:
            self._updating = updating
        if spec is None:
            self.description.setText("No model installed — see the list for install commands.")
        else:
            tags = " · ".join(spec.tags)
            # what it is for in plain words, where the manifest says so (a photographer met
            # "argmin_x ‖(x ⊗ k)↓s − y‖²" and "NTIRE 2024 efficient SR winner" here); the
            # technical description is in the list's tooltip
            self.description.setText(  # (rich text for the tags' italics: the words escaped)
                html.escape(spec.use or spec.description) + (f"<br><i>{html.escape(tags)}</i>" if tags else "")
            )
        self._emit_changed()

    def _fit_iterations_to(self, spec: ModelSpec | None) -> None:
        """The Iterations row for a per-image model only, at its default (another model's
        number means another thing: ZSSR's 1000 steps take minutes, map-sr's 300 seconds)."""
        shown = spec is not None and spec.is_per_image
        self.iterations_spin.setValue(0)
        self.iterations_spin.setVisible(shown)
        self.iterations_label.setVisible(shown)
        if shown:
            family = spec.source.get("family", "zssr")  # (as the loader reads it)
            self.iterations_spin.setToolTip(ITERATIONS_TIPS.get(family, ITERATIONS_TIPS["zssr"]))

    def _on_variant_picked(self) -> None:
        if not self._updating:  # (the user's choice, not a list refilled)
            self._chosen_variant = self.variant()
            self.fit_backends()

    def _fill_variants(self, spec: ModelSpec | None, keep: str | None = None) -> None:
        """The variants `spec` has at the picked scale (the native scale its passes run at):
        Real-CUGAN SE's denoise1/2 exist at ×2 only, waifu2x CUNet's ×1 has no "default".
        `keep` stays picked when the scale has it, else the one the engine runs."""
        variants = []
        if spec is not None:
            try:
                variants = variants_at(spec, plan_for_spec(spec, self.scale()).native)
            except ModelError:
                variants = list(spec.variants)
        self.variant_combo.clear()
        for v in variants:
            self.variant_combo.addItem(v, v)
        fallback = spec.default_variant if spec is not None and spec.default_variant in variants else None
        for wanted in (keep, fallback):
            if wanted and self._select_variant(wanted):
                break
        several = len(variants) > 1
        self.variant_combo.setVisible(several)
        self.variant_label.setVisible(several)

    def _on_scale_changed(self) -> None:
        updating, self._updating = self._updating, True
        try:
            # the variant the user chose, also after a scale without it (×4 has no denoise2:
            # back at ×2 it came back as the default); none chosen, the scale's default (the
            # one a scale without "default" ran, waifu2x CUNet ×1's denoise0, stuck after it)
            self._fill_variants(self.spec(), keep=self._chosen_variant)
            self.fit_backends()  # (another scale may run another network)
        finally:
            self._updating = updating
        self._emit_changed()

    def _emit_changed(self, *_args) -> None:
        if not self._updating:
            self.optionsChanged.emit()
