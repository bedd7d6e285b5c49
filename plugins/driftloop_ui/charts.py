"""Charts as inline SVG, drawn here: no script, nothing fetched, every label escaped."""

from __future__ import annotations

from html import escape

PALETTE = ("#017cee", "#e43921", "#00ad46", "#f0b400", "#8a5cd1", "#00a7a7", "#ff7f0e", "#6b7280")
WIDTH, HEIGHT, PAD = 720, 260, 36


def line_chart(series: dict[str, list[float | None]], labels: list[str], *, title: str) -> str:
    """One line per series over ``labels`` (missing points break the line), with a legend."""
    if not labels or not series:
        return f'<p class="muted">{escape(title)}: nothing yet.</p>'
    values = [v for points in series.values() for v in points if v is not None]
    top = max(values, default=1.0) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(labels) - 1, 1)

    def point(i: int, value: float) -> str:
        return f"{PAD + i * step:.1f},{HEIGHT - PAD - value / top * (HEIGHT - 2 * PAD):.1f}"

    lines, legend = [], []
    for n, (name, points) in enumerate(sorted(series.items())):
        color = PALETTE[n % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for i, value in enumerate(points):
            if value is None:
                runs.append([])
            else:
                runs[-1].append(point(i, value))
        for run in runs:
            if len(run) == 1:
                x, y = run[0].split(",")
                lines.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>')
            elif run:
                lines.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                    f'points="{" ".join(run)}"><title>{escape(name)}</title></polyline>'
                )
        legend.append(f'<li><span style="background:{color}"></span>{escape(name)}</li>')
    axis = (
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'class="axis"/>'
        f'<text x="4" y="{PAD}" class="tick">{top:.2f}</text>'
        f'<text x="4" y="{HEIGHT - PAD}" class="tick">0</text>'
        f'<text x="{PAD}" y="{HEIGHT - 8}" class="tick">{escape(labels[0])}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" class="tick" text-anchor="end">'
        f"{escape(labels[-1])}</text>"
    )
    return (
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f"{axis}{''.join(lines)}</svg>"
        f'<ul class="legend">{"".join(legend)}</ul></figure>'
    )
