"""`sr-desktop batch --cluster ray`: the same outputs as the local batch, a report with the
worker of each file, a killed worker's files redone elsewhere, a killed driver resumed."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_desktop.cli.main import main
from sr_desktop.engine.batch.cluster import ClusterTarget
from sr_desktop.engine.batch.plan import BatchError
from sr_desktop.engine.batch.runner import BatchOptions, run_batch
from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.core.paths import RESOURCES_DIR

ray = pytest.importorskip("ray", reason="Ray is the optional extra 'cluster'")

MODEL = UpscaleOptions(model="realesr-animevideov3", scale=2, device="cpu")


def make_inputs(folder: Path, count: int, size: int = 40) -> None:
    """`count` natural crops (half in a sub-folder) and one broken file."""
    photo = np.asarray(Image.open(RESOURCES_DIR / "chelsea.png").convert("RGB"))
    for i in range(count):
        target = folder / ("sub" if i % 2 else "") / f"im{i:02d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        y, x = 7 * i % (photo.shape[0] - size), 11 * i % (photo.shape[1] - size)
        Image.fromarray(photo[y : y + size, x : x + size]).save(target)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.png"))}


@pytest.fixture(scope="module")
def local_ray():
    before = dict(os.environ)  # (ray.init sets RAY_AUTH_MODE, PYTHONBREAKPOINT, … for every later test)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
    os.environ.clear()
    os.environ.update(before)


def test_cluster_target_parsing(monkeypatch):
    assert ClusterTarget.parse("ray").address is None
    assert ClusterTarget.parse("ray://head:10001").address == "ray://head:10001"
    monkeypatch.setenv("RAY_ADDRESS", "ray://h:1")
    assert ClusterTarget.parse("auto").address == "ray://h:1"
    monkeypatch.delenv("RAY_ADDRESS")
    with pytest.raises(BatchError, match="RAY_ADDRESS"):
        ClusterTarget.parse("auto")
    with pytest.raises(BatchError, match="ray, auto or ray://HOST:PORT"):
        ClusterTarget.parse("slurm")
    with pytest.raises(BatchError, match="ray, auto or ray://HOST:PORT"):
        ClusterTarget.parse("ray://head:notaport")
    with pytest.raises(BatchError, match="ray, auto or ray://HOST:PORT, got ''"):
        ClusterTarget.parse("")  # `--cluster ''` ran the batch in this process
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")  # a head node's own address form
    assert ClusterTarget.parse("auto").address == "10.0.0.5:6379"
    monkeypatch.setenv("RAY_ADDRESS", "head")
    with pytest.raises(BatchError, match="RAY_ADDRESS must be"):
        ClusterTarget.parse("auto")


def test_an_address_nothing_answers_at_is_one_line_before_anything_is_made(tmp_path, capsys):
    import socket

    make_inputs(tmp_path / "in", 1)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    rc = main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--cluster", f"ray://127.0.0.1:{port}"])
    err = capsys.readouterr().err.strip().splitlines()
    # Ray itself retried for minutes, printing its own log lines (with HOST:PORT in RAY_ADDRESS)
    assert rc == 2 and len(err) == 1 and "cannot reach Ray at" in err[0], err
    assert time.monotonic() - started < 30
    assert not (tmp_path / "out").exists()


def test_same_outputs_and_report_as_the_local_batch(local_ray, tmp_path):
    make_inputs(tmp_path / "in", 20)
    options = BatchOptions(upscale=MODEL, recursive=True)
    local = run_batch(tmp_path / "in", tmp_path / "local", options)
    clustered = run_batch(tmp_path / "in", tmp_path / "ray", options, cluster=ClusterTarget())
    assert digests(tmp_path / "ray") == digests(tmp_path / "local")  # byte for byte
    assert len(digests(tmp_path / "ray")) == 20
    assert clustered.exit_code == local.exit_code == 1  # the broken file
    by_input = {r.input: r for r in clustered.records}
    assert {r.input for r in local.records} == set(by_input)
    assert by_input[str(tmp_path / "in" / "broken.png")].status == "failed"
    workers = {r.worker for r in clustered.records if r.status == "ok"}
    assert workers and all(":" in w for w in workers)  # host:pid of the Ray worker
    report = json.loads(Path(clustered.report_path).read_text())
    assert report["options"]["cluster"] == "local Ray"
    assert all("worker" in f for f in report["files"])


def test_relative_folders_mean_the_drivers_folders_on_every_worker(local_ray, tmp_path, monkeypatch):
    """Workers resolved relative IN/OUT against their own working folder (a cluster's head
    started elsewhere): every file "not found", or read and written there while the report
    said ok. Here the driver moves after Ray started, as a terminal's `cd` does."""
    make_inputs(tmp_path / "in", 4)
    monkeypatch.chdir(tmp_path)
    result = run_batch(Path("in"), Path("out"), BatchOptions(upscale=MODEL, recursive=True), cluster=ClusterTarget())
    assert len(digests(tmp_path / "out")) == 4, [(r.input, r.status, r.error) for r in result.records]
    ok = sorted((r.input, r.output) for r in result.records if r.status == "ok")
    assert ok == sorted((str(Path("in") / rel), str(Path("out") / rel.replace(".png", "_x2_realesr-animevideov3.png")))
                        for rel in ("im00.png", "im02.png", "sub/im01.png", "sub/im03.png"))
    broken = next(r for r in result.records if r.status == "failed")  # its error in the batch's words too
    assert "cannot read in/broken.png" in broken.error and str(tmp_path) not in broken.error


