"""``sr-desktop devices`` and the ``--device`` values the commands take."""

from __future__ import annotations

import json

import pytest

from sr_desktop.cli.main import main
from sr_desktop.engine.compute.devices import VulkanGPU
from sr_desktop.engine.models.backends import inventory, ncnn_runner


def test_devices_lists_the_cpu_and_each_vulkan_gpu_with_its_device_value(capsys, monkeypatch):
    gpus = (VulkanGPU(0, "Radeon A"), VulkanGPU(1, "Arc B", "integrated"))
    monkeypatch.setattr(inventory, "vulkan_gpus", lambda: gpus)
    assert main(["devices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_device = {d["device"]: d for d in data["devices"]}
    assert by_device["cpu"]["available"] and "every model" in by_device["cpu"]["runs"]
    assert by_device["vulkan:0"]["name"] == "Radeon A (Vulkan 0)" and by_device["vulkan:1"]["available"]
    assert "zoo" in by_device["vulkan:1"]["runs"]
    assert set(data["libraries"]) == {"torch", "openvino", "ncnn"}
    assert data["libraries"]["ncnn"] == ncnn_runner.ncnn_version()
    # the table: one line per device, the value first
    assert main(["devices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("cpu ") and any(line.startswith("vulkan:1  Arc B (Vulkan 1)") for line in lines)
    assert lines[-1].startswith("libraries: torch ")


def test_devices_says_why_a_family_is_absent(capsys, monkeypatch):
    monkeypatch.setattr(inventory, "vulkan_gpus", lambda: ())
    assert main(["devices", "--json"]) == 0
    by_device = {d["device"]: d for d in json.loads(capsys.readouterr().out)["devices"]}
    assert not by_device["vulkan"]["available"] and "finds none" in by_device["vulkan"]["name"]
    import torch

    if not torch.cuda.is_available():
        assert not by_device["cuda"]["available"] and by_device["cuda"]["name"]


@pytest.mark.parametrize("argv, message", [
    (["upscale", "x.png", "--device", "tpu"], "unknown device 'tpu'"),
    (["train", "--device", "vulkan", "--arch", "srcnn", "--data", "x"], "runs only the model zoo's models"),
    (["kernel", "x.png", "-o", "k.npy", "--device", "vulkan:1"], "runs only the model zoo's models"),
])
def test_a_bad_device_is_a_usage_error_of_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_numbered_gpus_are_accepted_on_the_command_line(tmp_path, capsys, monkeypatch):
    """``--device cuda:N`` / ``vulkan:N`` parse (and fail later, with one line, where absent)."""
    monkeypatch.setattr(ncnn_runner, "vulkan_gpus", lambda: (VulkanGPU(0, "Radeon A"),))
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    code = main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--model", "span",
                 "--device", "vulkan:3"])
    assert code == 2
    assert "vulkan:3: there are only 1 Vulkan GPU(s) (0: Radeon A)" in capsys.readouterr().err


def test_a_device_the_machine_lacks_is_refused_where_nothing_would_run_on_it(tmp_path, capsys):
    """`bench --device cuda` with MATLAB's bicubic alone (numpy) and `kernel --method
    sharpness --device cuda` (the fit alone) ran on the CPU without a word on a machine
    without CUDA, where every other command refuses. (cuda:99: no machine here has 100.)"""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "set").mkdir()
    Image.fromarray((rng.random((96, 96, 3)) * 255).astype(np.uint8)).save(tmp_path / "set" / "a.png")
    for argv in (["bench", "--dataset", str(tmp_path / "set"), "--scale", "2", "--device", "cuda:99"],
                 ["kernel", str(tmp_path / "set" / "a.png"), "-o", str(tmp_path / "k.npy"), "--method", "sharpness",
                  "--device", "cuda:99"]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert "CUDA" in captured.err and captured.err.count("\n") == 1 and captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_one_cpu_thread_is_said_in_the_singular():
    # the status line, the result label and the metrics panel said "CPU (1 threads)"
    import torch

    from sr_desktop.engine.compute import devices
    from sr_desktop.engine.core.text import counted

    assert counted(1, "thread") == "1 thread" and counted(2, "thread") == "2 threads"
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert devices.describe_device(torch.device("cpu")) == "CPU (1 thread)"
    finally:
        torch.set_num_threads(before)


def test_forget_backends_drops_every_measured_choice(tmp_path, capsys, monkeypatch):
    """A choice measured on a busy machine was kept until the versions changed: deleting
    backends.json by hand was the only way to measure again."""
    from sr_desktop.engine.models.backends import choose

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    choose.choices_file().parent.mkdir(parents=True, exist_ok=True)
    keys = [choose.measure_key(model, 2, "default", 2, "2.13.0", True) for model in ("span", "realcugan-se")]
    choose.choices_file().write_text(json.dumps({key: {"backend": "torch"} for key in keys}))
    assert main(["devices", "--forget-backends"]) == 0
    assert capsys.readouterr().out == f"forgot 2 measured backend choices ({choose.choices_file()})\n"
    assert json.loads(choose.choices_file().read_text()) == {}
    assert main(["devices", "--forget-backends"]) == 0 and "forgot 0 measured" in capsys.readouterr().out
    choose.choices_file().write_text(json.dumps({keys[0]: {"backend": "torch"}}))
    assert main(["devices", "--forget-backends", "--json"]) == 0  # (it printed the sentence)
    assert json.loads(capsys.readouterr().out) == {"forgotten": 1, "file": str(choose.choices_file())}


def test_the_cpu_is_described_without_waiting_for_a_torch_import_under_way(monkeypatch):
    """The window imports torch on a thread of its own; a label describing the CPU meanwhile
    did ``import torch`` too and waited for the rest of it: 1.2-2.9 s of a frozen window."""
    import sys
    import types
    from importlib.machinery import ModuleSpec

    from sr_desktop.engine.compute import devices
    from sr_desktop.engine.core.text import counted

    half_imported = types.ModuleType("torch")
    half_imported.__spec__ = ModuleSpec("torch", None)
    half_imported.__spec__._initializing = True  # what the import system sets while it runs
    monkeypatch.setitem(sys.modules, "torch", half_imported)
    assert not devices.torch_imported()
    assert devices.describe_device("cpu") == f"CPU ({counted(devices.torch_default_threads(), 'thread')})"
    monkeypatch.undo()
    assert devices.torch_imported()


@pytest.mark.parametrize(("version", "said"), [
    ("2.13.0+cpu", "CUDA was requested but torch 2.13.0+cpu is a CPU-only build "
              "(install a CUDA build of torch, or use --device cpu or auto)"),
    ("2.13.0+cu128", "CUDA was requested but no GPU driver on this machine"),
])
def test_cuda_asked_for_says_why_it_is_absent(version, said, monkeypatch):
    """"no CUDA GPU is available" sent the owner of an NVIDIA card with a CPU-only torch to
    the hardware; `sr-desktop devices` already knew the cause."""
    import sys

    import torch

    from sr_desktop.engine.compute import devices
    from sr_desktop.engine.core.errors import DeviceError

    monkeypatch.setattr(devices, "installed_torch_version", lambda: version)
    monkeypatch.setattr(devices, "GPU_DRIVER_PATHS", ("/nonexistent/nvidia0",))  # no driver
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError) as caught:
        devices.resolve_device("cuda")
    assert str(caught.value).startswith(said)
