"""Speed of the zoo's graphs in torch vs the `ncnn` runtime, CPU (and CUDA when present).

Same graph input for both (the raw graph, after the family's pre-padding / extra planes),
`--threads` threads, median of `--repeat` runs after one warm-up. Torch is measured
contiguous (NCHW) and channels-last; `--jit` adds a traced + frozen
(`torch.jit.optimize_for_inference`, fused conv+activation) variant.

    PYTHONPATH=. python benchmarks/bench_models_vs_ncnn.py [--size 128] [--only srmd,span]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from sr_desktop.engine.models import registry
from sr_desktop.engine.models.loader import load_model

CASES = [
    ("realesr-animevideov3", 2), ("realesr-animevideov3", 4),
    ("realesrgan-x4plus", 4), ("realesrgan-x4plus-anime", 4), ("realsr-df2k", 4),
    ("waifu2x-photo", 2), ("waifu2x-cunet", 2),
    ("realcugan-se", 2), ("realcugan-pro", 2), ("realcugan-se", 3), ("realcugan-se", 4),
    ("srmd", 2), ("srmdnf", 4), ("span", 2), ("span", 4),
]


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    only = set(filter(None, args.only.split(",")))
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.random((1, 3, args.size, args.size), dtype=np.float32))
    from PIL import Image

    from sr_desktop import paths

    rgb = np.asarray(Image.open(paths.RESOURCES_DIR / "chelsea.png").convert("RGB"), np.float32) / 255
    if rgb.shape[0] >= args.size and rgb.shape[1] >= args.size:
        image = torch.from_numpy(np.ascontiguousarray(rgb[: args.size, : args.size].transpose(2, 0, 1)))[None]
    print(f"input {args.size}x{args.size}, {args.threads} threads, median of {args.repeat} (ms); torch {torch.__version__}")
    print(f"{'model':28s} {'torch':>9s} {'torch-cl':>9s} {'jit-cl':>9s} {'ncnn':>9s} {'best/ncnn':>9s}")
    for model_id, scale in CASES:
        if only and model_id not in only:
            continue
        model = load_model(model_id, scale=scale, channels_last=False)
        spec = registry.get_model_spec(model_id)
        param, binf = registry.model_files(spec, scale, model.variant)
        with torch.inference_mode():
            x, _ = model.prepare_input(image)
            graph = model.module
            t_plain = median_ms(lambda: graph(x), args.repeat)
            graph.to(memory_format=torch.channels_last)
            xcl = x.contiguous(memory_format=torch.channels_last)
            t_cl = median_ms(lambda: graph(xcl), args.repeat)
            t_jit = float("nan")
            if args.jit:
                traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(graph, xcl).eval()))
                t_jit = median_ms(lambda: traced(xcl), args.repeat)
        t_ncnn = float("nan")
        if not args.no_ncnn:
            run = ncnn_runner(param, binf, graph.input_name, graph.output_name, x[0].numpy(), args.threads)
            t_ncnn = median_ms(run, args.repeat)
        best = np.nanmin([t_plain, t_cl, t_jit])
        print(f"{model_id + ' x' + str(scale):28s} {t_plain:9.0f} {t_cl:9.0f} {t_jit:9.0f} {t_ncnn:9.0f} {best / t_ncnn:9.2f}", flush=True)
        if torch.cuda.is_available():
            model.to("cuda")
            xc = x.cuda()
            with torch.inference_mode():
                tc = median_ms(lambda: (model.module(xc), torch.cuda.synchronize()), args.repeat)
            print(f"{'  cuda fp32':28s} {tc:9.1f}")


if __name__ == "__main__":
    main()
