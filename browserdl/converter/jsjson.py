"""JSON text exactly as JavaScript's `JSON.stringify(value)` writes it (no indentation).

The JSON formats (ConvNetJS, brain.js, synaptic, Mind) are measured as the libraries write
them, so the bytes must match what `JSON.stringify(net.toJSON())` gives in a browser:

- numbers as ECMAScript Number::toString: shortest round-trip digits (the same digits as
  Python's `repr`), integers without ".0", fixed notation from 1e-7 up to 1e21, else
  exponent forms like `1e-7`, `1.5e+21`; -0 as `0`; NaN and ±Infinity as `null`;
- object keys in JavaScript's property order: integer-like keys ("0", "1", …) first in
  ascending order, then the others in insertion order;
- strings escaped as JSON.stringify escapes them (control characters as \\u00xx, lone
  surrogates as \\udxxx, everything else verbatim).

`TypedArray(values)` stands for a Float64Array/Float32Array, which JSON.stringify writes as an
object with numeric-string keys: {"0":v0,"1":v1,…}.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["TypedArray", "dumps", "number"]

_MAX_INDEX = 2**32 - 2  # largest array index: such keys come first in a JS object
_SAFE_INT = 2**53
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\ud800-\udfff]')
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class TypedArray:
    """Numbers held in a JS typed array (written as {"0":v0,…}); values are taken as doubles."""

    __slots__ = ("values",)

    def __init__(self, values: Iterable[float]) -> None:
        # numpy float32 arrays: tolist() gives the exact doubles a Float32Array would hold
        self.values = values.tolist() if hasattr(values, "tolist") else list(values)

    def __len__(self) -> int:
        return len(self.values)


def number(x: float) -> str:
    """A double as JavaScript writes it in JSON (Number::toString; non-finite → null)."""
    x = float(x)
    r = repr(x)
    if "e" not in r:
        if r.endswith(".0"):
            return "0" if x == 0 else r[:-2]  # also -0.0 → "0", as JS writes it
        if r[-1] in "fn":  # inf, -inf, nan
            return "null"
        return r
    return _from_exponent(r)


def _from_exponent(r: str) -> str:
    # Python switches to exponent form below 1e-4 and from 1e16; JavaScript only below 1e-6
    # and from 1e21. Rebuild JS's choice from the (identical) shortest digits and exponent.
    mantissa, exp = r.split("e")
    sign = "-" if mantissa[0] == "-" else ""
    digits = mantissa.lstrip("-").replace(".", "")
    k, n = len(digits), int(exp) + 1  # value = 0.digits × 10^n
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * -n + digits
    else:
        body = digits[0] + ("." + digits[1:] if k > 1 else "") + f"e{n - 1:+d}"
    return sign + body


def _string(s: str) -> str:
    if _NEEDS_ESCAPE.search(s) is None:
        return f'"{s}"'
    if _SURROGATE.search(s):  # a JS string is UTF-16: paired surrogates are one character
        s = s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m[0]) or f"\\u{ord(m[0]):04x}", s) + '"'


def _is_index(key: str) -> bool:
    return (key.isascii() and key.isdigit() and (key == "0" or key[0] != "0")
            and int(key) <= _MAX_INDEX)


def _key_order(keys: list[str]) -> list[str]:
    indices = [k for k in keys if _is_index(k)]
    if not indices:
        return keys
    return sorted(indices, key=int) + [k for k in keys if not _is_index(k)]


def _write(value: Any, out: list[str]) -> None:
    if value is None or value is True or value is False:
        out.append("null" if value is None else "true" if value else "false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, numbers.Integral):
        i = int(value)
        out.append(str(i) if -_SAFE_INT < i < _SAFE_INT else number(float(i)))
    elif isinstance(value, numbers.Real):
        out.append(number(value))
    elif isinstance(value, TypedArray):
        out.append("{" + ",".join(f'"{i}":{number(v)}' for i, v in enumerate(value.values)) + "}")
    elif isinstance(value, Mapping):
        keys = list(value)
        if not all(isinstance(k, str) for k in keys):
            raise TypeError("JSON object keys must be str (JavaScript property names)")
        out.append("{")
        for i, key in enumerate(_key_order(keys)):
            out.append(("," if i else "") + _string(key) + ":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JavaScript JSON")


def dumps(value: Any) -> str:
    """`JSON.stringify(value)` for dicts, lists/tuples, str, numbers, bools, None, TypedArray."""
    out: list[str] = []
    _write(value, out)
    return "".join(out)

