"""`measure sizes`: what each converted model costs on the wire — raw, gzip and brotli bytes."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import brotli

from browserdl.converter.base import Manifest

# gzip at its best level; brotli at 9, not 11: quality 11 runs at ~1 MB/s, minutes for the
# grid's JSON files, and saves another ~20 % (measured on a synaptic file).
GZIP_LEVEL = 9
BROTLI_QUALITY = 9


ENCODINGS = ("gzip", "br")  # HTTP Content-Encoding tokens


def compress(data: bytes, encoding: str) -> bytes:
    """`data` as a server sends it with this Content-Encoding (the levels above)."""
    if encoding == "gzip":
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    if encoding == "br":
        return brotli.compress(data, quality=BROTLI_QUALITY)
    raise ValueError(f"unknown encoding {encoding}")


@dataclass(frozen=True)
class Sizes:
    files: int
    raw: int
    gzip: int
    brotli: int


def measure(folder: Path) -> Sizes:
    """Every file of one converted model, each compressed on its own as a server sends it."""
    manifest = Manifest.load(folder)
    raw = gz = br = 0
    for entry in manifest.files:
        data = (folder / entry.name).read_bytes()
        raw += len(data)
        gz += len(compress(data, "gzip"))
        br += len(compress(data, "br"))
    return Sizes(len(manifest.files), raw, gz, br)
