from conftest import run_cli

from browserdl.reports.store import Store


def test_study_runs_the_stages_that_exist_and_prints_the_tables(workspace_copy):
    ran = run_cli(workspace_copy, "study", "--models", "dnn-d1-w64", "--trials", "1")
    assert ran.code == 0, ran.err
    assert "Reference models" in ran.out and "50,890" in ran.out
    assert "Native TensorFlow" in ran.out
    with Store(workspace_copy / "results.sqlite") as store:
        phases = {r["phase"] for r in store.rows() if r["ok"]}
    assert {"load", "warmup", "inference", "batch_inference"} <= phases
