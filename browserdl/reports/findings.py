"""The paper's Table 6 findings, each checked against this store: supports, contradicts or lacks data.

Every verdict comes with the numbers that decide it. The rules are deliberately simple and
stated in the evidence, so a reader can disagree with a threshold rather than with hidden logic.
GPU backends on this kind of machine run on SwiftShader (a software renderer on the CPU), so
nothing here speaks for a real graphics card unless the stored renderer string says otherwise.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browserdl.loaders.runtimes import json_formats
from browserdl.reports import training_tables
from browserdl.reports.frame import (
    GPU_BACKENDS,
    Frame,
    Group,
    Phases,
    browser,
    cold,
    series_format,
    software_gpu,
)
from browserdl.reports.loading_tables import ratios
from browserdl.reports.table import Table, columns

PAPER_NUMBERS = Path(__file__).with_name("paper_numbers.json")
SUPPORTS, CONTRADICTS, LACKS = "supports", "contradicts", "lacks data"
JSON_FORMATS = json_formats()  # convnetjs, brainjs, synaptic, mind (loaders/runtimes.py)
BINARY = "tfjs-layers"
_OWN_MODELS = re.compile(r"(dnn|cnn|rnn)-.*")
Groups = dict[Group, Phases]


@dataclass
class Finding:
    number: int
    name: str
    statement: str
    verdict: str
    evidence: str


@dataclass
class _Data:
    groups: Groups  # browser, cold cache, loopback -> phases
    sizes: dict[tuple[str, str], float]  # (model, format) -> raw bytes
    frame: Frame
    ratios: list[dict[str, Any]]
    training: dict[tuple[str, str], dict[tuple[int, int], float]]  # DNN mean ms per batch
    training_cpu: dict[tuple[str, str], float]  # largest CPU window while training, %


def paper_findings() -> list[dict[str, Any]]:
    return json.loads(PAPER_NUMBERS.read_text())["table6_findings"]


def _load(frame: Frame) -> _Data:
    # each runtime/backend's own format (tfjs-layers for TF.js, as the paper loaded it): the
    # findings key by runtime/backend, where tfjs-graph or a quantized variant would pool with it
    groups = {g: p for g, p in frame.summaries.items() if browser(g) and cold(g) and not series_format(g)}
    sizes = {key: size["size_raw"] for key, size in frame.sizes.items() if "size_raw" in size}
    training: dict[tuple[str, str], dict[tuple[int, int], float]] = defaultdict(dict)
    training_cpu: dict[tuple[str, str], float] = {}
    for group, pooled in training_tables.trials(frame).items():
        where = (group.runtime, group.backend)
        info = frame.model(group.model)
        if info.family == "dnn" and info.grid and pooled["batch"]:
            training[where][info.grid] = statistics.mean(pooled["batch"])
        if pooled["cpu"]:
            training_cpu[where] = max(pooled["cpu"] + [training_cpu.get(where, 0)])
    own = [r for r in ratios(frame) if not series_format(r["group"])]
    return _Data(groups, sizes, frame, own, dict(training), training_cpu)


def _med(phases: Phases, name: str) -> float | None:
    return phases[name][0].median if name in phases else None


def _software(data: _Data, group: Group) -> bool:
    return group.backend in GPU_BACKENDS and software_gpu(data.frame.renderers.get(group, "swiftshader"))


def _f1_comparable(data: _Data) -> tuple[str, str]:
    best: dict[str, dict[str, float]] = defaultdict(dict)  # model -> runtime -> fastest inference
    for group, phases in data.groups.items():
        if (value := _med(phases, "inference")) is not None:
            best[group.model][group.runtime] = min(value, best[group.model].get(group.runtime, value))
    spreads = {m: (max(r.values()) / min(r.values()), max(r, key=r.get), min(r, key=r.get))
               for m, r in best.items() if len(r) >= 2 and min(r.values()) > 0}
    if not spreads:
        return LACKS, "needs ≥ 2 runtimes' inference on the same model"
    worst = max(spreads.values())
    verdict = SUPPORTS if worst[0] <= 10 else CONTRADICTS
    parts = [f"{m}: {s:.1f}× ({slow} slowest, {fast} fastest)"
             for m, (s, slow, fast) in sorted(spreads.items())]
    return verdict, ("steady inference, fastest backend per runtime; spread within one order of "
                     "magnitude (≤ 10×) on every model? " + "; ".join(parts)
                     + ". (The paper itself reports synaptic dozens to hundreds of times slower, line 176.)")


def _dnn_inference(data: _Data) -> dict[tuple[str, str], dict[tuple[int, int], float]]:
    out: dict[tuple[str, str], dict[tuple[int, int], float]] = defaultdict(dict)
    for group, phases in data.groups.items():
        info = data.frame.model(group.model)
        if info.family == "dnn" and info.grid and (value := _med(phases, "inference")):
            out[(group.runtime, group.backend)][info.grid] = value
    return out


def _doublings(grids: list[dict[tuple[int, int], float]]) -> tuple[list[float], list[float]]:
    """Time factors when width (depth) doubles, per runtime/backend and model."""
    wider, deeper = [], []
    for grid in grids:
        for (d, w), t in grid.items():
            if (d, 2 * w) in grid:
                wider.append(grid[(d, 2 * w)] / t)
            if (2 * d, w) in grid:
                deeper.append(grid[(2 * d, w)] / t)
    return wider, deeper


def _f2_width(data: _Data) -> tuple[str, str]:
    tasks = {"inference": _doublings(list(_dnn_inference(data).values())),
             "training": _doublings(list(data.training.values()))}
    parts, verdicts = [], []
    for task, (wider, deeper) in tasks.items():
        if not wider or not deeper:
            parts.append(f"{task}: lacks DNNs differing by a doubled width and by a doubled depth on "
                         f"the same runtime ({len(wider)} width, {len(deeper)} depth pairs)")
            continue
        w_med, d_med = statistics.median(wider), statistics.median(deeper)
        verdicts.append(w_med > d_med)
        parts.append(f"{task}: doubling width multiplies time by {w_med:.2f}× (median of "
                     f"{len(wider)}), doubling depth by {d_med:.2f}× ({len(deeper)})")
    if not verdicts:
        return LACKS, "; ".join(parts)
    verdict = SUPPORTS if all(verdicts) else CONTRADICTS
    return verdict, "; ".join(parts) + "; the paper: width doubling ≈ 2× (line 239)"


def _f3_loading(data: _Data) -> tuple[str, str]:
    shares = []
    for phases in data.groups.values():
        parts = [_med(phases, p) for p in ("download", "parse", "build", "warmup", "inference")]
        if all(v is not None for v in parts) and parts[-1]:
            shares.append(sum(parts[:-1]) / parts[-1])  # type: ignore[arg-type]
    if not shares:
        return LACKS, "needs download, parse, build, warm-up and inference phases"
    longer = sum(s > 1 for s in shares)
    median = statistics.median(shares)
    verdict = SUPPORTS if median > 1 else CONTRADICTS
    text = (f"(load + warm-up) ÷ one inference: median {median:.1f}× over {len(shares)} runtime/backend "
            f"groups, longer in {longer}/{len(shares)}. iGPU vs nGPU warm-up: lacks data (no hardware GPU).")
    return verdict, text + _cpu_vs_gpu_small(data)


def _cpu_vs_gpu_small(data: _Data) -> str:
    """Intro line 36: CPU beats GPU for inference on small models — tfjs on the smallest DNN."""
    grid = _dnn_inference(data)
    cpu, gpu = grid.get(("tfjs", "cpu"), {}), grid.get(("tfjs", "webgl"), {})
    common = sorted(set(cpu) & set(gpu), key=lambda dw: dw[0] * dw[1])
    if not common:
        return " CPU vs GPU on a small DNN: lacks tfjs cpu and webgl on the same DNN."
    d, w = common[0]
    faster = "CPU faster" if cpu[(d, w)] < gpu[(d, w)] else "GPU faster"
    return (f" Small model (dnn-d{d}-w{w}), tfjs inference: cpu {cpu[(d, w)]:.3g} ms vs webgl "
            f"{gpu[(d, w)]:.3g} ms ({faster}; webgl here is software GPU, SwiftShader, not a real GPU).")


def _gpu_ratios(data: _Data, hardware: bool) -> list[tuple[str, float]]:
    """tfjs inference ÷ native on the Keras applications, on GPU backends of the given kind."""
    out = []
    for r in data.ratios:
        if (r["runtime"] == "tfjs" and r["backend"] in GPU_BACKENDS and "inference" in r
                and not _OWN_MODELS.fullmatch(r["model"]) and _software(data, r["group"]) != hardware):
            out.append((f"{r['model']} {r['backend']} (÷ {r['baseline']})", r["inference"]))
    return out


def _f45_gpu(data: _Data, number: int) -> tuple[str, str]:
    hardware = _gpu_ratios(data, hardware=True)
    software = _gpu_ratios(data, hardware=False)
    seen = "; ".join(f"{k} {v:.2f}×" for k, v in software) or "none stored"
    if not hardware:
        return LACKS, ("needs tfjs on a hardware GPU for the Keras applications; only software GPU "
                       f"(SwiftShader) here. Software-GPU inference ÷ native CPU: {seen}")
    values = [v for _, v in hardware]
    ok = max(values) <= 2 if number == 4 else statistics.median(values) < 1
    rule = "≤ 2× native (paper: 1–2×, line 289)" if number == 4 else "faster than native CPU (< 1×)"
    return (SUPPORTS if ok else CONTRADICTS), (
        f"hardware-GPU inference ÷ native: {'; '.join(f'{k} {v:.2f}×' for k, v in hardware)}; "
        f"rule: {rule}")


def _f6_json(data: _Data) -> tuple[str, str]:
    per_format: dict[str, list[float]] = defaultdict(list)
    for (model, fmt), size in data.sizes.items():
        if fmt in JSON_FORMATS and (base := data.sizes.get((model, BINARY))):
            per_format[fmt].append(size / base)
    if not per_format:
        return LACKS, f"needs file sizes (`measure sizes`) of a JSON format and {BINARY} for the same model"
    every = [v for values in per_format.values() for v in values]
    median = statistics.median(every)
    verdict = SUPPORTS if median >= 2 else CONTRADICTS
    parts = "; ".join(f"{f} {statistics.median(v):.1f}× ({len(v)} models)"
                      for f, v in sorted(per_format.items()))
    return verdict, (f"JSON ÷ {BINARY} binary size, median {median:.1f}× (rule: ≥ 2× is 'much bigger'; "
                     f"paper ≈ 7×, line 227): {parts}." + _load_vs_size(data))


def _load_vs_size(data: _Data) -> str:
    """Paper line 229: loading time of JSON models is about proportional to their size."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for group, phases in data.groups.items():
        parts = [_med(phases, p) for p in ("download", "parse", "build")]
        key = (group.model, group.format)
        if group.format in JSON_FORMATS and key in data.sizes and all(v is not None for v in parts):
            points[group.format].append((data.sizes[key], sum(parts)))  # type: ignore[arg-type]
    found = []
    for fmt, pts in sorted(points.items()):
        if len({s for s, _ in pts}) >= 3:
            sizes, times = zip(*pts, strict=True)
            found.append(f"{fmt} r = {statistics.correlation(sizes, times):.2f} ({len(pts)} models)")
    if not found:
        return " Load time vs size: needs ≥ 3 sizes of one JSON format loaded in the browser."
    return " Load time vs size (Pearson r): " + "; ".join(found) + "."