def test_a_cluster_batch_reports_each_file_as_the_local_batch_does(local_ray, tmp_path):
    """Its file events had no index and no counts: the Batch dialog's table stayed empty and
    its status line said "failed 0" whatever failed."""
    make_inputs(tmp_path / "in", 4)
    heard = []
    result = run_batch(tmp_path / "in", tmp_path / "out", BatchOptions(upscale=MODEL, recursive=True),
                       progress=heard.append, cluster=ClusterTarget())
    files = [info.extra for info in heard if info.extra.get("event") == "file"]
    assert sorted(extra["index"] for extra in files) == list(range(len(result.records)))
    assert files[-1]["failed"] == 1 and files[-1]["ok"] == 4  # the broken file, the four images
    assert all(extra["record"].input == extra["current"] for extra in files)
    assert files[-1]["megapixels_per_second"] > 0  # (it read 0.00 MP/s the whole batch)
    # said while the workers start (seconds of silence before the first file)
    notices = [info.message for info in heard if info.stage == "cluster"]
    assert notices == ["starting local Ray's workers for 5 files"]  # (the broken one too)


def test_a_resumed_cluster_batch_counts_its_rate_over_the_workers_files(local_ray, tmp_path):
    """The rate counted every file, the skipped ones recorded at once included, from before
    Ray started: a resumed batch read "3565 file/s, 0.0 s left" for files taking 0.5 s."""
    make_inputs(tmp_path / "in", 6)
    options = BatchOptions(upscale=MODEL, recursive=True)
    run_batch(tmp_path / "in", tmp_path / "out", options, cluster=ClusterTarget(), write_report_file=False)
    for gone in sorted((tmp_path / "out").rglob("*.png"))[:3]:
        gone.unlink()
    heard = []
    run_batch(tmp_path / "in", tmp_path / "out", options, progress=heard.append, cluster=ClusterTarget(),
              write_report_file=False)
    files = [info for info in heard if info.extra.get("event") == "file"]
    skipped = [info for info in files if info.extra["record"].status == "skipped"]
    workers = [info for info in files if info.extra["record"].status != "skipped"]  # (broken.png: failed)
    assert len(skipped) == 3 and len(workers) == 4
    assert all(info.extra["files_per_second"] == 0.0 and info.eta is None for info in skipped)
    # over the time since the files were handed out: the workers' rows arrive in blocks, and
    # over the time since the first arrived, the first block read "1198.88 file/s, 0.0 s left"
    assert all(0 < info.extra["files_per_second"] < 50 for info in workers) and workers[-1].eta == 0.0
    assert all(info.eta > 0 for info in workers if info.done < info.total)


def test_a_killed_worker_loses_nothing(local_ray, tmp_path):
    make_inputs(tmp_path / "in", 16, size=64)
    killed: list[int] = []

    def kill_a_worker(info) -> None:
        record = info.extra.get("record")
        if killed or record is None or record.status != "ok" or not record.worker:
            return
        pid = int(record.worker.rsplit(":", 1)[1])
        killed.append(pid)
        threading.Thread(target=os.kill, args=(pid, signal.SIGKILL), daemon=True).start()

    result = run_batch(tmp_path / "in", tmp_path / "out", BatchOptions(upscale=MODEL, recursive=True),
                       cluster=ClusterTarget(), progress=kill_a_worker)
    assert killed, "no worker was killed"
    ok = [r for r in result.records if r.status == "ok"]
    assert len(ok) == 16 and len({r.input for r in ok}) == 16  # none missing, none twice
    assert any(r.worker.endswith(f":{killed[0]}") for r in ok)
    assert any(not r.worker.endswith(f":{killed[0]}") for r in ok)  # the rest done by a new worker
    outputs = sorted((tmp_path / "out").rglob("*"))
    assert not [p for p in outputs if p.name.startswith(".")]  # no temp file left
    for path in (p for p in outputs if p.suffix == ".png"):
        with Image.open(path) as img:
            img.load()
            assert img.size == (128, 128)


