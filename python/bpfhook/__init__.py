"""bpfhook from Python: BCC's API in `bpfhook.bcc`, objects in `bpfhook.Object`."""

from ._native import BpfError
from .object import Object

__all__ = ["BpfError", "Object"]
