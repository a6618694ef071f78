"""The results store: every trial and phase, with the environment it ran in (SQLite).

One transaction per trial, so a crash loses at most the trial in progress. The schema is
versioned with `PRAGMA user_version`; `_MIGRATIONS[v]` upgrades a store from version v.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from browserdl.errors import UserError

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE environments (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,   -- sha256 of `data`: identical environments share a row
    data TEXT NOT NULL,                 -- JSON: CPU, OS, Python, TensorFlow, browser, commit...
    first_seen TEXT NOT NULL
);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    format TEXT NOT NULL,
    runtime TEXT NOT NULL,
    backend TEXT NOT NULL,
    setting TEXT NOT NULL DEFAULT '',   -- what else defines the trial, e.g. call=direct
    trial INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT,
    env_id INTEGER REFERENCES environments(id),
    wall_s REAL,                        -- the whole trial seen from outside, overhead included
    detail TEXT,                        -- JSON: anything else the runner reported
    recorded TEXT NOT NULL,
    UNIQUE (model, format, runtime, backend, setting, trial)
);
CREATE TABLE phases (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    phase TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    samples TEXT,                       -- JSON list of every raw value behind `value`
    PRIMARY KEY (trial_id, phase)
);
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
_SCHEMA += _CONVERSIONS
_MIGRATIONS: dict[int, str] = {1: _CONVERSIONS}  # from-version -> SQL


@dataclass(frozen=True)
class TrialKey:
    model: str
    format: str
    runtime: str
    backend: str
    setting: str
    trial: int

    def label(self) -> str:
        extra = f" {self.setting}" if self.setting else ""
        return f"{self.model} {self.runtime}/{self.backend}{extra} trial {self.trial}"


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


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"results store {self.path} is unreadable ({exc}); move it aside "
                            "and run again to start a new one") from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0 and not self.db.execute("SELECT name FROM sqlite_master").fetchall():
            with self.db:
                self.db.executescript(_SCHEMA)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        if version > SCHEMA_VERSION:
            raise UserError(f"results store {self.path} has schema {version}, newer than this "
                            f"browserdl ({SCHEMA_VERSION}); upgrade browserdl")
        while version < SCHEMA_VERSION:
            with self.db:
                self.db.executescript(_MIGRATIONS[version])
                version += 1
                self.db.execute(f"PRAGMA user_version = {version}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------------------

    def environment_id(self, env: dict[str, Any]) -> int:
        """The id of this environment's row, added when new."""
        data = json.dumps(env, sort_keys=True)
        fingerprint = hashlib.sha256(data.encode()).hexdigest()
        with self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO environments (fingerprint, data, first_seen) VALUES (?,?,?)",
                (fingerprint, data, _now()),
            )
        return self.db.execute(
            "SELECT id FROM environments WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()[0]

    def record(self, key: TrialKey, result: TrialResult, env_id: int | None) -> None:
        """Store one trial and its phases in one transaction, replacing an earlier try of it."""
        with self.db:
            self.db.execute(
                "DELETE FROM trials WHERE model=? AND format=? AND runtime=? AND backend=? "
                "AND setting=? AND trial=?", _key_tuple(key),
            )
            cursor = self.db.execute(
                "INSERT INTO trials (model, format, runtime, backend, setting, trial, ok, error, "
                "env_id, wall_s, detail, recorded) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (*_key_tuple(key), int(result.ok), result.error, env_id, result.wall_s,
                 json.dumps(result.detail, sort_keys=True), _now()),
            )
            self.db.executemany(
                "INSERT INTO phases (trial_id, phase, value, unit, samples) VALUES (?,?,?,?,?)",
                [(cursor.lastrowid, p.name, float(p.value), p.unit,
                  json.dumps(p.samples) if p.samples is not None else None)
                 for p in result.phases if math.isfinite(p.value)],  # SQLite stores NaN as NULL
            )

    def record_conversion(self, row: dict[str, Any], env_id: int | None) -> None:
        """One (model, format): what conversion and parity found; replaces an earlier row."""
        columns = ["model", "format", "runtime", "backend", "status", "reason", "files", "bytes",
                   "max_diff", "argmax_equal", "n", "library"]
        values = [row.get(c) for c in columns] + [env_id, _now()]
        with self.db:
            self.db.execute(
                f"INSERT OR REPLACE INTO conversions ({', '.join(columns)}, env_id, recorded) "
                f"VALUES ({', '.join('?' * (len(columns) + 2))})", values)

    def conversions(self) -> list[dict[str, Any]]:
        self.db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in self.db.execute(
                "SELECT * FROM conversions ORDER BY model, format")]
        finally:
            self.db.row_factory = None

    def record_model(self, meta: dict[str, Any]) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO models (id, family, meta) VALUES (?,?,?)",
                (meta["id"], meta["family"], json.dumps(meta, sort_keys=True)),
            )

    # --- reading ---------------------------------------------------------------------------

    def has_ok(self, key: TrialKey) -> bool:
        """True when this trial is stored and succeeded (a failed one is tried again)."""
        return self.db.execute(
            "SELECT 1 FROM trials WHERE model=? AND format=? AND runtime=? AND backend=? "
            "AND setting=? AND trial=? AND ok=1", _key_tuple(key),
        ).fetchone() is not None

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every stored trial-phase as a flat record; a trial without phases gives one record
        with an empty phase (a failure before anything was measured)."""
        self.db.row_factory = sqlite3.Row
        try:
            cursor = self.db.execute(
                "SELECT t.model, t.format, t.runtime, t.backend, t.setting, "
                "COALESCE(p.phase, '') AS phase, t.trial, p.value, p.unit, t.ok, t.error, "
                "t.env_id, p.samples, t.wall_s, t.recorded, t.detail "
                "FROM trials t LEFT JOIN phases p ON p.trial_id = t.id "
                "ORDER BY t.model, t.format, t.runtime, t.backend, t.setting, t.trial, p.phase"
            )
            for row in cursor:
                record = dict(row)
                record["ok"] = bool(record["ok"])
                record["samples"] = json.loads(record["samples"]) if record["samples"] else None
                record["detail"] = json.loads(record["detail"]) if record["detail"] else {}
                yield record
        finally:
            self.db.row_factory = None

    def environments(self) -> dict[int, dict[str, Any]]:
        return {i: json.loads(d) for i, d in self.db.execute("SELECT id, data FROM environments")}

    def models(self) -> list[dict[str, Any]]:
        return [json.loads(m) for (m,) in self.db.execute("SELECT meta FROM models ORDER BY id")]

    def trial_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]


def _key_tuple(key: TrialKey) -> tuple[Any, ...]:
    return (key.model, key.format, key.runtime, key.backend, key.setting, key.trial)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
