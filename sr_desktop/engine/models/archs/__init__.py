"""Torch architectures for models users bring as ``.pth`` / ``.safetensors`` files.

One architecture per module: `rrdbnet` (ESRGAN / Real-ESRGAN), `srvgg`
(SRVGGNetCompact), `span` (SPAN). `detect` recognises a state dict and builds the module.
"""

from sr_desktop.engine.models.archs.detect import (
    ARCHITECTURES,
    DetectedModel,
    UnsupportedStateDict,
    detect_architecture,
    unwrap_state_dict,
)
from sr_desktop.engine.models.archs.rrdbnet import RRDBNet
from sr_desktop.engine.models.archs.span import SPAN
from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact

__all__ = [
    "ARCHITECTURES",
    "DetectedModel",
    "RRDBNet",
    "SPAN",
    "SRVGGNetCompact",
    "UnsupportedStateDict",
    "detect_architecture",
    "unwrap_state_dict",
]
