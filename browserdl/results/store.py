"""The results store: every trial and phase, where it ran and with what (SQLite).

One transaction per trial, so a crash loses at most the trial in progress. The schema is
versioned with `PRAGMA user_version`; `_MIGRATIONS[v]` upgrades a store from version v
(results/migrate.py). A trial's identity is (model, format, runtime, backend, target, kind,
settings, protocol, trial): two targets or two protocols never share a row.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from browserdl.errors import UserError
from browserdl.results import migrate
from browserdl.results.records import (
    Kind,
    Target,
    TrialKey,
    TrialResult,
    settings_json,
    settings_text,
)

SCHEMA_VERSION = 3


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
                self.db.executescript(migrate.SCHEMA)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        if version > SCHEMA_VERSION:
            raise UserError(f"results store {self.path} has schema {version}, newer than this "
                            f"browserdl ({SCHEMA_VERSION}); upgrade browserdl")
        while version < SCHEMA_VERSION:
            self.db.execute("PRAGMA foreign_keys = OFF")  # tables are rebuilt in place
            with self.db:
                migrate.MIGRATIONS[version](self.db)
                version += 1
                self.db.execute(f"PRAGMA user_version = {version}")
            self.db.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------------------

    def environment_id(self, env: dict[str, Any]) -> int:
        """The id of this environment's row, added when new."""
        data = json.dumps(env, sort_keys=True, default=str)
        fingerprint = hashlib.sha256(data.encode()).hexdigest()
        with self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO environments (fingerprint, data, first_seen) VALUES (?,?,?)",
                (fingerprint, data, _now()),
            )
        return self.db.execute(
            "SELECT id FROM environments WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()[0]

    def target_id(self, target: Target) -> int:
        """The id of this target's row (name + fingerprint), added when new."""
        with self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO targets (name, fingerprint, info, first_seen) "
                "VALUES (?,?,?,?)", (target.name, target.fingerprint, target.info, _now()))
        return self.db.execute("SELECT id FROM targets WHERE name = ? AND fingerprint = ?",
                               (target.name, target.fingerprint)).fetchone()[0]

    def record(self, key: TrialKey, result: TrialResult, env_id: int | None) -> None:
        """Store one trial and its phases in one transaction, replacing an earlier try of it."""
        identity = self._identity(key)
        with self.db:
            self.db.execute(f"DELETE FROM trials WHERE {_MATCH}", identity)
            cursor = self.db.execute(
                "INSERT INTO trials (model, format, runtime, backend, target_id, kind, settings, "
                "protocol, trial, ok, error, env_id, wall_s, detail, recorded) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (*identity, int(result.ok), result.error, env_id, result.wall_s,
                 json.dumps(result.detail, sort_keys=True, default=str), _now()),
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
        """True when this trial is stored and succeeded on this target with this protocol (a
        failed one, or one of another protocol, is measured again)."""
        row = self.db.execute("SELECT id FROM targets WHERE name = ? AND fingerprint = ?",
                              (key.target.name, key.target.fingerprint)).fetchone()
        if row is None:
            return False
        fields = _key_fields(key)
        identity = (*fields[:4], row[0], *fields[4:])
        return self.db.execute(f"SELECT 1 FROM trials WHERE {_MATCH} AND ok = 1",
                               identity).fetchone() is not None

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every stored trial-phase as a flat record; a trial without phases gives one record
        with an empty phase (a failure before anything was measured). `target` is the target's
        name, made unique (name@fingerprint) when one name has several fingerprints;
        `trial_id` grows with every trial recorded."""
        labels = self.target_labels()
        self.db.row_factory = sqlite3.Row
        try:
            cursor = self.db.execute(
                "SELECT t.id AS trial_id, t.model, t.format, t.runtime, t.backend, t.target_id, t.kind, "
                "t.settings, t.protocol, COALESCE(p.phase, '') AS phase, t.trial, p.value, p.unit, "
                "t.ok, t.error, t.env_id, p.samples, t.wall_s, t.recorded, t.detail "
                "FROM trials t LEFT JOIN phases p ON p.trial_id = t.id "
                "ORDER BY t.model, t.format, t.runtime, t.backend, t.target_id, t.kind, "
                "t.settings, t.protocol, t.trial, p.phase"
            )
            for row in cursor:
                record = dict(row)
                record["target"] = labels[record.pop("target_id")]
                record["kind"] = Kind(record["kind"])
                record["settings"] = json.loads(record["settings"])
                record["setting"] = settings_text(record["settings"])
                record["ok"] = bool(record["ok"])
                record["samples"] = json.loads(record["samples"]) if record["samples"] else None
                record["detail"] = json.loads(record["detail"]) if record["detail"] else {}
                yield record
        finally:
            self.db.row_factory = None

    def target_labels(self) -> dict[int, str]:
        """Target id -> the name users see (unique in this store)."""
        found = self.db.execute("SELECT id, name, fingerprint FROM targets").fetchall()
        names = [name for _, name, _ in found]
        return {i: name if names.count(name) == 1 else f"{name}@{fingerprint[:6]}"
                for i, name, fingerprint in found}

    def targets(self) -> dict[str, dict[str, Any]]:
        """Target label -> its fingerprint record (what `report` shows under "targets")."""
        labels = self.target_labels()
        return {labels[i]: {"name": name, "fingerprint": fp, **json.loads(info)}
                for i, name, fp, info in self.db.execute(
                    "SELECT id, name, fingerprint, info FROM targets ORDER BY id")}

    def environments(self) -> dict[int, dict[str, Any]]:
        return {i: json.loads(d) for i, d in self.db.execute("SELECT id, data FROM environments")}

    def models(self) -> list[dict[str, Any]]:
        return [json.loads(m) for (m,) in self.db.execute("SELECT meta FROM models ORDER BY id")]

    def trial_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]

    def _identity(self, key: TrialKey) -> tuple[Any, ...]:
        fields = _key_fields(key)
        return (*fields[:4], self.target_id(key.target), *fields[4:])


_MATCH = ("model=? AND format=? AND runtime=? AND backend=? AND target_id=? AND kind=? AND "
          "settings=? AND protocol=? AND trial=?")


def _key_fields(key: TrialKey) -> tuple[Any, ...]:
    """The key's columns in _MATCH order, without the target id."""
    return (key.model, key.format, key.runtime, key.backend, str(key.kind),
            settings_json(key.settings), key.protocol, key.trial)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
