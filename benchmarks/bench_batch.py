"""Batch export: throughput against pure inference, and resident memory over a long batch.

Generates a folder of mixed images (sizes, PNG/JPEG/WebP/TIFF, RGB/RGBA/grey), then

* throughput: the same model on the same images preloaded in memory (pure inference:
  ``upscale_image`` in a loop, no decoding or encoding) against ``run_batch`` on the
  folder (decode + inference + encode, overlapped by the reader/writer threads).
  Target: batch ≥ 0.9 × pure inference (files per second).
* memory: resident set size (psutil) sampled after every file of a batch of
  ``--memory-count`` images; growth from file 20 to the end (target < 50 MB).
* ``--cluster ray``: the in-process batch against the same batch on a local Ray instance
  (``run_batch(cluster=...)``, Ray started once beforehand, as a cluster would be), files per
  second of each and the overhead (target < 15 % on 2 cores).

    python benchmarks/bench_batch.py                           # both, default models
    python benchmarks/bench_batch.py --models bicubic --count 300 --memory-count 300
    python benchmarks/bench_batch.py --device cuda --models realesr-animevideov3

Models: registry ids (``bicubic``, ``realesr-animevideov3``, ``span`` ...) or
``srvgg-random``: an SRVGGNetCompact with the shape of realesr-animevideov3 (64 features,
16 convolutions) and random weights: the same compute, for when the model files or the
loader are not available. Prints a JSON summary (``--json FILE`` also writes it).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import psutil
import torch
from PIL import Image as PILImage

from sr_desktop.engine.batch.runner import BatchOptions, run_batch
from sr_desktop.engine.imageio import read_image
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.pipeline.upscale import UpscaleOptions, upscale_image

FORMATS = [("png", {}), ("jpg", {"quality": 92}), ("webp", {"quality": 90}), ("tif", {})]


def generate_folder(folder: Path, count: int, min_side: int, max_side: int, seed: int = 0) -> None:
    """`count` smooth-ish random images of mixed size, format and mode (some in sub-folders)."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        w, h = (int(v) for v in rng.integers(min_side, max_side + 1, 2))
        # Low-frequency content plus a little noise: compresses like a photo, not like noise.
        small = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
        base = np.asarray(PILImage.fromarray(small).resize((w, h), PILImage.BICUBIC), dtype=np.int16)
        pixels = np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
        suffix, params = FORMATS[i % len(FORMATS)]
        mode_pick = i % 10
        image = PILImage.fromarray(pixels)
        if mode_pick == 7 and suffix in ("png", "webp", "tif"):
            alpha = PILImage.fromarray(rng.integers(128, 256, (h, w), dtype=np.uint8))
            image.putalpha(alpha)
        elif mode_pick == 9:
            image = image.convert("L")
        sub = folder / f"part{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        image.save(sub / f"img{i:04d}.{suffix}", **params)


class _RandomSRVGG(SRModel):
    """SRVGGNetCompact with realesr-animevideov3's shape and random weights."""

    context = 20

    def __init__(self, scale: int):
        super().__init__()
        from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact

        torch.manual_seed(0)
        self.id = "srvgg-random"
        self.scale = scale
        self.module = SRVGGNetCompact(num_feat=64, num_conv=16, upscale=scale).eval()

    def run(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.to(self.device, self.dtype)).float()


