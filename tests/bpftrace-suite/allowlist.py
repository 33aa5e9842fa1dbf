"""Writes the allowlist for bpftrace's runtime suite: every test of the chosen suites except
those this machine's kernel cannot run, which go to the skipped file with the reason.

Runs inside the copied suite (cwd = tests/) with its engine on PYTHONPATH, so the tests are
read by the suite's own parser."""

import argparse
import re

from parser import TestParser

START = r"(^|[\s,{}'\"])"
KPROBE = re.compile(START + r"(kprobe|kretprobe|k|kr)[:*]")
TRAMPOLINE = re.compile(START + r"(fentry|fexit|kfunc|kretfunc|f|fr)[:*]")
UNSUPPORTED_KINDS = re.compile(START + r"(usdt|U|watchpoint|w|asyncwatchpoint|aw|iter|it|self):")


SCRIPT = re.compile(r"runtime/scripts/[\w.-]+")


def reason(test):
    text = " ".join(filter(None, [test.prog, test.run]))
    # A RUN line may name a script: its probes count too.
    for script in SCRIPT.findall(test.run or ""):
        try:
            text += " " + open(script).read()
        except OSError:
            pass
    if KPROBE.search(text):
        return "needs kprobes: CONFIG_KPROBES is off on this kernel"
    if TRAMPOLINE.search(text):
        return "needs BPF trampolines (fentry/fexit): loads fail with EPERM on this kernel"
    if "kprobe" in test.feature_requirement or "kprobe_multi" in test.feature_requirement:
        return "needs kprobes: CONFIG_KPROBES is off on this kernel"
    if UNSUPPORTED_KINDS.search(text):
        return "probe kind not supported by bpfhook trace yet (usdt, watchpoint, iter, self)"
    if "aot" in test.feature_requirement or "--aot" in text:
        return "ahead-of-time compilation is a bpftrace build feature"
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
