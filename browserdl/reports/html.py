"""One self-contained HTML report: opens from disk with no server and no network.

Everything is inline — CSS, and the plots as base64 PNG data: URIs (matplotlib's SVG carries
the SVG namespace URL, so the SVG files sit beside the page instead). Every string taken from
the store is escaped; `extra_sections` are HTML the caller built (findings, decision trees).
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from browserdl.reports.frame import Frame, group_key, software_gpu
from browserdl.reports.plots import Figure
from browserdl.reports.table import Table, spans

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222;
       padding: 0 1em; }
h1 { margin-bottom: 0.1em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
.sub { color: #666; margin-top: 0; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 12.5px; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; caption-side: top; }
th, td { padding: 2px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.right { text-align: right; white-space: nowrap; }
tr.section-end td { border-bottom: 2px solid #bbb; }
.scroll { overflow-x:auto; max-width: 100%; margin-bottom: 1.5em; }
.scroll table { margin-bottom: 0.3em; }
.table-note { color: #555; font-size: 12.5px; margin: 0.1em 0; max-width: 70em; }
.dim { opacity: 0.6; } .warn { color: #b07800; } .good { color: #1a7f37; } .bad { color: #c62828; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 13px; max-width: 60em; }
.note { background: #fff6dd; border-left: 4px solid #e0b000; padding: 0.4em 0.8em; }
.empty { font-size: 1.2em; color: #a00; }
"""

# environment keys worth showing, in this order (others follow alphabetically)
_ENV_KEYS = [("cpu_model", "CPU"), ("cpu_count", "CPU cores"), ("memory_gib", "memory (GiB)"),
             ("os", "OS"), ("python", "Python"), ("tensorflow", "TensorFlow"),
             ("tf_keras", "tf_keras"), ("numpy", "numpy"), ("browser", "browser"),
             ("renderer", "WebGL renderer"), ("cross_origin_isolated", "cross-origin isolated"),
             ("timer_resolution_ms", "timer resolution (ms)"), ("runtime_library", "runtime libraries"),
             ("browserdl", "browserdl"), ("git_commit", "git commit")]
_ENV_SKIP = {"user_agent", "browser_executable"}

