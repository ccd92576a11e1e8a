"""Zoo models as trainable torch networks: an ncnn graph whose family has a torch
architecture gets its weights copied into that architecture's module.

Two families are converted, both by the order of the graph's parameter layers:
- Compact (``srvgg``: realesr-animevideov3): the plain chain conv, PReLU, …, conv, pixel
  shuffle, + nearest upscale of the input; the layers in graph order are the module's
  ``body`` in order.
- RRDBNet ×4 (``rrdbnet``: realesrgan-x4plus, realsr-df2k…; ``rrdbnet-6b``:
  realesrgan-x4plus-anime): the convolutions in graph order are ESRGAN's in execution order
  (conv_first, each RRDB's three dense blocks of five, conv_body, the two upsampling convs,
  conv_hr, conv_last).
Every conversion is checked by running both on the same input: the module must give the
graph's output (within `MATCH_TOLERANCE`), else the model is refused.
"""

from __future__ import annotations

import torch

from sr_desktop.engine.models.archs.detect import UnsupportedStateDict, detect_architecture
from sr_desktop.engine.training.errors import TrainingError

#: zoo family -> the architecture its graph is
FAMILY_ARCH = {"srvgg": "SRVGGNetCompact", "rrdbnet": "RRDBNet", "rrdbnet-6b": "RRDBNet"}
#: largest |module − graph| accepted on a random 0..1 input (float32 rounding is ~1e-6)
MATCH_TOLERANCE = 1e-4


def _layer_index(key: str) -> int:
    return int(key.split(".")[1])


def compact_state_from_graph(graph: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The SRVGGNetCompact state dict of a Compact ncnn graph (``layers.N.weight/bias/slope``)."""
    state = graph.state_dict()
    indices = sorted({_layer_index(k) for k in state})
    out: dict[str, torch.Tensor] = {}
    for position, index in enumerate(indices):
        prefix = f"layers.{index}."
        if prefix + "slope" in state:
            out[f"body.{position}.weight"] = state[prefix + "slope"].reshape(-1).clone()
        else:
            out[f"body.{position}.weight"] = state[prefix + "weight"].clone()
            if prefix + "bias" in state:
                out[f"body.{position}.bias"] = state[prefix + "bias"].clone()
    return out


def rrdbnet_state_from_graph(graph: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The RRDBNet (BasicSR key layout) state dict of a ×4 RRDBNet ncnn graph, its
    convolutions taken in graph order (KeyError when their count is not 15 per block + 6)."""
    state = graph.state_dict()
    convs = sorted({_layer_index(k) for k in state if k.endswith(".weight") and state[k].dim() == 4})
    blocks, extra = divmod(len(convs) - 6, 15)
    if blocks < 1 or extra:
        raise KeyError(f"{len(convs)} convolutions are not an RRDBNet ×4's 15 per block + 6")
    names = (["conv_first"]
             + [f"body.{b}.rdb{r}.conv{c}" for b in range(blocks) for r in (1, 2, 3) for c in range(1, 6)]
             + ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"])
    out: dict[str, torch.Tensor] = {}
    for name, index in zip(names, convs, strict=True):
        out[f"{name}.weight"] = state[f"layers.{index}.weight"].clone()
        out[f"{name}.bias"] = state[f"layers.{index}.bias"].clone()
    return out


#: architecture -> how a zoo graph's weights become its state dict
_STATE_FROM_GRAPH = {"SRVGGNetCompact": compact_state_from_graph, "RRDBNet": rrdbnet_state_from_graph}


def network_from_zoo(model) -> tuple[str, torch.nn.Module, dict]:
    """(arch, module, params) of a zoo model, or TrainingError when it cannot be trained."""
    arch = FAMILY_ARCH.get(getattr(model, "family", ""))
    if arch is None:
        # (it named the families by their internal names: "trainable zoo families: srvgg")
        from sr_desktop.engine.models.registry import list_models

        trainable = [spec.id for spec in list_models() if spec.source.get("family") in FAMILY_ARCH]
        raise TrainingError(f"{model.id} is an ncnn graph this app runs but cannot train; of the "
                            f"zoo, {', '.join(trainable)} can be fine-tuned")
    try:
        detected = detect_architecture(_STATE_FROM_GRAPH[arch](model.module))
        module = detected.build()
    except (UnsupportedStateDict, KeyError, IndexError) as exc:
        raise TrainingError(f"{model.id}: its graph is not a plain {arch}: {exc}") from None
    if detected.arch != arch:
        raise TrainingError(f"{model.id}: its graph reads as {detected.arch}, not {arch}")
    if detected.scale != model.scale:  # realesr-animevideov3 ×2/×3: the ×4 network, then a resize
        raise TrainingError(f"{model.id} ×{model.scale} is its ×{detected.scale} network followed by a resize; "
                            f"fine-tune it at --scale {detected.scale}")
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        graph_out = model.module.float()(x)
        module_out = module(x)
    if graph_out.shape != module_out.shape or float((graph_out - module_out).abs().max()) > MATCH_TOLERANCE:
        raise TrainingError(f"{model.id}: the {arch} built from its graph does not reproduce it")
    return arch, module, detected.params
