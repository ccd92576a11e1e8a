"""The GPU path in one command: exactness, speed and memory of the engine on a CUDA device.

    PYTHONPATH=. python3 benchmarks/gpu_check.py [--device cuda] [--quick] [--json OUT.json]

For each family it takes the zoo model when its files are installed and otherwise the same
architecture with random weights (RRDBNet x4plus, SRVGGNetCompact, SPAN: the compute is the
same, so speed and fp16 exactness carry over); the zoo's converted ncnn graphs (UpConv7,
CUNet, Real-CUGAN, SRMD) run only where their packages are installed and are listed as
skipped otherwise. Prints one table:

* exactness: the device's fp32 and fp16 output against the CPU's fp32 output (PSNR, natural
  crop of the bundled chelsea.png, through `upscale_image`: tiles, padding, crops);
* speed: input megapixels per second at fp16 (and fp32) on a SIZE² photo, tiles chosen by
  the engine (`--tile auto`: free-memory sizing), after one warm-up;
* tiled/whole: seconds with 256-px tiles over seconds for the whole image in one piece;
* device checks, PASS/FAIL with a count: each zoo family's fp32 (≥ 50 dB) and fp16 (≥ 35 dB)
  output against the CPU's fp32, 32-px tiles reproducing the whole image (≤ 1 level), and a
  Cancel that stops an upscale on the device;
* peak memory (``torch.cuda.max_memory_allocated``) for a 4000×3000 ×4 upscale with RRDBNet;
* KernelGAN: seconds per 256² image with the app's fast preset (on the device and on the
  CPU) and with the paper's recipe (3000 iterations, the engine function's defaults);
* training: iterations/s of EDSR-baseline ×2, VDSR ×2 and LapSRN ×4 (`bench_train.bench`,
  `--amp auto`: bf16 or fp16 on CUDA) on pre-made tensors and through the data pipeline,
  and their ratio (the training issue's target: ≥ 0.9 on a GPU);
* Vulkan (`--device vulkan`, the ncnn runtime), where ncnn finds a Vulkan GPU and the zoo's
  files are installed: each family's fp32 and fp16 output against the CPU runtime's fp32,
  and input MP/s (a second table; skipped with the reason otherwise).

Random weights keep the speed numbers but make the exactness ones weak (a random deep network
drifts towards flat outputs): carry the zoo's model packages to the device where possible.

``--quick`` shrinks every size so that the script runs on a CPU in minutes (to check
the script itself, not to measure). Targets (issue 16): Real-ESRGAN x4plus fp16 ≥ 8 input
MP/s, KernelGAN ≤ 10 s per image.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.core.paths import RESOURCES_DIR
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.pipeline.upscale import upscale_image

#: (zoo id, scale, architecture, its constructor arguments when built with random weights;
#: None: the zoo's converted ncnn graph only, skipped where its package is not installed)
FAMILIES = [
    ("realesrgan-x4plus", 4, "RRDBNet", {"num_feat": 64, "num_block": 23, "num_grow_ch": 32, "num_upsample": 2}),
    ("realesr-animevideov3", 4, "SRVGGNetCompact", {"num_feat": 64, "num_conv": 16, "upscale": 4}),
    ("span", 4, "SPAN", {"feature_channels": 48, "upscale": 4}),
    ("waifu2x-photo", 2, "UpConv7", None),
    ("waifu2x-cunet", 2, "CUNet", None),
    ("realcugan-se", 2, "Real-CUGAN", None),
    ("srmdnf", 4, "SRMD", None),
]


class Skipped(Exception):
    """A family that cannot run here (its zoo package is not installed and it has no
    architecture to stand in)."""


def build(model_id: str, scale: int, arch: str, params: dict | None, device: str, precision: str):
    """The zoo model if installed, else the architecture with random weights; (model, source).
    `Skipped` for a zoo-only family (`params` None) that is not installed."""
    from sr_desktop.engine.pipeline.model_cache import get_model

    try:
        return get_model(model_id, scale, device=device, precision=precision, backend="torch"), "zoo"
    except Exception as exc:  # noqa: BLE001 - not installed here: the architecture stands in
        reason = str(exc).splitlines()[0][:60]
    if params is None:
        raise Skipped(reason)
    from sr_desktop.engine.compute import devices
    from sr_desktop.engine.models.arch_model import ArchModel
    from sr_desktop.engine.models.archs.detect import arch_support
    from sr_desktop.engine.pipeline.model_cache import place_model

    torch.manual_seed(0)
    module = arch_support(arch).module(**params)
    for p in module.parameters():  # small weights: a random network that stays in range
        p.data.mul_(0.1)
    model = ArchModel(module, arch, scale, f"{arch} (random)", params=params)
    return place_model(model, devices.resolve_device(device), precision), f"random ({reason})"


def photo(size: int) -> np.ndarray:
    from PIL import Image as PILImage

    img = PILImage.open(RESOURCES_DIR / "chelsea.png").convert("RGB").resize((size, size), PILImage.BICUBIC)
    return np.asarray(img)


def kernelgan_rows(device: str, quick: bool) -> list[dict]:
    """Seconds per 256² image: the app's setting (`FAST_PRESET`, what `sr-desktop kernel`,
    the GUI and ZSSR run) on `device` and on the CPU (where ``device="auto"`` keeps
    KernelGAN), and the paper's recipe (the engine function's defaults: 3000 iterations of
    one crop) on `device`."""
    from sr_desktop.engine.kernelgan import FAST_PRESET, estimate_kernel

    lr = photo(96 if quick else 256)
    shorten = {"iterations": 50} if quick else {}
    runs = [("fast preset", device, dict(FAST_PRESET, **shorten)), ("paper recipe", device, dict(shorten))]
    if device != "cpu":
        runs.insert(1, ("fast preset", "cpu", dict(FAST_PRESET, **shorten)))
    rows = []
    for settings, dev, options in runs:
        start = time.perf_counter()
        est = estimate_kernel(lr, scale=2, device=dev, seed=0, **options)
        rows.append({"settings": settings, "device": dev, "seconds": round(time.perf_counter() - start, 2),
                     "iterations_run": est.iterations_run, "method": est.method, "confidence": est.confidence})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def timed(model, pixels: np.ndarray, tile, device: str) -> float:
    options = UpscaleOptions(model="bicubic", scale=model.scale, tile=tile, device=device)
    upscale_image(Image(pixels), options, model=model)  # warm-up (cuDNN plans, allocator)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    upscale_image(Image(pixels), options, model=model)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def vulkan_rows(size: int, crop: int) -> tuple[list[dict], str]:
    """The Vulkan table's rows (zoo models only: the ncnn runtime runs their own files), or no
    rows and why."""
    from sr_desktop.engine.models.backends.ncnn_runner import ncnn_version, vulkan_gpu, vulkan_gpus
    from sr_desktop.engine.models.zoo_host import load_without_torch

    if ncnn_version() is None:
        return [], "the ncnn runtime is not installed"
    if not vulkan_gpus():
        return [], "the ncnn runtime finds no Vulkan GPU"
    gpu = vulkan_gpu("vulkan")
    rows = []
    for model_id, scale, arch, _params in FAMILIES:
        try:
            cpu = load_without_torch(model_id, scale, None, "cpu", "fp32", "ncnn")
            reason = "its files are not installed" if cpu is None else ""
        except Exception as exc:  # noqa: BLE001 - whatever stops it, the table says
            cpu, reason = None, str(exc).splitlines()[0][:60]
        if cpu is None:
            rows.append({"family": arch, "model": model_id, "skipped": reason})
            continue
        row: dict = {"family": arch, "model": model_id, "gpu": gpu.name}
        options = UpscaleOptions(model=model_id, scale=scale, tile="auto")
        reference = upscale_image(Image(photo(crop)), options, model=cpu).image.pixels
        for precision in ("fp32", "fp16"):
            model = load_without_torch(model_id, scale, None, "vulkan", precision, "ncnn")
            out = upscale_image(Image(photo(crop)), options, model=model).image.pixels
            row[f"psnr_vs_cpu_{precision}"] = round(psnr(out, reference), 2)
            upscale_image(Image(photo(size)), options, model=model)  # warm-up: shader compilation
            start = time.perf_counter()
            upscale_image(Image(photo(size)), options, model=model)
            row[f"mp_per_s_{precision}"] = round(size * size / 1e6 / (time.perf_counter() - start), 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows, ""


#: the device's fp32 output against the CPU's, at least (a zoo model; random weights drift)
FP32_MIN_DB, FP16_MIN_DB = 50.0, 35.0


def device_checks(rows: list[dict], device: str, crop: int) -> list[dict]:
    """What the test suite checks on the CPU, on `device`: per family its fp32 and fp16
    output against the CPU's (zoo weights), tiles that reproduce the whole image, and a
    cancel that stops an upscale on the device. [{check, passed, detail}]."""
    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import CancelToken

    checks = []
    for r in rows:
        if r.get("source") != "zoo":
            continue
        for precision, least in (("fp32", FP32_MIN_DB), ("fp16", FP16_MIN_DB)):
            if f"psnr_vs_cpu_{precision}" in r:
                value = r[f"psnr_vs_cpu_{precision}"]
                checks.append({"check": f"{r['model']} {precision} = CPU fp32", "passed": value >= least,
                               "detail": f"{value} dB (≥ {least})"})
    measured = next((f for f in FAMILIES if any(r["model"] == f[0] and "skipped" not in r for r in rows)), None)
    if measured is None:
        return checks
    model, _source = build(*measured, device, "fp32")
    pixels = photo(max(crop, 80))
    whole = upscale_image(Image(pixels), UpscaleOptions(model="bicubic", scale=model.scale, tile=0, device=device),
                          model=model).image.pixels
    tiled = upscale_image(Image(pixels), UpscaleOptions(model="bicubic", scale=model.scale, tile=32, device=device),
                          model=model).image.pixels
    worst = int(np.abs(whole.astype(np.int16) - tiled.astype(np.int16)).max())
    checks.append({"check": f"{measured[0]} 32-px tiles = whole image", "passed": worst <= 1,
                   "detail": f"largest difference {worst} level(s)"})
    cancel, seen = CancelToken(), []

    def cancel_at_first_tile(info) -> None:
        seen.append(info)
        cancel.cancel()

    try:
        upscale_image(Image(pixels), UpscaleOptions(model="bicubic", scale=model.scale, tile=32, device=device),
                      model=model, progress=cancel_at_first_tile, cancel=cancel)
        stopped = "ran to the end"
    except Cancelled:
        stopped = f"stopped after {len(seen)} progress report(s)"
    checks.append({"check": "Cancel stops a device upscale", "passed": stopped.startswith("stopped"),
                   "detail": stopped})
    return checks


def training_rows(device: str, quick: bool) -> list[dict]:
    """Training throughput of the literature's heavier networks (`bench_train.bench`)."""
    import tempfile

    from benchmarks.bench_train import bench, make_folder

    rows = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-train-") as tmp:
        data = make_folder(Path(tmp) / "data", 4 if quick else 16, 128 if quick else 480)
        for name in ("edsr-baseline", "vdsr", "lapsrn"):
            rows.append(bench(name, data, Path(tmp) / f"out-{name}", device, 2 if quick else 30, 1 if quick else 5,
                              4, "auto"))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: check the script on a CPU")
    ap.add_argument("--size", type=int, default=1024, help="side of the speed photo (input pixels)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    device = args.device
    cuda = device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        print("no CUDA device: run with --device cpu --quick to check the script")
        return 2
    size, crop, big = (96, 48, (300, 400)) if args.quick else (args.size, 96, (3000, 4000))
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0) if cuda else 'CPU'}; "
          f"speed photo {size}², exactness crop {crop}²")
    rows = []
    for model_id, scale, arch, params in FAMILIES:
        row: dict = {"family": arch, "model": model_id, "scale": scale}
        try:
            ref_model, row["source"] = build(model_id, scale, arch, params, "cpu", "fp32")
        except Skipped as why:
            row["skipped"] = str(why)
            rows.append(row)
            print(json.dumps(row), flush=True)
            continue
        crop_px = photo(crop)
        reference = upscale_image(Image(crop_px), UpscaleOptions(model="bicubic", scale=scale, device="cpu"),
                                  model=ref_model).image.pixels
        for precision in ("fp32", "fp16") if cuda else ("fp32",):  # the CPU has no fp16 path
            model, _ = build(model_id, scale, arch, params, device, precision)
            out = upscale_image(Image(crop_px), UpscaleOptions(model="bicubic", scale=scale, device=device),
                                model=model).image.pixels
            row[f"psnr_vs_cpu_{precision}"] = round(psnr(out, reference), 2)
            seconds = timed(model, photo(size), "auto", device)
            row[f"mp_per_s_{precision}"] = round(size * size / 1e6 / seconds, 3)
            if precision == "fp16" or not cuda:
                row["tiled_over_whole"] = round(timed(model, photo(size), 256, device) / timed(model, photo(size), 0,
                                                                                                device), 3)
        rows.append(row)
        print(json.dumps(row), flush=True)

    summary: dict = {"device": device, "rows": rows}
    summary["checks"] = device_checks(rows, device, crop)
    model, source = build(*FAMILIES[0], device, "fp16" if cuda else "fp32")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    upscale_image(Image(np.zeros((*big, 3), np.uint8)), UpscaleOptions(model="bicubic", scale=4, device=device),
                  model=model)
    summary["big"] = {"size": f"{big[1]}×{big[0]}", "model": source, "seconds": round(time.perf_counter() - start, 2),
                      "peak_gpu_bytes": int(torch.cuda.max_memory_allocated()) if cuda else None}
    print(json.dumps(summary["big"]), flush=True)

    summary["kernelgan"] = kernelgan_rows(device, args.quick)

    summary["training"] = training_rows(device, args.quick)

    print(f"\n{'family':18s} {'source':8s} {'fp32 dB':>8s} {'fp16 dB':>8s} {'fp32 MP/s':>10s} {'fp16 MP/s':>10s} "
          f"{'tiled/whole':>11s}")
    nan = float("nan")
    for r in rows:
        if "skipped" in r:
            print(f"{r['family']:18s} skipped: {r['skipped']}")
            continue
        print(f"{r['family']:18s} {r['source'][:8]:8s} {r['psnr_vs_cpu_fp32']:8.2f} "
              f"{r.get('psnr_vs_cpu_fp16', nan):8.2f} {r['mp_per_s_fp32']:10.3f} {r.get('mp_per_s_fp16', nan):10.3f} "
              f"{r.get('tiled_over_whole', nan):11.3f}")
    passed = sum(c["passed"] for c in summary["checks"])
    print(f"\n{device} checks: {passed} of {len(summary['checks'])} passed")
    for c in summary["checks"]:
        print(f"  {'PASS' if c['passed'] else 'FAIL'}  {c['check']}: {c['detail']}")
    print(f"4000×3000 ×4 ({summary['big']['model']}): {summary['big']['seconds']} s, peak GPU "
          f"{summary['big']['peak_gpu_bytes']} bytes")
    for r in summary["kernelgan"]:
        print(f"KernelGAN, {r['settings']} on {r['device']}: {r['seconds']} s per image "
              f"({r['iterations_run']} iterations, method {r['method']})")

    print(f"\n{'training':18s} {'precision':>9s} {'batch×patch²':>12s} {'tensors it/s':>12s} {'pipeline it/s':>13s} "
          f"{'ratio':>6s}")
    for r in summary["training"]:
        name, shape = f"{r['config']} x{r['scale']}", f"{r['batch']}×{r['patch']}"
        print(f"{name:18s} {r['amp']:>9s} {shape:>12s} {r['tensors_its']:12.2f} {r['pipeline_its']:13.2f} "
              f"{r['ratio']:6.2f}")

    summary["vulkan"], why = vulkan_rows(size, crop)
    if why:
        print(f"\nVulkan (ncnn): skipped, {why}")
    else:
        print(f"\n{'Vulkan (ncnn)':18s} {'fp32 dB':>8s} {'fp16 dB':>8s} {'fp32 MP/s':>10s} {'fp16 MP/s':>10s}")
        for r in summary["vulkan"]:
            if "skipped" in r:
                print(f"{r['family']:18s} skipped: {r['skipped']}")
                continue
            print(f"{r['family']:18s} {r['psnr_vs_cpu_fp32']:8.2f} {r['psnr_vs_cpu_fp16']:8.2f} "
                  f"{r['mp_per_s_fp32']:10.3f} {r['mp_per_s_fp16']:10.3f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
