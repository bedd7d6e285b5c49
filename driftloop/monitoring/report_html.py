"""The drift report: one self-contained HTML page, safe to open anywhere.

The drift verdict and its reason; the model's quality, from the quality check that ran
before the drift check in the same monitor run (its verdict and reason, the primary metric
pooled with its interval against the champion's holdout value and the tolerance, labelled
rows against the rule's minimum, each batch scored in this check with every metric and
its interval; or one line saying quality was not scored); what was compared; the
per-feature scores and, per feature, its reference and target distributions as inline SVG
computed from the profiles. Every string that comes from data (dataset, feature, category
and metric names, reasons, batch keys) is escaped; the page has no script, no frame and
no URL, and its one inline style block is allowed by hash in the page's own
Content-Security-Policy (:data:`DRIFT_REPORT_CSP`). Styled like Airflow's UI, light or
dark as the reader's system prefers. The same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import math
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from driftloop.monitoring.drift import DriftResult, FeatureDrift, QualitySummary
    from driftloop.monitoring.sketches import FeatureDistribution

# Airflow 3's palette (its UI theme's brand, gray, red and green scales).
_STYLE = """
:root{color-scheme:light dark;--bg:#fff;--fg:oklch(0.18 0.03 251);--muted:oklch(0.45 0.055 251);
--line:oklch(0.915 0.01 253);--panel:oklch(0.985 0.004 253);
--ref:oklch(0.75 0.025 252);--tgt:oklch(0.469 0.084 257.657);--bad:#dc2626;--bad-bg:#fef2f2;
--ok:#16a34a;--ok-bg:#f0fdf4}
@media (prefers-color-scheme:dark){:root{--bg:oklch(0.11 0.025 251);--fg:oklch(0.955 0.006 253);
--muted:oklch(0.75 0.025 252);--line:oklch(0.28 0.035 251);--panel:oklch(0.18 0.03 251);
--ref:oklch(0.45 0.055 251);--tgt:oklch(0.705 0.066 256.378);
--bad:#f87171;--bad-bg:#300c0c;--ok:#4ade80;--ok-bg:#042713}}
*{box-sizing:border-box}
body{margin:0;padding:24px 32px;background:var(--bg);color:var(--fg);font:14px/1.5 Inter,
system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;align-items:center;gap:12px;border-bottom:1px solid var(--line);
padding-bottom:12px}
h1{font-size:20px;margin:0}h2{font-size:16px;margin:28px 0 8px}h3{font-size:14px;margin:0}
.badge{border-radius:999px;padding:2px 10px;font-size:12px;font-weight:600;white-space:nowrap}
.drift{color:var(--bad);background:var(--bad-bg)}.steady{color:var(--ok);background:var(--ok-bg)}
.muted{color:var(--muted)}.reason{margin:12px 0;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
pre{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:12px;
margin:0;white-space:pre-wrap;overflow-wrap:anywhere;font:12px/1.5 SFMono-Regular,Menlo,
Consolas,"Liberation Mono",monospace}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top;
white-space:nowrap}td.wrap{white-space:normal;overflow-wrap:anywhere}
th{font-weight:600;color:var(--muted)}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drifted td:first-child{border-left:3px solid var(--bad)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:16px}
.card{border:1px solid var(--line);border-radius:6px;padding:12px;background:var(--panel)}
.card header{border:0;padding:0;justify-content:space-between}
.card p{margin:4px 0 8px;overflow-wrap:anywhere}
svg{display:block;width:100%;height:auto}svg text{fill:var(--muted);font-size:13px}
.ref{fill:var(--ref)}.tgt{fill:var(--tgt)}.grid{stroke:var(--line)}
.legend{display:flex;gap:16px;align-items:center}.legend svg{width:12px;height:12px}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

DRIFT_REPORT_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'"
)
"""What a drift report needs: its own style block, nothing else (set in the page too).

Served over HTTP, add ``frame-ancestors`` and ``sandbox`` as the server sees fit.
"""

# Chart geometry, in SVG user units.
_WIDTH, _HEIGHT = 600, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 76, 8, 10, 90
_LABEL_CHARS = 14


def render_drift_report(result: DriftResult, distributions: Sequence[FeatureDistribution]) -> str:
    """The report of one drift check, ``distributions`` drawn one chart per feature."""
    verdict = "Drift" if result.drifted else "No drift"
    charted = {d.name: d for d in distributions}
    order = sorted(result.features, key=lambda f: not f.drifted)
    cards = [_card(f, charted[f.name]) for f in order if f.name in charted]
    missing = [f.name for f in result.features if f.name not in charted]
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{DRIFT_REPORT_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>Drift report: {_e(result.dataset)} ({verdict})</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<header><h1>Drift report: {_e(result.dataset)}</h1>",
            _badge(result.drifted, "Drift", "No drift"),
            f'</header><p class="reason">{_e(result.reason)}</p>',
            _facts(result),
            _quality(result.quality),
            "<h2>What was compared</h2>",
            f"<pre>{_e(chr(10).join(result.describe_window()))}</pre>",
            "<h2>Scores</h2>",
            _scores(result.features),
            "<h2>Distributions</h2>",
            '<div class="legend muted">',
            f"{_swatch('ref')} reference (what the model was trained on) {_swatch('tgt')} target",
            "</div>",
            f'<div class="cards">{"".join(cards)}</div>' if cards else "",
            (
                f'<p class="muted">Not drawn (no sketches in both profiles): '
                f"{_e(', '.join(missing))}</p>"
                if missing
                else ""
            ),
            "</body></html>\n",
        ]
    )


def _e(value: object) -> str:
    """Text or an attribute value, escaped: nothing from data is ever markup."""
    return escape(str(value), quote=True)


def _facts(result: DriftResult) -> str:
    window = (
        f"{result.window_start.isoformat(timespec='minutes')} to "
        f"{result.window_end.isoformat(timespec='minutes')}"
        if result.window_start and result.window_end
        else None
    )
    facts = [
        ("checked at", result.checked_at.isoformat(timespec="seconds")),
        ("model version", result.model_version),
        ("reference", f"{result.reference_id or 'unnamed'} ({result.reference_rows} rows)"),
        ("target", f"{result.target_rows} rows"),
        ("window", window),
        ("signature", result.signature),
        ("JSON", result.report_json),
    ]
    return _terms(facts)


def _terms(terms: Sequence[tuple[str, object]]) -> str:
    """A definition list of the terms that have a value (names are ours, values escaped)."""
    rows = "".join(f"<dt>{name}</dt><dd>{_e(value)}</dd>" for name, value in terms if value)
    return f"<dl>{rows}</dl>"


def _quality(quality: QualitySummary | None) -> str:
    """The quality check's verdict and evidence, and the batches it scored."""
    if quality is None:
        return (
            '<h2>Model quality</h2><p class="muted">No quality check result came with this '
            "check (nothing new was labelled, quality monitoring is off, or the check ran "
            "alone).</p>"
        )
    evidence = quality.evidence
    holdout = "none recorded" if evidence.holdout is None else f"{evidence.holdout:.3f}"
    terms = [
        ("model version", quality.model_version),
        ("metric", evidence.metric),
        ("pooled over the window", evidence.pooled.describe() if evidence.pooled else "none"),
        ("champion's holdout", holdout),
        ("tolerance", f"{evidence.tolerance:g}"),
        ("labelled rows", f"{evidence.rows} (the rule needs {evidence.min_rows})"),
        ("batches pooled", str(len(quality.batches))),
    ]
    return (
        f"<h2>Model quality {_badge(quality.degraded, 'Degraded', 'Holding')}</h2>"
        f'<p class="reason">{_e(quality.reason)}</p>{_terms(terms)}{_scored(quality)}'
    )


def _scored(quality: QualitySummary) -> str:
    """Each batch scored in this check: labelled rows, each metric with its interval."""
    if not quality.scored:
        return '<p class="muted">No batch was scored in this check.</p>'
    metrics = list(dict.fromkeys(name for b in quality.scored for name in b.metrics))
    head = "".join(f"<th>{_e(name)}</th>" for name in metrics)
    rows = []
    for batch in quality.scored:
        cells = "".join(
            f'<td class="num">{_e(batch.metrics[m].describe()) if m in batch.metrics else ""}</td>'
            for m in metrics
        )
        rows.append(
            f'<tr><td>{_e(batch.batch)}</td><td class="num">{batch.labelled_rows}</td>{cells}</tr>'
        )
    return (
        '<p class="muted">Scored in this check (value [bootstrap interval]):</p>'
        f"<table><thead><tr><th>batch</th><th>labelled rows</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _scores(features: Sequence[FeatureDrift]) -> str:
    head = (
        "<tr><th>feature</th><th>role</th><th>test</th><th>statistic</th><th>p-value</th>"
        "<th>Hellinger</th><th>thresholds</th><th>evidence</th><th>drifted</th></tr>"
    )
    rows = []
    for f in features:
        evidence = [f"new categories {', '.join(f.new_categories)}: "] if f.new_categories else []
        if evidence:
            evidence[0] += f"{f.new_category_share:.1%} of rows"
        evidence += [w for w in (f.validation_warning, f.note) if w]
        t = f.thresholds
        row_class = ' class="drifted"' if f.drifted else ""
        rows.append(
            f"<tr{row_class}><td>{_e(f.name)}</td>"
            f"<td>{_e(f.role)}</td>"
            f"<td>{_e(f.algorithm or '')}</td>"
            f'<td class="num">{_number(f.statistic, ".3g")}</td>'
            f'<td class="num">{_number(f.p_value, ".2g")}</td>'
            f'<td class="num">{_number(f.hellinger, ".3f")}</td>'
            f"<td>p &lt; {t.p_value:g}, H &ge; {t.hellinger:g}</td>"
            f'<td class="wrap">{_e("; ".join(evidence))}</td>'
            f"<td>{_badge(f.drifted, 'yes', 'no')}</td></tr>"
        )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _badge(drifted: bool, yes: str, no: str) -> str:
    return (
        f'<span class="badge drift">{yes}</span>'
        if drifted
        else (f'<span class="badge steady">{no}</span>')
    )


def _number(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _swatch(kind: str) -> str:
    rect = f'<rect class="{kind}" width="12" height="12"/>'
    return f'<svg viewBox="0 0 12 12" aria-hidden="true">{rect}</svg>'


def _card(feature: FeatureDrift, distribution: FeatureDistribution) -> str:
    kind = "numeric, equal-width bins" if distribution.numeric else "most common values"
    return (
        f'<article class="card"><header>'
        f"<h3>{_e(feature.name)}</h3>{_badge(feature.drifted, 'drifted', 'steady')}</header>"
        f'<p class="muted">{_e(feature.describe())}; {kind}</p>{_chart(distribution)}</article>'
    )


def _chart(distribution: FeatureDistribution) -> str:
    """Grouped bars: per bin, the reference's share of rows beside the target's."""
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    top = _ceiling(max([*distribution.reference, *distribution.target, 0.01]))
    group = plot_w / len(distribution.bins)
    bar = group * 0.4
    baseline = _TOP + plot_h
    parts = [
        f'<svg viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="{_e(distribution.name)}: reference and target shares of rows per bin">'
    ]
    for step in range(5):
        share = top * step / 4
        y = baseline - plot_h * step / 4
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{share:.0%}</text>'
        )
    for i, (label, ref, tgt) in enumerate(
        zip(distribution.bins, distribution.reference, distribution.target, strict=True)
    ):
        x = _LEFT + i * group + group * 0.1
        short = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "\u2026"
        middle = _LEFT + (i + 0.5) * group
        parts.append(
            f"<g><title>{_e(label)}: reference {ref:.1%}, target {tgt:.1%}</title>"
            f"{_bar('ref', x, bar, plot_h * ref / top, baseline)}"
            f"{_bar('tgt', x + bar, bar, plot_h * tgt / top, baseline)}"
            f'<text x="{middle:.1f}" y="{baseline + 12}" text-anchor="end" '
            f'transform="rotate(-40 {middle:.1f} {baseline + 12})">{_e(short)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _bar(kind: str, x: float, width: float, height: float, base: float) -> str:
    return (
        f'<rect class="{kind}" x="{x:.1f}" y="{base - height:.1f}" '
        f'width="{width:.1f}" height="{height:.1f}"/>'
    )


def _ceiling(share: float) -> float:
    """The y axis' top: the next of 10%, 20%, ... 100% above the largest share."""
    return min(1.0, max(0.1, math.ceil(share * 10) / 10))
