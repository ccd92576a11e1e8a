"""One lease of an NVIDIA GPU in one call of the device tool: `gpu_check.py`, then the
literature's unfinished trainings (issue 15) continued side by side until the time is spent.

A lease is short (about 15 minutes of device time in all, 10 per command, a 64 MiB working
tree), so everything is prepared here and runs there in one command:

    python benchmarks/gpu_lease.py prepare --shared ../shared   # .gpu/: data, start models, platformdirs
    python benchmarks/gpu_lease.py aside                         # big tracked folders out of the tree
    # device `run`: carry [".gpu"], timeout_s 590, command
    #   PYTHONPATH=.:.gpu/site python3 benchmarks/gpu_lease.py run --out $OUT
    python benchmarks/gpu_lease.py restore                       # the folders back (also after a failure)

`run` writes three files to --out: ``gpu_check.json``, ``gpu_check.log`` and ``lease.tar``
(each training's ``log.jsonl``, ``curves.png`` and ``model.safetensors``). Unpack the tar into
``training_runs/`` and measure the models with ``benchmarks/ship_literature.py``.

Each training starts from the model its last lease exported (`RUNS`). A first, short run of
all of them together measures their iterations per second (``--iterations 1000000``,
stopped with SIGINT, which saves a checkpoint); each then resumes with ``--iterations N`` set
so that its cosine schedule ends inside the time left, and is stopped at the deadline if it
runs late (then exported where it stopped, ``--resume --iterations <where>``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEASE = ROOT / ".gpu"
DATA = LEASE / "data"
INIT = LEASE / "init"
#: tracked folders the lease does not need, moved out of the tree by `aside` (the device
#: tool sends at most 64 MiB)
ASIDE = ("training_runs", "models/literature", "docs")
ASIDE_DIR = Path("/tmp/sr-desktop-gpu-aside")
TREE_LIMIT_MIB = 60
#: the training sets (`prepare` copies them from ../shared/datasets, PNGs as lossless WebP)
DATASETS = ("T91", "General100", "BSD200", "Set5")

#: the runs a lease continues: its start model (a tracked run's export) and the arguments of
#: the run that made it (docs/literature.md), less --init/--iterations/--out/--val/--device
RUNS = {
    # issue 15's own target: VDSR as one network for ×2/×3/×4, ×2 ≥ 37.2 (36.99 after 4,561 its)
    "vdsr-x234-lease": ("training_runs/vdsr-x234-gpu/model.safetensors", [
        "--arch", "vdsr", "--scale", "2", "3", "4", "--data", "T91", "BSD200",
        "--batch", "64", "--patch", "21", "--lr", "1e-4", "--grad-clip", "1"]),
    # LapSRN ×2 from the ×4 pyramid: 37.04 against 37.2
    "lapsrn-x4-lease": ("training_runs/lapsrn-x4-gpu/model.safetensors", [
        "--arch", "lapsrn", "--scale", "4", "--data", "T91", "BSD200",
        "--batch", "64", "--patch", "32", "--lr", "1e-4", "--loss", "levels"]),
    # EDSR-baseline ×4: 31.51 against 31.6
    "edsr-baseline-x4-lease": ("training_runs/edsr-baseline-x4-gpu/model.safetensors", [
        "--arch", "edsr-baseline", "--scale", "4", "--data", "T91", "General100", "BSD200",
        "--batch", "16", "--patch", "48", "--lr", "1e-4"]),
}
#: seconds kept at the end of the training time for the last validation and the export
EXPORT_MARGIN_S = 35


def tree_mib() -> float:
    """MiB of what the device tool sends: tracked and untracked-not-ignored files, plus .gpu."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    files = [ROOT / name.decode() for name in listed if name] + [p for p in LEASE.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files if p.is_file()) / 2**20