def _f7_stack(data: _Data) -> tuple[str, str]:
    pairs = []
    for group, phases in data.groups.items():
        if group.runtime == "convnetjs" and (c := _med(phases, "inference")):
            for other, p2 in data.groups.items():
                if (other.model == group.model and (other.runtime, other.backend) == ("tfjs", "cpu")
                        and (t := _med(p2, "inference"))):
                    pairs.append(f"{group.model} {t / c:.1f}×")
    proxy = ("; proxy, tfjs/cpu ÷ convnetjs inference: " + ", ".join(sorted(pairs))) if pairs else ""
    convnet, tfjs = data.training.get(("convnetjs", "cpu"), {}), data.training.get(("tfjs", "cpu"), {})
    if common := sorted(set(convnet) & set(tfjs)):
        proxy += "; training per batch, tfjs/cpu ÷ convnetjs (paper 2–3×, line 176): " + ", ".join(
            f"dnn-d{d}-w{w} {tfjs[(d, w)] / convnet[(d, w)]:.1f}×" for d, w in common)
    return LACKS, "call-stack depth is not recorded (paper: ConvNetJS 3 vs TF.js 48, line 247)" + proxy


def _f8_cpu(data: _Data) -> tuple[str, str]:
    usage = {f"{g.model} {g.runtime}/{g.backend}": v for g, p in data.groups.items()
             if g.backend not in GPU_BACKENDS and (v := _med(p, "cpu_inference")) is not None}
    if not usage:
        return LACKS, "needs the browser's CPU time during inference (cpu_inference)"
    top = max(usage, key=usage.get)  # type: ignore[arg-type]
    training = {f"{r}/{b}": v for (r, b), v in data.training_cpu.items()
                if r != "native" and b not in GPU_BACKENDS}
    peak = max([usage[top], *training.values()])
    verdict = SUPPORTS if peak < 200 else CONTRADICTS
    trained = ""
    if training:
        windows = ", ".join(f"{k} {v:.0f} %" for k, v in sorted(training.items()))
        native = data.training_cpu.get(("native", "cpu"))
        trained = f" Training, largest window: {windows}" + (
            f" (native TensorFlow {native:.0f} %, every thread)." if native is not None else ".")
    return verdict, (f"browser CPU (a local browser's whole process tree) during inference on "
                     f"CPU-side backends: median "
                     f"{statistics.median(usage.values()):.0f} %, max {usage[top]:.0f} % ({top}) of "
                     f"one core over {len(usage)} groups (rule: < 200 % = never two cores; paper "
                     f"Table 2 max 113.9 %, line 187).{trained} GPU memory limit: lacks data.")


def evaluate(frame: Frame) -> list[Finding]:
    """The 8 findings of the paper's Table 6, each with this frame's verdict and evidence."""
    data = _load(frame)
    checks = {1: lambda: _f1_comparable(data), 2: lambda: _f2_width(data), 3: lambda: _f3_loading(data),
              4: lambda: _f45_gpu(data, 4), 5: lambda: _f45_gpu(data, 5), 6: lambda: _f6_json(data),
              7: lambda: _f7_stack(data), 8: lambda: _f8_cpu(data)}
    out = []
    for paper in paper_findings():
        verdict, evidence = checks[paper["number"]]()
        out.append(Finding(paper["number"], paper["name"], paper["statement"], verdict, evidence))
    return out


def findings_table(findings: list[Finding]) -> Table:
    table = Table("The paper's findings (Table 6) against this run", columns(
        "#", "finding (paper)", "verdict", "evidence", right={"#"}), notes=[
        "GPU backends here are software GPU (SwiftShader), not graphics cards; every verdict "
        "states the numbers and the rule that decide it."])
    for f in findings:
        table.add(str(f.number), f"{f.name}: {f.statement}", f.verdict, f.evidence)
        table.end_section()
    return table
