"""The index of the models the user added (``paths.data_dir()/custom_models/index.json``)
and their registry specs, without torch: listing models, or loading an added model whose
backend is known (`arch_host`), must not import it. Adding, checking and loading the files
is `custom`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sr_desktop.engine.core import paths
from sr_desktop.engine.core.digest import file_sha256
from sr_desktop.engine.core.errors import ModelError, one_line
from sr_desktop.engine.core.file_lock import held_lock
from sr_desktop.engine.core.kernel_file import kernel_spec_parts
from sr_desktop.engine.core.text import has_control_characters, printable
from sr_desktop.engine.imageio.atomic import atomic_write
from sr_desktop.engine.models.community.importer import INSTALL_COMMAND, community_installed, is_community_family
from sr_desktop.engine.models.spec import ModelSpec

log = logging.getLogger(__name__)

#: what the listing says of a model added through spandrel where spandrel is missing
NEEDS_SPANDREL = (f"spandrel is not installed here ({INSTALL_COMMAND}): only a conversion to OpenVINO "
                  "made before runs it (--backend openvino)")

INDEX_VERSION = 1
#: what an add writes into its copy before the copy takes its place: a copy whose add was
#: killed before the index was written is recognised by it and registered by the next look
ENTRY_FILE = ".entry.json"
#: the recommended tile of an added ncnn graph
NCNN_RECOMMENDED_TILE = 256


def custom_models_dir() -> Path:
    """``data_dir()/custom_models`` (created on demand; one that cannot be — the data folder
    unusable — lists no models, and adding one says why)."""
    path = paths.data_dir() / "custom_models"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.debug("cannot create %s: %s", path, exc)
    return path


def index_path() -> Path:
    """The index file, ``custom_models/index.json``."""
    return custom_models_dir() / "index.json"


#: (path, modification time) of index problems already said in this process: every start
#: of an upscale looks the model up more than once, and said the same warning twice
_WARNED: set[tuple[str, str]] = set()


def _warn_once(path: Path, message: str, *args) -> None:
    # once per message in a process (keyed by the file's time, `models add` warned again
    # after its own write: the same line two or three times)
    key = (str(path), message % args)
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning(message, *args)


def _unreadable(path: Path, exc: BaseException) -> str:
    return f"the custom model index {path} cannot be read ({one_line(exc)})"


def _parsed_index(path: Path) -> tuple[list[dict[str, Any]], Any]:
    """The index file's entries (every dict) and format version; `OSError`, `ValueError`,
    `KeyError` or `TypeError` when it cannot be read."""
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = data["models"]
    if not isinstance(entries, list):
        raise TypeError("models is not a list")
    return [e for e in entries if isinstance(e, dict)], data.get("version", INDEX_VERSION)


def index_problem() -> str | None:
    """Why the added-models index cannot be read ("… is a link to …, which is not there"),
    else None (also when there is none yet)."""
    path = index_path()
    if not os.path.lexists(path):
        return None
    if path.is_symlink() and not path.exists():
        return f"the added-models index {path} is a link to {os.readlink(path)}, which is not there"
    if not path.is_file():
        return f"the added-models index {path} is not a file"
    try:
        _parsed_index(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _unreadable(path, exc)
    return None


def _entries_in_folders(path: Path) -> list[dict[str, Any]]:
    """The models listed from their folders' `ENTRY_FILE` when the index cannot be read (a
    damaged index made every added model vanish): nothing is written (`read_index`)."""
    found = interrupted_adds(path.parent, [])
    _warn_once(path, "%s: listing the %d added models found in their folders; move the index away to rebuild it",
               index_problem(), len(found))
    return found


def read_index(for_change: bool = False) -> list[dict[str, Any]]:
    """The index's entries. An unreadable index lists the models found in their folders
    (`_entries_in_folders`, with a warning), but is not changed (`for_change`: `ModelError`,
    also for an index that could not be written: a folder where it belongs, a file where
    its folder belongs): rewriting it would drop every model it records."""
    path = index_path()
    if for_change and os.path.lexists(path.parent) and not path.parent.is_dir():
        raise ModelError(f"the added models' folder {path.parent} is not a folder: remove what is there")
    if for_change and os.path.lexists(path) and not path.is_file():
        raise ModelError(f"the added-models index {path} is not a file: remove what is there")
    if not os.path.lexists(path):
        return []
    try:
        # every dict is kept, even one this version cannot use (`list_custom_specs` skips
        # it): rewriting the index for a change must not drop what it does not understand
        entries, version = _parsed_index(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if for_change:
            raise ModelError(f"{_unreadable(path, exc)}; nothing was changed: repair the file or move it "
                             "away") from None
        return _entries_in_folders(path)
    if for_change and isinstance(version, int) and version > INDEX_VERSION:
        # (it was rewritten as this version's, its newer top-level records dropped)
        raise ModelError(f"the added-models index {path} was written by a newer version of SR Desktop (index "
                         f"format {version}; this version writes {INDEX_VERSION}): nothing was changed; add or "
                         "remove models with that version")
    return entries


@contextlib.contextmanager
def index_lock() -> Iterator[None]:
    """Hold the custom models' lock file while the index is read, changed and written: two
    `models add` at once each wrote the index they had read, and one model was lost.
    `ModelError` when the folder cannot hold it (it named the lock file: "….index.lock: Not
    a directory")."""
    root = custom_models_dir()
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(held_lock(root / ".index.lock"))
        except OSError as exc:
            raise ModelError(f"cannot keep added models in {root} ({exc.strerror or exc}); set SR_DESKTOP_HOME "
                             "to a folder you can write") from None
        _finish_interrupted_adds(root)
        yield


def interrupted_adds(root: Path, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries of copies under `root` that an add placed but was killed before it wrote
    them into the index (the copy's `ENTRY_FILE` names them and its files are all there;
    whether they are whole, `_finish_interrupted_adds` checks: a listing hashes nothing)."""
    listed = {entry_id(e) for e in entries}
    found = []
    try:
        folders = sorted(root.iterdir())
    except OSError:
        return []
    for folder in folders:
        if folder.name.startswith(".") or folder.name in listed or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            entry = json.loads((folder / ENTRY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not an add of this version: left alone (see `remove_leftovers`)
        files = entry.get("files") if isinstance(entry, dict) else None
        if (entry_id(entry) == folder.name and isinstance(files, list) and files
                and all(isinstance(f, str) and (folder / f).is_file() for f in files)):
            found.append(entry)
    return found


def _digest_or_none(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def _finish_interrupted_adds(root: Path) -> None:
    """With the lock held: register what an add killed between placing its copy and writing
    the index left (it was never listed, nor removed, and its id was taken for good), and
    delete that write's temp file."""
    from sr_desktop.engine.imageio.atomic import remove_stale_temps_of

    remove_stale_temps_of(index_path())
    try:
        entries = read_index(for_change=True)
    except ModelError:
        return  # an unreadable index is not rewritten (`read_index`)
    recovered = [e for e in interrupted_adds(root, entries)  # (not a copy cut short)
                 if (recorded := recorded_digests(e))
                 and [_digest_or_none(root / e["id"] / f) for f in e["files"]][:len(recorded)] == recorded]
    if recovered:
        write_index(entries + recovered)
        log.info("registered %s, added by a `models add` that was interrupted", ", ".join(e["id"] for e in recovered))


def entries_after_interrupted_adds() -> list[dict[str, Any]]:
    """The index's entries, with `_finish_interrupted_adds` run first when a look finds such a
    copy (otherwise a listing costs one folder listing beside the index's read); nothing is
    registered when the models' folder cannot be written."""
    entries = read_index()
    if interrupted_adds(custom_models_dir(), entries):
        with contextlib.suppress(ModelError, OSError), index_lock():
            pass
        entries = read_index()
    return entries


def entry_id(entry: dict[str, Any]) -> str | None:
    """The entry's id when it is one this version can use as a folder name, else None."""
    value = entry.get("id")
    return value if isinstance(value, str) and re.fullmatch(r"[a-z0-9-]+", value) else None


#: what a removal renames a model's folder to before the index forgets it (a dot name: no
#: look registers it again), and deletes after
REMOVING_PREFIX = ".removing-"


def removal_folder(root: Path, model_id: str) -> Path:
    """Where `remove_custom_model` puts the folder of `model_id` while the index is rewritten."""
    return root / f"{REMOVING_PREFIX}{model_id}-{os.getpid()}"


def remove_leftovers(root: Path, entries: list[dict[str, Any]]) -> None:
    """What an add or a removal killed part-way left (with the lock held, none is running):
    an add's staging folders go; a removal's folder goes when the index no longer lists its
    model, else it is put back. A copied model the index does not list is registered when
    it holds its `ENTRY_FILE` (`interrupted_adds`), else left alone: it may be a model whose
    index entry was lost, which the user can add again from it."""
    listed = {entry_id(e) for e in entries}
    for item in [*root.glob(".adding-*"), *root.glob(REMOVING_PREFIX + "*")]:
        if not item.is_dir() or item.is_symlink():
            continue
        model_id = item.name[len(REMOVING_PREFIX):].rpartition("-")[0]
        if item.name.startswith(REMOVING_PREFIX) and model_id in listed and not (root / model_id).exists():
            log.info("putting back %s, left by an interrupted `models remove`", model_id)
            with contextlib.suppress(OSError):
                item.rename(root / model_id)
            continue
        log.info("removing %s, left by an interrupted `models add` or `models remove`", item)
        shutil.rmtree(item, ignore_errors=True)


def write_index(entries: list[dict[str, Any]]) -> None:
    path = index_path()
    text = json.dumps({"version": INDEX_VERSION, "models": entries}, indent=2)
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def recommended_tile(arch: str) -> int:
    """The recommended tile of an architecture (`archs.detect`; imports torch: entries record
    theirs when added, and only an entry of an older version asks), or of an ncnn graph."""
    from sr_desktop.engine.models.archs.detect import arch_support

    try:
        return arch_support(arch).recommended_tile
    except KeyError:  # an ncnn graph
        return NCNN_RECOMMENDED_TILE


#: the degradation a model trained on given LR images (`train --lr-data`) records
PAIRED_DEGRADATION = "paired"


def training_summary(training: dict[str, Any], several_scales: bool = False) -> str:
    """"trained here at ×2: 600 iterations on T91 (loss l1:1), validation PSNR-Y 22.72 dB" of
    a `_training_record`; "" for none. The scale it trained is said for a network that serves
    `several_scales` (an SRCNN listed ×2, ×3, ×4 did not say which one it had learnt), and a
    degradation other than bicubic (two models of one folder, one trained on its real pairs,
    read alike)."""
    if not training:
        return ""
    how = [f"{training['iterations']} iterations"] if isinstance(training.get("iterations"), int) else []
    if isinstance(training.get("data"), list) and training["data"]:
        how.append("on " + ", ".join(Path(str(folder)).name for folder in training["data"]))
    degradation = training.get("degradation")
    if degradation == PAIRED_DEGRADATION:
        how.append("paired with their LR images")
    elif isinstance(degradation, str) and degradation not in ("", "bicubic"):
        kernel = kernel_spec_parts(degradation)
        how.append("degraded by " + (f"kernel:{Path(kernel[0]).name}{kernel[1]}" if kernel else degradation))
    if isinstance(training.get("losses"), str) and training["losses"]:
        how.append(f"(loss {training['losses']})")
    parts = [" ".join(how)] if how else []
    if isinstance(training.get("init"), str) and training["init"]:
        parts.append(f"fine-tuned from {Path(training['init']).name}")
    if isinstance(training.get("val_psnr_y"), float):
        parts.append(f"validation PSNR-Y {training['val_psnr_y']:.2f} dB")
    scale = training.get("scale") if several_scales else None
    trained = "trained here" + (f" at ×{scale}" if isinstance(scale, int) and scale > 0 else "")
    return trained + (": " + ", ".join(parts) if parts else "")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def spec_from_entry(entry: dict[str, Any]) -> ModelSpec:
    folder = custom_models_dir() / entry["id"]
    files = [folder / f for f in entry.get("files", [])]
    main = files[0] if files else folder
    arch = entry.get("arch", "?")
    scale = int(entry.get("scale", 1))
    scales = [int(s) for s in entry.get("scales", [scale])]
    served = ", ".join(f"×{s}" for s in scales)
    installed = bool(files) and all(f.is_file() for f in files)
    # added through spandrel, listed where spandrel is not installed: only its cached OpenVINO
    # conversion, if any, runs it (listed "installed" without a word, only its upscale said so)
    needs_spandrel = is_community_family(entry.get("family")) and not community_installed()
    licence = entry.get("license") if isinstance(entry.get("license"), str) else ""  # (an edited index: null)
    init = _dict(entry.get("training")).get("init")
    if "license" not in entry and isinstance(init, str) and init:  # registered before its start's licence was recorded
        licence = f"fine-tuned from {Path(init).name}: its licence applies"
    return ModelSpec(
        id=entry["id"],
        # an edited or damaged index's name may be anything: null, a number, a control character
        name=printable(entry["name"]) if isinstance(entry.get("name"), str) and entry["name"].strip() else entry["id"],
        arch=arch,
        scales=scales,
        tags=["custom"],
        description=f"user model ({arch}, {served}) added from {entry.get('original', main.name)}"
        + (f"; {summary}" if (summary := training_summary(_dict(entry.get("training")), len(scales) > 1)) else "")
        + (f"; licence: {licence}" if licence else "")
        + (f"; {NEEDS_SPANDREL}" if needs_spandrel else ""),
        license=licence,
        source={"file": str(main), "files": [str(f) for f in files],
                "format": entry.get("format", ""), "params": entry.get("params", {}),
                "sha256": entry.get("sha256", ""),
                "files_sha256": recorded_digests(entry),
                # the file it was added from (`--model THAT_FILE` is then told its id)
                "original": str(entry.get("original") or ""),
                # False for an entry of an earlier version (its tile asked of torch's table below)
                "tile_recorded": bool(entry.get("recommended_tile")),
                **({"family": entry["family"]} if entry.get("family") else {})},
        recommended_tile=int(entry.get("recommended_tile") or recommended_tile(arch)),
        installed=installed,
        install_command=INSTALL_COMMAND if needs_spandrel else None if installed else "sr-desktop models add FILE",
        custom=True,
    )


def same_weights_as(spec: ModelSpec) -> list[ModelSpec]:
    """The other added models whose stored files have `spec`'s digests (the same weights added
    again: four "mynet" entries, three of one file, were listed without a word)."""
    digests = recorded_digests(spec.source)
    return [other for other in list_custom_specs()
            if digests and other.id != spec.id and recorded_digests(other.source) == digests]


def recorded_digests(entry: dict) -> list[str]:
    """The sha256 of each stored file that an index entry (or an added model's
    ``spec.source``) recorded when it was added. An entry of an earlier version recorded the
    first file's only (an ncnn pair's `.param`): then that one alone."""
    each = entry.get("files_sha256")
    if isinstance(each, list) and each and all(isinstance(d, str) and d for d in each):
        return list(each)
    first = entry.get("sha256")
    return [first] if isinstance(first, str) and first else []


def stored_file_digests(spec: ModelSpec) -> list[str]:
    """The sha256 of each of an added model's stored files, as they are now. Raises `OSError`."""
    return [file_sha256(Path(f)) for f in spec.source.get("files") or [spec.source.get("file", "")]]


def stored_files_digest(spec: ModelSpec, digests: list[str] | None = None) -> str:
    """The sha256 of an added model's stored file, or, for an ncnn pair, a sha256 over both
    files' digests: what its cached conversion is found by. `digests`: its
    `stored_file_digests`, when already taken. Raises `OSError`."""
    if digests is None:
        digests = stored_file_digests(spec)
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("|".join(digests).encode()).hexdigest()


def record_recommended_tile(model_id: str, tile: int) -> None:
    """Write `tile` into the index entry of `model_id` when it has none (an entry added by an
    earlier version), so that listing it no longer imports torch; an index that cannot be
    changed only leaves it as it was."""
    try:
        with index_lock():
            entries = read_index(for_change=True)
            missing = [e for e in entries if e.get("id") == model_id and not e.get("recommended_tile")]
            for entry in missing:
                entry["recommended_tile"] = int(tile)
            if missing:
                write_index(entries)
    except (ModelError, OSError) as exc:
        log.info("cannot record the recommended tile of %s in %s: %s", model_id, index_path(), one_line(exc))


def list_custom_specs() -> list[ModelSpec]:
    """Every added model, in the order added (``custom=True``, tag ``custom``); an entry
    this version cannot read (edited, damaged) is skipped with a warning naming it."""
    specs = []
    for entry in entries_after_interrupted_adds():
        try:
            if entry_id(entry) is None:
                raise ValueError(f"bad id {entry.get('id')!r}")
            specs.append(spec_from_entry(entry))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            _warn_once(index_path(), "skipping the custom model entry %s of %s: %s", str(entry.get("id"))[:80],
                       index_path(), one_line(exc))
    return specs


#: the longest display name a model may be given (the picker and `sr-desktop models` show it)
MAX_NAME_LENGTH = 64


def checked_model_name(name: str) -> str:
    """`name` stripped, or `ModelError` with one line: empty, with control characters (an
    escape sequence in it rewrote the terminal that listed the models, a newline split the
    table), or longer than `MAX_NAME_LENGTH`."""
    text = name.strip()
    if not text:
        raise ModelError("the model name is empty")
    if has_control_characters(text):
        raise ModelError(f"the model name \"{printable(text)}\" has control characters")
    if len(text) > MAX_NAME_LENGTH:
        raise ModelError(f"the model name is {len(text)} characters long; at most {MAX_NAME_LENGTH}")
    return text
