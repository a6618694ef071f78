"""The store's schema and its upgrades: MIGRATIONS[v](db) turns schema v into v + 1."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from browserdl.results.records import (
    Kind,
    Settings,
    Target,
    parse_settings,
    settings,
    settings_json,
)

LEGACY_PROTOCOL = "v2-legacy"  # trials stored before protocols were recorded

_ENVIRONMENTS = """
CREATE TABLE environments (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,   -- sha256 of `data`: identical environments share a row
    data TEXT NOT NULL,                 -- JSON: CPU, OS, Python, TensorFlow, browser, commit...
    first_seen TEXT NOT NULL
);
"""
_TARGETS = """
CREATE TABLE targets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,                 -- what users call it: chromium, native, a remote name
    fingerprint TEXT NOT NULL,          -- of name + info: one name, two browsers = two targets
    info TEXT NOT NULL,                 -- JSON: engine, version, user agent, driver, endpoint...
    first_seen TEXT NOT NULL,
    UNIQUE (name, fingerprint)
);
"""
_TRIALS = """
CREATE TABLE trials (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    format TEXT NOT NULL,
    runtime TEXT NOT NULL,
    backend TEXT NOT NULL,
    target_id INTEGER NOT NULL REFERENCES targets(id),
    kind TEXT NOT NULL,                 -- load | train | accuracy | size
    settings TEXT NOT NULL DEFAULT '{}', -- sorted JSON, e.g. {"cache":"cold"}
    protocol TEXT NOT NULL,             -- hash of the sources that produced the numbers
    trial INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT,
    env_id INTEGER REFERENCES environments(id),
    wall_s REAL,                        -- the whole trial seen from outside, overhead included
    detail TEXT,                        -- JSON: anything else the runner reported
    recorded TEXT NOT NULL,
    UNIQUE (model, format, runtime, backend, target_id, kind, settings, protocol, trial)
);
"""
_PHASES = """
CREATE TABLE phases (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    phase TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    samples TEXT,                       -- JSON list of every raw value behind `value`
    PRIMARY KEY (trial_id, phase)
);
"""
_MODELS = """
CREATE TABLE models (
    id TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    meta TEXT NOT NULL                  -- meta.json as written by `train`
);
"""
_CONVERSIONS = """
CREATE TABLE conversions (
    model TEXT NOT NULL,
    format TEXT NOT NULL,
    runtime TEXT NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,               -- ok | failed | n/a | not installed | unverified
    reason TEXT,                        -- why n/a or failed
    files INTEGER,
    bytes INTEGER,
    max_diff REAL,                      -- parity: largest |framework - Keras| over the test batch
    argmax_equal INTEGER,
    n INTEGER,
    library TEXT,
    env_id INTEGER REFERENCES environments(id),
    recorded TEXT NOT NULL,
    PRIMARY KEY (model, format)
);
"""
SCHEMA = _ENVIRONMENTS + _TARGETS + _TRIALS + _PHASES + _MODELS + _CONVERSIONS


def legacy_kind(setting: str) -> Kind:
    """A v2 trial's kind, from the prefixes its `setting` text had."""
    if setting == "sizes":
        return Kind.SIZE
    if setting == "accuracy":
        return Kind.ACCURACY
    if setting.startswith("train="):
        return Kind.TRAIN
    return Kind.LOAD


def legacy_target(env: dict[str, Any]) -> Target:
    """A v2 trial's target, from the environment it recorded: the browser, else this host."""
    if "browser" in env:
        engine, _, version = str(env["browser"]).partition(" ")
        info = {"engine": engine, "version": version, "driver": "playwright",
                "endpoint": env.get("browser_endpoint", ""), "user_agent": env.get("user_agent"),
                "renderer": env.get("renderer")}
        return Target.of(engine or "chromium", info)
    return Target.of("native", {"cpu_model": env.get("cpu_model"), "cpu_count": env.get("cpu_count")})


def legacy_settings(setting: str) -> Settings:
    """A v2 `setting` text as settings ("sizes" and "accuracy" were kinds: no settings)."""
    parsed = dict(parse_settings(setting))
    if "train" in parsed:  # train=sgd,... became kind train with optimizer=sgd
        parsed["optimizer"] = parsed.pop("train")
    return settings(parsed)


def _v1_to_v2(db: sqlite3.Connection) -> None:
    db.executescript(_CONVERSIONS)


def _v2_to_v3(db: sqlite3.Connection) -> None:
    """Trials gain target, kind, settings and protocol; trial ids (and so phases) are kept."""
    envs = {i: json.loads(d) for i, d in db.execute("SELECT id, data FROM environments")}
    db.execute(_TARGETS)
    db.execute(_TRIALS.replace("CREATE TABLE trials", "CREATE TABLE trials_v3"))
    target_ids: dict[Target, int] = {}
    old = db.execute("SELECT id, model, format, runtime, backend, setting, trial, ok, error, "
                     "env_id, wall_s, detail, recorded FROM trials").fetchall()
    for (tid, model, fmt, runtime, backend, setting, trial, ok, error, env_id, wall, detail,
         recorded) in old:
        target = legacy_target(envs.get(env_id, {}))
        if target not in target_ids:
            db.execute("INSERT INTO targets (name, fingerprint, info, first_seen) VALUES (?,?,?,?)",
                       (target.name, target.fingerprint, target.info, recorded))
            target_ids[target] = db.execute("SELECT last_insert_rowid()").fetchone()[0]
        db.execute(
            "INSERT INTO trials_v3 (id, model, format, runtime, backend, target_id, kind, settings, "
            "protocol, trial, ok, error, env_id, wall_s, detail, recorded) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (tid, model, fmt, runtime, backend, target_ids[target], str(legacy_kind(setting)),
             settings_json(legacy_settings(setting)), LEGACY_PROTOCOL, trial, ok, error, env_id, wall, detail,
             recorded))
    # phases keep referring to `trials` by name, so the new table simply takes the name
    db.execute("DROP TABLE trials")
    db.execute("ALTER TABLE trials_v3 RENAME TO trials")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3}
