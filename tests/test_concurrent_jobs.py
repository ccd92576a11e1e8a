"""Jobs running at the same time in one process (the window's upscale, Evaluate, batch and
kernel queues, or threads of the library API) share the model cache and the backends."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sr_desktop.engine.pipeline import model_cache


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    model_cache.clear_model_cache()
    yield tmp_path / "home"
    model_cache.clear_model_cache()


def _together(work, count: int = 2) -> list:
    """`work(i)` on `count` threads released at the same moment; their results or exceptions."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - returned for the test to look at
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def test_two_jobs_asking_for_a_model_being_loaded_share_one_load(home, monkeypatch):
    """Both loaded it (twice the memory: 274 MiB against 137 for Real-ESRGAN x4plus) and both
    ran its first-use measurement."""
    loads = []
    real = model_cache.load_model

    def slow_load(*args, **kwargs):
        loads.append(threading.current_thread().name)
        time.sleep(0.3)  # a large model's reading
        return real(*args, **kwargs)

    monkeypatch.setattr(model_cache, "load_model", slow_load)
    got = _together(lambda _i: model_cache.get_model("srcnn", 2, backend="torch"))
    assert len(loads) == 1 and got[0] is got[1]


def test_a_job_waiting_for_anothers_load_stops_on_its_own_cancel(home, monkeypatch):
    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import CancelToken

    started, release = threading.Event(), threading.Event()
    real = model_cache.load_model

    def held_load(*args, **kwargs):
        started.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(model_cache, "load_model", held_load)
    first = threading.Thread(target=lambda: model_cache.get_model("srcnn", 2, backend="torch"))
    first.start()
    assert started.wait(10)
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    with pytest.raises(Cancelled):
        model_cache.get_model("srcnn", 2, backend="torch", cancel=token)
    release.set()
    first.join(30)


def test_two_first_openvino_conversions_at_once_both_succeed(home):
    """torch's tracer is not thread-safe: two jobs' first uses at once failed ("Couldn't get
    TorchScript module by tracing", "Tracing failed sanity checks"), and `auto` then kept
    torch for those models for good."""
    pytest.importorskip("openvino")
    from sr_desktop.engine.imageio.image import Image
    from sr_desktop.engine.pipeline.upscale import UpscaleOptions, upscale_image

    image = Image(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8))
    jobs = [("srcnn", 2), ("espcn", 3)]
    results = _together(lambda i: upscale_image(image, UpscaleOptions(model=jobs[i][0], scale=jobs[i][1],
                                                                      backend="openvino")))
    assert [getattr(r, "backend", r) for r in results] == ["openvino", "openvino"]


def test_a_seeded_kernel_estimation_beside_model_loads_is_the_same_as_alone(home):
    """A seeded estimate is reproducible (docs/kernelgan.md); beside another job loading
    networks (whose default initialisation draws from torch's one generator) it came out
    otherwise, once a 19×19 kernel instead of 23×23."""
    from scipy import ndimage

    from sr_desktop.engine.kernelgan import estimate_kernel

    rng = np.random.default_rng(4)
    image = ndimage.gaussian_filter(rng.random((96, 96, 3)), (1.2, 1.2, 0)).astype(np.float32)

    def estimate():
        return estimate_kernel(image, scale=2, iterations=40, method="kernelgan", seed=3, restarts=1).kernel

    alone = estimate()
    stop = threading.Event()

    def loading() -> None:
        while not stop.is_set():
            for model_id in ("srcnn", "espcn", "fsrcnn"):
                model_cache.clear_model_cache()
                model_cache.get_model(model_id, 2, backend="torch")

    other = threading.Thread(target=loading)
    other.start()
    try:
        beside = [estimate() for _ in range(2)]
    finally:
        stop.set()
        other.join(60)
    assert all(k.shape == alone.shape and np.array_equal(k, alone) for k in beside)


def test_a_seeded_training_runs_discriminator_is_the_same_beside_a_model_load(home, tmp_path, monkeypatch):
    """The discriminator (a GAN loss) is built after the data are read: another job's model
    load in between moved torch's generator, and it started from other weights."""
    import torch
    from train_fixtures import make_images

    from sr_desktop.engine.training import Trainer, TrainOptions, val_backend

    data = make_images(tmp_path / "data", 2, 48, seed=5)

    def starting_weights(run: str) -> tuple:
        trainer = Trainer(TrainOptions(arch="SRCNN:n1=8,n2=4", scale=2, data=(str(data),), out=str(tmp_path / run),
                                       iterations=1, batch=2, patch=16, loss="l1:1,gan:0.01", seed=7,
                                       backend="torch"))
        return tuple(torch.cat([p.flatten() for p in module.parameters()])
                     for module in (trainer.net.module, trainer.losses.discriminator))

    alone = starting_weights("alone")
    real_check = val_backend.ValidationBackend.check

    def check_beside_a_load(self, net):  # another job loads a model at this moment
        model_cache.clear_model_cache()
        model_cache.get_model("fsrcnn", 2, backend="torch")
        return real_check(self, net)

    monkeypatch.setattr(val_backend.ValidationBackend, "check", check_beside_a_load)
    beside = starting_weights("beside")
    assert all(torch.equal(a, b) for a, b in zip(alone, beside, strict=True))
