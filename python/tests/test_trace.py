"""bpfhook.trace: bpftrace programs through bpfhook's own compiler, output collected."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import bpfhook


def test_trace_collects_printf_and_exit():
    out = bpfhook.trace('BEGIN { printf("hello from trace %d\\n", 42); exit(); }')
    # As bpftrace prints it: the run's output, then the two empty lines that end a run.
    assert out == "hello from trace 42\n\n\n"


def test_trace_prints_maps_at_the_end():
    pid = os.getpid()
    done = threading.Event()

    def calls():
        # Until the program has seen one (attaching takes a moment).
        while not done.is_set():
            os.getppid()
            time.sleep(0.01)

    worker = threading.Thread(target=calls)
    worker.start()
    try:
        out = bpfhook.trace("tracepoint:syscalls:sys_enter_getppid /pid == %d/ "
                            "{ @calls = count(); @last = tid; exit(); }" % pid, duration=20)
    finally:
        done.set()
        worker.join()
    assert "@calls: 1\n" in out, out
    assert "@last: %d\n" % worker.native_id in out, out


def test_trace_duration_ends_a_program_without_exit():
    started = time.time()
    out = bpfhook.trace("interval:ms:100 { @ticks = count(); }", duration=0.5)
    assert time.time() - started < 5
    assert "@ticks: " in out, out


def test_trace_errors_are_bpftrace_style():
    with pytest.raises(bpfhook.BpfError, match="stdin:1"):
        bpfhook.trace("BEGIN { undefined_function(); }")


def test_ctrl_c_stops_a_trace(tmp_path):
    script = tmp_path / "trace.py"
    script.write_text(
        "import bpfhook\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        "    bpfhook.trace('interval:ms:50 { @n = count(); }')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert out.strip() == "interrupted" and proc.returncode == 0
