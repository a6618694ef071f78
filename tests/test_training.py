"""measure training: every library that trains, in the real headless Chromium, and native
TensorFlow, on the same batches from the same weights; loss, time and CPU checked as values."""

import os
import shutil
from pathlib import Path

import pytest
from conftest import FINDINGS_TITLE, POINTER, copy_of, run_cli

from browserdl.reports import findings, training_tables, tree
from browserdl.reports.frame import Frame
from browserdl.results.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("studied")]  # one worker builds it

BATCHES = 10  # the quick study's timed batches (conftest.studied trains dnn-d1-w64 with them)
# every runtime/backend that can train a dnn-d1-w64 here (Mind refuses relu; see the Mind test)
COMBOS = {("tfjs-layers", "tfjs", b) for b in ("cpu", "wasm", "webgl", "webgpu")} | {
    ("convnetjs", "convnetjs", "cpu"), ("brainjs", "brainjs", "cpu"),
    ("synaptic", "synaptic", "cpu"), ("keras-h5", "native", "cpu")}
# the same objective (cross-entropy) and the same mini-batch SGD as TensorFlow
SAME_AS_NATIVE = {("tfjs", "cpu"), ("tfjs", "wasm"), ("tfjs", "webgl"), ("tfjs", "webgpu"),
                  ("convnetjs", "cpu")}
TRAINING_FORMATS = "tfjs-layers,convnetjs,brainjs,synaptic,mind"


@pytest.fixture(scope="module")
def converted(tmp_path_factory, studied):
    """The shared study's workspace (its training stage trained dnn-d1-w64 in every library and
    natively, 1 trial of BATCHES batches), plus a small CNN in the formats that train."""
    ws = copy_of(studied[0], tmp_path_factory, "training")
    ran = run_cli(ws, "train", "--models", "cnn-l6-w20")
    assert ran.code == 0, ran.err
    ran = run_cli(ws, "convert", "all-formats", "--models", "cnn-l6-w20", "--formats", TRAINING_FORMATS)
    assert ran.code == 0, ran.err
    return ws


@pytest.fixture(scope="module")
def trained_once(converted, studied):
    with Store(converted / "results.sqlite") as store:
        return studied[1], [r for r in store.rows() if r["kind"] == "train"]


def _phases(rows, runtime, backend):
    return {r["phase"]: r for r in rows if (r["runtime"], r["backend"]) == (runtime, backend)}


def test_every_library_trains_the_loss_falls_times_and_cpu_are_sane(trained_once):
    ran, rows = trained_once
    assert {(r["format"], r["runtime"], r["backend"]) for r in rows} == COMBOS
    assert all(r["ok"] for r in rows)
    for _, runtime, backend in COMBOS:
        phases = _phases(rows, runtime, backend)
        batches = phases["train_batch"]["samples"]
        assert len(batches) == BATCHES and all(t > 0 for t in batches), (runtime, backend)
        assert phases["train_warmup"]["value"] > 0
        assert len(phases["train_loss"]["samples"]) == BATCHES
        # the probe (the first 256 trained samples): the library's own objective fell
        assert phases["loss_after"]["value"] < phases["loss_before"]["value"], (runtime, backend)
        windows = phases["cpu_train"]["samples"]
        assert windows and all(0 <= w <= 100 * os.cpu_count() + 5 for w in windows), (runtime, backend)
    assert "Fig. 1 — training" in ran.out and "Table 2 — CPU utilisation" in ran.out


def test_same_weights_same_batches_same_updates_as_native(trained_once):
    """tfjs (every backend) and ConvNetJS start from the converted Keras weights and apply the
    same mean-gradient SGD: the probe's loss matches native TensorFlow before and after."""
    _, rows = trained_once
    native = _phases(rows, "native", "cpu")
    for runtime, backend in SAME_AS_NATIVE:
        phases = _phases(rows, runtime, backend)
        assert phases["loss_before"]["value"] == pytest.approx(native["loss_before"]["value"], abs=1e-4)
        assert phases["loss_after"]["value"] == pytest.approx(native["loss_after"]["value"], abs=1e-3)
        assert "mini-batch" in phases["train_batch"]["detail"]["updates"]
    per_sample = _phases(rows, "synaptic", "cpu")["train_batch"]["detail"]
    assert per_sample["updates"].startswith("per sample") and "2y − 1" in per_sample["objective"]


def test_native_trains_at_one_thread_and_every_core_in_a_compiled_graph(trained_once):
    _, rows = trained_once
    native = [r for r in rows if r["runtime"] == "native" and r["phase"] == "train_batch"]
    assert sorted(r["settings"]["threads"] for r in native) == ["1", "all"]
    for r in native:  # the worker checked how Keras ran the step
        assert r["detail"]["train_step"].startswith("graph: train_on_batch ran Keras' tf.function")
        assert len(r["samples"]) == BATCHES and all(t > 0 for t in r["samples"])


