import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import trial_key

from browserdl.errors import UserError
from browserdl.results.records import Kind, Phase, Target, TrialResult, settings_text
from browserdl.results.store import SCHEMA_VERSION, Store

FIXTURES = Path(__file__).parent / "fixtures"
KEY = trial_key("dnn-d1-w64", "keras-h5", "native", "cpu", "call=direct", 0)


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
    assert (rows[0]["target"], rows[0]["kind"], rows[0]["settings"], rows[0]["setting"]) == (
        "native", Kind.LOAD, {"call": "direct"}, "call=direct")


def test_targets_and_protocols_never_share_a_row(tmp_path):
    import dataclasses

    local = trial_key("m", "tfjs-layers", "tfjs", "wasm", "cache=cold", target="chromium")
    remote = dataclasses.replace(local, target=Target.of("lab-phone", {"engine": "chromium"}))
    upgraded = dataclasses.replace(local, target=Target.of("chromium", {"engine": "chromium",
                                                                         "version": "157"}))
    newer = dataclasses.replace(local, protocol="other")
    with Store(tmp_path / "r.sqlite") as store:
        store.record(local, TrialResult(True, [Phase("inference", 1.0)]), None)
        assert store.has_ok(local)
        assert not any(store.has_ok(k) for k in (remote, upgraded, newer))
        for k, v in ((remote, 2.0), (upgraded, 3.0), (newer, 4.0)):
            store.record(k, TrialResult(True, [Phase("inference", v)]), None)
        rows = list(store.rows())
        assert sorted((r["target"].split("@")[0], r["protocol"], r["value"]) for r in rows) == [
            ("chromium", "other", 4.0), ("chromium", "test", 1.0), ("chromium", "test", 3.0),
            ("lab-phone", "test", 2.0)]
        # one name, two fingerprints: the rows say which is which
        assert len({r["target"] for r in rows if r["target"].startswith("chromium")}) == 2
        assert store.targets()["lab-phone"]["engine"] == "chromium"


def test_settings_are_canonical_and_shown_in_todays_order():
    key = trial_key("m", "tfjs-layers", "tfjs", "cpu", "cache=cold,network=4g,compression=br")
    assert key.settings == (("cache", "cold"), ("compression", "br"), ("network", "4g"))
    assert key.setting == settings_text(dict(key.settings)) == "cache=cold,network=4g,compression=br"
    train = trial_key("m", "tfjs-layers", "tfjs", "cpu", "train=sgd,lr=0.001,batch=64,batches=10")
    assert train.kind is Kind.TRAIN and train.setting == "batch=64,optimizer=sgd,lr=0.001,batches=10"


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


def _counts(path: Path) -> tuple[int, int]:
    db = sqlite3.connect(path)
    try:
        return (db.execute("SELECT COUNT(*) FROM trials").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM phases").fetchone()[0])
    finally:
        db.close()


def test_a_version_1_store_is_upgraded_to_3_keeping_every_trial(tmp_path):
    old = tmp_path / "v1.sqlite"
    shutil.copy(FIXTURES / "results-v1.sqlite", old)
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA user_version").fetchone() == (1,)
    db.close()
    trials, phases = _counts(old)
    with Store(old) as store:
        rows = list(store.rows())
        assert len([r for r in rows if r["phase"]]) == phases > 0
        assert all(r["model"] == "dnn-d1-w64" and r["protocol"] == "v2-legacy" for r in rows)
        assert store.conversions() == []
        store.record_conversion({"model": "m", "format": "f", "runtime": "r", "backend": "b",
                                 "status": "ok", "bytes": 10}, None)
        assert store.conversions()[0]["bytes"] == 10
    assert _counts(old) == (trials, phases)
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (3,)


def test_a_version_2_store_gets_a_target_and_kind_for_every_row(tmp_path):
    old = tmp_path / "v2.sqlite"
    shutil.copy(FIXTURES / "results-v2.sqlite", old)
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    db.close()
    trials, phases = _counts(old)
    with Store(old) as store:
        rows = list(store.rows())
        targets = store.targets()
        conversions = store.conversions()
    assert _counts(old) == (trials, phases) == (10, 18)
    seen = {(r["model"], r["format"], r["runtime"], r["backend"], r["trial"]): r for r in rows}
    assert len({(r["model"], r["format"], r["runtime"], r["backend"], r["kind"], r["setting"],
                 r["trial"]) for r in rows}) == trials  # every v2 trial kept, none merged
    kinds = {(r["runtime"], r["backend"], r["kind"], r["target"], r["setting"]) for r in rows}
    assert kinds == {
        ("native", "cpu", Kind.LOAD, "native", "call=direct,batch=32"),
        ("tfjs", "wasm", Kind.LOAD, "chromium", "cache=cold"),
        ("tfjs", "wasm", Kind.LOAD, "chromium", "cache=cold,network=4g,compression=br"),
        ("tfjs", "webgpu", Kind.LOAD, "chromium", "cache=cold"),
        ("tfjs", "cpu", Kind.TRAIN, "chromium", "batch=64,optimizer=sgd,lr=0.001,batches=10"),
        ("native", "cpu", Kind.TRAIN, "native", "batch=64,optimizer=sgd,lr=0.001,batches=10"),
        ("convnetjs", "cpu", Kind.SIZE, "native", ""),
        ("convnetjs", "cpu", Kind.ACCURACY, "native", ""),
    }
    assert all(r["protocol"] == "v2-legacy" for r in rows)
    assert targets["chromium"]["version"] == "156.0.7560.0"
    assert targets["native"]["cpu_model"] == "Intel Xeon"
    assert seen[("dnn-d1-w64", "tfjs-layers", "tfjs", "webgpu", 0)]["error"].startswith("tfjs backend")
    assert conversions[0]["bytes"] == 1360000
    # the upgraded store takes new trials on its new identity
    with Store(old) as store:
        key = trial_key("dnn-d1-w64", "keras-h5", "native", "cpu", "call=direct,batch=32")
        store.record(key, TrialResult(True, [Phase("load", 1.0)]), None)
        assert store.has_ok(key) and store.trial_count() == trials + 1
