"""What the registry knows of a model before it is loaded: `ModelSpec` (a row of
``models/manifest.json`` or a custom model) and the literature group's names.

Torch-free, so that listing models and parsing the command line do not import torch
(the CLI's start-up time); the loaded model's contract is `models.base.SRModel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sr_desktop.engine.models.kinds import ModelKind

#: the `ModelSpec.group` of the literature's architectures
LITERATURE = "literature"
#: how a user gets weights for a literature entry (or any architecture of `archs`)
ADD_WEIGHTS_COMMAND = "sr-desktop models add FILE"
#: what the id of every model a user adds starts with (``custom-my-model``)
CUSTOM_ID_PREFIX = "custom-"
#: the benchmark datasets of the published tables, by their names there (`ModelSpec.published`)
TABLE_DATASETS = ("Set5", "Set14", "B100", "Urban100", "Manga109")
#: other names those datasets' folders go by
_DATASET_ALIASES = {"bsd100": "B100", "bsds100": "B100"}


#: the names of a dataset's ground-truth folder in the common layouts (EDSR's benchmark/Set5/HR,
#: BasicSR's Set14/GTmod12): the dataset is its parent's name
GROUND_TRUTH_FOLDERS = ("hr", "gt", "gtmod12", "original")


def table_dataset(folder_name: str) -> str | None:
    """The published tables' name of the dataset a folder called `folder_name` holds
    (``set5`` → ``Set5``, ``BSD100`` → ``B100``); None for any other folder."""
    key = folder_name.strip().lower()
    return _DATASET_ALIASES.get(key) or next((name for name in TABLE_DATASETS if name.lower() == key), None)


def table_dataset_of(folder: PurePath) -> str | None:
    """`table_dataset` of a folder of HR images by its path: its own name, or its parent's
    for a ground-truth folder of a common layout (``benchmark/Set5/HR``)."""
    if folder.name.lower() in GROUND_TRUTH_FOLDERS:
        return table_dataset(folder.parent.name)
    return table_dataset(folder.name)


@dataclass
class ModelSpec:
    """One entry of the model registry (a row of ``models/manifest.json`` or a custom model)."""

    id: str
    name: str
    arch: str
    scales: list[int]
    kind: ModelKind = ModelKind.FEEDFORWARD
    variants: list[str] = field(default_factory=lambda: ["default"])
    default_variant: str = "default"
    tags: list[str] = field(default_factory=list)
    description: str = ""
    #: what it is good for, in a photographer's words ("Camera and phone photos, JPEGs…"):
    #: the window shows it in place of `description`; "" for the literature and added models
    use: str = ""
    license: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    recommended_tile: int = 256
    published: dict[str, Any] = field(default_factory=dict)
    installed: bool = True
    install_command: str | None = None
    custom: bool = False
    #: ``"literature"`` for the architectures of the SR literature listed with their paper
    #: (they need weights: ``sr-desktop models add FILE``); ``""`` for every other model
    group: str = ""
    paper: str = ""
    year: int | None = None
    #: literature weights trained for this project and shipped under ``models/``, by scale
    #: (``"3"``): file, sha256, data, iterations, measured Set5/Set14, ``incomplete``
    #: (`engine.models.literature`); empty when none ship
    trained: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = ModelKind.parse(self.kind)

    @property
    def needs_weights(self) -> bool:
        """True for a literature entry whose weights are not here (not runnable yet): none
        ship with the app, or a shipped file is missing."""
        return self.group == LITERATURE and not self.installed

    @property
    def status(self) -> str:
        """``installed``, ``needs weights`` (a literature entry) or ``not installed``."""
        if self.installed:
            return "installed"
        return "needs weights" if self.group == LITERATURE else "not installed"

    def published_psnr(self, dataset: str, scale: int) -> float | None:
        """The PSNR (dB, Y) its paper's table gives on `dataset` (a table's name: ``Set5``,
        ``Set14``, ``B100``, ``Urban100``, ``Manga109``) at ×`scale`; None where it gives none."""
        value = self.published.get(f"x{scale}", {}).get(dataset)
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def is_per_image(self) -> bool:
        """True for models trained on each image (ZSSR): no tiles, their own progress."""
        return self.kind == ModelKind.PER_IMAGE

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arch": self.arch,
            "kind": self.kind.value,
            "scales": list(self.scales),
            "variants": list(self.variants),
            "default_variant": self.default_variant,
            "tags": list(self.tags),
            "description": self.description,
            "use": self.use,
            "license": self.license,
            "source": self.source,
            "recommended_tile": self.recommended_tile,
            "published": self.published,
            "installed": self.installed,
            "install_command": self.install_command,
            "custom": self.custom,
            "group": self.group,
            "paper": self.paper,
            "year": self.year,
            "trained": self.trained,
            "status": self.status,
        }
