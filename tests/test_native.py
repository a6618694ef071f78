import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import FINDINGS_TITLE, POINTER, run_cli

from browserdl.results.store import Store

PHASES = {"tf_import", "load", "warmup", "inference", "batch_warmup", "batch_inference", "peak_rss"}


def _trials(ws):
    db = sqlite3.connect(ws / "results.sqlite")
    try:
        return db.execute("SELECT id, trial, ok, recorded FROM trials ORDER BY trial").fetchall()
    finally:
        db.close()


def test_measure_loading_prints_its_own_tables_and_points_to_the_report(workspace_copy):
    ran = run_cli(workspace_copy, "measure", "loading", "--runtimes", "native",
                  "--trials", "1", "--runs", "5")
    assert ran.code == 0, ran.err
    assert "Native (CPU): phase medians" in ran.out and POINTER in ran.out
    assert ran.out.rstrip().endswith(POINTER)
    for other in (FINDINGS_TITLE, "Reference models", "In the browser", "Browser ÷ native",
                  "Time to first prediction"):
        assert other not in ran.out, other


def test_native_trial_stores_every_phase_positive_and_export_round_trips(workspace_copy):
    ran = run_cli(workspace_copy, "measure", "loading", "--runtimes", "native",
                  "--trials", "2", "--runs", "10")
    assert ran.code == 0, ran.err
    assert "Native (CPU): phase medians" in ran.out and "native direct b32" in ran.out
    with Store(workspace_copy / "results.sqlite") as store:
        rows = list(store.rows())
        envs = store.environments()
    assert {r["trial"] for r in rows} == {0, 1}
    for trial in (0, 1):
        phases = {r["phase"]: r for r in rows if r["trial"] == trial}
        assert set(phases) == PHASES
        assert all(r["value"] > 0 and r["ok"] for r in phases.values())
        assert len(phases["inference"]["samples"]) == 10
        assert phases["peak_rss"]["unit"] == "bytes" and phases["peak_rss"]["value"] > 100e6
        assert phases["tf_import"]["value"] > phases["inference"]["value"]
    (env,) = envs.values()
    assert env["tensorflow"] == "2.19.0" and env["cpu_count"] >= 1 and env["cpu_model"]
    assert {(r["model"], r["format"], r["runtime"], r["backend"]) for r in rows} == {
        ("dnn-d1-w64", "keras-h5", "native", "cpu")}

    exported = run_cli(workspace_copy, "export", "--format", "csv", "-o", "-")
    records = list(csv.DictReader(io.StringIO(exported.out)))
    assert len(records) == len(rows)
    for record, row in zip(records, rows, strict=True):
        assert record["phase"] == row["phase"] and float(record["value"]) == row["value"]
        assert record["ok"] == "True" and int(record["env_id"]) == row["env_id"]
        assert (record["target"], record["kind"], record["setting"]) == (
            "native", "load", "call=direct,batch=32")
        assert record["protocol"] == row["protocol"] and len(record["protocol"]) == 12
    lines = run_cli(workspace_copy, "export", "--format", "jsonl", "-o", "-").out.splitlines()
    assert [json.loads(line)["value"] for line in lines] == [r["value"] for r in rows]
    assert run_cli(workspace_copy, "export").code == 0
    assert (workspace_copy / "report" / "results.csv").read_text().count("\n") == len(rows) + 1

    again = run_cli(workspace_copy, "measure", "loading", "--trials", "2", "--runs", "10")
    assert "0 trials measured, 2 already stored" in again.err
    assert json.loads(lines[0])["kind"] == "load" and json.loads(lines[0])["target"] == "native"