def prepare(shared: Path) -> None:
    """Fill .gpu/: the datasets, the runs' start models and platformdirs (missing there)."""
    from PIL import Image

    datasets = shared / "datasets"
    for name in DATASETS:
        source = datasets / name
        if not source.is_dir():
            sys.exit(f"gpu_lease: no {source} (pass --shared, the folder holding datasets/)")
        target = DATA / name
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            if path.suffix.lower() == ".png":
                out = target / (path.stem + ".webp")
                if not out.exists():
                    with Image.open(path) as image:
                        image.save(out, lossless=True, quality=100, method=6)
            else:
                shutil.copy2(path, target / path.name)
    INIT.mkdir(parents=True, exist_ok=True)
    for run, (start, _args) in RUNS.items():
        shutil.copy2(ROOT / start, INIT / f"{run}.safetensors")
    site = LEASE / "site"
    if not (site / "platformdirs").is_dir():
        wheels = LEASE / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", str(wheels), "platformdirs"], check=True)
        for wheel in wheels.glob("platformdirs-*.whl"):
            shutil.unpack_archive(wheel, site, "zip")
        shutil.rmtree(wheels)
    print(f"gpu_lease: .gpu ready ({sum(p.stat().st_size for p in LEASE.rglob('*') if p.is_file()) / 2**20:.1f} "
          f"MiB); now `aside`, then the device run")


def aside() -> None:
    """Move the `ASIDE` folders to `ASIDE_DIR` (restore puts them back)."""
    changed = subprocess.run(["git", "status", "--porcelain", "--", *ASIDE], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    if changed.strip():
        sys.exit("gpu_lease: commit the changes in " + ", ".join(ASIDE) + " first:\n" + changed)
    for rel in ASIDE:
        source, target = ROOT / rel, ASIDE_DIR / rel
        if source.exists():
            if target.exists():
                sys.exit(f"gpu_lease: {target} already exists: run `restore` first")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(target))
    size = tree_mib()
    print(f"gpu_lease: the tree that travels is {size:.1f} MiB (limit {TREE_LIMIT_MIB})")
    if size > TREE_LIMIT_MIB:
        sys.exit("gpu_lease: too large for the device tool; move more aside")


def restore() -> None:
    """Put the `ASIDE` folders back; one lost with /tmp is checked out from git (`aside` only
    moves committed folders, so nothing is lost)."""
    for rel in ASIDE:
        source, target = ASIDE_DIR / rel, ROOT / rel
        if target.exists():
            continue
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(target))
        else:
            subprocess.run(["git", "checkout", "--", rel], cwd=ROOT, check=True)
    print("gpu_lease: restored", ", ".join(ASIDE))


def _train_command(run: str, device: str, work: Path, iterations: int, resume: bool, val_every: int) -> list[str]:
    _start, args = RUNS[run]
    data_at = args.index("--data") + 1
    data_end = next((i for i in range(data_at, len(args)) if args[i].startswith("--")), len(args))
    args = args[:data_at] + [str(DATA / name) for name in args[data_at:data_end]] + args[data_end:]
    command = [sys.executable, "-m", "sr_desktop", "train", *args, "--init", str(INIT / f"{run}.safetensors"),
               "--val", str(DATA / "Set5"), "--device", device, "--workers", "3", "--threads", "1",
               "--iterations", str(iterations), "--val-every", str(val_every),
               "--checkpoint-every", str(max(500, val_every)), "--out", str(work / run), "-q"]
    return command + (["--resume"] if resume else [])


def _last_train_entry(run_dir: Path) -> dict:
    entries = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    trained = [e for e in entries if e.get("kind") == "train"]
    return trained[-1] if trained else {"it": 0, "its": 0.0}


