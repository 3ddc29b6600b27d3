"""Helpers shared by the Python references in bench/ (standard library only, so importing it
never loads numpy before a script has set its thread-count environment variables)."""
import os
import sys


def default_data_path(name):
    """data/NAME of the repository this bench/ folder belongs to."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(here), "data", name)


def blas_library():
    """The BLAS shared objects this process actually mapped (reference BLAS vs OpenBLAS matters)."""
    try:
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps
                    if any(k in line.lower() for k in ("blas", "mkl", "dnnl"))}
        libs = sorted(os.path.realpath(p) for p in libs if p.startswith("/"))
        return ",".join(libs) if libs else "unknown"
    except OSError:
        return "unknown"


def log(msg):
    print(msg, file=sys.stderr, flush=True)
