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


def test_src_file_and_bytes_arguments(tmp_path):
    from bpfhook.bcc import BPF

    source = tmp_path / "hello.c"
    source.write_text('int hello_world(void *ctx) {\n'
                      '    bpf_trace_printk("Hello, World from a file!\\n");\n'
                      '    return 0;\n}\n')
    with BPF(src_file=str(source).encode()) as b:
        b.attach_tracepoint(tp=b"syscalls:sys_enter_execve", fn_name=b"hello_world")
        subprocess.run(["/bin/true"], check=True)
        task, pid, cpu, flags, ts, msg = b.trace_fields()
        while msg != b"Hello, World from a file!":
            task, pid, cpu, flags, ts, msg = b.trace_fields()
        assert isinstance(pid, int) and ts > 0
