"""Checkpoints of the community, run through spandrel (an optional extra).

The project's own architectures (`engine.models.archs`) are tried first; a state dict none
of them recognises is handed to spandrel — chaiNNer's and ComfyUI's model loader — which
knows HAT, DAT, SwinIR, OmniSR, PLKSR and some forty more. spandrel is imported lazily
(`importer`), only then: it pulls in torchvision, which makes ``import torch`` slower and
needs a matching torch build, so it is the extra ``sr-desktop[community]`` (and
``[community-nc]`` for spandrel-extra-arches, whose architectures carry non-commercial
licences). ``loading`` turns a file into a checked spandrel descriptor, ``model`` runs it
under the engine's `SRModel` contract, ``licence`` tells an architecture's licence.
"""

from __future__ import annotations

from sr_desktop.engine.models.community.importer import (
    FAMILY_PREFIX,
    CommunityUnavailable,
    family_of,
    install_hint,
    is_community_family,
)

#: imported on first use: ``loading`` imports torch, and the model list reads `importer`
#: (is spandrel installed?) in processes that run without torch
_FROM_LOADING = ("describe_community_file", "load_community_model")

__all__ = [
    "FAMILY_PREFIX",
    "CommunityUnavailable",
    "describe_community_file",
    "family_of",
    "install_hint",
    "is_community_family",
    "load_community_model",
]


def __getattr__(name: str):
    if name in _FROM_LOADING:
        from sr_desktop.engine.models.community import loading

        return getattr(loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