def _stopped_at(log: Path) -> int | None:
    """The iteration `sr-desktop train` saved its checkpoint at when interrupted (its last line)."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if "interrupted at iteration" in line:
            return int(line.split("interrupted at iteration", 1)[1].split(";")[0])
    return None


def _stop(processes: dict[str, subprocess.Popen], grace_s: float = 90) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for process in processes.values():
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def train(device: str, train_s: float, calibrate_s: float, work: Path, logs: Path) -> dict:
    """Calibrate, then run every `RUNS` entry to a schedule that ends inside `train_s`."""
    start = time.monotonic()
    report: dict = {}

    def launch(commands: dict[str, list[str]], tag: str) -> dict[str, subprocess.Popen]:
        return {run: subprocess.Popen(command, cwd=ROOT, stdout=(logs / f"{run}.{tag}.log").open("w"),
                                      stderr=subprocess.STDOUT)
                for run, command in commands.items()}

    calibration = launch({run: _train_command(run, device, work, 1_000_000, False, 10**9) for run in RUNS}, "calibrate")
    time.sleep(calibrate_s)
    _stop(calibration)
    left = train_s - (time.monotonic() - start) - EXPORT_MARGIN_S
    targets = {}
    for run in RUNS:
        entry = _last_train_entry(work / run)
        done = _stopped_at(logs / f"{run}.calibrate.log") or int(entry["it"])
        rate = float(entry.get("its") or 0.0)
        targets[run] = max(done + 1, done + int(rate * max(0.0, left)))
        report[run] = {"calibration_its": done, "calibration_rate": round(rate, 2), "planned": targets[run]}
    main = launch({run: _train_command(run, device, work, targets[run], True, max(100, targets[run] // 4))
                   for run in RUNS}, "train")
    deadline = start + train_s - 10
    while any(p.poll() is None for p in main.values()) and time.monotonic() < deadline:
        time.sleep(2)
    late = [run for run, p in main.items() if p.poll() is None]
    _stop(main)
    for run in late:  # export where it stopped
        reached = _stopped_at(logs / f"{run}.train.log") or int(_last_train_entry(work / run)["it"])
        subprocess.run(_train_command(run, device, work, reached, True, 10**9), cwd=ROOT,
                       stdout=(logs / f"{run}.export.log").open("w"), stderr=subprocess.STDOUT, timeout=120)
        report[run]["stopped_at"] = reached
    for run in RUNS:
        report[run]["reached"] = int(_last_train_entry(work / run)["it"])
    return report


def run(out: Path, device: str, check_s: float, train_s: float, calibrate_s: float, quick: bool) -> None:
    """On the device: gpu_check, then the trainings; three files in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    work = Path("/tmp/sr-desktop-lease")
    shutil.rmtree(work, ignore_errors=True)
    logs = work / "logs"
    logs.mkdir(parents=True)
    began = time.monotonic()
    check = [sys.executable, "benchmarks/gpu_check.py", "--device", device, "--json", str(out / "gpu_check.json")]
    with (out / "gpu_check.log").open("w") as log:
        try:
            code = subprocess.run(check + (["--quick"] if quick else []), cwd=ROOT, stdout=log,
                                  stderr=subprocess.STDOUT, timeout=check_s).returncode
        except subprocess.TimeoutExpired:
            code = "timed out"
        print(f"gpu_lease: gpu_check {code} after {time.monotonic() - began:.0f} s", file=log)
    print((out / "gpu_check.log").read_text()[-6000:])
    report = train(device, train_s, calibrate_s, work, logs)
    (logs / "lease.json").write_text(json.dumps(report, indent=1))
    with tarfile.open(out / "lease.tar", "w") as tar:
        for run_name in RUNS:
            for name in ("log.jsonl", "curves.png", "model.safetensors"):
                path = work / run_name / name
                if path.exists():
                    tar.add(path, arcname=f"{run_name}/{name}")
        tar.add(logs, arcname="logs")
    print(json.dumps(report, indent=1))
    print(f"gpu_lease: done in {time.monotonic() - began:.0f} s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    sub.add_parser("aside")
    sub.add_parser("restore")
    p = sub.add_parser("run")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--check-s", type=float, default=270, help="at most this long for gpu_check")
    p.add_argument("--train-s", type=float, default=250, help="the trainings' whole time")
    p.add_argument("--calibrate-s", type=float, default=45)
    p.add_argument("--quick", action="store_true", help="gpu_check --quick (a CPU rehearsal)")
    args = parser.parse_args(argv)
    if args.step == "prepare":
        prepare(args.shared)
    elif args.step == "aside":
        aside()
    elif args.step == "restore":
        restore()
    else:
        run(args.out, args.device, args.check_s, args.train_s, args.calibrate_s, args.quick)


if __name__ == "__main__":
    main()
