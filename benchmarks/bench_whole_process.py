"""What a user waits for: `sr-desktop batch` on a folder of photos against a program that
loads the ncnn runtime and processes the same folder, both timed as whole processes
(start-up, model load, reading, inference, writing PNGs) — issue 16's measure.

    PYTHONPATH=. python benchmarks/bench_whole_process.py [--count 10] [--size 256] [--rounds 3]
        [--models realesr-animevideov3:2,span:4,...] [--threads 2] [--backend auto] [--markdown FILE]

The photos are `--count` crops of `--size`² from the bundled photos. For each model, one
untimed run of each program first (it converts and caches the OpenVINO graph and times
the backends: the first use, not the steady state), then `--rounds` rounds that run both
programs one after the other (alternating which goes first), so that load changes on a
shared machine hit both alike; the table gives the median wall time of each and the
peak resident memory of each program's largest run. The ncnn program is this file run with
``--ncnn-child``: numpy, Pillow and ncnn only (no torch), the graph's own input convention
(pre-padding, border mode, SRMD planes, Real-CUGAN's nearest skip) read from the engine in
the parent, the runtime's default CPU options (which include fp16 storage and arithmetic
where the CPU has them, as this one does) with `--threads` threads, one whole image per run
(no tiling: at 256² none is needed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ("realesr-animevideov3:2,realesr-animevideov3:4,span:2,span:4,waifu2x-photo:2,"
                  "srmdnf:4,realcugan-se:2,realsr-df2k:4")


# -- the ncnn program ---------------------------------------------------------------------------


def ncnn_child(spec: dict) -> None:
    """Upscale every PNG of spec["in"] into spec["out"] with the ncnn runtime."""
    import ncnn
    import numpy as np
    from PIL import Image

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = spec["threads"]
    net.load_param(spec["param"])
    net.load_model(spec["bin"])
    s, pad, border = spec["scale"], spec["prepad"], spec["border"]
    for path in sorted(Path(spec["in"]).glob("*.png")):
        rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0
        h, w = rgb.shape[1:]
        if spec["srmd_planes"]:
            planes = [rgb, np.broadcast_to(np.asarray(spec["pca"], np.float32)[:, None, None], (15, h, w))]
            if spec["noise"] is not None:
                planes.append(np.full((1, h, w), spec["noise"] / 255.0, np.float32))
            graph_in = np.concatenate(planes)
        else:
            ph = max(spec["min_size"], -(-(h + 2 * pad) // spec["align"]) * spec["align"])
            pw = max(spec["min_size"], -(-(w + 2 * pad) // spec["align"]) * spec["align"])
            widths = ((0, 0), (pad, ph - h - pad), (pad, pw - w - pad))
            graph_in = np.pad(rgb, widths, mode="reflect" if border == "reflect" else "edge") if pad or ph > h \
                or pw > w else rgb
        graph_in = np.ascontiguousarray(graph_in)  # ncnn.Mat wraps it without a copy: keep it alive
        extractor = net.create_extractor()
        extractor.input(spec["input_name"], ncnn.Mat(graph_in))
        _, out = extractor.extract(spec["output_name"])
        y = np.array(out)
        o = 0 if spec["unpadded"] else s * pad
        y = y[:, o:o + s * h, o:o + s * w]
        if spec["add_nearest"]:
            y = y + rgb.repeat(s, axis=1).repeat(s, axis=2)
        pixels = np.clip(np.rint(y.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(Path(spec["out"]) / path.name)


# -- the parent ---------------------------------------------------------------------------------


def make_photos(folder: Path, count: int, size: int) -> None:
    """`count` size² crops of the bundled photos, PNG."""
    from PIL import Image

    from sr_desktop.engine.core.paths import RESOURCES_DIR

    sources = [Image.open(RESOURCES_DIR / name).convert("RGB") for name in ("sample.jpg", "chelsea.png")]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        img = sources[i % len(sources)]
        steps = max(1, count // len(sources))
        k = i // len(sources)
        x = (img.width - size) * k // max(1, steps - 1) if steps > 1 else 0
        y = (img.height - size) * ((k * 7) % steps) // max(1, steps - 1) if steps > 1 else 0
        img.crop((x, y, x + size, y + size)).save(folder / f"photo{i:02d}.png")


def ncnn_spec(model_id: str, scale: int, threads: int) -> dict:
    """What the ncnn program needs to run `model_id` ×`scale` as the engine does."""
    from sr_desktop.engine.models import registry
    from sr_desktop.engine.models.loader import load_model
    from sr_desktop.engine.models.zoo import SRMD_BICUBIC_PCA

    model = load_model(model_id, scale=scale)
    param, binf = registry.model_files(registry.get_model_spec(model_id), scale, model.variant)
    c = model.conv
    return {"param": str(param), "bin": str(binf), "threads": threads, "scale": scale,
            "input_name": model.module.input_name, "output_name": model.module.output_name,
            "prepad": c.prepad, "border": c.border, "align": c.align, "min_size": c.min_size,
            "unpadded": c.unpadded, "add_nearest": c.add_nearest, "srmd_planes": c.srmd_planes,
            "pca": list(SRMD_BICUBIC_PCA), "noise": getattr(model, "noise_level", None)}


def outputs_agree_db(ours: Path, theirs: Path) -> float:
    """The lowest PSNR (8-bit RGB) between the two programs' outputs of one photo: a check
    that both did the same work (∞ when identical)."""
    import math

    import numpy as np
    from PIL import Image

    worst = math.inf
    for path in sorted(theirs.glob("*.png")):
        a = np.asarray(Image.open(path), dtype=np.float64)
        b = np.asarray(Image.open(ours / path.name).convert("RGB"), dtype=np.float64)
        mse = float(np.mean((a - b) ** 2))
        worst = min(worst, math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse))
    return worst


def timed(command: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB, the process's own `ru_maxrss`) of one run."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(command[:4])} … failed:\n{err.read().decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated ID:SCALE")
    ap.add_argument("--backend", default="auto", choices=("auto", "torch", "openvino", "ncnn"),
                    help="sr-desktop batch's --backend (the user's environment's SR_DESKTOP_BACKEND is cleared)")
    ap.add_argument("--markdown", help="also write the table to this file")
    ap.add_argument("--ncnn-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.ncnn_child:
        ncnn_child(json.loads(args.ncnn_child))
        return 0
    env = {k: v for k, v in os.environ.items() if k != "SR_DESKTOP_BACKEND"}
    env["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        photos = Path(tmp) / "photos"
        make_photos(photos, args.count, args.size)
        env.setdefault("SR_DESKTOP_HOME", str(Path(tmp) / "home"))
        rows = []
        header = (f"{args.count} photos of {args.size}², {args.threads} threads, sr-desktop --backend "
                  f"{args.backend}, median of {args.rounds} alternating rounds; load average "
                  f"{os.getloadavg()[0]:.1f} at the start")
        print(header, flush=True)
        for item in args.models.split(","):
            model_id, scale = item.split(":")
            spec = ncnn_spec(model_id, int(scale), args.threads)
            out_ours, out_ncnn = Path(tmp) / "ours", Path(tmp) / "ncnn"
            ours = [sys.executable, "-m", "sr_desktop", "batch", str(photos), str(out_ours), "--model", model_id,
                    "--scale", scale, "--existing", "overwrite", "--no-progress", "--name", "{stem}",
                    "--backend", args.backend]
            theirs = [sys.executable, __file__, "--ncnn-child", json.dumps({**spec, "in": str(photos),
                                                                               "out": str(out_ncnn)})]
            out_ncnn.mkdir(exist_ok=True)
            first_use, _ = timed(ours, env)
            timed(theirs, env)
            times = {"ours": [], "ncnn": []}
            peak = {"ours": 0.0, "ncnn": 0.0}
            for r in range(args.rounds):
                order = (("ours", ours), ("ncnn", theirs)) if r % 2 == 0 else (("ncnn", theirs), ("ours", ours))
                for name, command in order:
                    seconds, rss = timed(command, env)
                    times[name].append(seconds)
                    peak[name] = max(peak[name], rss)
            a, b = statistics.median(times["ours"]), statistics.median(times["ncnn"])
            agreement = outputs_agree_db(out_ours, out_ncnn)
            rows.append((f"{model_id} ×{scale}", first_use, a, b, b / a, agreement, peak["ours"], peak["ncnn"]))
            print(f"{model_id} ×{scale}: sr-desktop batch {a:.2f} s (first use {first_use:.2f} s, peak "
                  f"{peak['ours']:.0f} MiB), ncnn program {b:.2f} s ({peak['ncnn']:.0f} MiB), speed-up "
                  f"{b / a:.2f}×; outputs agree to {agreement:.1f} dB", flush=True)
    from statistics import geometric_mean

    lines = [header, "", "| model | sr-desktop batch (s) | first use (s) | ncnn program (s) | speed-up | "
             "outputs agree (PSNR) | peak RSS sr-desktop / ncnn (MiB) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {m} | {a:.2f} | {f:.2f} | {b:.2f} | {r:.2f}× | {d:.1f} dB | {pa:.0f} / {pb:.0f} |"
              for m, f, a, b, r, d, pa, pb in rows]
    lines.append(f"| geometric mean | | | | {geometric_mean([r[4] for r in rows]):.2f}× | | |")
    lines.append(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    print("\n".join(lines))
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