_METHOD = """
<p>Every number comes from the results store; nothing here re-runs a measurement.</p>
<ul>
<li><b>Cold trials.</b> Each browser trial runs in a fresh context of its target's browser (a
Playwright context, a WebDriver BiDi user context, or a new WebDriver session: an empty HTTP
cache) on pages served from loopback with cross-origin isolation, so <code>performance.now()</code>
ticks in 5&nbsp;µs (Chromium) or 20&nbsp;µs (Firefox, WebKit); each native trial runs in a
fresh Python process with TensorFlow.</li>
<li><b>Phases</b>, timed inside the page: library (script fetch + evaluation), download (model
bytes over HTTP), parse, build (framework objects, weight upload), warm-up (first inference),
inference (many single-sample runs after warm-up; every run of every trial is kept) and a batch of
32. Native: TensorFlow import, loading model.h5, warm-up, inference, batch, for each call
(graph = <code>tf.function</code>, xla, eager direct, <code>predict</code>) at 1 thread and at
every core; a ratio divides by the fastest call at 1 thread (every core for a wasm-threaded
browser trial) and says which.</li>
<li><b>Statistics.</b> Medians with p10–p90 over trials (inference pools every run); a
coefficient of variation above 10&nbsp;% is flagged as unstable, never dropped.</li>
<li><b>Parity.</b> Every converted model was loaded by the framework's own library and compared
with the Keras model on a fixed batch of digits (tolerance per format, argmax equal) before it was
timed; a framework that cannot express a model is refused, not approximated.</li>
<li><b>Software GPU.</b> Without a GPU, Chromium runs WebGL/WebGPU on SwiftShader, a CPU
renderer: such rows are labelled “software GPU” and are not GPU numbers.</li>
</ul>
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")[:60]


# --- tables: the same data the terminal and the CSV files show ---------------------------------

_CLASS = {"dim": "dim", "warn": "warn", "good": "good", "bad": "bad"}


def _cell(cell: str) -> str:
    """A plain cell as escaped HTML, its emphasised stretches (table.STYLES) in spans."""
    marks = sorted(spans(cell))
    out, at = [], 0
    for start, end, style in marks:
        if start < at:  # overlapping patterns: the first one wins
            continue
        out.append(_e(cell[at:start]))
        out.append(f'<span class="{_CLASS[style]}">{_e(cell[start:end])}</span>')
        at = end
    out.append(_e(cell[at:]))
    return "".join(out)


def table_html(table: Table) -> str:
    """A Table as an HTML <table> in its own box that scrolls sideways: title as caption, columns'
    alignment kept, notes under it."""
    out = [f'<div class="scroll" style="overflow-x:auto"><table id="table-{_anchor(table.title)}">',
           f"<caption>{_e(table.title)}</caption>",
           "<thead><tr>" + "".join(f"<th>{_e(c.name)}</th>" for c in table.columns)
           + "</tr></thead><tbody>"]
    for i, row in enumerate(table.rows):
        cls = ' class="section-end"' if i in table.sections else ""
        cells = "".join(f'<td class="{c.align}">{_cell(v)}</td>' if c.align == "right"
                        else f"<td>{_cell(v)}</td>" for c, v in zip(table.columns, row, strict=True))
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</tbody></table>")
    out += [f'<p class="table-note">{_e(note)}</p>' for note in table.notes]
    out.append("</div>")
    return "\n".join(out)


# --- sections ----------------------------------------------------------------------------------

def _summary(frame: Frame) -> str:
    rows = frame.rows
    if not rows:
        return ('<p class="empty">No data: the results store holds no trials. Run '
                "<code>browserdl study --preset quick</code> (or train, convert and measure) first.</p>")
    trials = {(group_key(r), r["trial"]): r for r in rows}
    failed = [r for r in trials.values() if not r["ok"]]
    combos = sorted({f"{r['runtime']}/{r['backend']}" for r in trials.values()})
    models = sorted({r["model"] for r in trials.values()})
    phases = sorted({r["phase"] for r in rows if r["phase"]})
    out = ["<ul>",
           f"<li>{len(trials)} trials stored, {len(trials) - len(failed)} succeeded, "
           f"{len(failed)} failed.</li>",
           f"<li>{len(models)} models: {_e(', '.join(models))}.</li>",
           f"<li>{len(combos)} runtime/backend pairs: {_e(', '.join(combos))}.</li>",
           f"<li>Phases measured: {_e(', '.join(phases))}.</li>",
           f"<li>{len(frame.conversions)} conversions recorded.</li>", "</ul>"]
    if failed:
        errors = Counter((r["model"], f"{r['runtime']}/{r['backend']}", (r["error"] or "no message")
                          .splitlines()[0][:200]) for r in failed)
        out.append("<p>Failed trials (kept in the store, left out of every median):</p><ul>")
        out += [f"<li>{_e(m)} on {_e(rb)} ×{n}: {_e(err)}</li>"
                for (m, rb, err), n in errors.most_common(15)]
        out.append("</ul>")
    return "\n".join(out)


def _environment(frame: Frame) -> str:
    envs = list(frame.environments.values())
    if not envs:
        return "<p>No environment recorded.</p>"
    values: dict[str, list[str]] = {}
    for env in envs:
        for key, value in env.items():
            if key not in _ENV_SKIP and str(value) not in values.setdefault(key, []):
                values[key].append(str(value))
    labels = dict(_ENV_KEYS)
    keys = [k for k, _ in _ENV_KEYS if k in values] + sorted(k for k in values if k not in labels)
    out = ['<table id="environment"><tbody>']
    for key in keys:
        cell = "<br>".join(_e(v) for v in values[key])
        if key == "renderer" and any(software_gpu(v) for v in values[key]):
            cell += ('<br><span class="note">software GPU: SwiftShader and llvmpipe render on the '
                     "CPU, so webgl/webgpu/gpu rows are not GPU numbers</span>")
        out.append(f"<tr><th>{_e(labels.get(key, key))}</th><td>{cell}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out) + _target_fingerprints(frame)


def _target_fingerprints(frame: Frame) -> str:
    """Every target's whole fingerprint: where each trial ran."""
    if not frame.targets:
        return ""
    out = ['<h3>Targets</h3><table id="targets"><tbody>']
    for name, info in sorted(frame.targets.items()):
        fields = "<br>".join(f"{_e(k)}: {_e(v)}" for k, v in sorted(info.items()) if v not in ("", None))
        out.append(f"<tr><th>{_e(name)}</th><td>{fields}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _figure_html(figure: Figure) -> str:
    data = base64.b64encode(figure.png.read_bytes()).decode("ascii")
    return (f'<figure id="fig-{_e(figure.name)}"><img alt="{_e(figure.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption><b>{_e(figure.title)}.</b> '
            f"{_e(figure.caption)} <i>(also {_e(figure.svg.name)} and {_e(figure.png.name)} beside "
            "this page)</i></figcaption></figure>")


def write_report(frame: Frame, out_dir: Path, figures: list[Figure], tables: list[Table],
                 extra_sections: Sequence[tuple[str, str]] | Iterable[tuple[str, str]] = ()) -> Path:
    """Write out_dir/index.html from the frame, the rendered figures and tables; returns its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections: list[tuple[str, str]] = [
        ("Summary", _summary(frame)),
        ("Environment", _environment(frame)),
        ("Method", _METHOD),
    ]
    if tables:
        sections.append(("Tables", "\n".join(table_html(t) for t in tables)))
    if figures:
        sections.append(("Figures", "\n".join(_figure_html(f) for f in figures)))
    sections += list(extra_sections)
    nav = " ".join(f'<a href="#{_anchor(t)}">{_e(t)}</a>' for t, _ in sections)
    body = "\n".join(f'<section id="{_anchor(t)}"><h2>{_e(t)}</h2>\n{content}\n</section>'
                     for t, content in sections)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>browserdl report</title><style>{_CSS}</style></head><body>\n"
            f"<h1>browserdl report</h1><p class=\"sub\">Deep learning in the browser vs native "
            f"TensorFlow — from {_e(frame.name)}, written {_e(stamp)}</p>\n"
            f"<nav>{nav}</nav>\n{body}\n</body></html>\n")
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