def load(model_id: str, scale: int, device: str) -> SRModel | None:
    """An SRModel for `model_id` (None: let the engine load it by id)."""
    if model_id == "srvgg-random":
        dev = torch.device("cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
        return _RandomSRVGG(scale).to(dev)
    return None


def pure_inference(images, options: UpscaleOptions, model) -> tuple[float, float]:
    """(wall, process CPU) seconds to upscale the preloaded `images` one after the other."""
    c0, t0 = time.process_time(), time.perf_counter()
    for image in images:
        upscale_image(image, options, model=model)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0, time.process_time() - c0


def measure_throughput(folder: Path, work: Path, model_id: str, scale: int, device: str, tile,
                       repeats: int = 3) -> dict:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    images = [read_image(p) for p in files]
    megapixels = sum(im.width * im.height for im in images) / 1e6
    model = load(model_id, scale, device)
    options = UpscaleOptions(model="bicubic" if model_id == "bicubic" else model_id, scale=scale,
                             device=device, tile=tile)
    upscale_image(images[0], options, model=model)  # warm-up: model load, first-call costs
    batch_options = BatchOptions(upscale=UpscaleOptions(model=model_id, scale=scale, device=device, tile=tile))
    runs = []
    for attempt in range(repeats):  # alternate, so drift of a shared machine hits both sides
        inference_s, inference_cpu = pure_inference(images, options, model)
        out = work / f"out-{model_id}-{attempt}"
        c0, t0 = time.process_time(), time.perf_counter()
        result = run_batch(folder, out, dataclasses.replace(batch_options, recursive=True),
                           model=model, report_path=work / f"report-{model_id}-{attempt}.json")
        batch_s, batch_cpu = time.perf_counter() - t0, time.process_time() - c0
        load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        assert result.totals.ok == len(files), result.summary()
        shutil.rmtree(out)
        runs.append({
            "inference_seconds": round(inference_s, 3),
            "batch_seconds": round(batch_s, 3),
            "inference_files_per_second": round(len(files) / inference_s, 3),
            "batch_files_per_second": round(len(files) / batch_s, 3),
            "ratio": round(inference_s / batch_s, 3),
            # CPU seconds of this process (all threads): what decoding + encoding add on
            # top of inference, independent of how busy the machine is.
            "inference_cpu_seconds": round(inference_cpu, 3),
            "batch_cpu_seconds": round(batch_cpu, 3),
            "load_average_1min": load_avg,
        })
    del images
    return {
        "model": model_id,
        "scale": scale,
        "files": len(files),
        "input_megapixels": round(megapixels, 3),
        "runs": runs,
        "best_ratio": max(r["ratio"] for r in runs),
        "mean_ratio": round(sum(r["ratio"] for r in runs) / len(runs), 3),
        "median_ratio": round(float(sorted(r["ratio"] for r in runs)[len(runs) // 2]), 3),
        "cpu_ratio": round(
            sum(r["inference_cpu_seconds"] for r in runs) / sum(r["batch_cpu_seconds"] for r in runs), 3
        ),
    }


def measure_cluster(folder: Path, work: Path, model_id: str, scale: int, device: str, tile,
                    repeats: int = 3) -> dict:
    """In-process batch vs local Ray on `folder`, alternated `repeats` times."""
    import ray

    from sr_desktop.engine.batch.cluster import ClusterTarget, connect

    files = sum(1 for p in folder.rglob("*") if p.is_file())
    options = BatchOptions(upscale=UpscaleOptions(model=model_id, scale=scale, device=device, tile=tile),
                           recursive=True)
    connect(ClusterTarget())  # started once: a cluster is up before its batches
    # warm-up: the model load in this process and the actor start on Ray
    run_batch(folder, work / "warm-local", options, write_report_file=False)
    run_batch(folder, work / "warm-ray", options, write_report_file=False, cluster=ClusterTarget())
    runs = []
    for attempt in range(repeats):
        timings = {}
        for name, cluster in (("local", None), ("ray", ClusterTarget())):
            out = work / f"cluster-{name}-{attempt}"
            t0 = time.perf_counter()
            result = run_batch(folder, out, options, write_report_file=False, cluster=cluster)
            timings[name] = time.perf_counter() - t0
            assert result.totals.ok == files, result.summary()
            shutil.rmtree(out)
        runs.append({"local_seconds": round(timings["local"], 3), "ray_seconds": round(timings["ray"], 3),
                     "overhead": round(timings["ray"] / timings["local"] - 1, 3),
                     "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None})
    ray.shutdown()
    overheads = sorted(r["overhead"] for r in runs)
    return {"model": model_id, "files": files, "runs": runs, "median_overhead": overheads[len(overheads) // 2],
            "local_files_per_second": round(files / min(r["local_seconds"] for r in runs), 3),
            "ray_files_per_second": round(files / min(r["ray_seconds"] for r in runs), 3)}


def measure_memory(folder: Path, work: Path, model_id: str, scale: int, device: str, tile) -> dict:
    process = psutil.Process()
    samples: list[int] = []

    def on_progress(info) -> None:
        if info.extra.get("event") == "file":
            samples.append(process.memory_info().rss)

    gc.collect()
    out = work / f"mem-out-{model_id}"
    result = run_batch(folder, out, BatchOptions(upscale=UpscaleOptions(model=model_id, scale=scale, device=device,
                                                                       tile=tile), recursive=True),
                       model=load(model_id, scale, device), progress=on_progress, write_report_file=False)
    shutil.rmtree(out)
    summary = _rss_summary(samples)
    summary.update(model=model_id, ok=result.totals.ok, seconds=round(result.totals.wall_seconds, 2))
    return summary


def measure_memory_inference(folder: Path, model_id: str, scale: int, device: str, tile) -> dict:
    """The same RSS samples for pure inference (images preloaded, nothing written): tells
    the growth of the batch machinery apart from that of the model / torch caches."""
    process = psutil.Process()
    images = [read_image(p) for p in sorted(p for p in folder.rglob("*") if p.is_file())]
    model = load(model_id, scale, device)
    options = UpscaleOptions(model=model_id, scale=scale, device=device, tile=tile)
    samples = []
    for image in images:
        upscale_image(image, options, model=model)
        samples.append(process.memory_info().rss)
    summary = _rss_summary(samples)
    summary.update(model=model_id, mode="pure inference (inputs preloaded)")
    return summary


def _rss_summary(samples: list[int]) -> dict:
    mb = 1024 * 1024
    at20 = samples[min(19, len(samples) - 1)]
    return {
        "files": len(samples),
        "rss_at_file_1_mb": round(samples[0] / mb, 1),
        "rss_at_file_20_mb": round(at20 / mb, 1),
        "rss_final_mb": round(samples[-1] / mb, 1),
        "rss_max_after_20_mb": round(max(samples[19:] or samples) / mb, 1),
        "growth_after_20_mb": round((samples[-1] - at20) / mb, 1),
        "max_growth_after_20_mb": round((max(samples[19:] or samples) - at20) / mb, 1),
        "rss_every_50_files_mb": [round(samples[i] / mb, 1) for i in range(0, len(samples), 50)]
        + [round(samples[-1] / mb, 1)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=["bicubic", "srvgg-random"],
                        help="models for the throughput test (none: skip it)")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--count", type=int, default=200, help="images in the throughput folder")
    parser.add_argument("--memory-count", type=int, default=300, help="images in the memory batch (0: skip)")
    parser.add_argument("--memory-model", default="bicubic")
    parser.add_argument("--memory-inference", action="store_true",
                        help="also sample RSS over pure inference of the same images (after the batch)")
    parser.add_argument("--repeats", type=int, default=3, help="inference/batch alternations per model")
    parser.add_argument("--min-side", type=int, default=48)
    parser.add_argument("--max-side", type=int, default=160)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tile", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--onednn-cache", type=int, default=64,
                        help="ONEDNN_PRIMITIVE_CACHE_CAPACITY as the batch CLI sets it (0: oneDNN default 1024)")
    parser.add_argument("--workdir", help="folder for the generated images (default: a temp folder)")
    parser.add_argument("--json", help="also write the summary here")
    parser.add_argument("--cluster", choices=["ray"], help="measure local Ray against the in-process batch "
                        "(needs the 'cluster' extra); with it, only this is measured")
    args = parser.parse_args(argv)
    if args.onednn_cache:  # as `sr-desktop batch` does (see cli/cmd_batch.py); before any conv
        os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = str(args.onednn_cache)
    if args.threads:
        torch.set_num_threads(args.threads)
    tile = args.tile if args.tile == "auto" else int(args.tile)

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    summary: dict = {
        "onednn_primitive_cache_capacity": os.environ.get("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "default (1024)"),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "throughput": [],
    }
    folder = work / "images"
    if args.models and not folder.exists():
        generate_folder(folder, args.count, args.min_side, args.max_side)
    if args.cluster:
        summary["cluster"] = [measure_cluster(folder, work, m, args.scale, args.device, tile, args.repeats)
                              for m in args.models]
        print(json.dumps(summary, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
        return 0
    for model_id in args.models:
        result = measure_throughput(folder, work, model_id, args.scale, args.device, tile, args.repeats)
        summary["throughput"].append(result)
        print(json.dumps(result), flush=True)
    if args.memory_count:
        mem_folder = work / f"images-{args.memory_count}"
        if not mem_folder.exists():
            generate_folder(mem_folder, args.memory_count, args.min_side, args.max_side, seed=1)
        summary["memory"] = measure_memory(mem_folder, work, args.memory_model, args.scale, args.device, tile)
        print(json.dumps(summary["memory"]), flush=True)
        if args.memory_inference:
            summary["memory_inference"] = measure_memory_inference(
                mem_folder, args.memory_model, args.scale, args.device, tile)
            print(json.dumps(summary["memory_inference"]), flush=True)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
