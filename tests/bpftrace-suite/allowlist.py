"""Writes the allowlist for bpftrace's runtime suite: every test of the chosen suites except
those this machine's kernel cannot run, which go to the skipped file with the reason.

Runs inside the copied suite (cwd = tests/) with its engine on PYTHONPATH, so the tests are
read by the suite's own parser."""

import argparse
import os
import re
import shutil
import subprocess

from parser import TestParser

START = r"(^|[\s,{}'\"])"
KPROBE = re.compile(START + r"(kprobe|kretprobe|k|kr)[:*]")
TRAMPOLINE = re.compile(START + r"(fentry|fexit|kfunc|kretfunc|f|fr)[:*]")
UNSUPPORTED_KINDS = re.compile(START + r"(watchpoint|w|asyncwatchpoint|aw):")


# `uprobe:BIN@FILE:LINE`: a probe placed by the DWARF line table.
SOURCE_LOCATION = re.compile(START + r"(uprobe|u):[^\s:{]+@[^\s:{]+:\d+")
SCRIPT = re.compile(r"runtime/scripts/[\w.-]+")
LISTS_KERNEL_FUNCTIONS = re.compile(r"(-l|--list)\b.*\bgrep (kprobe|fentry)")


def kernel_features():
    """`name: yes|no` lines of `bpftrace --info` (bpfhook's feature probes)."""
    info = subprocess.run([os.environ["BPFTRACE_RUNTIME_TEST_EXECUTABLE"], "--info"],
                          capture_output=True, text=True).stdout
    return dict(line.strip().split(": ", 1) for line in info.splitlines() if ": " in line)


FEATURES = kernel_features()
# Data symbols appear in /proc/kallsyms only with CONFIG_KALLSYMS_ALL; percpu_kaddr needs them.
KALLSYMS_HAS_DATA = any(line.split()[2:3] == ["runqueues"] for line in open("/proc/kallsyms"))


def reason(test):
    text = " ".join(filter(None, [test.prog, test.run]))
    # A RUN line may name a script: its probes count too.
    for script in SCRIPT.findall(test.run or ""):
        try:
            text += " " + open(script).read()
        except OSError:
            pass
    if LISTS_KERNEL_FUNCTIONS.search(test.run or ""):
        return ("lists kprobe/fentry functions: kprobes are off and the traceable-function list "
                "(available_filter_functions) is unreadable here (bpftrace 0.17 lists none either)")
    if "write_user(" in text and "--unsafe" in text and FEATURES.get("probe_write_user") == "no":
        return "needs bpf_probe_write_user, which kernel lockdown withholds here (--info: probe_write_user: no)"
    if "percpu_kaddr(" in text and not KALLSYMS_HAS_DATA:
        return "percpu_kaddr needs data symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL is off here)"
    if KPROBE.search(text):
        return "needs kprobes: CONFIG_KPROBES is off on this kernel"
    if TRAMPOLINE.search(text):
        return "needs BPF trampolines (fentry/fexit): loads fail with EPERM on this kernel"
    if "kprobe" in test.feature_requirement or "kprobe_multi" in test.feature_requirement:
        return "needs kprobes: CONFIG_KPROBES is off on this kernel"
    if UNSUPPORTED_KINDS.search(text):
        return "probe kind not supported by bpfhook trace yet (watchpoint)"
    if SOURCE_LOCATION.search(text):
        return "uprobe source locations (BIN@FILE:LINE) are not supported by bpfhook trace yet"
    if "aot" in test.feature_requirement or "--aot" in text:
        return "ahead-of-time compilation is a bpftrace build feature"
    return None


def missing_command(test):
    """A command the test's SETUP/BEFORE/AFTER lines run that is not installed (`ping`: the
    suite's traffic generator, Debian's iputils-ping)."""
    lines = [test.setup, test.after, *(test.befores or [])]
    for line in filter(None, lines):
        program = line.split()[0]
        if "/" not in program and shutil.which(program) is None:
            return program
    return None


def needs_traffic(test):
    return bool(test.befores or test.after or test.setup)


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--fast", type=int, default=0)
    args.add_argument("--out")
    args.add_argument("--skipped")
    args.add_argument("suites", nargs="+")
    options = args.parse_args()
    allowed, skipped = [], []
    for suite in options.suites:
        _, tests = TestParser.read("./runtime/" + suite)
        for test in tests:
            name = f"{suite}.{test.name}"
            why = reason(test)
            if why is None and options.fast and needs_traffic(test):
                why = "needs traffic (left out of the fast run)"
            if why is None and missing_command(test):
                why = f"runs `{missing_command(test)}`, which is not installed here"
            if why:
                skipped.append(f"{name}\t{why}")
            else:
                allowed.append(name)
    with open(options.out, "w") as f:
        f.write("\n".join(allowed) + "\n")
    with open(options.skipped, "w") as f:
        f.write("\n".join(skipped) + "\n")


if __name__ == "__main__":
    main()
