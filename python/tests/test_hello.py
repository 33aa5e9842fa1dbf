"""The seed tutorial's hello_bcc.py with only its import changed."""

import os
import subprocess

from conftest import HERE, run_script


def test_seed_kprobe_form_ends_with_the_clear_kprobe_error():
    code, out, err = run_script(os.path.join(HERE, "seeds", "hello_bcc.py"))
    assert code != 0
    assert "kprobes not available on this kernel" in err
    assert "CONFIG_KPROBES" in err
    assert "Attaching..." not in out


def test_seed_tracepoint_form_prints_the_greeting():
    code, out, err = run_script(
        os.path.join(HERE, "seeds", "hello_bcc_tracepoint.py"),
        ready_line="Attaching...",
        trigger=lambda: subprocess.run(["/bin/true"], check=True),
        stop_after=1,
    )
    assert "Hello from BCC!" in out, err
    greeting = [line for line in out.splitlines() if "Hello from BCC!" in line][0]
    assert "bpf_trace_printk: Hello from BCC!" in greeting
