"""jsjson writes what JavaScript's JSON.stringify writes: checked byte for byte against Node."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from browserdl.converter.jsjson import TypedArray, dumps, number
from browserdl.workspace import node_modules

EDGES = [0.0, -0.0, 1.0, -1.0, 0.1, 100.0, 123.0, 1e21, 1e-7, 1e-6, 9.999999e-7, 1e20, 1.5e21,
         123456789012345680000.0, 1e16, 1e15, 2.0**53, 2.0**53 + 2, 1e-5, 1e-4, 0.0001234,
         5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -2.5e-8, 1.5e300, 0.5, 3e-7]


def _node(script: str, data: bytes = b"") -> bytes:
    done = subprocess.run(["node", "-e", script], input=data, capture_output=True, timeout=60,
                          env={**os.environ, "NODE_PATH": str(node_modules())})
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def _doubles() -> np.ndarray:
    rng = np.random.default_rng(7)
    n = 20_000
    weights = rng.standard_normal(n).astype(np.float32).astype(np.float64)  # what weights hold
    scaled = weights * 10.0 ** rng.integers(-12, 25, n)  # every notation switch
    bits = np.frombuffer(rng.bytes(8 * n), dtype=np.float64)  # any double at all
    bits = bits[np.isfinite(bits)]
    return np.concatenate([weights, scaled, bits, np.array(EDGES)])


def test_numbers_equal_javascript_byte_for_byte(tmp_path: Path) -> None:
    values = _doubles()
    ours = dumps(values.tolist())
    theirs = _node("const b = require('fs').readFileSync(0);"
                   "const a = new Float64Array(b.buffer, b.byteOffset, b.length / 8);"
                   "process.stdout.write(JSON.stringify(Array.from(a)));",
                   values.astype("<f8").tobytes())
    assert ours.encode() == theirs
    # and every number reads back as the identical double
    assert np.array_equal(np.array(json.loads(ours, parse_int=float)), values)


def test_number_forms() -> None:
    assert [number(x) for x in (1e21, 1e-7, 123.0, -0.0, 1.5e-7, 2e-6, 1e20, 0.1)] == [
        "1e+21", "1e-7", "123", "0", "1.5e-7", "0.000002", "100000000000000000000", "0.1"]
    assert [number(x) for x in (float("nan"), float("inf"), -float("inf"))] == ["null"] * 3
    assert dumps([np.float32(0.1), np.int64(3), 2**60, True, None]) == \
        "[0.10000000149011612,3,1152921504606847000,true,null]"  # 2**60 as JS writes it


def test_objects_strings_and_typed_arrays_equal_javascript() -> None:
    obj = {"b": 1, "10": 2, "2": [3.5, "x\u2028\"\\\n\t\x01\x7fé😀"], "4294967295": 4,
           "4294967294": 5, "01": 6, "-1": 7, "a": {"": False}}
    theirs = _node("const o = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
                   "process.stdout.write(JSON.stringify(o));", json.dumps(obj).encode())
    ours = dumps(obj)
    assert ours.encode() == theirs
    assert ours.startswith('{"2":[3.5,')  # integer-like keys first, ascending, as JS orders them
    assert dumps("\ud800") == '"\\ud800"'  # a lone surrogate, escaped as JSON.stringify does
    w = np.array([0.1, -3.0, 1e-8], dtype=np.float32)
    theirs = _node("process.stdout.write(JSON.stringify({a: new Float64Array(Array.from("
                   "new Float32Array([0.1, -3, 1e-8]))), b: new Float32Array(0)}));")
    assert dumps({"a": TypedArray(w), "b": TypedArray([])}).encode() == theirs


@pytest.mark.parametrize("bad", [{1: 2}, object(), {1, 2}, b"x"])
def test_refuses_what_json_stringify_cannot_write_the_same(bad: object) -> None:
    with pytest.raises(TypeError):
        dumps(bad)
