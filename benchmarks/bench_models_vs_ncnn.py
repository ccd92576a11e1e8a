"""Speed of the zoo's graphs in torch vs the `ncnn` runtime, CPU (and CUDA when present).

Same graph input for both (the raw graph, after the family's pre-padding / extra planes),
`--threads` threads, median of `--repeat` rounds after one warm-up; the variants are run
interleaved (one of each per round) so that load changes on a shared machine hit them alike.

Columns: ``torch`` raw interpreter NCHW; ``torch-cl`` raw interpreter channels-last (the
zoo's default before the fused plan); ``fast-1dnn`` the fused plan with prepacked oneDNN
convolutions only; ``fast-nnpack`` the fused plan with NNPACK Winograd for wide 3×3
convolutions (oneDNN for the rest); ``fast`` the plan `ZooModel.run` uses on this CPU (one of
the two: `ncnn.fast.nnpack_pays`); ``jit-cl`` (with ``--jit``) the raw graph traced
and frozen (`torch.jit.optimize_for_inference`); ``openvino`` the graph converted by the
OpenVINO backend (`engine/models/backends`, fp32, cached conversion; skipped with
``--no-openvino`` or when OpenVINO is missing); ``ncnn`` the ncnn runtime (fp32, its default
CPU options: packing, Winograd); ``fast/ncnn`` and ``ov/ncnn`` the ratios (< 1: faster than ncnn).

With ``--gflops`` each model also gets a row of the rate each column reaches, in GFLOP/s of
the graph's direct (multiply-per-tap) convolution arithmetic, and the run starts with the
rate of a 4096² float32 matrix product on the same threads: a column near or above it is
at this CPU's float32 limit for direct convolution, and only an algorithm with fewer
multiplies (Winograd, as ncnn's runtime uses for 3×3) can be faster.

    PYTHONPATH=. python benchmarks/bench_models_vs_ncnn.py [--size 128] [--threads 2] [--only srmd,span]
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics
import time

import numpy as np
import torch

from sr_desktop.engine.models import registry
from sr_desktop.engine.models.loader import load_model
from sr_desktop.engine.models.ncnn.fast import FastGraph

CASES = [
    ("realesr-animevideov3", 2), ("realesr-animevideov3", 4),
    ("realesrgan-x4plus", 4), ("realesrgan-x4plus-anime", 4), ("realsr-df2k", 4),
    ("waifu2x-photo", 2), ("waifu2x-cunet", 2),
    ("realcugan-se", 2), ("realcugan-pro", 2), ("realcugan-se", 3), ("realcugan-se", 4),
    ("srmd", 2), ("srmdnf", 4), ("span", 2), ("span", 4),
]


def median_ms(fn, repeat: int) -> float:
    return interleaved_ms({"fn": fn}, repeat)["fn"]


def interleaved_ms(fns: dict, repeat: int) -> dict:
    """Median ms of each callable; one warm-up each, then `repeat` rounds of one run each."""
    times: dict = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1000)
    return {name: statistics.median(ts) for name, ts in times.items()}


def graph_gflop(fn) -> float:
    """GFLOP of one call of `fn`, counted by torch's FlopCounterMode (2 per multiply-add of
    every convolution and matrix product, whatever algorithm runs it)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def sgemm_gflops(threads: int, n: int = 4096, repeat: int = 5) -> float:
    """GFLOP/s of an n×n float32 matrix product on `threads` threads (median of `repeat`)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / median_ms(lambda: a @ b, repeat) * 1000 / 1e9


def ncnn_runner(param, binf, in_name, out_name, x: np.ndarray, threads: int):
    import ncnn

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads
    net.load_param(str(param))
    net.load_model(str(binf))
    mat = ncnn.Mat(np.ascontiguousarray(x))

    def run():
        ex = net.create_extractor()
        ex.input(in_name, mat)
        return ex.extract(out_name)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated model ids")
    ap.add_argument("--jit", action="store_true", help="also time a traced+frozen graph")
    ap.add_argument("--no-ncnn", action="store_true")
    ap.add_argument("--no-openvino", action="store_true")
    ap.add_argument("--gflops", action="store_true",
                    help="also print each column's GFLOP/s and the float32 matrix-product rate")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    only = set(filter(None, args.only.split(",")))
    if unknown := sorted(only - {model_id for model_id, _scale in CASES}):  # (an empty table, exit 0)
        ap.error(f"--only: {', '.join(unknown)} not among this benchmark's zoo models "
                 f"({', '.join(sorted({m for m, _s in CASES}))})")
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.random((1, 3, args.size, args.size), dtype=np.float32))
    from PIL import Image

    from sr_desktop.engine.core import paths

    rgb = np.asarray(Image.open(paths.RESOURCES_DIR / "chelsea.png").convert("RGB"), np.float32) / 255
    if rgb.shape[0] >= args.size and rgb.shape[1] >= args.size:
        image = torch.from_numpy(np.ascontiguousarray(rgb[: args.size, : args.size].transpose(2, 0, 1)))[None]
    import os

    load = os.getloadavg()[0]
    print(f"input {args.size}x{args.size}, {args.threads} threads, median of {args.repeat} interleaved rounds (ms); "
          f"torch {torch.__version__}; load average {load:.1f} on {os.cpu_count()} CPUs")
    from sr_desktop.engine.models.backends.openvino_runner import build_openvino_runner, openvino_version

    use_openvino = not args.no_openvino and openvino_version() is not None
    from sr_desktop.engine.models.ncnn.fast import nnpack_pays

    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}: `fast` is "
          f"{'fast-nnpack' if nnpack_pays() else 'fast-1dnn'} here")
    if args.gflops:
        print(f"float32 4096² matrix product: {sgemm_gflops(args.threads):.0f} GFLOP/s on {args.threads} threads")
    cols = (["torch", "torch-cl", "fast-1dnn", "fast-nnpack", "fast"] + (["jit-cl"] if args.jit else [])
            + (["openvino"] if use_openvino else []) + (["ncnn"] if not args.no_ncnn else []))
    print(f"{'model':28s} " + " ".join(f"{c:>9s}" for c in cols)
          + f" {'fast/ncnn':>9s} {'ov/ncnn':>8s} {'fast/cl':>8s}")
    for model_id, scale in CASES:
        if only and model_id not in only:
            continue
        model = load_model(model_id, scale=scale, channels_last=False)
        spec = registry.get_model_spec(model_id)
        param, binf = registry.model_files(spec, scale, model.variant)
        with torch.inference_mode():
            x, _ = model.prepare_input(image)
            graph = model.module
            fns = {"torch": functools.partial(graph, x)}
            graph_cl = copy.deepcopy(graph).to(memory_format=torch.channels_last)
            xcl = x.contiguous(memory_format=torch.channels_last)
            fns["torch-cl"] = functools.partial(graph_cl, xcl)
            fast_onednn = FastGraph(graph, nnpack=False)
            fns["fast-1dnn"] = functools.partial(fast_onednn, x)
            fns["fast-nnpack"] = functools.partial(FastGraph(graph, nnpack=True), x)
            fast = model.executor()  # what ZooModel.run uses
            fns["fast"] = functools.partial(fast, x)
            if args.jit:
                traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(graph_cl, xcl).eval()))
                fns["jit-cl"] = functools.partial(traced, xcl)
            if use_openvino:
                fns["openvino"] = functools.partial(build_openvino_runner(model, threads=args.threads), x)
            if not args.no_ncnn:
                fns["ncnn"] = ncnn_runner(param, binf, graph.input_name, graph.output_name, x[0].numpy(), args.threads)
            ms = interleaved_ms(fns, args.repeat)
        ratio = ms["fast"] / ms["ncnn"] if "ncnn" in ms else float("nan")
        ov_ratio = ms["openvino"] / ms["ncnn"] if "ncnn" in ms and "openvino" in ms else float("nan")
        print(f"{model_id + ' x' + str(scale):28s} " + " ".join(f"{ms[c]:9.0f}" for c in cols)
              + f" {ratio:9.2f} {ov_ratio:8.2f} {ms['fast'] / ms['torch-cl']:8.2f}", flush=True)
        if args.gflops:
            with torch.inference_mode():
                gflop = graph_gflop(fns["torch"])
            print(f"{'  GFLOP/s (' + format(gflop, '.1f') + ' GFLOP)':28s} "
                  + " ".join(f"{gflop / ms[c] * 1000:9.0f}" for c in cols), flush=True)
        if torch.cuda.is_available():
            model.to("cuda")
            xc = x.cuda()
            with torch.inference_mode():
                tc = median_ms(lambda m=model.module, xc=xc: (m(xc), torch.cuda.synchronize()), args.repeat)
            print(f"{'  cuda fp32':28s} {tc:9.1f}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
