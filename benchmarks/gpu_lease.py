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
so that its cosine schedule ends inside the time left, and is stopped near the end if it
runs late, then exported where it stopped (``--resume --iterations <where>``: no last
validation, the model is measured here). Everything fits `--budget-s` (575 s: the device
command's 590 less a margin), and the tar is written whatever fails on the way;
``logs/lease.json`` in it says what each run did (calibrated rate, planned and reached
iterations, exit codes).
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
    # issue 15's own target: VDSR as one network for ×2/×3/×4, ×2 ≥ 37.2 (36.99 after 4,561 its);
    # with the images also downscaled, which gave LapSRN ×2 +0.04 dB in 500 iterations on the CPU
    "vdsr-x234-lease": ("training_runs/vdsr-x234-gpu/model.safetensors", [
        "--arch", "vdsr", "--scale", "2", "3", "4", "--data", "T91", "BSD200",
        "--downscale", "0.9", "0.8", "0.7", "0.6", "0.5",
        "--batch", "64", "--patch", "21", "--lr", "1e-4", "--grad-clip", "1"]),
    # EDSR-baseline ×4: 31.59 against 31.6 after the CPU stage with downscaled copies
    "edsr-baseline-x4-lease": ("training_runs/edsr-baseline-x4-aug/model.safetensors", [
        "--arch", "edsr-baseline", "--scale", "4", "--data", "T91", "General100", "BSD200",
        "--downscale", "0.9", "0.8", "0.7", "0.6", "0.5",
        "--batch", "16", "--patch", "48", "--lr", "5e-5"]),
}
#: seconds kept after a run's planned last step for its last validation and its export
EXPORT_MARGIN_S = 35
#: runs still going this many seconds before the end are stopped and exported where they are
LATE_S = 45
#: seconds a Ctrl+C'd run gets to save its checkpoint before it is killed
STOP_GRACE_S = 20
#: seconds kept at the very end for the tar
TAR_MARGIN_S = 10
#: the share of the calibrated rate planned for (validations and checkpoints take their time)
RATE_SHARE = 0.9
#: logged rates the calibrated rate is the median of
RATE_WINDOW = 5


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
    if any((ASIDE_DIR / rel).exists() for rel in ASIDE):
        sys.exit(f"gpu_lease: {ASIDE_DIR} already holds folders put aside: run `restore` first")
    # ignored files too: only what git holds can be had back if /tmp is lost
    changed = subprocess.run(["git", "status", "--porcelain", "--ignored", "--", *ASIDE], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    if changed.strip():
        sys.exit("gpu_lease: commit or remove what git does not hold in " + ", ".join(ASIDE) + " first:\n"
                 + changed)
    for rel in ASIDE:
        source, target = ROOT / rel, ASIDE_DIR / rel
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(target))
    size = tree_mib()
    print(f"gpu_lease: the tree that travels is {size:.1f} MiB (limit {TREE_LIMIT_MIB})")
    if size > TREE_LIMIT_MIB:
        sys.exit("gpu_lease: too large for the device tool; move more aside")


def restore() -> None:
    """Put the `ASIDE` folders back; one lost with /tmp is checked out from git (`aside` only
    moves committed folders, so nothing is lost)."""
    both = []
    for rel in ASIDE:
        source, target = ASIDE_DIR / rel, ROOT / rel
        if target.exists():
            if source.exists():
                both.append(rel)
            continue
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(target))
        else:
            subprocess.run(["git", "checkout", "--", rel], cwd=ROOT, check=True)
    if both:
        sys.exit(f"gpu_lease: {', '.join(both)} exist both in the tree and in {ASIDE_DIR}: "
                 "keep one by hand (the tree's was made after `aside`)")
    if ASIDE_DIR.is_dir() and not any(path.is_file() for path in ASIDE_DIR.rglob("*")):
        shutil.rmtree(ASIDE_DIR)  # the empty parents the moves left
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


