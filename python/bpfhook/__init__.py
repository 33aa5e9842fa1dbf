"""bpfhook from Python: BCC's API in `bpfhook.bcc`, objects in `bpfhook.Object`,
bpftrace programs through `bpfhook.trace`."""

from ._native import BpfError
from ._native import compile as _compile
from ._native import trace as _trace
from .object import Object

__all__ = ["BpfError", "Object", "compile", "trace"]


def compile(path, cflags=()):
    """Compiles a libbpf-style C file (vmlinux.h on the include path, cached); returns the
    object's path, for Object()."""
    return _compile(str(path), list(cflags))


def trace(program, duration=None, pid=None):
    """Runs a bpftrace program (bpfhook's own compiler, no LLVM) until it calls exit() or
    `duration` seconds pass; returns what it printed, maps at the end included."""
    return _trace(program, duration, pid)
