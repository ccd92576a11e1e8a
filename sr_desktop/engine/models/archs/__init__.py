"""Torch architectures for models users bring as ``.pth`` / ``.safetensors`` files.

One architecture per module, with its hyper-parameters as constructor arguments: the
community's `rrdbnet` (ESRGAN / Real-ESRGAN), `srvgg` (SRVGGNetCompact), `span` (SPAN), and
the SR literature's `srcnn`, `fsrcnn`, `espcn`, `vdsr`, `lapsrn`, `srresnet` (SRResNet /
SRGAN G, MSRResNet), `edsr`, `mdsr`, `rdn`, `rcan`, `san`, `csnln`, `prosr`, `ddbpn`,
`enhancenet` and `spsr` (`attention` holds the chunked non-local attention SAN and CSNLN
share). `detect` recognises a state dict and builds the module; its `ARCH_REGISTRY` lists
the architectures (one `ArchSupport` entry each, see docs/models.md).
"""

from sr_desktop.engine.models.archs.detect import (
    ARCH_REGISTRY,
    ARCHITECTURES,
    ArchSupport,
    DetectedModel,
    UnsupportedStateDict,
    detect_architecture,
    unwrap_state_dict,
)
from sr_desktop.engine.models.archs.rrdbnet import RRDBNet
from sr_desktop.engine.models.archs.span import SPAN
from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact

__all__ = [
    "ARCH_REGISTRY",
    "ARCHITECTURES",
    "ArchSupport",
    "DetectedModel",
    "RRDBNet",
    "SPAN",
    "SRVGGNetCompact",
    "UnsupportedStateDict",
    "detect_architecture",
    "unwrap_state_dict",
]
