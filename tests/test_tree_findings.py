"""Fig. 6 decision trees, the Table 6 findings and the paper's numbers file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import copy_of, trial_key
from rich.console import Console

from browserdl.reports.findings import CONTRADICTS, LACKS, SUPPORTS, evaluate, findings_table
from browserdl.reports.frame import Frame
from browserdl.reports.tree import FACTORS, decision_trees, importance_table, tree_figure
from browserdl.results.records import Phase, TrialResult
from browserdl.results.store import Store

PAPER = Path(__file__).parents[1] / "browserdl" / "reports" / "paper_numbers.json"


@pytest.fixture(scope="module")
def sweep(small_sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared small real sweep (conftest.small_sweep): dnn-d1-w64 natively and in Chromium."""
    return copy_of(small_sweep, tmp_path_factory, "sweep") / "results.sqlite"


def _synthetic_store(path: Path) -> Store:
    """UNIT TEST OF THE FITTING CODE ONLY — made-up rows, not measurements. The rule: every
    browser phase takes 10× native on webgl and 2× native on cpu, whatever the depth and width."""
    store = Store(path)
    factor = {"cpu": 2.0, "webgl": 10.0}
    for depth in (1, 2, 4):
        for width in (64, 128):
            model = f"dnn-d{depth}-w{width}"
            native = {"load": 50.0, "warmup": 3.0 * depth, "inference": 0.1 * width / 64,
                      "batch_inference": 1.0 * depth, "tf_import": 900.0}
            store.record(trial_key(model, "keras-h5", "native", "cpu", "call=direct,batch=32", 0),
                         TrialResult(True, [Phase(k, v) for k, v in native.items()]), None)
            for backend, f in factor.items():
                browser = {"library": 100.0, "download": 1.0, "parse": 1.0, "build": 1.0,
                           "warmup": f * native["warmup"], "inference": f * native["inference"],
                           "batch_inference": f * native["batch_inference"]}
                store.record(trial_key(model, "tfjs-layers", "tfjs", backend, "cache=cold", 0),
                             TrialResult(True, [Phase(k, v) for k, v in browser.items()]), None)
    return store


def test_tree_fits_known_rule(tmp_path: Path) -> None:
    with _synthetic_store(tmp_path / "synthetic.sqlite") as store:
        results = {r.network: r for r in decision_trees(Frame.load(store))}
    dnn = results["dnn"]
    assert dnn.enough and dnn.n_rows == 6 * 2 * 3  # 6 models × 2 backends × 3 tasks
    assert math.isclose(sum(dnn.importances.values()), 1.0)
    assert set(dnn.importances) == set(FACTORS)
    assert dnn.importances["backend"] == pytest.approx(1.0)
    tree = dnn.model.tree_
    assert dnn.feature_names[tree.feature[0]].startswith("backend=")  # first split: backend
    leaves = sorted(round(math.exp(v), 6) for v, left in zip(tree.value[:, 0, 0], tree.children_left,
                                                               strict=True) if left == -1)
    assert leaves == [2.0, 10.0]
    assert dnn.text.splitlines()[0].startswith("|--- backend=")
    assert "ratio = 2×" in dnn.text and "ratio = 10×" in dnn.text
    assert not results["cnn"].enough and results["cnn"].n_rows == 0
    png, svg = tree_figure(dnn, tmp_path / "fig")
    assert png.stat().st_size > 5000 and "<svg" in svg.read_text()[:500]
    assert tree_figure(results["cnn"], tmp_path / "fig") is None


def test_real_sweep_trees_say_not_enough(sweep: Path, tmp_path: Path) -> None:
    with Store(sweep) as store:
        results = decision_trees(Frame.load(store))
    assert [r.network for r in results] == ["dnn", "cnn", "rnn"]
    dnn = results[0]
    assert not dnn.enough and dnn.n_rows == 6  # one model × (cpu, webgl) × 3 tasks
    assert dnn.message.startswith("not enough data") and "1 model size" in dnn.message
    assert all(not r.enough and r.importances == {} for r in results)
    out = Console(width=200, record=True)
    out.print(importance_table(results))
    assert out.export_text().count("not enough data") == 3


def test_findings_on_real_sweep(sweep: Path) -> None:
    with Store(sweep) as store:
        findings = evaluate(Frame.load(store))
    assert [f.number for f in findings] == list(range(1, 9))
    assert all(f.verdict in (SUPPORTS, CONTRADICTS, LACKS) and f.evidence for f in findings)
    by = {f.number: f for f in findings}
    assert by[6].verdict == SUPPORTS and "convnetjs" in by[6].evidence  # JSON ≫ binary
    ratio = float(by[6].evidence.split("median ")[1].split("×")[0])
    assert ratio > 2
    assert by[2].verdict == LACKS  # one DNN size: no width or depth doubling
    assert by[4].verdict == LACKS and by[5].verdict == LACKS  # software GPU only
    assert by[7].verdict == LACKS
    assert "SwiftShader" in by[3].evidence and "dnn-d1-w64" in by[3].evidence
    out = Console(width=200, record=True)
    out.print(findings_table(findings))
    assert "Model File Encoding and Size" in out.export_text()


def test_findings_on_empty_store(tmp_path: Path) -> None:
    with Store(tmp_path / "empty.sqlite") as store:
        findings = evaluate(Frame.load(store))
    assert len(findings) == 8 and {f.verdict for f in findings} == {LACKS}


def test_paper_numbers_cited() -> None:
    data = json.loads(PAPER.read_text())
    entries = (data["table3_file_sizes_mb"]["rows"] + data["ratios"]
               + data["table2_cpu_utilisation_training_pct"]["rows"] + data["table6_findings"])
    assert all("line" in e["cite"] for e in entries)
    assert [f["number"] for f in data["table6_findings"]] == list(range(1, 9))
    assert all(f["statement"] and f["implication"] for f in data["table6_findings"])
    ratios = {r["id"]: r["value"] for r in data["ratios"]}
    assert ratios["json_vs_binary_size"] == 7.0
    assert ratios["tfjs_cpu_training_vs_native_dnn"] == 33.9
    assert ratios["tfjs_cpu_inference_vs_native_dnn"] == 5.8
    sizes = {(r["depth"], r["width"], r["format"]): r["mb"] for r in data["table3_file_sizes_mb"]["rows"]}
    assert len(sizes) == 36 and sizes[(4, 256, "synaptic")] == 26.5 and sizes[(1, 64, "tfjs-layers")] == 0.2
    text = (Path("/work/shared/paper/moving-deep-learning-into-web-browser.txt"))
    if text.exists():  # the quotes really are on the cited lines
        lines = text.read_text().splitlines()
        for r in data["ratios"]:
            line = int(r["cite"].split("line ")[1].split(";")[0].split(" ")[0].rstrip(","))
            assert r["quote"] in lines[line - 1], r["id"]
