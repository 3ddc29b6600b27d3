#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus: tests/fuzz/corpus/csv/ and tests/fuzz/corpus/model/.

    python3 tests/fuzz/make_corpus.py [path/to/mnistnn]

Small valid inputs of every accepted form plus typical broken ones. CSV seeds start with the
mode byte fuzz_csv.cpp reads (0 raw, 1 labelled header + rest, 2 unlabelled header + rest,
3 gzip(rest), 4 gzip(labelled header + rest), 5 IDX images/labels split). Model seeds are
files as they are, plus a few in fuzz_model.cpp's "{json}\\0data" form. With the mnistnn binary
given, one model trained by the CLI (--hidden 1) is added too. Deterministic output.
"""
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CSV_DIR = os.path.join(HERE, "corpus", "csv")
MODEL_DIR = os.path.join(HERE, "corpus", "model")
PIXELS = 784

LABELLED = "label," + ",".join(f"pixel{i}" for i in range(PIXELS))
UNLABELLED = ",".join(f"pixel{i}" for i in range(PIXELS))


def row(label, seed, labelled=True):
    px = [((seed * 31 + i * 7) % 256) if (i // 78) == label % 10 else 0 for i in range(PIXELS)]
    fields = ([str(label)] if labelled else []) + [str(v) for v in px]
    return ",".join(fields)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def write(folder, name, data: bytes):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def csv_seeds():
    good = (LABELLED + "\n" + row(3, 1) + "\n" + row(7, 2) + "\n").encode()
    r1 = row(1, 5)
    seeds = {
        # valid
        "valid-labelled": b"\0" + good,
        "valid-unlabelled": b"\0" + (UNLABELLED + "\n" + row(0, 3, False) + "\n").encode(),
        "valid-crlf": b"\0" + good.replace(b"\n", b"\r\n"),
        "valid-bom": b"\0" + b"\xef\xbb\xbf" + good,
        "valid-no-final-newline": b"\0" + good.rstrip(b"\n"),
        "valid-gz-file": b"\0" + gz(good),
        "valid-trailing-blank-lines": b"\0" + good + b"\n\n",
        "valid-leading-zeros": b"\1" + ("0" + r1.replace(",0,", ",000,", 3) + "\n").encode(),
        "mode1-rows": b"\1" + (row(4, 9) + "\n" + row(9, 4) + "\n").encode(),
        "mode2-rows": b"\2" + (row(0, 2, False) + "\n").encode(),
        "mode3-gz-text": b"\3" + good,
        "mode4-gz-rows": b"\4" + (row(5, 5) + "\n").encode(),
        "mode5-idx-pair": b"\5" + struct.pack("<H", 16 + PIXELS)
        + struct.pack(">IIII", 0x803, 1, 28, 28) + bytes((i * 3) % 256 for i in range(PIXELS))
        + struct.pack(">II", 0x801, 1) + b"\x07",
        "valid-idx-images": b"\0" + struct.pack(">IIII", 0x803, 1, 28, 28) + bytes(PIXELS),
        # broken
        "empty": b"\0",
        "header-only": b"\0" + (LABELLED + "\n").encode(),
        "bad-header": b"\0" + b"id,x,y\n1,2,3\n",
        "no-header": b"\0" + (row(1, 1) + "\n").encode(),
        "too-few-fields": b"\1" + (",".join(r1.split(",")[:100]) + "\n").encode(),
        "too-many-fields": b"\1" + (r1 + ",0,0\n").encode(),
        "empty-field": b"\1" + (r1.replace(",0,", ",,", 1) + "\n").encode(),
        "non-number": b"\1" + (r1.replace(",0,", ",x1,", 1) + "\n").encode(),
        "negative-pixel": b"\1" + (r1.replace(",0,", ",-1,", 1) + "\n").encode(),
        "pixel-256": b"\1" + (r1.replace(",0,", ",256,", 1) + "\n").encode(),
        "label-10": b"\1" + ("10" + r1[1:] + "\n").encode(),
        "float-field": b"\1" + (r1.replace(",0,", ",1.5,", 1) + "\n").encode(),
        "cr-only": b"\0" + good.replace(b"\n", b"\r"),
        "embedded-nul": b"\1" + (r1[:200]).encode() + b"\0" + r1[201:].encode() + b"\n",
        "truncated-mid-row": b"\0" + good[: len(LABELLED) + 1 + 900],
        "truncated-gz": b"\0" + gz(good)[:-12],
        "png": b"\0" + b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x1c\0\0\0\x1c\x08\0\0\0\0",
        "idx-labels-as-csv": b"\0" + struct.pack(">II", 0x801, 2) + b"\x01\x02",
        "idx-images-truncated": b"\0" + struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(100),
        "quoted-header": b"\0" + ('"label"' + LABELLED[5:] + "\n").encode(),
        "semicolons": b"\0" + b"label;pixel0;pixel1\n",
        "blank-line-between-rows": b"\1" + (r1 + "\n\n" + r1 + "\n").encode(),
    }
    for name, data in seeds.items():
        write(CSV_DIR, name, data)


def safetensors(tensors, metadata, overrides=None, raw_header=None, length=None, tail=b""):
    """tensors: name -> (dtype, shape, bytes); overrides: name -> dict merged into the entry."""
    header = {"__metadata__": metadata} if metadata is not None else {}
    data = b""
    for name in sorted(tensors):
        dtype, shape, payload = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        header[name].update((overrides or {}).get(name, {}))
        data += payload
    text = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + data + tail


def f32(values):
    return struct.pack(f"<{len(values)}f", *values)


def model(hidden=1, activation="relu", version="1", nan=False, drop=None, **kw):
    w1 = [((i % 13) - 6) / 100.0 for i in range(hidden * PIXELS)]
    if nan:
        w1[5] = float("nan")
    tensors = {
        "W1": ("F32", [hidden, PIXELS], f32(w1)),
        "b1": ("F32", [hidden], f32([0.01] * hidden)),
        "W2": ("F32", [10, hidden], f32([(k - 5) / 10.0 for k in range(10 * hidden)])),
        "b2": ("F32", [10], f32([0.0] * 10)),
    }
    if drop:
        del tensors[drop]
    meta = {"format": "mnistnn", "format_version": version, "activation": activation, "hidden": str(hidden)}
    return safetensors(tensors, meta, **kw)


def split_form(file_bytes):
    """fuzz_model.cpp's '{json}\\0data' form of a file."""
    n = struct.unpack("<Q", file_bytes[:8])[0]
    return file_bytes[8 : 8 + n].rstrip(b" ") + b"\0" + file_bytes[8 + n :]


