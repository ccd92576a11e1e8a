"""ncnn model files (``.param`` graph + ``.bin`` weights) run exactly in torch.

Public API:
- ``load_ncnn_graph(param_path, bin_path, cache_dir="default") -> NcnnGraph`` (a
  ``torch.nn.Module`` mapping N×C×H×W to the raw graph output, no family conventions)
- ``NcnnGraphError`` (a ``ModelError``) for broken or unsupported files
- ``SUPPORTED_TYPES``: the ncnn layer types the interpreter implements

The torch parts load on first use of their names, so that the torch-free ``param`` module
(parsing, `graph_io`, `source_hash`) can be imported without torch.
"""

from importlib import import_module

from sr_desktop.engine.models.ncnn.param import NcnnGraphError, parse_param_file, parse_param_text, source_hash

__all__ = [
    "NcnnGraph",
    "NcnnGraphError",
    "SUPPORTED_TYPES",
    "load_ncnn_graph",
    "parse_param_file",
    "parse_param_text",
    "source_hash",
]

_TORCH_NAMES = {"NcnnGraph": "graph", "load_ncnn_graph": "graph", "SUPPORTED_TYPES": "layers"}


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        return getattr(import_module(f"{__name__}.{_TORCH_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