def test_cancel_drops_the_files_in_progress_and_reports_every_file_written(local_ray, tmp_path):
    from sr_desktop.engine.core.progress import CancelToken

    make_inputs(tmp_path / "in", 24, size=96)
    cancel = CancelToken()

    def cancel_after_the_first_file(info) -> None:
        record = info.extra.get("record")
        if record is not None and record.status == "ok":
            cancel.cancel()

    started = time.monotonic()
    result = run_batch(tmp_path / "in", tmp_path / "out", BatchOptions(upscale=MODEL, recursive=True),
                       cluster=ClusterTarget(), progress=cancel_after_the_first_file, cancel=cancel)
    assert result.exit_code == 130
    time.sleep(2.0)  # workers that outlived the driver wrote their files after it had returned
    written = {str(p) for p in (tmp_path / "out").rglob("*.png")}
    reported = {r.output for r in result.records if r.status == "ok"}
    assert written == reported  # each file written is in the report, none after it
    assert 1 <= len(written) < 24
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".")]  # no temp file
    # every file is in the report once: done, stopped at a tile (cancelled) or never started
    files = json.loads(result.report_path.read_text())["files"]
    assert sorted(Path(f["input"]).name for f in files) == sorted(p.name for p in (tmp_path / "in").rglob("*.png"))
    assert {f["status"] for f in files} <= {"ok", "failed", "cancelled", "not started"}  # (failed: broken.png)
    extra = result.totals.extra
    assert result.totals.files + extra["not_started"] + extra.get("interrupted", 0) == len(files)
    assert time.monotonic() - started < 120


def test_resume_after_the_driver_is_killed(tmp_path):
    make_inputs(tmp_path / "in", 12, size=64)
    cmd = [sys.executable, "-m", "sr_desktop", "batch", str(tmp_path / "in"), str(tmp_path / "out"), "-r",
           "--model", MODEL.model, "--scale", "2", "--device", "cpu", "--cluster", "ray", "--no-progress"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list((tmp_path / "out").rglob("*.png"))) < 3:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the driver and everything it started
    first.wait()
    done_before = len(list((tmp_path / "out").rglob("*.png")))
    assert 3 <= done_before
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.returncode == 1, second.stderr  # the broken file
    assert "skipped" in second.stdout
    outputs = sorted((tmp_path / "out").rglob("*.png"))
    assert len(outputs) == 12
    for path in outputs:
        with Image.open(path) as img:
            img.load()


def test_a_ray_client_driver_runs_the_pool_through_a_relay_on_the_cluster(local_ray, tmp_path, monkeypatch):
    """Ray Data's executor cannot run in a Ray Client driver: every `--cluster ray://…` batch
    ended in "AttributeError: 'Worker' object has no attribute 'core_worker'". The pool now
    runs in a relay actor on the cluster; here the local instance stands for the cluster."""
    from sr_desktop.engine.batch import cluster

    make_inputs(tmp_path / "in", 6)
    options = BatchOptions(upscale=MODEL, recursive=True)
    local = run_batch(tmp_path / "in", tmp_path / "local", options)
    relayed = []
    real_relay = cluster._relayed_rows
    monkeypatch.setattr(cluster, "_through_client", lambda _ray: True)
    monkeypatch.setattr(cluster, "_relayed_rows", lambda *a: relayed.append(1) or real_relay(*a))
    heard = []
    result = run_batch(tmp_path / "in", tmp_path / "ray", options, progress=heard.append, cluster=ClusterTarget())
    assert relayed and digests(tmp_path / "ray") == digests(tmp_path / "local") and len(digests(tmp_path / "ray")) == 6
    assert result.exit_code == local.exit_code == 1
    assert sum(1 for info in heard if info.extra.get("event") == "file") == len(result.records)


