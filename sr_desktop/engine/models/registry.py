"""The model registry: ``models/manifest.json`` (the zoo as data) plus the user's custom models.

Zoo model files ship in pip packages (ncnn ``.param``/``.bin``); they are located through
importlib (``find_spec``), never by a hard-coded path, and the packages' own code is never
imported. A spec whose package is missing has ``installed=False`` and the ``pip install``
command that fixes it.

Rows with ``"group": "literature"`` are the SR literature's architectures (SRCNN … RCAN)
with their paper, year and published PSNR. Those trained for this project ship their weights
in ``models/literature/`` (the row's ``"trained"`` block, `engine.models.literature`) and run
at their trained scales; the others are ``installed=False``, status "needs weights", and the
way to get them is ``sr-desktop models add FILE`` (which makes a custom model of the
checkpoint).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Any

from sr_desktop.engine.core import paths
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.imageio.protected import same_file
from sr_desktop.engine.models import literature
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.model_files import is_model_file_name
from sr_desktop.engine.models.spec import ADD_WEIGHTS_COMMAND, CUSTOM_ID_PREFIX, LITERATURE, ModelSpec

log = logging.getLogger(__name__)

MANIFEST = paths.MODELS_DIR / "manifest.json"


@functools.lru_cache(maxsize=4)
def _read_manifest(path: str) -> tuple[dict[str, Any], ...]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return tuple(doc["models"])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"the model manifest {path} is missing or broken: {exc}") from None


def package_dir(module: str) -> Path | None:
    """Directory of an installed package (by its import name), or None; nothing is imported."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def model_files(spec: ModelSpec, scale: int, variant: str) -> tuple[Path, Path]:
    """The (.param, .bin) of a zoo model at `scale`/`variant` (ModelError if unavailable)."""
    files = spec.source.get("files", {})
    stem = files.get(str(scale), {}).get(variant)
    if stem is None:
        raise ModelError(f"{spec.id} has no variant {variant!r} at ×{scale}")
    root = package_dir(spec.source["module"])
    if root is None:
        raise ModelError(not_installed_message(spec))
    param, binf = root / f"{stem}.param", root / f"{stem}.bin"
    if not (param.is_file() and binf.is_file()):
        raise ModelError(
            f"{spec.id}: model file {param.name} is missing from package {spec.source['package']}; "
            f"reinstall it with `pip install --force-reinstall {spec.source['package']}`"
        )
    return param, binf


def install_command(spec: ModelSpec) -> str | None:
    """The command that makes `spec` runnable (``pip install …``, or adding weights)."""
    if spec.group == LITERATURE:
        return ADD_WEIGHTS_COMMAND
    package = spec.source.get("package")
    return f"pip install {package}" if package else None


def not_installed_message(spec: ModelSpec, flag: str = "--model") -> str:
    """The one line for a model that cannot run here yet (`flag`: the option that names a
    model where the line is said, ``--init`` for training)."""
    if spec.needs_weights:
        yours = checkpoints_of(spec)
        if yours:  # (it said to add one, after one was added: it runs under its own id)
            return (f"{spec.id} ships no weights; the {arch_name(spec.arch)} checkpoint you added runs as "
                    f"{', '.join(yours)} ({flag} {yours[0]})")
        return f"{spec.id} needs weights: add a checkpoint with `{ADD_WEIGHTS_COMMAND}`"
    # a package with wheels for some platforms only says which (pip would say "no matching distribution")
    wheels = spec.source.get("wheels")
    return f"{spec.id} is not installed: run `{install_command(spec)}`" + (f" (wheels for {wheels})" if wheels else "")


def checkpoints_of(spec: ModelSpec, added: list[ModelSpec] | None = None) -> list[str]:
    """The ids of the models the user added (`added`, when the caller holds them already:
    else read from their index) that are of `spec`'s architecture (a literature row:
    "RDN (D=16, C=8, G=64)" is an added "RDN")."""
    added = _custom_specs() if added is None else added
    return [c.id for c in added if c.custom and arch_name(c.arch) == arch_name(spec.arch)]