def test_report_shows_fig1_ratios_table2_tree_and_findings(trained_once, converted):
    with Store(converted / "results.sqlite") as store:
        frame = Frame.load(store)
    rows = training_tables.training_ratios(frame)
    ratios = {(r["runtime"], r["backend"]): r["ratio"] for r in rows}
    assert set(ratios) == {(r, b) for _, r, b in COMBOS if r != "native"}
    for r in rows:  # ÷ native at 1 thread, unless the library trained on wasm threads
        threads = "all threads" if frame.threads[r["group"]] > 1 else "1 thread"
        assert r["baseline"] == f"native train_on_batch, {threads}", r
    assert "graph: train_on_batch" in " ".join(training_tables.training_ratio_table(frame).notes)
    assert all(v > 0 for v in ratios.values())
    assert any(r["task"] == "training" for r in tree.tree_rows(frame)["dnn"])
    width = next(f for f in findings.evaluate(frame) if f.number == 2)
    assert "training" in width.evidence
    ran = run_cli(converted, "report", "--html")
    assert ran.code == 0, ran.err
    html = (converted / "report" / "index.html").read_text()
    assert "Fig. 1 — training time per batch of 64" in html
    assert "Table 2 — CPU utilisation during training" in html
    assert (converted / "report" / "figures" / "fig1-training.png").stat().st_size > 10_000


def test_what_cannot_train_is_not_applicable_with_its_reason(converted):
    ran = run_cli(converted, "measure", "training", "--models", "cnn-l6-w20", "--runtimes",
                  "brainjs,tfjs,kerasjs", "--backends", "cpu,wasm", "--trials", "1", "--batches", "2")
    assert ran.code == 0, ran.err
    # measure training prints its own tables and points to the report for the rest
    assert "Fig. 1 — training" in ran.out and POINTER in ran.out
    assert FINDINGS_TITLE not in ran.out and "Native (CPU)" not in ran.out
    err = " ".join(ran.err.split())
    assert "not applicable: cnn-l6-w20 brainjs: layer" in err and "fully connected layers only" in err
    assert "not applicable: cnn-l6-w20 kerasjs: no training API" in err
    # TF.js's wasm backend has no gradient kernels for convolutions: found by running it
    assert "1 not applicable" in err and "Conv2DBackpropFilter" in err
    with Store(converted / "results.sqlite") as store:
        reasons = training_tables.training_not_applicable(Frame.load(store))
        assert "Conv2DBackpropFilter" in reasons[("cnn-l6-w20", "tfjs", "wasm")]
        assert "fully connected" in reasons[("cnn-l6-w20", "brainjs", "cpu")]
        cpu = [r for r in store.rows() if (r["model"], r["runtime"], r["backend"], r["phase"])
               == ("cnn-l6-w20", "tfjs", "cpu", "train_batch")]
        assert cpu and cpu[0]["ok"] and len(cpu[0]["samples"]) == 2  # the CNN trains on tfjs/cpu


def test_a_diverging_run_fails_with_its_reason_and_the_sweep_goes_on(converted, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(converted, ws)
    # per-sample updates at a large rate blow synaptic's logits up to NaN; convnetjs survives it
    ran = run_cli(ws, "measure", "training", "--models", "dnn-d1-w64", "--runtimes",
                  "synaptic,convnetjs", "--trials", "1", "--batches", "2", "--lr", "0.5")
    assert ran.code == 1
    err = " ".join(ran.err.split())
    assert "failed dnn-d1-w64 synaptic/cpu" in err and "training diverged" in err
    assert "1 trials measured" in err


def test_bad_options_get_one_line(converted):
    ran = run_cli(converted, "measure", "training", "--runtimes", "tensorflow")
    assert ran.code == 2 and ran.err_lines == [
        "error: unknown runtime(s) tensorflow: choose from native, tfjs, convnetjs, brainjs, "
        "synaptic, mind or all"]
    ran = run_cli(converted, "measure", "training", "--lr", "0")
    assert ran.code == 2 and "--lr 0.0: the learning rate must be positive" in ran.err


@pytest.mark.skipif(not os.environ.get("BROWSERDL_MIND_LIB"),
                    reason="Mind is not on npm: BROWSERDL_MIND_LIB=PATH to a Mind bundle runs it")
def test_mind_trains_a_tanh_dnn_with_the_users_library(converted):
    library = Path(os.environ["BROWSERDL_MIND_LIB"])
    ran = run_cli(converted, "train", "--models", "dnn-d1-w64-tanh")
    assert ran.code == 0, ran.err
    ran = run_cli(converted, "convert", "mind", "--model", "dnn-d1-w64-tanh", "--lib", f"mind={library}")
    assert ran.code == 0, ran.err
    # Mind sums the gradient over the batch (64× a mean-gradient step): at 1e-3 its loss rises
    ran = run_cli(converted, "measure", "training", "--models", "dnn-d1-w64-tanh", "--runtimes", "mind",
                  "--trials", "1", "--batches", "10", "--lr", "0.0001", "--lib", f"mind={library}")
    assert ran.code == 0, ran.err
    with Store(converted / "results.sqlite") as store:
        rows = [r for r in store.rows() if r["runtime"] == "mind" and r["kind"] == "train"]
    phases = {r["phase"]: r for r in rows}
    assert phases["loss_after"]["value"] < phases["loss_before"]["value"]
    assert phases["train_batch"]["detail"]["updates"].startswith("full batch")
