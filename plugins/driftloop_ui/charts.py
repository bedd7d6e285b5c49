"""Charts as inline SVG, drawn here: no script, nothing fetched, every label escaped."""

from __future__ import annotations

from html import escape

PALETTE = ("#017cee", "#e43921", "#00ad46", "#f0b400", "#8a5cd1", "#00a7a7", "#ff7f0e", "#6b7280")
WIDTH, HEIGHT, PAD = 720, 260, 36


def line_chart(series: dict[str, list[float | None]], labels: list[str], *, title: str) -> str:
    """One line per series over ``labels`` (missing points break the line), with a legend."""
    if not labels or not series:
        return _nothing(title)
    values = [v for points in series.values() for v in points if v is not None]
    top = max(values, default=1.0) or 1.0
    x = _xs(len(labels))

    lines, legend = [], []
    for n, (name, points) in enumerate(sorted(series.items())):
        color = PALETTE[n % len(PALETTE)]
        xy = [None if v is None else (x[i], _y(v, 0.0, top)) for i, v in enumerate(points)]
        lines += _line(xy, color, name)
        legend.append((color, name))
    return _figure(title, _axes(f"{top:.2f}", "0", labels) + "".join(lines), legend)


def interval_chart(
    estimates: list[tuple[float, float, float] | None],
    labels: list[str],
    *,
    title: str,
    name: str,
    baseline: tuple[str, float] | None = None,
    limit: tuple[str, float] | None = None,
) -> str:
    """``name`` over ``labels``: its value as a line, its ``(value, low, high)`` interval as a bar.

    ``baseline`` (the expected value, green) and ``limit`` (the line not to cross, red) are
    horizontal dashed lines, each ``(legend label, value)``. A missing estimate breaks the line.
    """
    shown = [e for e in estimates if e is not None]
    if not labels or not shown:
        return _nothing(title)
    references = [(PALETTE[2], baseline), (PALETTE[1], limit)]
    edges = [v for e in shown for v in e] + [r[1] for _, r in references if r is not None]
    pad = (max(edges) - min(edges)) * 0.08 or 0.01
    low, high = min(edges) - pad, max(edges) + pad
    x = _xs(len(labels))

    color = PALETTE[0]
    body, xy = [], []
    for i, estimate in enumerate(estimates):
        if estimate is None:
            xy.append(None)
            continue
        value, lo, hi = estimate
        xy.append((x[i], _y(value, low, high)))
        body.append(
            f'<line class="interval" x1="{x[i]:.1f}" y1="{_y(lo, low, high):.1f}" '
            f'x2="{x[i]:.1f}" y2="{_y(hi, low, high):.1f}" stroke="{color}" stroke-width="7" '
            f'stroke-opacity="0.3" stroke-linecap="round"><title>'
            f"{escape(labels[i])}: {value:.3f} [{lo:.3f}, {hi:.3f}]</title></line>"
        )
    body += _line(xy, color, name)
    legend = [(color, name)]
    for stroke, reference in references:
        if reference is None:
            continue
        label, value = reference
        y = _y(value, low, high)
        body.append(
            f'<line class="reference" x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - PAD}" y2="{y:.1f}" '
            f'stroke="{stroke}" stroke-width="1.5" stroke-dasharray="6 4">'
            f"<title>{escape(label)}</title></line>"
        )
        legend.append((stroke, label))
    return _figure(title, _axes(f"{high:.3f}", f"{low:.3f}", labels) + "".join(body), legend)


def _nothing(title: str) -> str:
    return f'<p class="muted">{escape(title)}: nothing yet.</p>'


def _xs(count: int) -> list[float]:
    """Where each label sits; a single one in the middle."""
    if count == 1:
        return [WIDTH / 2]
    step = (WIDTH - 2 * PAD) / (count - 1)
    return [PAD + i * step for i in range(count)]


def _y(value: float, low: float, high: float) -> float:
    return HEIGHT - PAD - (value - low) / (high - low) * (HEIGHT - 2 * PAD)


def _line(points: list[tuple[float, float] | None], color: str, name: str) -> list[str]:
    """A polyline through ``points``, broken at each ``None``; a point standing alone is a dot."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            runs.append([])
        else:
            runs[-1].append(point)
    shapes = []
    for run in runs:
        if len(run) == 1:
            shapes.append(
                f'<circle cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="3" fill="{color}"/>'
            )
        elif run:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            shapes.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                f'points="{coords}"><title>{escape(name)}</title></polyline>'
            )
    return shapes


def _axes(top: str, bottom: str, labels: list[str]) -> str:
    """The x axis, the top and bottom values, and the first and last labels under it."""
    if len(labels) == 1:
        ends = (
            f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" class="tick" text-anchor="middle">'
            f"{escape(labels[0])}</text>"
        )
    else:
        ends = (
            f'<text x="{PAD}" y="{HEIGHT - 8}" class="tick">{escape(labels[0])}</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" class="tick" text-anchor="end">'
            f"{escape(labels[-1])}</text>"
        )
    return (
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        f'class="axis"/><text x="4" y="{PAD}" class="tick">{top}</text>'
        f'<text x="4" y="{HEIGHT - PAD}" class="tick">{bottom}</text>{ends}'
    )


def _figure(title: str, body: str, legend: list[tuple[str, str]]) -> str:
    items = "".join(
        f'<li><span style="background:{color}"></span>{escape(name)}</li>' for color, name in legend
    )
    return (
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f'{body}</svg><ul class="legend">{items}</ul></figure>'
    )
