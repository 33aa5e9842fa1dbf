"""bpfhook.trace: bpftrace programs through bpfhook's own compiler, output collected."""

import os
import threading
import time

import pytest

import bpfhook


def test_trace_collects_printf_and_exit():
    out = bpfhook.trace('BEGIN { printf("hello from trace %d\\n", 42); exit(); }')
    assert out == "hello from trace 42\n"


def test_trace_prints_maps_at_the_end():
    pid = os.getpid()

    def calls():
        time.sleep(0.5)
        for _ in range(3):
            os.getppid()

    worker = threading.Thread(target=calls)
    worker.start()
    out = bpfhook.trace("tracepoint:syscalls:sys_enter_getppid /pid == %d/ { @calls = count(); }"
                        % pid, duration=1.5)
    worker.join()
    assert "@calls: 3" in out, out


def test_trace_errors_are_bpftrace_style():
    with pytest.raises(bpfhook.BpfError, match="stdin:1"):
        bpfhook.trace("BEGIN { undefined_function(); }")
