"""A lasting alternate signal stack for each thread that compiles or runs an OpenVINO graph.

OpenVINO's CPU plugin (2026.4, Linux) gives the thread that compiles a graph an alternate
signal stack of its own (one per `ov.Core`) and, when it is released, puts back the stack it
found there if its own is still the current one. Released in another order than compiled,
it puts back the stack of a graph already released, which is unmapped by then, and the next
signal handled on that thread kills the process with SIGSEGV instead of running the handler:
Python installs its handlers (Ctrl+C's included) to run on the alternate stack. Measured
here: two zoo models compiled, the first released, then the second, then SIGINT: exit 139.

`keep_signal_stack_valid`, called before and after each compile and before each run, gives
the calling thread a stack that is never freed: the plugin's own is never left current, and
what it finds, and may later put back, is always mapped.
"""

from __future__ import annotations

import ctypes
import functools
import sys
import threading

#: bytes of each thread's stack: more than the plugin's own (11,568 on an AVX-512 CPU) and
#: than Python's faulthandler needs
STACK_BYTES = 64 * 1024

#: stack_t.ss_flags: the thread has no alternate stack
SS_DISABLE = 2

_lock = threading.Lock()
#: thread ident -> its stack; never freed (a reused ident reuses the stack of a thread that
#: has ended), because a released graph may put it back at any later time
_stacks: dict[int, ctypes.Array] = {}


class _StackT(ctypes.Structure):
    # Linux's stack_t on x86-64 and ARM64 (glibc and musl); macOS and MIPS order the fields differently
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


@functools.lru_cache(maxsize=1)
def _sigaltstack():
    if not sys.platform.startswith("linux"):
        return None
    try:
        call = ctypes.CDLL(None, use_errno=True).sigaltstack
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.POINTER(_StackT), ctypes.POINTER(_StackT)]
    call.restype = ctypes.c_int
    return call


def current_signal_stack() -> tuple[int, int] | None:
    """(address, size) of the calling thread's alternate signal stack; None when it has none
    or this platform is not handled."""
    call = _sigaltstack()
    if call is None:
        return None
    stack = _StackT()
    if call(None, ctypes.byref(stack)) != 0 or stack.ss_flags & SS_DISABLE:
        return None
    return int(stack.ss_sp or 0), int(stack.ss_size)


def keep_signal_stack_valid() -> None:
    """Give the calling thread its lasting alternate signal stack (Linux; elsewhere nothing)."""
    call = _sigaltstack()
    if call is None:
        return
    ident = threading.get_ident()
    with _lock:
        buffer = _stacks.get(ident)
        if buffer is None:
            buffer = _stacks[ident] = ctypes.create_string_buffer(STACK_BYTES)
    stack = _StackT(ctypes.cast(buffer, ctypes.c_void_p), 0, STACK_BYTES)
    call(ctypes.byref(stack), None)  # fails only while running on the alternate stack: left as it is
