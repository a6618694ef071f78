"""What one trial is (its typed identity) and what it measured."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a trial measured (each kind has its own phases and tables)."""

    LOAD = "load"  # library, download, parse, build, warm-up, inference (browser or native)
    TRAIN = "train"  # time per batch, loss, CPU use
    ACCURACY = "accuracy"  # the format's accuracy on the test digits, run by its own library
    SIZE = "size"  # raw, gzip and brotli bytes of a converted model


# The order settings are shown in (today's text: cache=cold,network=4g,compression=br); keys
# not listed here follow in alphabetical order.
SETTING_ORDER = ("cache", "network", "compression", "call", "batch", "threads", "optimizer", "lr",
                 "batches")

Settings = tuple[tuple[str, str], ...]  # sorted (key, value) pairs: hashable, canonical


def settings(mapping: Mapping[str, Any] | None = None, **values: Any) -> Settings:
    """Canonical settings from a mapping and/or keywords (values as text)."""
    merged = {**(mapping or {}), **values}
    return tuple(sorted((str(k), str(v)) for k, v in merged.items()))


def settings_json(value: Settings) -> str:
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"))


def settings_text(value: Settings | Mapping[str, str]) -> str:
    """`a=b,c=d` in SETTING_ORDER, as the tables and the export show it."""
    items = dict(value)
    rank = {k: i for i, k in enumerate(SETTING_ORDER)}
    return ",".join(f"{k}={items[k]}" for k in sorted(items, key=lambda k: (rank.get(k, 99), k)))


def parse_settings(text: str) -> Settings:
    """The inverse of settings_text (`a=b,c=d`; parts without `=` are dropped)."""
    return settings(dict(part.split("=", 1) for part in text.split(",") if "=" in part))


@dataclass(frozen=True)
class Target:
    """Which browser or machine ran a trial: a short name users see (chromium, native, a remote
    name) and the fingerprint of what it was. Same name, other fingerprint: another target."""

    name: str
    info: str = "{}"  # sorted JSON of the fingerprint record (engine, version, user agent...)

    @classmethod
    def of(cls, name: str, info: Mapping[str, Any]) -> Target:
        return cls(name, json.dumps(dict(info), sort_keys=True, default=str))

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.name}\n{self.info}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrialKey:
    model: str
    format: str
    runtime: str
    backend: str
    kind: Kind
    settings: Settings
    trial: int
    target: Target
    protocol: str  # what produced the number: a stored trial of another protocol is not reused

    @property
    def setting(self) -> str:
        return settings_text(self.settings)

    def label(self) -> str:
        extra = f" {self.setting}" if self.settings else ""
        return (f"{self.model} {self.runtime}/{self.backend}{extra} on {self.target.name} "
                f"trial {self.trial}")


@dataclass
class Phase:
    name: str
    value: float
    unit: str = "ms"
    samples: list[float] | None = None


@dataclass
class TrialResult:
    ok: bool
    phases: list[Phase] = field(default_factory=list)
    error: str | None = None
    wall_s: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
