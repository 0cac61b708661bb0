"""The timeline: recent executions laid out in lanes (scheduler slots) over time, as SVG.

A scheduler runs at most ``max_concurrent`` workers at once, but the database does not say
which slot each used; the lanes are computed back from the start and finish times: each
execution takes the first lane of its scheduler that is free when it starts (interval
partitioning, which uses as few lanes as the peak parallelism).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from wfsched_core.base.records import utcnow

WIDTH = 1100
LABEL_WIDTH = 190
ROW_HEIGHT = 24
BAR_HEIGHT = 16
AXIS_HEIGHT = 28
_NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200,
               86400)


@dataclass
class Bar:
    """One execution placed in a lane."""

    execution_id: int
    workflow: str
    status: str
    start: datetime
    end: datetime
    lane: int


@dataclass
class Lane:
    """One slot of one scheduler (or of executions run by hand)."""

    owner: str | None
    slot: int


def assign_lanes(rows: list[dict[str, Any]], now: datetime | None = None
                 ) -> tuple[list[Bar], list[Lane]]:
    """Place each started execution in the first free lane of its scheduler."""
    now = now or utcnow()
    lanes: list[Lane] = []
    lane_ends: dict[str | None, list[tuple[datetime, int]]] = {}
    bars: list[Bar] = []
    for row in sorted(rows, key=lambda r: (r["started_at"], r["id"])):
        start = row["started_at"]
        end = row["finished_at"] or now
        owner = row["claimed_by"]
        slots = lane_ends.setdefault(owner, [])
        for position, (busy_until, lane_index) in enumerate(slots):
            if busy_until <= start:
                slots[position] = (end, lane_index)
                break
        else:
            lane_index = len(lanes)
            lanes.append(Lane(owner, len(slots) + 1))
            slots.append((end, lane_index))
        bars.append(Bar(row["id"], row["workflow"], row["status"], start, max(end, start),
                        lane_index))
    # Group lanes by scheduler, slots in order, so each scheduler's rows are together.
    order = sorted(range(len(lanes)), key=lambda i: (lanes[i].owner or "~", lanes[i].slot))
    new_index = {old: new for new, old in enumerate(order)}
    for bar in bars:
        bar.lane = new_index[bar.lane]
    return bars, [lanes[i] for i in order]


def _tick_step(span_seconds: float) -> int:
    for step in _NICE_STEPS:
        if span_seconds / step <= 8:
            return step
    return _NICE_STEPS[-1]


def _label(lane: Lane, labels: dict[str, str]) -> str:
    if lane.owner is None:
        return f"by hand · {lane.slot}"
    name = labels.get(lane.owner, lane.owner[:12])
    return f"{name} · slot {lane.slot}"


def render_svg(rows: list[dict[str, Any]], labels: dict[str, str],
               now: datetime | None = None) -> str:
    """The timeline as an SVG element; every text from the database is escaped."""
    now = now or utcnow()
    bars, lanes = assign_lanes(rows, now)
    if not bars:
        return ('<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="100%" '
                f'viewBox="0 0 {WIDTH} 60" role="img"><text x="16" y="36" class="empty">'
                'No execution has started yet.</text></svg>')
    start = min(b.start for b in bars)
    end = max(now, max(b.end for b in bars))
    span = max((end - start).total_seconds(), 1.0)
    plot = WIDTH - LABEL_WIDTH - 16
    height = AXIS_HEIGHT + ROW_HEIGHT * len(lanes) + 8

    def x(moment: datetime) -> float:
        return LABEL_WIDTH + plot * (moment - start).total_seconds() / span

    parts = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="100%" '
             f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="execution timeline">']
    for index, lane in enumerate(lanes):
        y = AXIS_HEIGHT + index * ROW_HEIGHT
        stripe = "lane odd" if index % 2 else "lane"
        parts.append(f'<rect class="{stripe}" x="0" y="{y}" width="{WIDTH}" '
                     f'height="{ROW_HEIGHT}"/>')
        parts.append(f'<text class="lane-label" x="8" y="{y + 16}">'
                     f'{escape(_label(lane, labels))}</text>')
    step = _tick_step(span)
    first_tick = start.replace(microsecond=0) + timedelta(seconds=1)
    tick = first_tick + timedelta(seconds=(-first_tick.timestamp()) % step)
    while tick <= end:
        tx = x(tick)
        fmt = "%H:%M:%S" if step < 60 else "%H:%M"
        parts.append(f'<line class="grid" x1="{tx:.1f}" y1="{AXIS_HEIGHT - 6}" x2="{tx:.1f}" '
                     f'y2="{height - 8}"/>')
        parts.append(f'<text class="tick" x="{tx:.1f}" y="{AXIS_HEIGHT - 10}">'
                     f'{tick.strftime(fmt)}</text>')
        tick += timedelta(seconds=step)
    for bar in bars:
        bx = x(bar.start)
        width = max(x(bar.end) - bx, 3.0)  # a 50 ms run stays visible
        bar_y = AXIS_HEIGHT + bar.lane * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        seconds = (bar.end - bar.start).total_seconds()
        title = f"#{bar.execution_id} {bar.workflow} · {bar.status} · {seconds:.1f} s"
        parts.append(
            f'<a href="/executions/{bar.execution_id}"><rect class="bar s-{escape(bar.status)}" '
            f'x="{bx:.1f}" y="{bar_y:.1f}" width="{width:.1f}" height="{BAR_HEIGHT}" rx="3">'
            f"<title>{escape(title)}</title></rect></a>")
    parts.append(f'<line class="now" x1="{x(now):.1f}" y1="{AXIS_HEIGHT - 6}" '
                 f'x2="{x(now):.1f}" y2="{height - 8}"><title>now</title></line>')
    parts.append("</svg>")
    return "".join(parts)

