"""ncnn model files (``.param`` graph + ``.bin`` weights) run exactly in torch.

Public API:
- ``load_ncnn_graph(param_path, bin_path, cache_dir="default") -> NcnnGraph`` (a
  ``torch.nn.Module`` mapping N×C×H×W to the raw graph output, no family conventions)
- ``NcnnGraphError`` (a ``ModelError``) for broken or unsupported files
- ``SUPPORTED_TYPES``: the ncnn layer types the interpreter implements
"""

from sr_desktop.engine.models.ncnn.graph import NcnnGraph, load_ncnn_graph, source_hash
from sr_desktop.engine.models.ncnn.layers import SUPPORTED_TYPES
from sr_desktop.engine.models.ncnn.param import NcnnGraphError, parse_param_file, parse_param_text

__all__ = [
    "NcnnGraph",
    "NcnnGraphError",
    "SUPPORTED_TYPES",
    "load_ncnn_graph",
    "parse_param_file",
    "parse_param_text",
    "source_hash",
]