def model_seeds(binary):
    good = model()
    seeds = {
        "valid-h1": good,
        "valid-h2-sigmoid": model(hidden=2, activation="sigmoid"),
        "split-valid-h1": split_form(good),
        "split-valid-h3": split_form(model(hidden=3)),
        "empty": b"",
        "short-length": b"\x10\0\0",
        "truncated": good[: len(good) // 2],
        "header-length-beyond-file": model(length=1 << 20),
        "header-length-over-100mb": model(length=200_000_000),
        "invalid-json": safetensors({}, None, raw_header=b'{"W1": {"dtype": "F32", "shape": [1,'),
        "missing-tensor": model(drop="b2"),
        "wrong-dtype": model(overrides={"b1": {"dtype": "F16"}}),
        "shape-mismatch": model(overrides={"b2": {"shape": [11]}}),
        "overlap": model(overrides={"b2": {"data_offsets": [0, 40]}}),
        "offsets-out-of-file": model(overrides={"b2": {"data_offsets": [1 << 40, (1 << 40) + 40]}}),
        "hidden-0": safetensors({"W1": ("F32", [0, PIXELS], b""), "b1": ("F32", [0], b""),
                                  "W2": ("F32", [10, 0], b""), "b2": ("F32", [10], f32([0.0] * 10))},
                                 {"format": "mnistnn", "format_version": "1", "activation": "relu"}),
        "hidden-huge-claim": model(overrides={"W1": {"shape": [1 << 20, PIXELS]}}),
        "version-2": model(version="2"),
        "nan-weight": model(nan=True),
        "unknown-activation": model(activation="tanh"),
        "split-duplicate-key": b'{"a":1,"a":2}\0',
        "split-deep-nesting": b"{" + b'"a":[' * 20 + b"]" * 20 + b"}\0",
    }
    for name, data in seeds.items():
        write(MODEL_DIR, name, data)
    if binary:
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "d.csv"), "w") as f:
                f.write(LABELLED + "\n" + "\n".join(row(k, k) for k in range(10)) + "\n")
            subprocess.run([binary, "train", "--data", "d.csv", "--hidden", "1", "--iters", "3", "--holdout", "2",
                            "--quiet"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
            shutil.copy(os.path.join(tmp, "model.safetensors"), os.path.join(MODEL_DIR, "cli-h1"))


def main():
    for folder in (CSV_DIR, MODEL_DIR):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    csv_seeds()
    model_seeds(os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    main()
