"""The backend layer: OpenVINO runs every zoo family to float rounding of the ncnn runtime,
its conversions are cached and rebuilt when broken, and `auto` measures, caches and falls
back to torch."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from sr_desktop.engine.compute.peak_memory import PeakMemory, peak_memory_supported
from sr_desktop.engine.core.errors import Cancelled
from sr_desktop.engine.core.options import Backend, OptionError, UpscaleOptions, parse_backend
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.models.backends import choose, openvino_refusals, openvino_runner
from sr_desktop.engine.models.backends.openvino_runner import BackendError, build_openvino_runner
from sr_desktop.engine.models.loader import load_model

ov = pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory):
    """One user cache for the module: a graph converted by one test is reused by the next."""
    return tmp_path_factory.mktemp("backend-home")


@pytest.fixture()
def home(shared_home, monkeypatch):
    monkeypatch.setenv("SR_DESKTOP_HOME", str(shared_home))
    monkeypatch.delenv(choose.ENV_DEFAULT, raising=False)
    choose.choices_file().unlink(missing_ok=True)
    openvino_refusals.refusals_file().unlink(missing_ok=True)  # (a test's refusal is its own)
    return shared_home


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def test_backend_option_is_parsed_once():
    assert parse_backend(None) == Backend.AUTO
    assert UpscaleOptions(backend="openvino").backend == Backend.OPENVINO
    with pytest.raises(OptionError, match="backend"):
        UpscaleOptions(backend="tensorrt")


# One graph per zoo family (the smallest of each), on the natural crop of test_ncnn_exact.
FAMILY_CASES = [
    ("realesrgan-x4plus-anime", 4, None, 16),  # rrdbnet (6 blocks; 23-block x4plus has the same layers)
    ("realesr-animevideov3", 2, None, 32),  # srvgg, Interp nearest
    ("waifu2x-photo", 2, None, 32),  # upconv7, Deconvolution
    ("waifu2x-cunet", 2, None, 24),  # cunet, Crop, Pooling/SE
    ("realcugan-se", 2, None, 24),  # realcugan
    ("srmdnf", 2, None, 32),  # srmd planes, PixelShuffle
    ("span", 4, "ch52", 32),  # span: Swish, Sigmoid, MemoryData
]


@pytest.mark.parametrize("model_id,scale,variant,size", FAMILY_CASES, ids=[c[0] for c in FAMILY_CASES])
def test_openvino_matches_the_ncnn_runtime(model_id, scale, variant, size, home):
    from sr_desktop.engine.models import registry

    pytest.importorskip("ncnn")  # the ncnn runtime, the reference
    from tests import test_ncnn_exact as exact  # (the natural crop of the torch test)

    model = load_model(model_id, scale=scale, variant=variant, channels_last=False)
    model.runner = build_openvino_runner(model)
    param, binf = registry.model_files(registry.get_model_spec(model_id), scale, model.variant)
    x = exact.natural_crop(size)
    graph_input = model.prepare_input(x)[0] if model.conv.unpadded or model.conv.srmd_planes else x
    ours = model.runner(graph_input)[0].numpy()
    theirs = exact.ncnn_forward(param, binf, model.module.input_name, model.module.output_name,
                                graph_input[0].numpy())
    assert theirs.shape == ours.shape
    mse = float(np.mean((theirs.astype(np.float64) - ours) ** 2))
    # measured 129.8-152.6 dB against torch on such crops (float32 rounding)
    assert mse == 0 or 10 * math.log10(1 / mse) >= 100.0
    # through `run` (pre-padding, crops, extra residuals) the same as the torch backend
    with torch.inference_mode():
        via_openvino = model.run(x).numpy()
        model.runner = None
        via_torch = model.run(x).numpy()
    assert psnr(via_openvino, via_torch) >= 100.0


def test_graphs_with_the_same_weights_get_their_own_conversion(tmp_path, monkeypatch):
    """realesr-animevideov3's ×2 and ×4 zoo graphs hold the same weights and differ in a
    resize: with the ×4 conversion cached first, the ×2 model ran it (10.6 dB on Set5 ×2
    through `bench`, 32.96 dB with torch on bird.png). Each now has its own entry."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))  # an empty cache: ×4 is converted first
    x4 = load_model("realesr-animevideov3", scale=4, channels_last=False)
    x2 = load_model("realesr-animevideov3", scale=2, channels_last=False)
    assert build_openvino_runner(x4).key != build_openvino_runner(x2).key
    x2.runner = build_openvino_runner(x2)
    x = torch.from_numpy(np.random.default_rng(3).random((1, 3, 24, 20), dtype=np.float32))
    with torch.inference_mode():
        via_openvino = x2.run(x).numpy()
        x2.runner = None
        via_torch = x2.run(x).numpy()
    assert via_openvino.shape == via_torch.shape == (1, 3, 48, 40)
    assert psnr(via_openvino, via_torch) >= 100.0


def test_conversion_is_cached_and_a_broken_entry_rebuilt(home, monkeypatch):
    model = load_model("realesr-animevideov3", scale=2)
    first = build_openvino_runner(model)
    folder = openvino_runner.cache_root() / first.key
    assert (folder / "model.xml").is_file() and (folder / "checked.json").is_file()

    def no_conversion(*_args, **_kwargs):
        raise AssertionError("converted again although a good cached conversion exists")

    def no_forward_pass(*_args, **_kwargs):
        raise AssertionError("ran the graph although the index knows its conversion")

    monkeypatch.setattr(ov, "convert_model", no_conversion)
    # a warm start finds the conversion by the model's identity, without a forward pass
    monkeypatch.setattr(openvino_runner, "capture_graph_call", no_forward_pass)
    assert build_openvino_runner(model).key == first.key
    monkeypatch.undo()
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    (folder / "model.xml").write_text("<net>truncated")
    again = build_openvino_runner(model)  # rebuilt, not used broken
    x = torch.rand(1, 3, 20, 20)
    inp, _ = model.prepare_input(x)
    with torch.inference_mode():
        assert float((again(inp) - model.module(inp)).abs().max()) < 1e-4