def test_a_model_the_workers_cannot_load_is_one_line_and_exit_2(local_ray, tmp_path, monkeypatch, capsys):
    """Every node needs the same models: one that lacks the driver's gave ~125 lines of Ray
    tracebacks (some on stdout) and "unexpected error", exit 3, without a report."""
    import torch

    from sr_desktop.engine.batch import cluster
    from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact
    from sr_desktop.engine.models.custom import add_custom_model

    torch.save({"params": SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2).state_dict()}, tmp_path / "m.pth")
    spec = add_custom_model(tmp_path / "m.pth", name="only on the driver")
    make_inputs(tmp_path / "in", 2)
    real = cluster.connect

    def connect_then_lose_the_file(*args, **kwargs):  # loaded here, gone for the workers
        ray_module = real(*args, **kwargs)
        Path(spec.source["file"]).unlink()
        return ray_module

    monkeypatch.setattr(cluster, "connect", connect_then_lose_the_file)
    rc = main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--model", spec.id, "--cluster", "ray",
               "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    ours = [line for line in err.splitlines() if line.startswith("sr-desktop")]
    assert len(ours) == 1 and "the Ray workers cannot upscale" in ours[0] and "missing its file" in ours[0]
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # the folder it made for nothing is gone again


def test_sigterm_stops_a_ray_batch_with_130_and_its_report(tmp_path):
    """As Ctrl+C and SIGHUP do (the README's promise): Ray's own SIGTERM handler, set by
    `ray.init` over the batch's, ended it with a crash dump, status 15 and no report."""
    make_inputs(tmp_path / "in", 12, size=64)
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "sr_desktop", "batch", str(tmp_path / "in"), str(tmp_path / "out"), "-r",
           "--model", MODEL.model, "--scale", "2", "--device", "cpu", "--cluster", "ray", "--no-progress",
           "--report", str(report)]
    batch = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not list((tmp_path / "out").rglob("*.png")):
            time.sleep(0.2)
        batch.send_signal(signal.SIGTERM)
        _out, err = batch.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(batch.pid, signal.SIGKILL)  # (whatever Ray left of it)
    assert batch.returncode == 130, err
    assert "SIGTERM received" not in err
    files = json.loads(report.read_text())["files"]
    assert len(files) == 13 and any(f["status"] == "ok" for f in files)  # (12 images and the broken one)


def test_a_cancel_ends_the_wait_for_a_row_that_never_comes(monkeypatch):
    """A cluster without a free CPU starts no worker: the driver waited in Ray Data's row
    iterator for good, and Cancel (then Ctrl+C) never took effect."""
    from sr_desktop.engine.batch import cluster
    from sr_desktop.engine.core.progress import CancelToken

    monkeypatch.setattr(cluster, "CANCEL_DRAIN_S", 0.5)
    never = threading.Event()

    def no_worker_starts():
        never.wait(30)
        yield {"index": 0, "record": b""}

    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    started = time.monotonic()
    try:
        assert list(cluster._drained(no_worker_starts(), cancel)) == [None]
        assert time.monotonic() - started < 3.0
    finally:
        never.set()
    # rows that do come are still handed on, and a failure of the source is raised to the reader
    assert list(cluster._drained(iter([{"index": 1}, {"index": 2}]), CancelToken())) == [{"index": 1}, {"index": 2}]

    def broken():
        yield {"index": 1}
        raise RuntimeError("worker died")

    with pytest.raises(RuntimeError, match="worker died"):
        list(cluster._drained(broken(), CancelToken()))


def test_a_second_batch_on_another_target_leaves_the_first(monkeypatch):
    """The window lives on between batches: connect() returned the first batch's Ray session
    whatever the second asked for, which then ran there, its report naming the second."""
    from sr_desktop.engine.batch import cluster

    calls = []

    class FakeRay:
        data = ray.data
        started = False

        def is_initialized(self):
            return self.started

        def init(self, **kwargs):
            calls.append(("init", kwargs.get("address")))
            self.started = True

        def shutdown(self):
            calls.append(("shutdown", None))
            self.started = False

    fake = FakeRay()
    monkeypatch.setattr(cluster, "import_ray", lambda: fake)
    monkeypatch.setattr(ClusterTarget, "reachable", lambda _self: None)
    monkeypatch.setattr(cluster, "_connected", None)
    cluster.connect(ClusterTarget(None), num_cpus=1)
    cluster.connect(ClusterTarget(None))  # the same: reused
    cluster.connect(ClusterTarget("ray://head:10001"))
    # "local": a new instance whatever $RAY_ADDRESS says (Ray joined that cluster and refused num_cpus)
    assert calls == [("init", "local"), ("shutdown", None), ("init", "ray://head:10001")]
    monkeypatch.setattr(cluster, "_connected", None)  # a session the caller started: used as it is
    cluster.connect(ClusterTarget(None))
    assert calls[-1] == ("init", "ray://head:10001")


