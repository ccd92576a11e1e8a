"""The licence of a spandrel architecture, for the user to see before using a checkpoint.

spandrel's own architectures are under permissive licences (MIT, Apache-2.0, BSD) and are
not marked. The architectures of spandrel-extra-arches carry non-commercial or academic
licences; the wheels do not ship those LICENSE files, so their names are written here,
read from the LICENSE file beside each architecture in the spandrel repository
(``libs/spandrel_extra_arches/spandrel_extra_arches/architectures/*/__arch/LICENSE``,
spandrel-extra-arches 0.2.0). An extra architecture not listed still gets the general line.
"""

from __future__ import annotations

from typing import Any

EXTRA_PACKAGE = "spandrel_extra_arches"
#: what every licence line of an extra architecture says (`is_non_commercial` looks for it)
NOT_FOR_COMMERCIAL_USE = "not for commercial use"

#: the licence of each spandrel-extra-arches architecture (by spandrel's architecture id)
EXTRA_ARCH_LICENCES = {
    "AdaCode": "CC BY-NC-SA 4.0",
    "CodeFormer": "S-Lab License 1.0 (non-commercial)",
    "DDColor": "academic and non-commercial use only",
    "FeMaSR": "CC BY-NC-SA 4.0",
    "M3SNet": "Academic Public License (non-commercial)",
    "MAT": "CC BY-NC 4.0",
    "MIRNet2": "Academic Public License (non-commercial)",
    "MPRNet": "Academic Public License (non-commercial)",
    "Restormer": "Academic Public License (non-commercial)",
    "SRFormer": "CC BY-NC 4.0",
}


def is_extra_architecture(architecture: Any) -> bool:
    """True when `architecture` (a spandrel ``Architecture``) comes from spandrel-extra-arches."""
    return type(architecture).__module__.split(".")[0] == EXTRA_PACKAGE


def architecture_licence(architecture: Any) -> str:
    """The licence line of a spandrel architecture: ``""`` for spandrel's own (permissive),
    ``"CC BY-NC 4.0 (spandrel-extra-arches: not for commercial use)"`` for an extra one."""
    if not is_extra_architecture(architecture):
        return ""
    name = EXTRA_ARCH_LICENCES.get(str(architecture.id), "non-commercial licence")
    return f"{name} (spandrel-extra-arches: {NOT_FOR_COMMERCIAL_USE})"


def is_non_commercial(licence: object) -> bool:
    """Whether a model's licence line (`ModelSpec.license`) is one of `architecture_licence`'s
    non-commercial ones."""
    return isinstance(licence, str) and NOT_FOR_COMMERCIAL_USE in licence
