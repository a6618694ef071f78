"""Loading under network profiles (shaped by the loopback server) and with server compression:
bytes on the wire from the browser's own resource timing, the time a throttled download must take, the time to
first prediction table and plot."""

import gzip
import json
import urllib.request

import brotli
import pytest
from conftest import FINDINGS_TITLE, POINTER, copy_of, run_cli

from browserdl.converter.base import Manifest
from browserdl.loaders.network import PROFILES
from browserdl.loaders.server import LoopbackServer
from browserdl.results.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("studied")]  # one worker builds it


FORMATS = "keras-h5,brainjs,tfjs-layers,tfjs-layers-f16,tfjs-layers-u8"


@pytest.fixture(scope="module")
def converted(tmp_path_factory, converted_all):
    """The shared conversions of dnn-d1-w64 (these tests use the formats in FORMATS)."""
    return copy_of(converted_all, tmp_path_factory, "network")


@pytest.fixture(scope="module")
def measured(converted):
    """brain.js through the 3g profile; brain.js and TF.js served raw and with brotli."""
    ran = run_cli(converted, "measure", "loading", "--runtimes", "brainjs", "--network", "3g",
                  "--trials", "1", "--runs", "2")
    assert ran.code == 0, ran.err
    # a run through a network profile: the browser table and time to first prediction, no ratios
    for title in ("In the browser", "Time to first prediction", POINTER):
        assert title in ran.out, title
    assert "Browser ÷ native" not in ran.out and FINDINGS_TITLE not in ran.out
    ran = run_cli(converted, "measure", "loading", "--runtimes", "brainjs,tfjs", "--backends", "cpu",
                  "--compression", "none,br", "--trials", "1", "--runs", "2")
    assert ran.code == 0, ran.err  # a trial whose outputs differ from Keras fails: parity held
    return converted


def _get(url: str, accept: str) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": accept})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read(), response.headers.get("Content-Encoding", "")


def test_the_server_answers_accept_encoding(tmp_path):
    data = b'{"weights": [' + b"0.123456789, " * 5000 + b"1]}"
    (tmp_path / "model.json").write_bytes(data)
    with LoopbackServer({"/m/": tmp_path}, compression="br") as server:
        url = server.url + "/m/model.json"
        body, encoding = _get(url, "gzip, deflate, br, zstd")
        assert encoding == "br" and brotli.decompress(body) == data and len(body) < len(data) / 10
        assert _get(url, "gzip, br;q=0") == (data, "")  # br refused, gzip not what it serves
        assert _get(url, "identity") == (data, "")
        server.compression = "gzip"
        body, encoding = _get(url, "gzip, br")
        assert encoding == "gzip" and gzip.decompress(body) == data
        server.compression = "none"
        assert _get(url, "gzip, br") == (data, "")


def test_a_throttled_download_takes_at_least_bytes_over_bandwidth(measured):
    with Store(measured / "results.sqlite") as store:
        phases = {r["phase"]: r for r in store.rows() if r["setting"] == "cache=cold,network=3g"}
    bytes_per_ms = PROFILES["3g"].down_kbps / 8  # kbit/s → bytes per ms
    sent = phases["transfer_model"]["value"]
    assert sent > 1_000_000  # brain.js's JSON for dnn-d1-w64: 1.38 MB
    assert phases["download"]["value"] >= sent / bytes_per_ms  # ≥ 6.9 s at 1.6 Mbit/s
    assert phases["download"]["value"] < 2 * sent / bytes_per_ms + 2_000
    assert phases["library"]["value"] >= phases["transfer_library"]["value"] / bytes_per_ms


def test_brotli_sends_fewer_bytes_than_on_disk_and_still_loads_with_parity(measured):
    with Store(measured / "results.sqlite") as store:
        rows = [r for r in store.rows() if r["phase"] == "transfer_model"]
    sent = {(r["format"], r["setting"]): r for r in rows}
    folder = measured / "formats" / "dnn-d1-w64" / "brainjs"
    on_disk = Manifest.load(folder).total_bytes
    brotli_sent = sent[("brainjs", "cache=cold,compression=br")]
    assert brotli_sent["ok"] and brotli_sent["value"] < on_disk / 2  # JSON compresses 2.5×
    assert brotli_sent["detail"]["transfer"]["model"]["decoded"] > on_disk  # + manifest.json
    assert sent[("brainjs", "cache=cold")]["value"] > on_disk
    tfjs = sent[("tfjs-layers", "cache=cold,compression=br")]["value"]
    assert tfjs < sent[("tfjs-layers", "cache=cold")]["value"]  # binary float32: a little smaller


def test_ttfp_table_and_plot_in_the_report(measured):
    ran = run_cli(measured, "report", "--html")
    assert ran.code == 0, ran.err
    assert "Time to first prediction" in ran.out
    html = (measured / "report" / "index.html").read_text()
    assert "Time to first prediction — dnn-d1-w64" in html
    assert (measured / "report" / "figures" / "ttfp-dnn-d1-w64.png").stat().st_size > 10_000


def test_accuracy_of_each_encoding_on_the_test_digits(converted):
    ran = run_cli(converted, "measure", "accuracy", "--formats", FORMATS)
    assert ran.code == 0, ran.err
    assert "Accuracy of each encoding" in ran.out and POINTER in ran.out
    assert FINDINGS_TITLE not in ran.out and "Time to first prediction" not in ran.out
    with Store(converted / "results.sqlite") as store:
        acc = {(r["format"], r["phase"]): r["value"] for r in store.rows() if r["kind"] == "accuracy"}
    meta = json.loads((converted / "models" / "dnn-d1-w64" / "meta.json").read_text())
    assert acc[("keras-h5", "accuracy")] == pytest.approx(meta["test_accuracy"], abs=1e-4)
    assert all(acc[(f, "n")] == 2000 for f in ("keras-h5", "tfjs-layers-u8", "brainjs"))
    for fmt in ("tfjs-layers", "brainjs"):  # float32 (brain.js: float64) files: the same answers
        assert acc[(fmt, "agreement")] >= 0.999 and acc[(fmt, "max_diff")] < 1e-4
    assert acc[("tfjs-layers-f16", "agreement")] >= 0.995
    # uint8: 4× smaller; its outputs move, its answers barely, accuracy within a point
    assert acc[("tfjs-layers-u8", "agreement")] >= 0.95 and acc[("tfjs-layers-u8", "max_diff")] > 1e-4
    assert abs(acc[("tfjs-layers-u8", "accuracy")] - acc[("keras-h5", "accuracy")]) < 0.01


def test_bad_network_or_compression_gets_one_line(converted):
    ran = run_cli(converted, "measure", "loading", "--network", "5g")
    assert ran.code == 2 and ran.err_lines == [
        "error: --network 5g: choose from none, wifi, 4g, 3g (comma-separated)"]
    ran = run_cli(converted, "measure", "loading", "--compression", "zstd")
    assert ran.code == 2 and "choose from none, gzip, br" in ran.err
