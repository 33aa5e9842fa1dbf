"""bpfhook from Python: BCC's API in `bpfhook.bcc`, objects in `bpfhook.Object`,
bpftrace programs through `bpfhook.trace`."""

from ._native import BpfError
from ._native import compile as _compile
from .object import Object

__all__ = ["BpfError", "Object", "compile"]


def compile(path, cflags=()):
    """Compiles a libbpf-style C file (vmlinux.h on the include path, cached); returns the
    object's path, for Object()."""
    return _compile(str(path), list(cflags))
