"""Shared helpers: run a script under the installed bpfhook, wait for its first line, make
the activity it traces, and collect everything it printed."""

import os
import subprocess
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def unique(prefix):
    """A name no parallel test uses."""
    return "%s_%d_%s" % (prefix, os.getpid(), uuid.uuid4().hex[:8])


def run_script(path, args=(), trigger=None, ready_line=None, stop_after=None, timeout=30):
    """Runs a Python script; once it prints `ready_line` (or its first line), calls
    `trigger()`; returns (exit code, stdout, stderr). `stop_after`: lines to read after the
    trigger before stopping the script (for scripts that loop forever)."""
    proc = subprocess.Popen([sys.executable, path, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        while True:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if ready_line is None or ready_line in line:
                break
        if trigger is not None and proc.poll() is None:
            trigger()
        if stop_after is not None:
            for _ in range(stop_after):
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
            proc.terminate()
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(lines) + out, err


@pytest.fixture
def tool():
    def run(name, *args, **kwargs):
        return run_script(os.path.join(HERE, "tools", name), args, **kwargs)
    return run