def arch_name(arch: str) -> str:
    """The architecture's name in a model's `arch` text: what comes before its details in
    brackets ("RDN (D=16, C=8, G=64)": "RDN"), the name an added checkpoint of it has (the
    manifest's rows are written so: a test holds them to the architectures' names)."""
    return arch.split(" (", 1)[0].strip()


def _is_installed(spec: ModelSpec) -> bool:
    if spec.group == LITERATURE:
        return literature.weights_present(spec.trained)  # a user's checkpoint is a custom model
    if spec.kind == ModelKind.PER_IMAGE:
        return True  # trained or solved on each image by the engine itself: nothing to install
    module = spec.source.get("module")
    if not module:
        return True
    root = package_dir(module)
    if root is None:
        return False
    stems = [stem for per_scale in spec.source.get("files", {}).values() for stem in per_scale.values()]
    return all((root / f"{stem}.param").is_file() and (root / f"{stem}.bin").is_file() for stem in stems)


def _spec_from_entry(entry: dict[str, Any]) -> ModelSpec:
    trained = dict(entry.get("trained", {}))
    tags = list(entry.get("tags", []))
    if literature.is_incomplete(trained):
        tags.append(literature.INCOMPLETE_TAG)
    spec = ModelSpec(
        id=entry["id"],
        name=entry["name"],
        arch=entry["arch"],
        scales=literature.trained_scales(trained) or [int(s) for s in entry["scales"]],
        kind=ModelKind.parse(entry.get("kind", ModelKind.FEEDFORWARD)),
        variants=list(entry.get("variants", ["default"])),
        default_variant=entry.get("default_variant", "default"),
        tags=tags,
        description=entry.get("description", ""),
        use=entry.get("use", ""),
        license=entry.get("license", ""),
        source=dict(entry.get("source", {})),
        recommended_tile=int(entry.get("recommended_tile", 256)),
        published=dict(entry.get("published", {})),
        group=entry.get("group", ""),
        paper=entry.get("paper", ""),
        year=int(entry["year"]) if entry.get("year") else None,
        trained=trained,
    )
    spec.installed = _is_installed(spec)
    spec.install_command = None if spec.installed else install_command(spec)
    return spec


def list_zoo_models(manifest: str | Path | None = None) -> list[ModelSpec]:
    """The runnable-when-installed specs of ``models/manifest.json`` (installed state
    computed now); the literature group is `list_literature_models`."""
    return [_spec_from_entry(e) for e in _read_manifest(str(manifest or MANIFEST))
            if e.get("group", "") != LITERATURE]


def list_literature_models(manifest: str | Path | None = None) -> list[ModelSpec]:
    """The literature's architectures (group ``literature``), in manifest order."""
    return [_spec_from_entry(e) for e in _read_manifest(str(manifest or MANIFEST))
            if e.get("group", "") == LITERATURE]


def _custom_specs() -> list[ModelSpec]:
    try:
        from sr_desktop.engine.models import custom_index
    except ModuleNotFoundError as exc:
        if exc.name == "sr_desktop.engine.models.custom_index":
            return []
        raise
    try:
        return list(custom_index.list_custom_specs())
    except ModelError as exc:
        log.warning("custom models unavailable: %s", exc)
        return []


def list_models() -> list[ModelSpec]:
    """Every model: the zoo and the literature group (manifest order; the literature's need
    weights), then the user's custom models in the order added."""
    listed = list_zoo_models() + list_literature_models()
    ids = {s.id for s in listed}
    return listed + [s for s in _custom_specs() if s.id not in ids]