def test_a_conversion_unused_for_two_months_goes_when_another_is_saved(tmp_path, monkeypatch):
    """An OpenVINO or app upgrade gives every model new keys, and the old conversions stayed
    for good (tens of MB each); one in use is kept however old it is."""
    import os
    import time

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    old_model = load_model("realesr-animevideov3", scale=2, channels_last=False)
    old = openvino_runner.cache_root() / build_openvino_runner(old_model).key
    used_model = load_model("realesr-animevideov3", scale=4, channels_last=False)
    used = openvino_runner.cache_root() / build_openvino_runner(used_model).key
    long_ago = time.time() - (openvino_runner.UNUSED_DAYS + 1) * 86400
    for folder in (old, used):
        os.utime(folder / "checked.json", (long_ago, long_ago))
    assert build_openvino_runner(used_model).key == used.name  # a use: it is recent again
    fresh = openvino_runner.cache_root() / build_openvino_runner(load_model("span", scale=2)).key  # a save
    assert not old.exists() and used.is_dir() and fresh.is_dir()
    index = json.loads((openvino_runner.cache_root() / "index.json").read_text())
    assert old.name not in index.values() and used.name in index.values()


def test_a_cached_conversion_whose_weights_changed_is_not_used(tmp_path, monkeypatch):
    """A flipped byte in model.bin (the same size, still loadable) ran before and gave wrong
    pixels with no word; the digests checked.json holds now send it to be converted again."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    model = load_model("realesr-animevideov3", scale=2, channels_last=False)
    folder = openvino_runner.cache_root() / build_openvino_runner(model).key
    weights = folder / "model.bin"
    data = bytearray(weights.read_bytes())
    start = len(data) // 16 * 4  # a quarter of the way in, on a float's boundary
    values = np.frombuffer(data, dtype=np.float32, count=len(data) // 8, offset=start)
    data[start: start + values.nbytes] = (values * np.float32(1.3)).tobytes()
    weights.write_bytes(bytes(data))
    again = build_openvino_runner(model)
    assert again.key == folder.name and weights.read_bytes() != bytes(data)  # converted again
    x = torch.from_numpy(np.random.default_rng(5).random((1, 3, 20, 20), dtype=np.float32))
    inp, _ = model.prepare_input(x)
    with torch.inference_mode():
        assert float((again(inp) - model.module(inp)).abs().max()) < 1e-4


def test_a_damaged_conversion_a_read_only_cache_keeps_is_never_run(tmp_path, monkeypatch):
    """A damaged entry that could not be deleted (a read-only cache), and a new conversion
    that could not be saved: the save took the damaged folder for another process's save
    and compiled it; wrong pixels (up to 49 levels off), exit 0, no word."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    model = load_model("realesr-animevideov3", scale=2, channels_last=False)
    folder = openvino_runner.cache_root() / build_openvino_runner(model).key
    weights = folder / "model.bin"
    data = bytearray(weights.read_bytes())
    start = len(data) // 16 * 4
    values = np.frombuffer(data, dtype=np.float32, count=len(data) // 8, offset=start)
    data[start: start + values.nbytes] = (values * np.float32(1.5)).tobytes()
    weights.write_bytes(bytes(data))

    def read_only(*_args, **_kwargs):
        raise RuntimeError("Read-only file system")

    monkeypatch.setattr(openvino_runner, "_remove", lambda path: None)  # nothing can be deleted
    monkeypatch.setattr(ov, "save_model", read_only)
    runner = build_openvino_runner(model)
    assert runner.key == "" and weights.read_bytes() == bytes(data)  # from memory; the damage stays unused
    x = torch.from_numpy(np.random.default_rng(7).random((1, 3, 20, 20), dtype=np.float32))
    inp, _ = model.prepare_input(x)
    with torch.inference_mode():
        assert float((runner(inp) - model.module(inp)).abs().max()) < 1e-4


def test_a_cache_that_cannot_be_written_runs_the_conversion_from_memory(tmp_path, monkeypatch, caplog):
    """A full disk made `openvino.save_model` raise a RuntimeError past the OSError handler:
    every upscale with --backend auto failed (exit 3) and left a staging folder behind."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    model = load_model("realesr-animevideov3", scale=2, channels_last=False)

    def disk_full(_model, path, **_kwargs):
        open(path, "wb").close()  # a part written, as a full disk leaves it
        raise RuntimeError("basic_ios::clear: iostream error")

    monkeypatch.setattr(ov, "save_model", disk_full)
    with caplog.at_level(logging.WARNING, logger=openvino_runner.__name__):
        runner = build_openvino_runner(model)
    assert runner.key == "" and any("running it from memory" in r.message for r in caplog.records)
    assert [p.name for p in openvino_runner.cache_root().iterdir()] == []  # no staging folder left
    x = torch.from_numpy(np.random.default_rng(6).random((1, 3, 20, 20), dtype=np.float32))
    inp, _ = model.prepare_input(x)
    with torch.inference_mode():
        assert float((runner(inp) - model.module(inp)).abs().max()) < 1e-4
    monkeypatch.undo()
    # a file where the cache folder belongs is the same: run from memory, never an error
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    cache_root = openvino_runner.cache_root()
    cache_root.rmdir()
    cache_root.write_text("not a folder")
    assert build_openvino_runner(model).key == ""


def test_auto_measures_once_and_remembers(home, caplog, monkeypatch):
    monkeypatch.setattr(choose, "_available_mib", lambda: 64_000.0)
    model = load_model("span", scale=4, variant="ch52")
    heard = []
    with caplog.at_level(logging.INFO, logger=choose.__name__):
        chosen = choose.apply_backend(model, "auto", heard.append)
    assert chosen in ("torch", "openvino", "ncnn") and model.backend == chosen
    # the seconds of converting and timing are announced once, before they start
    assert [(i.stage, i.message) for i in heard] == [
        ("backend", "first use of span's ×4 network: converting it to OpenVINO and timing it against torch and "
                    "the ncnn runtime")]  # (each timed: the ncnn runtime was left unsaid)
    entries = json.loads(choose.choices_file().read_text())
    (entry,) = entries.values()
    assert entry["backend"] == chosen and entry["torch_s"] > 0 and entry["openvino_s"] > 0 and entry["ncnn_s"] > 0
    seconds = {name: entry[f"{name}_s"] for name in ("torch", "openvino", "ncnn")}
    peaks = {name: entry[f"{name}_mib"] for name in seconds if f"{name}_mib" in entry}
    assert len(peaks) == (3 if peak_memory_supported() else 0)
    # the memory rule counts span's real pass: its 384² tile with the context, over the 256² timed
    assert entry["pass_scale"] == pytest.approx((model.cpu_pass_side() / entry["measured_at"]) ** 2, rel=1e-3)
    assert chosen == choose.pick_backend(seconds, peaks, 64_000.0, entry["pass_scale"])
    # timed at the tile a photo runs in (span's recommended 384, capped), not a toy size
    assert entry["measured_at"] == choose.measure_side(model) == choose.MEASURE_MAX_SIZE
    assert choose.measure_side(load_model("realesrgan-x4plus", scale=4)) == 192
    eight = type("X8", (), {"scale": 8, "recommended_tile": 256})()  # a ×8 LapSRN's tile
    assert choose.measure_side(eight) == 128  # a 1024² output, not 2048² (its first use took 183 s)
    assert any("torch" in r.message and "openvino" in r.message and "ncnn" in r.message for r in caplog.records)

    caplog.clear()
    other = load_model("span", scale=4, variant="ch52")
    heard.clear()
    with caplog.at_level(logging.INFO, logger=choose.__name__):
        assert choose.apply_backend(other, "auto", heard.append) == chosen
    assert not any(" ms, openvino " in r.message for r in caplog.records)  # not measured again
    assert heard == []



def test_cancel_stops_the_first_use_measurement_and_records_nothing(home, monkeypatch):
    """The GUI's Cancel (and closing the window) waited for the whole conversion and timing of
    a first use: 14 s for realcugan-se ×2, about 130 s for realesrgan-x4plus here."""
    model = load_model("span", scale=4, variant="ch52")
    cancel = CancelToken()
    # cancelled as the notice arrives: no conversion starts
    convert = choose.build_openvino_runner
    monkeypatch.setattr(choose, "build_openvino_runner", lambda m: pytest.fail("converted"))
    with pytest.raises(Cancelled):
        choose.apply_backend(model, "auto", lambda info: cancel.cancel(), cancel)
    assert model.runner is None and model.backend == "torch"
    assert not choose.choices_file().exists()
    monkeypatch.setattr(choose, "build_openvino_runner", convert)
    # cancelled during the timed passes: it stops before the next pass
    passes = []
    run = model.run

    def counted(x):
        if x.shape[-1] == choose.measure_side(model):  # a timed pass (the conversion traces a small tile)
            passes.append(model.runner)
            if len(passes) == 2:
                cancel.cancel()
        return run(x)

    monkeypatch.setattr(model, "run", counted)
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        choose.apply_backend(model, "auto", None, cancel)
    assert len(passes) == 2 and model.runner is None and model.backend == "torch"
    assert not choose.choices_file().exists()  # the next use measures again

def test_a_choice_measured_on_another_cpu_is_measured_again(home, monkeypatch):
    """The key names the processor: a cache carried to another CPU (a shared home, a moved
    VM) is not trusted, because the ranking of the backends changes from CPU to CPU."""
    from sr_desktop.engine.compute import devices

    key = choose.measure_key("span", 4, "ch52", 2, torch.__version__, True)
    assert devices.cpu_signature() in key.split("|")
    choose.choices_file().parent.mkdir(parents=True, exist_ok=True)
    choose.choices_file().write_text(json.dumps({key: {"backend": "ncnn"}}))
    assert choose.measured_choice(key) == "ncnn"
    monkeypatch.setattr(devices, "cpu_signature", lambda: "Other CPU 0123456789")
    other = choose.measure_key("span", 4, "ch52", 2, torch.__version__, True)
    assert other != key and choose.measured_choice(other) is None


@pytest.mark.parametrize("entry, expected", [
    ({"backend": ["ncnn"]}, None),  # a list made `chosen in builders` raise (unhashable), exit 3
    ({}, None),
    ({"backend": "tensorrt"}, None),
    ({"backend": "ncnn", "torch_s": 0.4, "ncnn_s": 0.2, "ncnn_mib": -5.0, "pass_scale": 2.0}, "ncnn"),
    ({"backend": "ncnn", "torch_s": 0.4, "ncnn_s": 0.2, "torch_mib": float("nan"), "pass_scale": 2.0}, "ncnn"),
    ({"backend": "torch", "torch_s": "fast", "pass_scale": 2.0}, "torch"),
])
def test_a_damaged_stored_choice_is_measured_again_not_an_error(home, entry, expected):
    """Values no measurement gives (a negative or NaN peak made `pick_backend` take the min
    of nothing) are left out; an entry with nothing usable is measured again."""
    key = choose.measure_key("span", 4, "ch52", 2, torch.__version__, True)
    choose.choices_file().parent.mkdir(parents=True, exist_ok=True)
    choose.choices_file().write_text(json.dumps({key: entry}))  # json writes NaN as NaN
    assert choose.measured_choice(key) == expected


def test_a_cached_choice_is_picked_again_with_the_memory_available_now(home, monkeypatch):
    """The timings are kept, not the memory that happened to be free when they were taken:
    a fast, memory-hungry backend measured on an idle machine gives way on a busy one."""
    key = choose.measure_key("waifu2x-photo", 2, "noise0", 2, torch.__version__, True)
    entry = {"backend": "ncnn", "torch_s": 0.405, "openvino_s": 0.368, "ncnn_s": 0.160,
             "torch_mib": 115.0, "openvino_mib": 114.0, "ncnn_mib": 382.0, "pass_scale": 2.0}
    choose.choices_file().parent.mkdir(parents=True, exist_ok=True)
    choose.choices_file().write_text(json.dumps({key: entry}))
    monkeypatch.setattr(choose, "_available_mib", lambda: 16_000.0)
    assert choose.measured_choice(key) == "ncnn"
    monkeypatch.setattr(choose, "_available_mib", lambda: 2_000.0)  # 382 × 2 over a quarter of it
    assert choose.measured_choice(key) == "openvino"
    # an entry from before the re-pick (no pass_scale stored) keeps the choice it made
    choose.choices_file().write_text(json.dumps({key: {k: v for k, v in entry.items() if k != "pass_scale"}}))
    assert choose.measured_choice(key) == "ncnn"
    # an entry with nothing measured beside torch (every other backend refused) keeps its word
    # in the release that wrote it; another release may run the model, so it measures again
    from sr_desktop import __version__

    refused = {"backend": "torch", "reason": "no OpenVINO", "app": __version__}
    choose.choices_file().write_text(json.dumps({key: refused}))
    assert choose.measured_choice(key) == "torch"
    for other in ({**refused, "app": "0.0.9"}, {k: v for k, v in refused.items() if k != "app"}):
        choose.choices_file().write_text(json.dumps({key: other}))
        assert choose.measured_choice(key) is None


def test_cpu_signature_tells_instruction_sets_apart(tmp_path):
    from sr_desktop.engine.compute import devices

    def signature(name, text):
        info = tmp_path / name
        info.write_text(text)
        return devices.cpu_signature(str(info))

    avx2 = signature("a", "model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma\n")
    avx512 = signature("b", "model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma avx512f\n")
    assert avx2.startswith("AMD EPYC ") and avx512.startswith("AMD EPYC ") and avx2 != avx512
    assert signature("c", "model name\t: AMD EPYC\nflags\t\t: fma avx2 sse2 fpu\n") == avx2  # order does not matter
    assert signature("d", "processor\t: 0\nFeatures\t: fp asimd sve\n") != signature("e", "Features\t: fp asimd\n")


def test_first_use_notice_reaches_the_cli_line_and_the_gui_text(tmp_path, monkeypatch, capsys):
    from sr_desktop.app.upscale_jobs import progress_text
    from sr_desktop.cli.progress_bar import TerminalProgress
    from sr_desktop.engine.core.options import UpscaleOptions
    from sr_desktop.engine.imageio.image import Image
    from sr_desktop.engine.pipeline import model_cache, upscale

    # its own cache: the conversion made here must not serve the module's other tests
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    monkeypatch.delenv(choose.ENV_DEFAULT, raising=False)
    model_cache.clear_model_cache()
    heard = []
    bar = TerminalProgress("in.png", enabled=True)
    image = Image(pixels=np.full((24, 24, 3), 128, np.uint8))
    options = UpscaleOptions(model="span", scale=2, backend="auto")
    upscale.upscale_image(image, options, lambda info: (heard.append(info), bar(info)))
    bar.close()
    assert heard[0].stage == "backend" and all(i.stage != "backend" for i in heard[1:])
    line = ("in.png: first use of span's ×2 network: converting it to OpenVINO and timing it against torch and the "
            "ncnn runtime…")
    assert line in capsys.readouterr().err.splitlines()
    assert progress_text(heard[0], 2.0).startswith("first use of span's ×2 network: converting it to OpenVINO")
    model_cache.clear_model_cache()


def test_auto_picks_the_fastest_backend_within_the_memory_bound():
    seconds = {"torch": 0.65, "openvino": 0.58, "ncnn": 0.53}
    assert choose.pick_backend(seconds, {}) == "ncnn"  # peaks not measured: speed alone
    # srmdnf ×4's measured peaks: ncnn's 369 MiB is over 2 × 86 + 32; OpenVINO's 130 is not
    assert choose.pick_backend(seconds, {"torch": 86.0, "openvino": 130.0, "ncnn": 369.0}) == "openvino"
    assert choose.pick_backend(seconds, {"torch": 86.0, "openvino": 300.0, "ncnn": 369.0}) == "torch"
    assert choose.pick_backend(seconds, {"torch": 86.0, "openvino": 130.0, "ncnn": 200.0}) == "ncnn"
    assert choose.pick_backend({"torch": 1.0}, {"torch": 5000.0}) == "torch"


def test_auto_trades_memory_only_for_a_large_speed_up():
    # waifu2x-photo ×2 on an AVX-512 AMD EPYC: the ncnn runtime at 0.43 of OpenVINO's time
    seconds = {"torch": 0.405, "openvino": 0.368, "ncnn": 0.160}
    peaks = {"torch": 115.0, "openvino": 114.0, "ncnn": 382.0}
    assert choose.pick_backend(seconds, peaks) == "ncnn"
    assert choose.pick_backend(seconds, peaks, available_mib=8000.0) == "ncnn"
    # ... but not where it would take more than a quarter of the memory left
    assert choose.pick_backend(seconds, peaks, available_mib=1500.0) == "openvino"
    # counted for the pipeline's real pass, the tile with its context
    assert choose.pick_backend(seconds, peaks, available_mib=2000.0) == "ncnn"
    assert choose.pick_backend(seconds, peaks, available_mib=2000.0, pass_scale=1.6) == "openvino"
    # just under SPEED_FOR_MEMORY times as fast: the lean one (the Xeon's 8-15 % gain)
    assert choose.SPEED_FOR_MEMORY > 1.15
    close = dict(seconds, ncnn=0.368 / choose.SPEED_FOR_MEMORY * 1.01)
    assert choose.pick_backend(close, peaks, available_mib=8000.0) == "openvino"
    faster = dict(seconds, ncnn=0.368 / choose.SPEED_FOR_MEMORY * 0.99)
    assert choose.pick_backend(faster, peaks, available_mib=8000.0) == "ncnn"


@pytest.mark.skipif(not peak_memory_supported(), reason="the peak of one call is measured on Linux only")
def test_a_heavy_pass_is_timed_twice_not_three_times(monkeypatch):
    """A warm-up pass of HEAVY_PASS_S or more counts as a timed run: one more run per backend
    follows (2 passes, not 3); lighter models keep a warm-up and MEASURE_RUNS timed runs."""
    import time as time_module

    class Timed:
        def __init__(self, seconds: dict):
            self.seconds, self.calls, self.runner = seconds, [], None

        def run(self, x):
            name = self.runner or "torch"
            self.calls.append(name)
            time_module.sleep(self.seconds[name])
            return x

    monkeypatch.setattr(choose, "HEAVY_PASS_S", 0.2)
    # (150 ms apart: a sleep on two busy cores overshoots by tens of ms)
    heavy = Timed({"torch": 0.4, "openvino": 0.25})
    seconds, _ = choose._measure(heavy, torch.zeros(1, 3, 4, 4), {"torch": None, "openvino": "openvino"})
    assert heavy.calls == ["torch", "openvino", "torch", "openvino"]
    assert seconds["openvino"] < seconds["torch"] and min(seconds.values()) >= 0.25
    light = Timed({"torch": 0.01, "openvino": 0.005})
    seconds, _ = choose._measure(light, torch.zeros(1, 3, 4, 4), {"torch": None, "openvino": "openvino"})
    assert light.calls == ["torch", "openvino"] * (1 + choose.MEASURE_RUNS)
    # one backend heavy, the other light: each gets what its own warm-up says
    mixed = Timed({"torch": 0.3, "openvino": 0.005})
    choose._measure(mixed, torch.zeros(1, 3, 4, 4), {"torch": None, "openvino": "openvino"})
    assert mixed.calls.count("torch") == 2 and mixed.calls.count("openvino") == 1 + choose.MEASURE_RUNS


def test_peak_memory_sees_memory_freed_before_the_call_returns():
    def hold_and_free(mib):
        block = np.ones(mib << 18, np.float32)  # touched: resident
        return float(block[-1])

    with PeakMemory() as big:
        hold_and_free(96)
    with PeakMemory() as small:
        hold_and_free(8)
    assert 90 <= big.mib <= 120 and small.mib < 40


def test_env_sets_what_auto_means(home, monkeypatch):
    model = load_model("span", scale=2)
    monkeypatch.setenv(choose.ENV_DEFAULT, "torch")
    assert choose.apply_backend(model, "auto") == "torch" and model.runner is None
    assert not choose.choices_file().exists()
    # where the variable's backend cannot run a model, torch does (it was refused, naming
    # --backend): ZSSR under openvino, a literature model under ncnn
    for backend, model_id, runs in (("openvino", "zssr", "torch"), ("ncnn", "espcn", "torch"),
                                    ("ncnn", "bicubic", "pillow")):
        monkeypatch.setenv(choose.ENV_DEFAULT, backend)
        other = load_model(model_id, scale=2)
        assert choose.apply_backend(other, "auto") == runs and other.runner is None
        with pytest.raises(BackendError):  # asked for by name: refused in one line, as before
            choose.apply_backend(other, backend)
    monkeypatch.setenv(choose.ENV_DEFAULT, "fastest")  # a wrong value names the variable
    with pytest.raises(OptionError, match="^SR_DESKTOP_BACKEND=fastest: unknown backend 'fastest'"):
        choose.auto_means()


def test_env_openvino_that_cannot_load_falls_back_as_auto_does(home, monkeypatch, caplog):
    """SR_DESKTOP_BACKEND=openvino with OpenVINO failing to load made every network upscale
    fail ("OpenVINO is installed but cannot be loaded"); the variable only sets what auto
    means, and auto never fails for its own choice."""
    def cannot_load(model, **kwargs):
        raise BackendError("OpenVINO is installed but cannot be loaded: ImportError: simulated")

    monkeypatch.setattr(choose, "build_openvino_runner", cannot_load)
    monkeypatch.setenv(choose.ENV_DEFAULT, "openvino")
    model = load_model("span", scale=2)
    with caplog.at_level(logging.INFO, logger=choose.__name__):
        assert choose.apply_backend(model, "auto") == "torch" and model.runner is None
    assert "cannot be loaded" in caplog.text
    with pytest.raises(BackendError, match="cannot be loaded"):  # asked for by name: the error
        choose.apply_backend(model, "openvino")


def test_openvino_installed_but_failing_to_load_is_not_called_missing(monkeypatch):
    import sys

    class BrokenOpenVino:  # the package is there, a library it needs is not
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "openvino":
                raise ImportError("libopenvino.so.2540: cannot open shared object file")
            return None

    for name in [n for n in sys.modules if n == "openvino" or n.startswith("openvino.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [BrokenOpenVino, *sys.meta_path])
    why = openvino_runner.openvino_unavailable()
    # it said "OpenVINO is not installed (pip install openvino)"
    assert why.startswith("OpenVINO is installed but cannot be loaded: ") and "libopenvino.so" in why
    monkeypatch.setattr(sys, "meta_path", sys.meta_path[1:])
    monkeypatch.setitem(sys.modules, "openvino", None)  # not installed
    assert openvino_runner.openvino_unavailable() == "OpenVINO is not installed (pip install openvino)"


def test_auto_falls_back_without_openvino_and_explicit_fails(home, monkeypatch, caplog):
    missing = "OpenVINO is not installed (pip install openvino)"
    monkeypatch.setattr(openvino_runner, "openvino_unavailable", lambda: missing)
    monkeypatch.setattr(openvino_runner, "openvino_version", lambda: None)
    monkeypatch.setattr(choose, "openvino_version", lambda: None)
    monkeypatch.setattr(choose, "ncnn_version", lambda: None)  # (span is a zoo model: ncnn would be timed)
    model = load_model("span", scale=2)
    with caplog.at_level(logging.INFO, logger=choose.__name__):
        assert choose.apply_backend(model, "auto") == "torch"
    assert [r.message for r in caplog.records] == ["backends: OpenVINO is not installed; using torch"]
    with pytest.raises(BackendError, match="OpenVINO is not installed"):
        choose.apply_backend(model, "openvino")


def test_auto_falls_back_when_a_conversion_fails(home, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("unsupported operation aten::frobnicate\nmore lines")

    monkeypatch.setattr(ov, "convert_model", broken)
    monkeypatch.setattr(choose, "ncnn_version", lambda: None)  # OpenVINO's failure alone
    model = load_model("span", scale=2)
    assert choose.apply_backend(model, "auto") == "torch"
    (entry,) = json.loads(choose.choices_file().read_text()).values()
    reason = "OpenVINO cannot convert span: unsupported operation aten::frobnicate"
    from sr_desktop import __version__

    assert entry == {"backend": "torch", "reason": reason, "app": __version__}
    # asked for by name: the same line, and what runs the model instead (a SwinIR's said nothing)
    with pytest.raises(BackendError, match=r"cannot convert span: unsupported operation aten::frobnicate "
                                           r"\(--backend torch or auto runs it\)$"):
        choose.apply_backend(load_model("span", scale=2), "openvino")


def test_a_stop_signal_during_the_conversion_stops_and_records_nothing(home, monkeypatch):
    """OpenVINO's converter calls back into torch's tracer; a Ctrl+C or SIGTERM landing there
    came back as the converter's own error: `auto` went on with torch, the run ended with
    status 0, and the model was recorded as one OpenVINO cannot convert."""
    from sr_desktop.engine.core import interrupt

    def interrupted(*_args, **_kwargs):
        try:
            interrupt.interrupt_handler()  # the signal arriving in the callback
        except KeyboardInterrupt:
            raise RuntimeError("Check 'false' failed at src/frontends/common/src/frontend.cpp:53:") from None

    monkeypatch.setattr(ov, "convert_model", interrupted)
    monkeypatch.setattr(choose, "ncnn_version", lambda: None)
    try:
        with pytest.raises(KeyboardInterrupt):
            choose.apply_backend(load_model("span", scale=2), "auto")
    finally:
        interrupt.forget_stop_request()
    assert not choose.choices_file().exists() or json.loads(choose.choices_file().read_text()) == {}


def test_a_model_that_fails_at_the_check_size_is_a_backend_refusal_not_a_crash(home, monkeypatch):
    """A network raising at OpenVINO's 45×37 check image (a user's ncnn U-Net that took even
    sizes only) escaped `auto` as an unexpected error: exit 3, and nothing was recorded."""
    monkeypatch.setattr(choose, "ncnn_version", lambda: None)
    model = load_model("span", scale=2)
    real = model.module.forward

    def even_only(x, *args, **kwargs):
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            raise RuntimeError("The size of tensor a (69) must match the size of tensor b (68)")
        return real(x, *args, **kwargs)

    monkeypatch.setattr(model.module, "forward", even_only)
    with pytest.raises(BackendError, match="does not run on a 45×37 check image: The size of tensor a"):
        build_openvino_runner(model, cache=False)


def test_auto_leaves_out_a_backend_that_runs_out_of_memory_while_timed(home, monkeypatch):
    """Under a 2 GB limit the ncnn runtime ran out of memory on the 270² timing tile of a
    64² image, and the whole upscale stopped (exit 2) although torch and OpenVINO ran it;
    nothing was recorded, so every later run stopped the same way."""
    from sr_desktop.engine.models.backends.ncnn_runner import NcnnOutOfMemory

    def short_of_memory(inp):
        raise NcnnOutOfMemory(f"the ncnn runtime ran out of memory on a {inp.shape[3]}×{inp.shape[2]} tile")

    monkeypatch.setattr(choose, "openvino_version", lambda: None)  # torch against the failing ncnn alone
    monkeypatch.setattr(choose, "build_ncnn_runner", lambda model: short_of_memory)
    model = load_model("span", scale=2)
    assert choose.apply_backend(model, "auto") == "torch" and model.runner is None
    (entry,) = json.loads(choose.choices_file().read_text()).values()
    assert entry["backend"] == "torch" and "torch_s" in entry and "ncnn_s" not in entry
    assert entry["reason"].startswith("ncnn: the ncnn runtime ran out of memory on a ")
    x = torch.rand(1, 3, 16, 16)
    assert tuple(model.run(x).shape) == (1, 3, 32, 32)


def test_a_stored_choice_whose_backend_no_longer_builds_is_measured_again(home, monkeypatch):
    """It worked when measured (a library since updated, a cache since removed): `auto`
    measures again without it instead of failing the run."""
    monkeypatch.setattr(choose, "openvino_version", lambda: None)  # ncnn against torch alone
    monkeypatch.setattr(choose, "ncnn_version", lambda: "test")
    monkeypatch.setattr(choose, "can_use_ncnn", lambda model: True)
    model = load_model("span", scale=2)
    choose._save_choice(choose._measure_key(model), {"backend": "ncnn"})

    def broken(_model):
        raise BackendError("the ncnn runtime cannot load span any more")

    monkeypatch.setattr(choose, "build_ncnn_runner", broken)
    assert choose.apply_backend(model, "auto") == "torch" and model.runner is None
    (entry,) = json.loads(choose.choices_file().read_text()).values()
    assert entry["backend"] == "torch" and "cannot load span any more" in entry["reason"]


def test_when_no_backend_runs_the_timing_tile_torch_runs_and_nothing_is_kept(home, monkeypatch):
    """The timing tile is larger than a small image: failing on it (memory) says nothing
    about the image, which torch then runs; measured again next time."""
    monkeypatch.setattr(choose, "openvino_version", lambda: None)
    monkeypatch.setattr(choose, "ncnn_version", lambda: "test")
    monkeypatch.setattr(choose, "can_use_ncnn", lambda model: True)
    monkeypatch.setattr(choose, "build_ncnn_runner", lambda model: lambda x: x)

    def nothing_ran(model, x, runners, cancel=None, failed=None):
        failed.update({name: "out of memory" for name in runners})
        return {}, {}

    monkeypatch.setattr(choose, "_measure", nothing_ran)
    model = load_model("span", scale=2)
    assert choose.apply_backend(model, "auto") == "torch" and model.runner is None
    assert not choose.choices_file().exists() or json.loads(choose.choices_file().read_text()) == {}


def test_openvino_refuses_models_without_a_network(home):
    model = load_model("bicubic", scale=2)
    with pytest.raises(BackendError, match="bicubic"):
        choose.apply_backend(model, "openvino")
    # Pillow resamples it, whatever auto means: reports say so (they said torch)
    assert choose.apply_backend(model, "auto") == choose.apply_backend(model, "torch") == "pillow"


def test_cli_backend_flag(home, tmp_path):
    from PIL import Image

    from sr_desktop.engine.core.paths import RESOURCES_DIR

    src = tmp_path / "in.png"
    Image.open(RESOURCES_DIR / "chelsea.png").convert("RGB").crop((160, 90, 200, 138)).save(src)
    outputs = {}
    for backend in ("torch", "openvino"):
        out = tmp_path / f"{backend}.png"
        proc = subprocess.run(
            [sys.executable, "-m", "sr_desktop", "upscale", str(src), "-o", str(out),
             "--model", "realesr-animevideov3", "--scale", "2", "--backend", backend],
            capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        outputs[backend] = np.asarray(Image.open(out), dtype=np.int16)
    # the 8-bit outputs of the two backends: equal but for rare rounding ties
    diff = np.abs(outputs["torch"] - outputs["openvino"])
    assert diff.max() <= 1 and np.mean(diff > 0) < 0.001
    proc = subprocess.run(
        [sys.executable, "-m", "sr_desktop", "upscale", str(src), "-o", str(tmp_path / "b.png"),
         "--model", "bicubic", "--backend", "openvino"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "openvino" in proc.stderr


@pytest.mark.parametrize(("model_id", "scale", "variant"), [("realesr-animevideov3", 2, None), ("srmdnf", 4, None),
                                                            ("realcugan-se", 2, None)])
def test_ncnn_backend_runs_the_zoo_files_as_the_torch_graph_does(home, model_id, scale, variant):
    from PIL import Image

    from sr_desktop.engine.core.paths import RESOURCES_DIR

    crop = np.asarray(Image.open(RESOURCES_DIR / "chelsea.png").convert("RGB"), np.float32)[90:138, 160:212] / 255
    x = torch.from_numpy(crop.transpose(2, 0, 1).copy())[None]
    model = load_model(model_id, scale=scale, variant=variant)
    with torch.inference_mode():
        expected = model.run(x).numpy()
    assert choose.apply_backend(model, "ncnn") == "ncnn" and model.backend == "ncnn"
    with torch.inference_mode():
        got = model.run(x).numpy()
    assert got.shape == expected.shape
    assert psnr(got, expected) >= 100  # measured 130.8-134.6 dB (the torch graphs are that close to ncnn)


def test_ncnn_backend_refuses_what_is_not_a_zoo_graph(home):
    with pytest.raises(BackendError, match="^--backend ncnn cannot run bicubic: it is a resampling method, not a "
                                           "network \\(use auto or torch\\)$"):
        choose.apply_backend(load_model("bicubic", scale=2), "ncnn")


@pytest.mark.parametrize(("model_id", "backend", "reason"), [
    # in words, with what runs it (it was "bicubic (resample, cpu, float32) cannot use it",
    # "srcnn (cpu, float32) is not one")
    ("bicubic", "openvino", "it is a resampling method, not a network (use auto or torch)"),
    ("srcnn", "ncnn", "it runs the model zoo's own ncnn files"),
    ("srcnn", "openvino", None),
])
def test_a_backend_that_cannot_run_a_model_says_why_in_words(home, model_id, backend, reason):
    model = load_model(model_id, scale=2)
    if reason is None:
        model.dtype = torch.float16  # (what --precision fp16 gives on a GPU)
        reason = "it runs in fp32, and the model was asked for fp16 (use --precision fp32)"
    with pytest.raises(BackendError) as refused:
        choose.apply_backend(model, backend)
    assert str(refused.value).startswith(f"--backend {backend} cannot run {model_id}: {reason}")


def test_a_cached_conversion_runs_without_torch(home):
    """Once converted, a zoo model's OpenVINO graph is found by its ncnn files alone
    (`files_identity`) and runs in a `HostZooModel`: the pixels of the torch-side model."""
    from sr_desktop.engine.imageio.image import Image
    from sr_desktop.engine.models.zoo_host import HostZooModel, load_without_torch
    from sr_desktop.engine.pipeline.upscale import upscale_image

    torch_side = load_model("realesr-animevideov3", scale=2)
    torch_side.runner = build_openvino_runner(torch_side)
    torch_side.backend = "openvino"
    host = load_without_torch("realesr-animevideov3", 2, None, "cpu", "auto", "openvino")
    assert isinstance(host, HostZooModel) and host.backend == "openvino"
    assert host.runner.key == torch_side.runner.key
    rng = np.random.default_rng(0)
    image = Image(rng.integers(0, 256, (30, 41, 3), dtype=np.uint8))
    options = UpscaleOptions(model="realesr-animevideov3", scale=2, tile=16)
    ours, theirs = upscale_image(image, options, model=host), upscale_image(image, options, model=torch_side)
    assert np.array_equal(ours.image.pixels, theirs.image.pixels)


def test_the_files_source_key_is_hashed_once_per_version_of_the_files(home, tmp_path, monkeypatch):
    """`source_key_of_files` is the files' `source_hash`; it reads them again only when their
    size or modification time changed."""
    import os

    from sr_desktop.engine.models.ncnn.param import source_hash

    param, weights = tmp_path / "m.param", tmp_path / "m.bin"
    param.write_text("7767517\n")
    weights.write_bytes(b"\x01" * 1000)
    first = openvino_runner.source_key_of_files(param, weights)
    assert first == source_hash(param.read_bytes(), weights.read_bytes())
    reads = []
    monkeypatch.setattr(openvino_runner, "source_hash", lambda *a: reads.append(a) or source_hash(*a))
    assert openvino_runner.source_key_of_files(param, weights) == first
    assert reads == []
    weights.write_bytes(b"\x02" * 1000)  # same size: the modification time tells
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = openvino_runner.source_key_of_files(param, weights)
    assert len(reads) == 1 and second == source_hash(param.read_bytes(), weights.read_bytes()) != first


def test_an_openvino_inference_stops_when_its_job_is_cancelled():
    """Inside a job (`cancel_scope`) an inference stops within a poll of Cancel (the tiler
    waited for the tile); a cancelled job starts none; the runner is usable afterwards."""
    import threading
    import time

    import numpy as np
    import openvino.opset13 as ops

    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import CancelToken, cancel_scope

    x = param = ops.parameter([1, 3, -1, -1], np.float32)
    weights = ops.constant(np.full((3, 3, 3, 3), 1 / 27, np.float32))
    for _ in range(60):  # a third of a second or more for 1500² on two cores
        x = ops.convolution(x, weights, [1, 1], [1, 1], [1, 1], [1, 1])
    graph = ov.Model([x], [param])
    runner = openvino_runner.OpenVinoRunner(graph, 2, "test")
    image = np.ones((1, 3, 1500, 1500), np.float32)
    token = CancelToken()
    token.cancel()
    with cancel_scope(token), pytest.raises(Cancelled):
        runner.run_array(image)
    token = CancelToken()
    threading.Timer(0.05, token.cancel).start()
    start = time.perf_counter()
    with cancel_scope(token), pytest.raises(Cancelled):
        runner.run_array(image)
    stopped = time.perf_counter() - start
    # outside a job, an input of another size: exactly what a fresh runner gives (the compiled
    # model a cancel left gave other pixels, then failed "Eltwise shape infer … mismatch", for
    # every job that shared it)
    other = np.random.default_rng(0).random((1, 3, 64, 48), dtype=np.float32)
    out = runner.run_array(other)
    assert np.array_equal(out, openvino_runner.OpenVinoRunner(graph, 2, "fresh").run_array(other))
    whole = time.perf_counter()
    runner.run_array(image)
    assert stopped < time.perf_counter() - whole  # (stopped before the end)


def test_a_cancelled_openvino_upscale_leaves_the_shared_model_sound(home):
    """Esc on one upscale left the OpenVINO model that the window's other jobs share unsound:
    the next image of another size came out with other pixels, then every job failed with
    "Eltwise shape infer input shapes dim index: 2 mismatch" for the rest of the session."""
    import threading

    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import CancelToken
    from sr_desktop.engine.imageio.image import Image
    from sr_desktop.engine.pipeline.upscale import UpscaleOptions, upscale_image

    rng = np.random.default_rng(0)
    large = Image(rng.integers(0, 256, (320, 320, 3), dtype=np.uint8))
    small = Image(rng.integers(0, 256, (96, 72, 3), dtype=np.uint8))
    options = UpscaleOptions(model="span", scale=2, backend="openvino", tile=0)
    expected = upscale_image(small, options).image.pixels
    cancelled = 0
    for _ in range(3):
        token = CancelToken()
        threading.Timer(0.15, token.cancel).start()
        try:
            upscale_image(large, options, cancel=token)
        except Cancelled:
            cancelled += 1
        assert np.array_equal(upscale_image(small, options).image.pixels, expected)
    assert cancelled  # (a machine fast enough to finish 320² in 0.15 s would not test it)


def test_a_first_openvino_conversion_asked_for_is_announced(tmp_path, monkeypatch):
    """`--backend openvino` converted a model for seconds with the window saying only
    "elapsed"; `auto` said so. A conversion read from the cache is not announced."""
    from sr_desktop.engine.core.progress import BACKEND_STAGE

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    heard = []
    for _ in range(2):
        model = load_model("fsrcnn", scale=2)
        assert choose.apply_backend(model, "openvino", heard.append) == "openvino"
    assert [(info.stage, info.message) for info in heard] == [
        (BACKEND_STAGE, "first use of fsrcnn's ×2 network: converting it to OpenVINO")]


def test_a_line_said_during_a_bar_stands_on_its_own(capsys):
    """`train`'s validation lines were printed onto the bar's line, which then stood in the
    scrollback once per validation."""
    from sr_desktop.cli.progress_bar import TerminalProgress
    from sr_desktop.engine.core.progress import ProgressInfo

    bar = TerminalProgress("training", enabled=True, unit="it")
    bar(ProgressInfo(3, 10, 1.0, 2.0, "training"))
    bar.say("it 3/10: validation PSNR-Y 30.00 dB")
    bar.close()
    assert "it 3/10: validation PSNR-Y 30.00 dB" in capsys.readouterr().err.splitlines()


def test_a_stop_the_converter_swallowed_still_stops(tmp_path, monkeypatch):
    """SIGTERM inside one of OpenVINO's callbacks into torch came back as nothing at all: the
    conversion succeeded and `upscale` ran to its end with status 0."""
    from sr_desktop.engine.core import interrupt

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    real_convert = ov.convert_model

    def convert_swallowing_a_signal(*args, **kwargs):
        try:
            interrupt.interrupt_handler()  # the signal arrives in a callback…
        except KeyboardInterrupt:
            pass  # …and the library's C++ side takes it for an error of its own and goes on
        return real_convert(*args, **kwargs)

    monkeypatch.setattr(ov, "convert_model", convert_swallowing_a_signal)
    try:
        with pytest.raises(KeyboardInterrupt):
            build_openvino_runner(load_model("fsrcnn", scale=2))
    finally:
        interrupt.forget_stop_request()


def test_an_interrupted_save_of_a_conversion_leaves_no_staging_folder(tmp_path, monkeypatch):
    """Ctrl+C while the conversion was written left its staging folder (tens of MB) for good:
    only an error of the file system removed it."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ov, "save_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_openvino_runner(load_model("fsrcnn", scale=2))
    assert [p.name for p in openvino_runner.cache_root().iterdir()] == []


