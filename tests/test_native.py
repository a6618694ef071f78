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
                  "--trials", "1", "--runs", "5", "--native-threads", "1")
    assert ran.code == 0, ran.err
    assert "Native (CPU): phase medians" in ran.out and POINTER in ran.out
    assert "Native calls" in ran.out
    assert ran.out.rstrip().endswith(POINTER)
    for other in (FINDINGS_TITLE, "Reference models", "In the browser", "Browser ÷ native",
                  "Time to first prediction"):
        assert other not in ran.out, other


def test_native_trial_stores_every_phase_positive_and_export_round_trips(workspace_copy):
    ran = run_cli(workspace_copy, "measure", "loading", "--runtimes", "native",
                  "--trials", "2", "--runs", "10", "--native-threads", "1")
    assert ran.code == 0, ran.err
    assert "Native (CPU): phase medians" in ran.out and "native graph b32, 1 thread" in ran.out
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
            "native", "load", "call=graph,batch=32,threads=1")
        assert record["protocol"] == row["protocol"] and len(record["protocol"]) == 12
    lines = run_cli(workspace_copy, "export", "--format", "jsonl", "-o", "-").out.splitlines()
    assert [json.loads(line)["value"] for line in lines] == [r["value"] for r in rows]
    assert run_cli(workspace_copy, "export").code == 0
    assert (workspace_copy / "report" / "results.csv").read_text().count("\n") == len(rows) + 1

    again = run_cli(workspace_copy, "measure", "loading", "--trials", "2", "--runs", "10",
                    "--native-threads", "1")
    assert "0 trials measured, 2 already stored" in again.err
    assert json.loads(lines[0])["kind"] == "load" and json.loads(lines[0])["target"] == "native"


def test_a_changed_protocol_measures_again_and_keeps_the_old_trials(workspace_copy, monkeypatch):
    from rich.progress import Progress

    from browserdl.loaders import native, protocol
    from browserdl.loaders.sweep import run_sweep
    from browserdl.results.records import Kind
    from browserdl.workspace import Workspace

    ws = Workspace.open(workspace_copy)
    options = native.NativeOptions(runs=3, threads=("1",))

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
    args = [sys.executable, "-m", "browserdl", "measure", "loading", "--trials", "3", "--runs", "5",
            "--native-threads", "1"]
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

    ran = run_cli(workspace_copy, "measure", "loading", "--trials", "3", "--runs", "5",
                  "--native-threads", "1")
    assert ran.code == 0, ran.err
    assert f"{3 - len(first)} trials measured, {len(first)} already stored" in ran.err
    after = _trials(workspace_copy)
    assert len(after) == 3 and after[: len(first)] == first  # nothing measured was redone


def test_corrupt_h5_fails_its_trial_clearly_and_keeps_what_was_stored(workspace_copy):
    assert run_cli(workspace_copy, "measure", "loading", "--trials", "1", "--runs", "5",
                   "--native-threads", "1").code == 0
    good = workspace_copy / "models" / "dnn-d1-w64"
    bad = workspace_copy / "models" / "dnn-d2-w64"
    bad.mkdir()
    (bad / "meta.json").write_text((good / "meta.json").read_text())
    data = (good / "model.h5").read_bytes()
    (bad / "model.h5").write_bytes(data[: len(data) // 3])  # truncated

    ran = run_cli(workspace_copy, "measure", "loading", "--trials", "2", "--runs", "5",
                  "--native-threads", "1")
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


def test_every_native_call_is_timed_in_one_trial_and_graph_beats_eager(workspace_copy):
    ran = run_cli(workspace_copy, "measure", "loading", "--runtimes", "native", "--call", "all",
                  "--native-threads", "1", "--trials", "1", "--runs", "30")
    assert ran.code == 0, ran.err
    assert "Native calls" in ran.out and "tracing" in ran.out
    with Store(workspace_copy / "results.sqlite") as store:
        rows = list(store.rows())
    by_call: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_call.setdefault(r["settings"]["call"], {})[r["phase"]] = r
    assert {"graph", "direct", "predict"} <= set(by_call) <= {"graph", "xla", "direct", "predict"}
    for call, phases in by_call.items():
        if call == "xla" and not phases.get("inference", {}).get("ok"):
            (failed,) = {r["error"] for r in phases.values()}
            assert failed.startswith("xla: ") and len(failed) > 5  # n/a with TensorFlow's reason
            assert all(r["detail"].get("not_applicable") for r in phases.values())
            continue
        assert set(phases) >= PHASES, call
        assert all(r["ok"] and r["value"] > 0 for r in phases.values()), call
        assert len(phases["inference"]["samples"]) == 30
        assert phases["inference"]["settings"]["threads"] == "1"  # stored as a setting
        assert phases["inference"]["detail"]["calls_in_process"][0] == "graph"
    # one process timed every call: the shared phases are the same numbers
    assert len({phases["tf_import"]["value"] for phases in by_call.values() if "tf_import" in phases}) == 1
    graph, direct = (by_call[c]["inference"]["value"] for c in ("graph", "direct"))
    assert graph < direct, (graph, direct)  # the tf.function call beats Python's eager path
    assert by_call["predict"]["inference"]["value"] > graph
    # graph's warm-up traces the function: slower than its steady calls
    assert by_call["graph"]["warmup"]["value"] > graph


def test_native_options_are_checked(workspace_copy):
    for option, value in (("--call", "jit"), ("--native-threads", "0"), ("--native-threads", "some")):
        ran = run_cli(workspace_copy, "measure", "loading", option, value)
        assert ran.code != 0 and "Traceback" not in ran.err
        assert value in ran.err and len(ran.err.strip().splitlines()) == 1, ran.err
