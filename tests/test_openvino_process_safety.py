"""What OpenVINO does to the process it runs in, undone: its CPU plugin swaps the thread's
alternate signal stack when it compiles a graph and puts back what it found when the graph
is released (released out of order, that was an unmapped stack, and the next Ctrl+C killed
the process with SIGSEGV, exit 139); it reports to Google Analytics when imported and at
every conversion unless the user opted out."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from sr_desktop.engine.models.backends import openvino_runner, signal_stack

if openvino_runner.openvino_version() is None:
    pytest.skip("OpenVINO is not installed", allow_module_level=True)
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the stack is kept on Linux only")
ROOT = Path(__file__).resolve().parents[1]

CTRL_C_AFTER_RELEASES = textwrap.dedent("""
    import gc, os, signal, sys
    from sr_desktop.engine.models.backends import openvino_runner
    from sr_desktop.engine.models.loader import load_model

    if sys.argv[1] == "unguarded":
        openvino_runner.keep_signal_stack_valid = lambda: None
    first = load_model("span", scale=4, variant="ch52")
    first.runner = openvino_runner.build_openvino_runner(first)
    second = load_model("realesr-animevideov3", scale=2)
    second.runner = openvino_runner.build_openvino_runner(second)
    del first; gc.collect()
    del second; gc.collect()  # released out of order
    heard = []
    signal.signal(signal.SIGINT, lambda *_: heard.append("SIGINT"))
    os.kill(os.getpid(), signal.SIGINT)
    print("handled:", heard, flush=True)
""")


def _python(code: str, *args: str, home: Path, **env_changes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}
    env.update(PYTHONPATH=str(ROOT), SR_DESKTOP_HOME=str(home), **env_changes)
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300)


@linux_only
def test_ctrl_c_after_graphs_released_out_of_order_is_handled(tmp_path):
    guarded = _python(CTRL_C_AFTER_RELEASES, "guarded", home=tmp_path)
    assert guarded.returncode == 0, (guarded.returncode, guarded.stderr[-2000:])
    assert "handled: ['SIGINT']" in guarded.stdout
    # the same without the lasting stack: the fault this guards against (exit -11, SIGSEGV)
    unguarded = _python(CTRL_C_AFTER_RELEASES, "unguarded", home=tmp_path)
    if unguarded.returncode == 0:
        pytest.skip("this OpenVINO no longer leaves an unmapped signal stack: signal_stack.py may go")
    assert unguarded.returncode == -11, (unguarded.returncode, unguarded.stderr[-2000:])


@linux_only
def test_each_thread_gets_a_stack_of_its_own_that_stays():
    signal_stack.keep_signal_stack_valid()
    main = signal_stack.current_signal_stack()
    ours = ctypes.addressof(signal_stack._stacks[threading.get_ident()])
    assert main == (ours, signal_stack.STACK_BYTES)
    signal_stack.keep_signal_stack_valid()
    assert signal_stack.current_signal_stack() == main  # the same stack again, not a new one
    seen = []

    def other():
        seen.append(signal_stack.current_signal_stack())  # a new thread has none
        signal_stack.keep_signal_stack_valid()
        seen.append(signal_stack.current_signal_stack())

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen[0] is None
    assert seen[1] is not None and seen[1][0] != main[0] and seen[1][1] == signal_stack.STACK_BYTES


CONVERT = textwrap.dedent("""
    import sys
    if sys.argv[1] == "telemetry imported first":
        import openvino_telemetry  # as another library in the process might
    from sr_desktop.engine.models.backends import openvino_runner
    from sr_desktop.engine.models.loader import load_model

    print("openvino", openvino_runner.openvino_version())
    model = load_model("realesr-animevideov3", scale=2)
    model.runner = openvino_runner.build_openvino_runner(model, cache=False)
""")


def test_importing_openvino_and_converting_a_model_send_nothing(tmp_path):
    """The telemetry writes its client id under ~/intel before it sends anything: nothing
    there means nothing was sent. A user, not CI (CI runs are exempt from it)."""
    home = tmp_path / "user-home"
    home.mkdir()
    done = _python(CONVERT, "app", home=tmp_path / "sr", HOME=str(home))
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (home / "intel").exists(), sorted(p.name for p in (home / "intel").iterdir())
    # the check can see a report: with the telemetry imported before the app, `import
    # openvino` reports once (the converter's own reports are still stubbed, not counted here)
    other = tmp_path / "other-home"
    other.mkdir()
    reported = _python(CONVERT, "telemetry imported first", home=tmp_path / "sr2", HOME=str(other))
    assert reported.returncode == 0, reported.stderr[-2000:]
    assert (other / "intel").is_dir()
