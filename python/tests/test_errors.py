"""Errors become BpfError with the library's text, and nothing stays attached after them."""

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from bpfhook import BpfError
from bpfhook.bcc import BPF
from conftest import unique


def loaded_program_names():
    shown = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                           check=True)
    return {p.get("name", "") for p in json.loads(shown.stdout)}


def test_compile_error_carries_clang_diagnostics():
    with pytest.raises(BpfError) as raised:
        BPF(text="int broken(void *ctx) { return undefined_thing; }\n")
    message = str(raised.value)
    assert "<text>:1:" in message and "undefined_thing" in message and "error:" in message


def test_verifier_rejection_carries_the_log():
    b = BPF(text="int reads_null(void *ctx) { return *(int *)0; }\n")
    with b, pytest.raises(BpfError) as raised:
        b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="reads_null")
    assert "Verifier log" in str(raised.value)


def test_unknown_function_and_tracepoint_are_named():
    with BPF(text="int f(void *ctx) { return 0; }\n") as b:
        with pytest.raises(BpfError, match="no function `nope`"):
            b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="nope")
        with pytest.raises(BpfError, match="no_such_event"):
            b.attach_tracepoint(tp="syscalls:no_such_event", fn_name="f")
        assert b.num_open_tracepoints() == 0


def test_kfunc_and_lsm_fail_with_a_clear_reason():
    with pytest.raises(BpfError, match="fentry"):
        BPF(text="KFUNC_PROBE(do_sys_openat2) { return 0; }\n")
    with pytest.raises(BpfError, match="LSM"):
        BPF(text="LSM_PROBE(file_open, struct file *file) { return 0; }\n")
    assert not BPF.support_kfunc()


def test_missing_tracepoint_probe_is_an_error():
    with pytest.raises(BpfError, match="does not exist"):
        BPF(text="TRACEPOINT_PROBE(nosuchcat, nosuchevent) { return 0; }\n")


def test_cleanup_and_context_manager_detach_everything():
    name = unique("ctx")[:12]
    text = "int %s(void *ctx) { return 0; }\n" % name
    with BPF(text=text) as b:
        b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name=name)
        assert b.num_open_tracepoints() == 1
        assert any(n.startswith(name) for n in loaded_program_names())
    assert not any(n.startswith(name) for n in loaded_program_names())


def test_interrupted_script_leaves_nothing_attached(tmp_path):
    name = unique("intr")[:12]
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        from bpfhook.bcc import BPF
        b = BPF(text="int %s(void *ctx) { bpf_trace_printk(\\"x\\\\n\\"); return 0; }")
        b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="%s")
        print("ready", flush=True)
        b.trace_print()
    """ % (name, name)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    assert any(n.startswith(name) for n in loaded_program_names())
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)
    assert proc.returncode != 0
    assert not any(n.startswith(name) for n in loaded_program_names())


def test_auto_attached_kprobe_fails_at_load_and_leaves_nothing():
    name = unique("kp")[:10]
    with pytest.raises(BpfError, match="CONFIG_KPROBES"):
        BPF(text="int kprobe__do_sys_openat2(struct pt_regs *ctx) { return 0; }\n"
                 "int %s(void *ctx) { return 0; }\n" % name)
    assert not any(n.startswith(name) for n in loaded_program_names())


def test_ctrl_c_stops_a_blocking_perf_buffer_poll(tmp_path):
    name = unique("poll")[:12]
    script = tmp_path / "poll.py"
    script.write_text(textwrap.dedent("""
        from bpfhook.bcc import BPF
        b = BPF(text="BPF_PERF_OUTPUT(events); int %s(void *ctx) { return 0; }")
        b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name="%s")
        b["events"].open_perf_buffer(lambda cpu, data, size: None)
        try:
            print("ready", flush=True)
            b.perf_buffer_poll()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """ % (name, name)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert out.strip() == "interrupted" and proc.returncode == 0
    assert not any(n.startswith(name) for n in loaded_program_names())


def test_dropping_the_last_reference_detaches():
    name = unique("drop")[:12]
    b = BPF(text="BPF_HASH(m); int %s(void *ctx) { return 0; }\n" % name)
    b.attach_tracepoint(tp="syscalls:sys_enter_getppid", fn_name=name)
    table = b["m"]
    assert any(n.startswith(name) for n in loaded_program_names())
    del b  # the table does not keep it alive
    assert not any(n.startswith(name) for n in loaded_program_names())
    with pytest.raises(ReferenceError):
        table.items()
