import sqlite3

import pytest

from browserdl.errors import UserError
from browserdl.reports.store import SCHEMA_VERSION, Phase, Store, TrialKey, TrialResult

KEY = TrialKey("dnn-d1-w64", "keras-h5", "native", "cpu", "call=direct", 0)


def test_trial_replaces_its_failed_try_and_environments_are_shared(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        env = store.environment_id({"cpu_model": "x", "cpu_count": 2})
        assert store.environment_id({"cpu_count": 2, "cpu_model": "x"}) == env
        assert store.environment_id({"cpu_model": "y", "cpu_count": 2}) != env
        store.record(KEY, TrialResult(False, error="boom"), env)
        assert not store.has_ok(KEY)
        (failed,) = store.rows()
        assert failed["phase"] == "" and failed["value"] is None and failed["error"] == "boom"
        store.record(KEY, TrialResult(True, [Phase("load", 12.5), Phase("inference", 1.0, "ms",
                                                                         [0.9, 1.0, 1.1])]), env)
        assert store.has_ok(KEY)
        rows = list(store.rows())
    assert [(r["phase"], r["value"], r["ok"]) for r in rows] == [("inference", 1.0, True),
                                                                 ("load", 12.5, True)]
    assert rows[0]["samples"] == [0.9, 1.0, 1.1] and rows[0]["env_id"] == env


def test_schema_is_versioned_and_foreign_stores_are_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(UserError, match="newer than this browserdl"):
        Store(path)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError, match="unreadable"):
        Store(garbage)


def test_a_version_1_store_is_upgraded_in_place_keeping_every_trial(tmp_path):
    import shutil
    from pathlib import Path

    old = tmp_path / "v1.sqlite"
    shutil.copy(Path(__file__).parent / "fixtures" / "results-v1.sqlite", old)
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA user_version").fetchone() == (1,)
    before = db.execute("SELECT COUNT(*) FROM phases").fetchone()[0]
    db.close()
    with Store(old) as store:
        rows = list(store.rows())
        assert len(rows) == before > 0 and all(r["model"] == "dnn-d1-w64" for r in rows)
        assert store.conversions() == []
        store.record_conversion({"model": "m", "format": "f", "runtime": "r", "backend": "b",
                                 "status": "ok", "bytes": 10}, None)
        assert store.conversions()[0]["bytes"] == 10
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (2,)