def get_model_spec(model_id: str) -> ModelSpec:
    """The spec of `model_id` (ModelError naming the known ids if unknown)."""
    if isinstance(model_id, os.PathLike):  # (a file's Path: said as its name is)
        model_id = os.fspath(model_id)
    if not isinstance(model_id, str):  # (None failed on a missing .strip)
        raise ModelError(f"a model id is text (such as 'span'), got {type(model_id).__name__}")
    # Build only the matching zoo entry: checking every package's files on each call
    # cost ~20 ms, paid once per image in a batch.
    for entry in _read_manifest(str(MANIFEST)):
        if entry.get("id") == model_id:
            return _spec_from_entry(entry)
    specs = list_models()
    for spec in specs:
        if spec.id == model_id:
            return spec
    ids = [s.id for s in specs]
    if (added := _added_as(model_id, specs)) is not None:
        # (no flag named: `upscale --model`, `train --init` and the window all come here)
        raise ModelError(f"unknown model {model_id!r}: it was added as {added.id}; name it by that id")
    if os.path.isdir(model_id):
        raise ModelError(f"unknown model {model_id!r}: a folder, not a model id or file")
    if is_model_file_name(model_id) or os.sep in model_id or "/" in model_id:
        raise ModelError(f"unknown model {model_id!r}: a model file is added once with "
                         f"`sr-desktop models add {model_id}`, then named by the id that prints")
    hint = _did_you_mean(model_id, ids)
    if model_id.startswith(CUSTOM_ID_PREFIX):  # one of the user's, removed since
        raise ModelError(f"unknown model {model_id!r}{hint}: none of the models you added has this id "
                         "(removed since?); 'sr-desktop models' lists them")
    raise ModelError(f"unknown model {model_id!r}{hint}; known models: {', '.join(ids)}")


def _added_as(model_id: str, specs: list[ModelSpec]) -> ModelSpec | None:
    """The user's model that `model_id` names by its list name (``4x_MyCompact``, as
    `sr-desktop models` shows it) or by the file it was added from, if any."""
    wanted = model_id.strip().casefold()
    for spec in specs:
        if not spec.custom:
            continue
        added_from = str(spec.source.get("original") or "")
        names = {spec.name.casefold(), Path(added_from).name.casefold() if added_from else ""}
        if wanted in names or (added_from and os.path.exists(model_id) and same_file(model_id, added_from)):
            return spec
    return None


def _did_you_mean(model_id: str, ids: list[str]) -> str:
    """" (did you mean espcn?)" for an id that is a known one but for case, blanks or a slip
    of the keyboard; "" otherwise (the whole list followed alone, 38 ids on one line)."""
    import difflib

    wanted = model_id.strip().lower()
    by_lower = {i.lower(): i for i in ids}
    close = [by_lower[wanted]] if wanted in by_lower else difflib.get_close_matches(wanted, list(by_lower), n=1,
                                                                                     cutoff=0.75)
    return f" (did you mean {by_lower.get(close[0], close[0])}?)" if close else ""


def is_per_image(model_id: str) -> bool:
    """Whether `model_id` is trained on each image (kind `ModelKind.PER_IMAGE`, e.g. ZSSR):
    such a model runs once over the whole image and reports its training iterations.
    False for an unknown id (loading it reports the error)."""
    try:
        return get_model_spec(model_id).is_per_image
    except ModelError:
        return False


def is_resample(model_id: str) -> bool:
    """Whether `model_id` is a resampling method (bicubic, lanczos, nearest: kind
    `ModelKind.RESAMPLE`). Read from the manifest alone, where every one is: an added model
    never is one, and finding an added model's spec lists them all (3.4 ms here) for each image
    of a batch."""
    return any(entry.get("id") == model_id
               and ModelKind.parse(entry.get("kind", ModelKind.FEEDFORWARD)) == ModelKind.RESAMPLE
               for entry in _read_manifest(str(MANIFEST)))


def variants_at(spec: ModelSpec, scale: int) -> list[str]:
    """The variants of `spec` available at native `scale` (all listed variants when they are
    not per-scale: a model of another kind than feedforward, a custom model)."""
    files = spec.source.get("files")
    if spec.kind != ModelKind.FEEDFORWARD or not isinstance(files, dict) or not files:
        return list(spec.variants)
    return [v for v in spec.variants if v in files.get(str(scale), {})]
