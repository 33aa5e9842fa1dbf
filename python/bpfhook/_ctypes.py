"""ctypes types from the native module's JSON type descriptions (built from BTF)."""

import ctypes as ct
import json

_INTS = {
    (1, False): ct.c_ubyte,
    (1, True): ct.c_byte,
    (2, False): ct.c_ushort,
    (2, True): ct.c_short,
    (4, False): ct.c_uint,
    (4, True): ct.c_int,
    (8, False): ct.c_ulonglong,
    (8, True): ct.c_longlong,
}


def ctype_of(desc, name_hint="anon"):
    """A ctypes type for a description (a dict, or its JSON text); None stays None."""
    if desc is None:
        return None
    if isinstance(desc, str):
        desc = json.loads(desc)
    kind = desc["kind"]
    if kind == "int":
        if desc.get("char") and desc["size"] == 1:
            return ct.c_char
        return _INTS.get((desc["size"], desc["signed"]), ct.c_ubyte * desc["size"])
    if kind == "float":
        return ct.c_float if desc["size"] == 4 else ct.c_double
    if kind == "array":
        return ctype_of(desc["elem"], name_hint) * desc["len"]
    return _record(desc, name_hint)


def _record(desc, name_hint):
    base = ct.Union if desc["kind"] == "union" else ct.Structure
    fields = []
    at = 0
    for index, field in enumerate(desc["fields"]):
        name = field["name"] or "__anon%d" % index
        ftype = ctype_of(field["type"], name)
        if desc["kind"] == "struct" and field["offset"] > at and not field["bits"]:
            fields.append(("__pad_%d" % index, ct.c_ubyte * (field["offset"] - at)))
            at = field["offset"]
        if field["bits"]:
            fields.append((name, ftype, field["bits"]))
        else:
            fields.append((name, ftype))
        if desc["kind"] == "struct" and not field["bits"]:
            at = field["offset"] + ct.sizeof(ftype)
    if desc["kind"] == "struct" and desc["size"] > at:
        fields.append(("__pad_end", ct.c_ubyte * (desc["size"] - at)))
    cls = type(desc.get("name") or name_hint, (base,), {"_pack_": 1, "_fields_": fields})
    return cls


def scalar_for_size(size):
    """The type BCC uses for a key or value without type information."""
    return _INTS.get((size, False), ct.c_ubyte * size)