def test_ray_is_started_on_a_thread_that_outlives_the_callers_and_keeps_our_signal_handlers(monkeypatch):
    """Ray ties a local cluster's processes to the thread that started them: from the window's
    worker thread, which Qt's pool ends after 30 s idle, the cluster died and the window quit
    95 s after a batch. And `ray.init` put its own SIGTERM handler in place of the batch's,
    so SIGTERM ended a batch with Ray's crash dump and status 15, without its report."""
    from sr_desktop.engine.batch import cluster

    started_on = []

    def rays_handler(_number, _frame):
        raise SystemExit(15)

    class FakeRay:
        data = ray.data

        def is_initialized(self):
            return False

        def init(self, **_kwargs):
            started_on.append(threading.current_thread())
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, rays_handler)

    monkeypatch.setattr(cluster, "import_ray", FakeRay)
    monkeypatch.setattr(ClusterTarget, "reachable", lambda _self: None)
    monkeypatch.setattr(cluster, "_connected", None)
    worker = threading.Thread(target=lambda: cluster.connect(ClusterTarget(None), num_cpus=1))
    worker.start()
    worker.join()
    assert started_on[0] is not worker and started_on[0].is_alive()  # (the worker has ended)

    def ours(_number, _frame):
        pass

    previous = signal.signal(signal.SIGTERM, ours)
    try:
        cluster.connect(ClusterTarget(None), num_cpus=1)  # from the main thread (the command line): there
        assert started_on[1] is threading.main_thread()
        assert signal.getsignal(signal.SIGTERM) is ours
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_ray_is_started_without_its_usage_reports_unless_the_user_asked(monkeypatch):
    from sr_desktop.engine.batch import cluster

    monkeypatch.setattr(cluster, "_connected", None)

    seen = []

    class FakeRay:  # Ray itself, but its start recorded instead of made
        data = ray.data

        def is_initialized(self):
            return False

        def init(self, **_kwargs):
            seen.append(os.environ.get("RAY_USAGE_STATS_ENABLED"))

    monkeypatch.setattr(cluster, "import_ray", FakeRay)
    monkeypatch.setattr(ClusterTarget, "reachable", lambda _self: None)
    monkeypatch.delenv("RAY_USAGE_STATS_ENABLED", raising=False)
    cluster.connect(ClusterTarget(None), num_cpus=1)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "1")  # the user's own choice stands
    cluster.connect(ClusterTarget("ray://example:10001"))
    assert seen == ["0", "1"]


def test_without_ray_one_clear_line(tmp_path, monkeypatch, capsys):
    make_inputs(tmp_path / "in", 1)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    rc = main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--cluster", "ray"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "pip install 'sr-desktop[cluster]'" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 320 KiB tmpfs: an output folder that fills up after a few files."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("needs a tmpfs mount (root): " + made.stderr.decode(errors="replace").strip())
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_output_folder_stops_the_cluster_batch(local_ray, small_disk, tmp_path):
    """As locally: the first write refused for a full disk stops every worker (before, each
    remaining file was upscaled only to fail its write), the summary says why and how to go on."""
    make_inputs(tmp_path / "in", 16, size=96)
    result = run_batch(tmp_path / "in", small_disk / "out", BatchOptions(upscale=MODEL, recursive=True),
                       cluster=ClusterTarget(), report_path=tmp_path / "report.json")
    assert "No space left on device" in result.halted
    assert not result.cancelled and result.exit_code == 1
    assert result.summary().startswith("stopped, the output folder takes no more files")
    full = [r for r in result.records if "No space left" in r.error]
    assert 1 <= len(full) <= 2  # the file that found the disk full (and one in flight beside it)
    extra = result.totals.extra
    assert extra["not_started"] + extra.get("interrupted", 0) >= 5  # the rest was left for the next run
    assert f"{extra['not_started'] + extra.get('interrupted', 0)} not done" in result.summary()  # the line adds up
    assert 1 <= result.totals.ok <= 8
    assert not [p for p in (small_disk / "out").rglob("*") if p.name.startswith(".")]  # no temp file


def test_the_workers_get_the_kernel_file_by_its_absolute_path(tmp_path, monkeypatch):
    """`batch --cluster … --kernel k.npy` handed the workers the path as typed: a head started
    in another folder resolved it there (the jobs' files are made absolute for that reason)."""
    from sr_desktop.engine.batch.cluster import actor_class

    monkeypatch.chdir(tmp_path)
    upscale = UpscaleOptions(model="map-sr", scale=2, kernel="k.npy")
    actor = actor_class(BatchOptions(upscale=upscale), upscale, 1, [])
    assert actor.config.upscale_options.kernel == str(tmp_path / "k.npy")
    estimate = UpscaleOptions(model="map-sr", scale=2, kernel="estimate")
    assert actor_class(BatchOptions(upscale=estimate), estimate, 1, []).config.upscale_options.kernel == "estimate"
