import pytest

from browserdl.results.store import Store

pytestmark = pytest.mark.xdist_group("studied")  # the worker that builds the shared study


def test_study_runs_every_stage_and_prints_the_tables(studied):
    # from the shared conversions: study reuses each up-to-date file and checks its parity again
    workspace_copy, ran = studied
    for title in ("Table 1", "Table 3", "Fig. 4", "Browser ÷ native", "Fig. 1 — training", "Table 2",
                  "findings"):
        assert title in ran.out, title
    html = workspace_copy / "report" / "index.html"
    assert f"report: {html}" in ran.err.replace("\n", "") and html.stat().st_size > 50_000
    assert (workspace_copy / "report" / "figures" / "fig4-inference.png").is_file()
    with Store(workspace_copy / "results.sqlite") as store:
        rows = [r for r in store.rows() if r["ok"]]
        conversions = {c["format"]: c["status"] for c in store.conversions()}
    assert conversions["tfjs-layers"] == "ok" and conversions["mind"] == "n/a"
    assert {"native", "tfjs", "convnetjs", "kerasjs"} <= {r["runtime"] for r in rows}
    native = {r["phase"] for r in rows if r["runtime"] == "native" and r["setting"].startswith("call=")}
    assert {"load", "warmup", "inference", "batch_inference"} <= native
    calls = {(r["settings"]["call"], r["settings"]["threads"]) for r in rows
             if r["runtime"] == "native" and r["kind"] == "load"}
    assert {(c, t) for c in ("graph", "direct", "predict") for t in ("1", "all")} <= calls
    assert "Native calls" in ran.out  # every call × thread count, the divisors marked
    assert {r["phase"] for r in rows if r["kind"] == "size"} == {
        "files", "size_raw", "size_gzip", "size_brotli"}
    assert len(next(r["samples"] for r in rows if r["runtime"] == "tfjs"
                    and r["phase"] == "inference")) == 10  # the quick preset's runs
    training = [r for r in rows if r["phase"] == "train_batch"]
    assert {"native", "tfjs", "convnetjs", "brainjs", "synaptic"} <= {r["runtime"] for r in training}
    assert all(len(r["samples"]) == 10 for r in training)  # the quick preset's training batches