def test_a_changed_protocol_measures_again_and_keeps_the_old_trials(workspace_copy, monkeypatch):
    from rich.progress import Progress

    from browserdl.loaders import native, protocol
    from browserdl.loaders.sweep import run_sweep
    from browserdl.results.records import Kind
    from browserdl.workspace import Workspace

    ws = Workspace.open(workspace_copy)
    options = native.NativeOptions(runs=3)

    def sweep():
        with Store(ws.store_path) as store, Progress(disable=True) as progress:
            return run_sweep(native.keys(["dnn-d1-w64"], 1, options), native.runner(ws, options),
                             store, progress)

    assert sweep().measured == 1 and sweep().skipped == 1
    old = native.keys(["dnn-d1-w64"], 1, options)[0].protocol
    monkeypatch.setitem(protocol.PYTHON_SIDE, Kind.LOAD, protocol.PYTHON_SIDE[Kind.LOAD] + 1)
    new = native.keys(["dnn-d1-w64"], 1, options)[0].protocol
    assert new != old
    assert sweep().measured == 1  # the stored trial is of another protocol: not reused
    with Store(ws.store_path) as store:
        protocols = {r["protocol"] for r in store.rows() if r["phase"] == "inference"}
    assert protocols == {old, new}  # nothing measured is lost


def test_killed_sweep_leaves_store_consistent_and_rerun_completes(workspace_copy):
    env = {**os.environ, "BROWSERDL_WORKSPACE": str(workspace_copy)}
    args = [sys.executable, "-m", "browserdl", "measure", "loading", "--trials", "3", "--runs", "5"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (
        (workspace_copy / "results.sqlite").exists() and len(_trials(workspace_copy)) >= 1
    ):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and the trial's worker, mid-way
    proc.wait()
    first = _trials(workspace_copy)
    assert 1 <= len(first) < 3
    db = sqlite3.connect(workspace_copy / "results.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    per_trial = db.execute("SELECT trial_id, COUNT(*) FROM phases GROUP BY trial_id").fetchall()
    db.close()
    assert all(count == len(PHASES) for _, count in per_trial) and len(per_trial) == len(first)

    ran = run_cli(workspace_copy, "measure", "loading", "--trials", "3", "--runs", "5")
    assert ran.code == 0, ran.err
    assert f"{3 - len(first)} trials measured, {len(first)} already stored" in ran.err
    after = _trials(workspace_copy)
    assert len(after) == 3 and after[: len(first)] == first  # nothing measured was redone


def test_corrupt_h5_fails_its_trial_clearly_and_keeps_what_was_stored(workspace_copy):
    assert run_cli(workspace_copy, "measure", "loading", "--trials", "1", "--runs", "5").code == 0
    good = workspace_copy / "models" / "dnn-d1-w64"
    bad = workspace_copy / "models" / "dnn-d2-w64"
    bad.mkdir()
    (bad / "meta.json").write_text((good / "meta.json").read_text())
    data = (good / "model.h5").read_bytes()
    (bad / "model.h5").write_bytes(data[: len(data) // 3])  # truncated

    ran = run_cli(workspace_copy, "measure", "loading", "--trials", "2", "--runs", "5")
    assert ran.code == 1
    failures = [line for line in ran.err.splitlines() if line.startswith("failed")]
    assert len(failures) == 2  # both trials ran: the sweep went on after the first failure
    assert "dnn-d2-w64" in failures[0] and "cannot load model.h5" in failures[0]
    assert "browserdl train --models dnn-d2-w64 --force" in failures[0]
    assert "Traceback" not in ran.err
    with Store(workspace_copy / "results.sqlite") as store:
        rows = list(store.rows())
    good_rows = [r for r in rows if r["model"] == "dnn-d1-w64"]
    assert {r["trial"] for r in good_rows} == {0, 1} and all(r["ok"] for r in good_rows)
    bad_rows = [r for r in rows if r["model"] == "dnn-d2-w64"]
    assert bad_rows and not any(r["ok"] for r in bad_rows)
    # measure lists each failure on stderr (above); the table of failed trials is the report's
    assert "Failed trials" not in ran.out and "Failed trials" in run_cli(workspace_copy, "report").out
