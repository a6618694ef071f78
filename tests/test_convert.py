"""The conversion stage end to end, with TF.js (the format every model has) as the framework."""

import hashlib
import json
import shutil

import pytest
from conftest import FINDINGS_TITLE, POINTER, run_cli

from browserdl.converter import FORMATS
from browserdl.converter.base import Manifest
from browserdl.results.store import Store

TFJS = "keras-h5,tfjs-layers,tfjs-layers-f16,tfjs-layers-u8"
BOUND = {"keras-h5": 1e-4, "tfjs-layers": 1e-4, "tfjs-layers-f16": 1e-2, "tfjs-layers-u8": 0.1}


@pytest.fixture(scope="module")
def small_zoo(tmp_path_factory, trained):
    """dnn-d1-w64 (from the session), plus a small CNN and LSTM, converted to the TF.js formats."""
    ws = tmp_path_factory.mktemp("zoo")
    shutil.copytree(trained / "models", ws / "models")
    assert run_cli(ws, "train", "--models", "cnn-l6-w20,rnn-l1-w8").code == 0
    ran = run_cli(ws, "convert", "all-formats", "--formats", TFJS)
    assert ran.code == 0, ran.err
    return ws, ran


def test_every_model_round_trips_through_tfjs_within_its_bound(small_zoo):
    ws, ran = small_zoo
    assert "Conversions" in ran.out and "12 written (0 reused), 0 not expressible, 0 failed" in ran.err
    with Store(ws / "results.sqlite") as store:
        rows = store.conversions()
    assert {(r["model"], r["format"]) for r in rows} == {
        (m, f) for m in ("dnn-d1-w64", "cnn-l6-w20", "rnn-l1-w8") for f in TFJS.split(",")}
    for r in rows:
        assert r["status"] == "ok", r
        assert r["max_diff"] <= BOUND[r["format"]] and r["n"] == 32
        # float32 formats agree on every argmax; quantized ones may flip a near-tie only
        assert r["argmax_equal"] == 32 if BOUND[r["format"]] == 1e-4 else r["argmax_equal"] >= 30
        assert r["bytes"] > 0 and r["library"]


def test_manifest_lists_every_file_with_its_bytes_and_hash(small_zoo):
    ws, _ = small_zoo
    folder = ws / "formats" / "dnn-d1-w64" / "tfjs-layers-u8"
    manifest = Manifest.load(folder)
    assert manifest.runtime == "tfjs" and manifest.entry == "model.json"
    assert {f.name for f in manifest.files} == {p.name for p in folder.iterdir()} - {"manifest.json"}
    for f in manifest.files:
        data = (folder / f.name).read_bytes()
        assert f.bytes == len(data) and f.sha256 == hashlib.sha256(data).hexdigest()
    shard = next(f for f in manifest.files if f.name.endswith(".bin"))
    assert shard.bytes == 50_890  # one byte per parameter
    model_json = json.loads((folder / "model.json").read_text())
    assert model_json["weightsManifest"][0]["weights"][0]["quantization"]["dtype"] == "uint8"
    assert any("uint8" in note for note in manifest.notes)


def test_rerun_reuses_and_a_tampered_file_fails_parity_clearly(small_zoo, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(small_zoo[0], ws)
    ran = run_cli(ws, "convert", "all-formats", "--formats", TFJS, "--models", "dnn-d1-w64")
    assert ran.code == 0 and "4 written (4 reused)" in ran.err

    shard = ws / "formats" / "dnn-d1-w64" / "tfjs-layers" / "group1-shard1of1.bin"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4000] = b"\x00\x00\x80\x7f" * 1000  # +inf weights
    shard.write_bytes(bytes(data))
    truncated = ws / "formats" / "dnn-d1-w64" / "tfjs-layers-f16" / "group1-shard1of1.bin"
    truncated.write_bytes(truncated.read_bytes()[:1000])

    ran = run_cli(ws, "convert", "all-formats", "--formats", TFJS, "--models", "dnn-d1-w64")
    assert ran.code == 1 and "Traceback" not in ran.err
    failures = [line for line in ran.err.splitlines() if line.startswith("parity failed")]
    assert len(failures) == 2
    assert "tfjs-layers:" in failures[0] or "tfjs-layers:" in failures[1]
    assert any("should have 50176 values" in line for line in failures)  # the truncated one
    assert any("NaN or infinity" in line or "max |diff|" in line for line in failures)
    with Store(ws / "results.sqlite") as store:
        status = {r["format"]: r["status"] for r in store.conversions() if r["model"] == "dnn-d1-w64"}
    assert status == {"keras-h5": "ok", "tfjs-layers": "failed", "tfjs-layers-f16": "failed",
                      "tfjs-layers-u8": "ok"}
    assert run_cli(ws, "convert", "tfjs-layers", "--model", "dnn-d1-w64", "--force").code == 0


def test_sizes_give_table_3_with_compressed_bytes(small_zoo, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(small_zoo[0], ws)
    ran = run_cli(ws, "measure", "sizes")
    assert ran.code == 0, ran.err
    assert "Table 3" in ran.out and "Encodings" in ran.out and POINTER in ran.out
    assert FINDINGS_TITLE not in ran.out
    with Store(ws / "results.sqlite") as store:
        sizes = {(r["model"], r["format"], r["phase"]): r["value"] for r in store.rows()
                 if r["kind"] == "size"}
    for model in ("dnn-d1-w64", "cnn-l6-w20", "rnn-l1-w8"):
        raw = sizes[(model, "tfjs-layers", "size_raw")]
        assert raw == Manifest.load(ws / "formats" / model / "tfjs-layers").total_bytes
        assert sizes[(model, "tfjs-layers", "size_gzip")] < raw
        assert sizes[(model, "tfjs-layers", "size_brotli")] < raw
    # float16 halves the weights; only model.json stays (it dominates the tiny LSTM)
    assert sizes[("dnn-d1-w64", "tfjs-layers-f16", "size_raw")] < 0.55 * sizes[
        ("dnn-d1-w64", "tfjs-layers", "size_raw")]


def test_bad_conversion_input_gives_one_line(trained, tmp_path):
    for args, fragment in ((["convert", "all-formats", "--formats", "tflite"], "unknown format(s) tflite"),
                           (["measure", "sizes"], "nothing converted"),
                           (["convert", "all-formats", "--lib", "mind"], "--lib mind")):
        ran = run_cli(trained, *args)
        assert ran.code == 2 and len(ran.err_lines) == 1 and fragment in ran.err, ran.err
    assert set(FORMATS) >= {"keras-h5", "tfjs-layers", "tfjs-layers-f16", "tfjs-layers-u8"}