def _train_records(run_dir: Path) -> list[dict]:
    """The run's ``train`` records; none when it never got that far (a line cut by a kill is skipped)."""
    path = run_dir / "log.jsonl"
    records = []
    for line in (path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("kind") == "train":
            records.append(record)
    return records


def _rate(records: list[dict]) -> float:
    """Iterations per second: the median of the last RATE_WINDOW logged rates (each is over only
    ten iterations, so one alone is noisy)."""
    rates = sorted(float(r["its"]) for r in records[-RATE_WINDOW:] if isinstance(r.get("its"), (int, float)))
    return rates[len(rates) // 2] if rates else 0.0


def _saved_at(run_dir: Path) -> int | None:
    from sr_desktop.engine.training.checkpoint import latest_iteration

    return latest_iteration(run_dir / "checkpoint")


class _Runs:
    """`sr-desktop train` processes launched together, each with its log file."""

    def __init__(self, commands: dict[str, list[str]], logs: Path, tag: str):
        self.logs = {run: (logs / f"{run}.{tag}.log").open("w") for run in commands}
        self.processes = {run: subprocess.Popen(command, cwd=ROOT, stdout=self.logs[run], stderr=subprocess.STDOUT)
                          for run, command in commands.items()}

    def running(self) -> list[str]:
        return [run for run, process in self.processes.items() if process.poll() is None]

    def wait_until(self, deadline: float) -> None:
        while self.running() and time.monotonic() < deadline:
            time.sleep(1)

    def stop(self, grace_s: float) -> dict[str, int | None]:
        """Ctrl+C to each still running (it saves a checkpoint), a kill after `grace_s`; the exit codes."""
        for run in self.running():
            self.processes[run].send_signal(signal.SIGINT)
        self.wait_until(time.monotonic() + grace_s)
        for run in self.running():
            self.processes[run].kill()
        codes = {run: process.wait() for run, process in self.processes.items()}
        for log in self.logs.values():
            log.close()
        return codes


def train(device: str, end: float, calibrate_s: float, work: Path, logs: Path, report: dict,
          rate_share: float = RATE_SHARE) -> None:
    """Calibrate, then run every `RUNS` entry to a schedule that ends inside the time up to
    `end` (a `time.monotonic` value); what happened goes into `report`."""
    calibration = _Runs({run: _train_command(run, device, work, 1_000_000, False, 10**9) for run in RUNS},
                        logs, "calibrate")
    try:
        calibration.wait_until(time.monotonic() + calibrate_s)
    finally:
        codes = calibration.stop(STOP_GRACE_S)
    planned = {}
    for run in RUNS:
        saved, records = _saved_at(work / run), _train_records(work / run)
        # fewer than ten steps log no rate: then the steps over the whole calibration (start included)
        rate = _rate(records) or (saved or 0) / calibrate_s
        entry = report[run] = {"calibration_exit": codes[run], "calibration_its": saved, "rate": round(rate, 3)}
        if not saved:  # it made no step: the log says why
            entry["skipped"] = f"the calibration saved no checkpoint; see logs/{run}.calibrate.log"
            continue
        # a resumed run spends as long starting as the calibration did before its first step
        start_s = min(calibrate_s, max(0.0, calibrate_s - saved / rate))
        steps_s = end - time.monotonic() - LATE_S - EXPORT_MARGIN_S - start_s
        planned[run] = entry["planned"] = saved + max(1, int(rate_share * rate * steps_s))
    if not planned:
        return
    commands = {run: _train_command(run, device, work, target, True,
                                    max(100, (target - report[run]["calibration_its"]) // 3))
                for run, target in planned.items()}
    main = _Runs(commands, logs, "train")
    try:
        main.wait_until(end - LATE_S)
        late = main.running()
    finally:
        codes = main.stop(STOP_GRACE_S)
    for run in planned:
        report[run]["train_exit"] = codes[run]
    exports = {}
    for run in late:  # export where its Ctrl+C left it (no validation: ship_literature.py measures)
        saved = _saved_at(work / run)
        report[run]["stopped_at"] = saved
        if saved:
            exports[run] = _train_command(run, device, work, saved, True, 10**9)
    if exports:
        export = _Runs(exports, logs, "export")
        try:
            export.wait_until(end)
        finally:
            for run, code in export.stop(5).items():
                report[run]["export_exit"] = code
    for run in RUNS:
        report[run]["reached"] = _saved_at(work / run)
        report[run]["exported"] = (work / run / "model.safetensors").is_file()


def run(out: Path, device: str, budget_s: float, check_s: float, calibrate_s: float, quick: bool,
        rate_share: float = RATE_SHARE) -> None:
    """On the device: gpu_check, then the trainings, all inside `budget_s`; three files in `out`."""
    began = time.monotonic()
    end = began + budget_s - TAR_MARGIN_S
    out.mkdir(parents=True, exist_ok=True)
    work = Path("/tmp/sr-desktop-lease")
    shutil.rmtree(work, ignore_errors=True)
    logs = work / "logs"
    logs.mkdir(parents=True)
    report: dict = {}
    check = [sys.executable, "benchmarks/gpu_check.py", "--device", device, "--json", str(out / "gpu_check.json")]
    try:
        with (out / "gpu_check.log").open("w") as log:
            try:
                code = subprocess.run(check + (["--quick"] if quick else []), cwd=ROOT, stdout=log,
                                      stderr=subprocess.STDOUT, timeout=check_s).returncode
            except subprocess.TimeoutExpired:
                code = "timed out"
            print(f"gpu_lease: gpu_check {code} after {time.monotonic() - began:.0f} s", file=log)
        print((out / "gpu_check.log").read_text()[-6000:])
        train(device, end, calibrate_s, work, logs, report, rate_share)
    finally:  # whatever happened, what there is comes back
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
    p.add_argument("--budget-s", type=float, default=575,
                   help="the whole run's time (the device command's limit, less a margin)")
    p.add_argument("--check-s", type=float, default=270, help="at most this long for gpu_check")
    p.add_argument("--calibrate-s", type=float, default=45)
    p.add_argument("--rate-share", type=float, default=RATE_SHARE,
                   help="the share of the calibrated rate each schedule is planned for (above 1: runs late, "
                        "to rehearse the stop-and-export path)")
    p.add_argument("--quick", action="store_true", help="gpu_check --quick (a CPU rehearsal)")
    args = parser.parse_args(argv)
    if args.step == "prepare":
        prepare(args.shared)
    elif args.step == "aside":
        aside()
    elif args.step == "restore":
        restore()
    else:
        run(args.out, args.device, args.budget_s, args.check_s, args.calibrate_s, args.quick, args.rate_share)


if __name__ == "__main__":
    main()