def test_a_refused_model_is_refused_at_once_until_openvino_or_the_code_changes(home, monkeypatch):
    """`--backend openvino` on a model OpenVINO cannot convert converted it again at every run
    (4-7 s of a SwinIR's) to the same refusal: the refusal is remembered, with its words, for
    the OpenVINO and models' code it was found with; one that may be the machine's (out of
    memory) is not; a removed model's goes with it."""
    from sr_desktop.engine.models.model_caches import forget_model_caches

    calls = []

    def refuses(*_args, **_kwargs):
        calls.append(1)
        raise RuntimeError("unsupported operation aten::frobnicate")

    monkeypatch.setattr(ov, "convert_model", refuses)
    first = "OpenVINO cannot convert espcn: unsupported operation aten::frobnicate (--backend torch or auto runs it)"
    for _ in range(2):
        with pytest.raises(BackendError) as caught:
            choose.apply_backend(load_model("espcn", scale=3), "openvino")
        assert str(caught.value) == first
    assert len(calls) == 1
    assert openvino_refusals.refusal_for("espcn", 3, "default").startswith("OpenVINO cannot convert espcn")
    assert openvino_refusals.refusal_for("espcn", 2, "default") is None  # (another network)
    monkeypatch.setattr(openvino_runner, "models_code_digest", lambda: "another release")
    with pytest.raises(BackendError):
        choose.apply_backend(load_model("espcn", scale=3), "openvino")
    assert len(calls) == 2  # tried again
    assert openvino_refusals.refusal_for("espcn", 3, "default") is not None
    forget_model_caches("espcn")
    assert openvino_refusals.refusal_for("espcn", 3, "default") is None

    def short_of_memory(*_args, **_kwargs):
        calls.append(1)
        raise RuntimeError("std::bad_alloc")

    monkeypatch.setattr(ov, "convert_model", short_of_memory)
    for _ in range(2):
        with pytest.raises(BackendError, match="bad_alloc"):
            choose.apply_backend(load_model("espcn", scale=3), "openvino")
    assert len(calls) == 4 and openvino_refusals.refusal_for("espcn", 3, "default") is None


def test_a_cancel_during_the_check_is_no_refusal(tmp_path, monkeypatch):
    """A Cancel landing in the model's run on the check image came back as "does not run on
    a 40×40 check image: cancelled", a refusal, which is now remembered: OpenVINO would have
    been refused for that model for good. It stays a cancel, and nothing is kept."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))  # (no conversion of it cached: it is checked)
    model = load_model("span", scale=2)

    def cancelled(*_args, **_kwargs):
        raise Cancelled()

    monkeypatch.setattr(model.module, "forward", cancelled)
    with pytest.raises(Cancelled):
        build_openvino_runner(model)
    assert not openvino_refusals.refusals_file().exists() or openvino_refusals.refusal_for("span", 2, "ch48") is None
