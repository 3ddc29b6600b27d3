#!/usr/bin/env python3
"""Independent validator for safetensors files, standard library only (json + struct).

Applies the layout rules of the reference safetensors library (huggingface/safetensors):
  * 8-byte little-endian u64 header length N, N <= 100_000_000, 8 + N <= file size;
  * the header is UTF-8 JSON, starts with '{', is an object (duplicate keys refused);
  * "__metadata__", if present, maps strings to strings;
  * every other key is a tensor {"dtype", "shape", "data_offsets"} with a known dtype,
    non-negative integer shape entries and data_offsets [begin, end];
  * sorted by offset, the tensors tile the byte buffer exactly: each begins where the previous
    ended, the first at 0 and the last at the end of the buffer, and
    end - begin == product(shape) * dtype size.
F32 tensors are then decoded with struct. With --mnistnn the mnistnn model rules are checked
too (format metadata, W1/b1/W2/b2 shapes, 1 <= H <= 4096, finite values).

Exit status: 0 valid, 1 invalid (reason on stderr), 2 usage error.
"""
import json
import math
import struct
import sys

MAX_HEADER = 100_000_000
DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "F64": 8, "I64": 8, "U64": 8,
}
MAX_HIDDEN = 4096


class Invalid(Exception):
    pass


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise Invalid(f"duplicate key {key!r} in header")
        seen[key] = value
    return seen


def _reject_constant(name):
    raise Invalid(f"non-standard JSON constant {name} in header")


def _is_uint(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_safetensors(data):
    """Returns (metadata, {name: (dtype, shape, values-or-None)}) or raises Invalid."""
    if len(data) < 8:
        raise Invalid(f"file is {len(data)} bytes, too short for the header length")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > MAX_HEADER:
        raise Invalid(f"header length {n} exceeds {MAX_HEADER}")
    if 8 + n > len(data):
        raise Invalid(f"header length {n} exceeds the file size {len(data)}")
    try:
        text = data[8:8 + n].decode("utf-8")
    except UnicodeDecodeError as e:
        raise Invalid(f"header is not UTF-8: {e}") from None
    if not text.startswith("{"):
        raise Invalid("header does not start with '{'")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise Invalid(f"header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise Invalid("header is not a JSON object")
    buffer = data[8 + n:]

    metadata = header.pop("__metadata__", None)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise Invalid("__metadata__ must map strings to strings")
    else:
        metadata = {}

    entries = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise Invalid(f"tensor {name!r}: entry is not an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in DTYPE_SIZES:
            raise Invalid(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_uint(d) for d in shape):
            raise Invalid(f"tensor {name!r}: bad shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_uint(o) for o in offsets)):
            raise Invalid(f"tensor {name!r}: bad data_offsets {offsets!r}")
        entries.append((offsets[0], offsets[1], name, dtype, shape))

    position = 0
    tensors = {}
    for begin, end, name, dtype, shape in sorted(entries):
        if begin != position or end < begin:
            raise Invalid(f"tensor {name!r}: data_offsets [{begin}, {end}] do not continue at {position}")
        count = math.prod(shape)
        if count * DTYPE_SIZES[dtype] != end - begin:
            raise Invalid(f"tensor {name!r}: shape {shape} does not fit {end - begin} bytes")
        position = end
        values = None
        if dtype == "F32":
            values = struct.unpack_from(f"<{count}f", buffer, begin) if count else ()
        tensors[name] = (dtype, shape, values)
    if position != len(buffer):
        raise Invalid(f"tensors cover {position} bytes of the {len(buffer)}-byte buffer")
    return metadata, tensors


def check_mnistnn(metadata, tensors):
    if metadata.get("format") != "mnistnn":
        raise Invalid("not an mnistnn model")
    if metadata.get("format_version") != "1":
        raise Invalid(f"unknown format version {metadata.get('format_version')!r}")
    if metadata.get("activation") not in ("relu", "sigmoid"):
        raise Invalid(f"unknown activation {metadata.get('activation')!r}")
    for name in ("W1", "b1", "W2", "b2"):
        if name not in tensors:
            raise Invalid(f"missing tensor {name!r}")
        if tensors[name][0] != "F32":
            raise Invalid(f"tensor {name!r} is not F32")
    w1_shape = tensors["W1"][1]
    if len(w1_shape) != 2 or w1_shape[1] != 784:
        raise Invalid(f"W1 has shape {w1_shape}")
    h = w1_shape[0]
    if not 1 <= h <= MAX_HIDDEN:
        raise Invalid(f"hidden size {h} out of range")
    expected = {"b1": [h], "W2": [10, h], "b2": [10]}
    for name, shape in expected.items():
        if tensors[name][1] != shape:
            raise Invalid(f"{name} has shape {tensors[name][1]}, expected {shape}")
    if "hidden" in metadata and metadata["hidden"] != str(h):
        raise Invalid(f"metadata hidden {metadata['hidden']!r} disagrees with W1")
    for name in ("W1", "b1", "W2", "b2"):
        for i, v in enumerate(tensors[name][2]):
            if not math.isfinite(v):
                raise Invalid(f"tensor {name!r} has a non-finite value at index {i}")


def main(argv):
    args = argv[1:]
    mnistnn = "--mnistnn" in args
    paths = [a for a in args if a != "--mnistnn"]
    if not paths or any(p.startswith("--") for p in paths):
        print("usage: check_safetensors.py [--mnistnn] FILE...", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read()
            metadata, tensors = read_safetensors(data)
            if mnistnn:
                check_mnistnn(metadata, tensors)
        except OSError as e:
            print(f"check_safetensors: {path}: {e.strerror}", file=sys.stderr)
            status = 1
        except Invalid as e:
            print(f"check_safetensors: {path}: {e}", file=sys.stderr)
            status = 1
        else:
            print(f"{path}: ok, {len(tensors)} tensors, {len(metadata)} metadata entries")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
