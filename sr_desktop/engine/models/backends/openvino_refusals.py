"""Models OpenVINO could not run, remembered: the next ``--backend openvino`` of one is
refused at once, with the first refusal's words, and the window greys OpenVINO out for it.

Converting and checking a model again took 4-7 s of every run of a SwinIR, to the same
refusal. A refusal holds for the OpenVINO release and the models' code it was found with
(an upgrade of either tries again) and goes with its model (`forget_refusals`); one that
may be the machine's and not the model's (out of memory) is not remembered.
"""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path

from sr_desktop.engine.core import paths
from sr_desktop.engine.models.backends.json_store import read_json_dict, remove_json_keys, update_json_dict

log = logging.getLogger(__name__)

#: words of a refusal that may be the machine's state, not the model's
_TRANSIENT = ("memory", "bad_alloc")


def refusals_file() -> Path:
    """Conversion identity -> the refusal (`remember_refusal`), beside the conversions."""
    return paths.cache_dir() / "openvino" / "refused.json"


def remember_refusal(identity: str, model, reason: str) -> None:
    """Remember that OpenVINO refused `model` (found by `identity`, the conversion's
    `openvino_runner.identity_key`) with `reason`; refusals found with another OpenVINO or
    other code go at the same time."""
    if any(word in reason.lower() for word in _TRANSIENT):
        return
    now = _found_with()
    try:
        remove_json_keys(refusals_file(), lambda _key, value: not _holds(value, now))
    except OSError as exc:
        log.info("openvino: cannot update %s (%s)", refusals_file(), exc)
    update_json_dict(refusals_file(), identity, {"model": model.id, "scale": int(model.scale),
                                                 "variant": model.variant, "reason": reason, **now})


def known_refusal(identity: str) -> str | None:
    """The reason OpenVINO refused the model of `identity` before, or None."""
    record = read_json_dict(refusals_file()).get(identity)
    return record["reason"] if _holds(record, _found_with()) else None


def refusal_for(model_id: str, scale: int, variant: str | None) -> str | None:
    """The reason OpenVINO refused `model_id`'s ×`scale` network (`variant`) with the
    OpenVINO and code installed now, or None: for a caller without the loaded model (the
    window's backend list; it reads the package's metadata, it does not import OpenVINO)."""
    records = read_json_dict(refusals_file())
    if not records:  # (the usual case, without the digest and the metadata lookup: 20 ms at the window's start)
        return None
    now = _found_with()
    for record in records.values():
        if (_holds(record, now) and record.get("model") == model_id and record.get("scale") == scale
                and record.get("variant") == variant):
            return record["reason"]
    return None


def forget_refusals(model_id: str) -> int:
    """Drop the refusals of `model_id` (a removed or replaced added model); how many went."""
    try:
        return remove_json_keys(refusals_file(),
                                lambda _key, value: isinstance(value, dict) and value.get("model") == model_id)
    except OSError as exc:
        log.info("openvino: cannot update %s (%s)", refusals_file(), exc)
        return 0


def _found_with() -> dict[str, str | None]:
    from sr_desktop.engine.models.backends.openvino_runner import models_code_digest

    try:
        release = importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        release = None
    return {"openvino": release, "code": models_code_digest()}


def _holds(record, now: dict[str, str | None]) -> bool:
    return (isinstance(record, dict) and isinstance(record.get("reason"), str)
            and all(record.get(name) == value for name, value in now.items()))
