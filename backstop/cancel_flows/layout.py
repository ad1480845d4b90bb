"""Where the builder draws each node: a top-down layered layout, computed, never stored.

Nodes sit in rows by their distance from the start (breadth-first); nodes no path reaches go in
a last row of their own so they stay visible (the validator reports them). Edges that leave the
same node for the same target are drawn once with a combined label.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from backstop.cancel_flows.document import NODE_LABELS, OFFER_LABELS, Flow, Node

NODE_W = 196
NODE_H = 64
GAP_X = 36
GAP_Y = 84
PAD = 24


SHORT_OFFER_LABELS = {"call": "Call", "trial_extension": "Trial days", "annual_upsell": "Annual"}


@dataclass(frozen=True)
class Box:
    node: Node
    x: int
    y: int
    kind_label: str  # "Survey", "Offer · Discount", …
    summary: str

    @property
    def cx(self) -> int:
        return self.x + NODE_W // 2


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    title: str  # the full list, for a tooltip
    path: str  # SVG path data
    lx: int  # label position
    ly: int
    back: bool  # points upwards (a loop, which the validator reports)


@dataclass(frozen=True)
class Canvas:
    boxes: list[Box]
    edges: list[Edge]
    width: int
    height: int


def _summary(node: Node) -> tuple[str, str]:
    if node.type == "offer":
        kinds = [SHORT_OFFER_LABELS.get(v.offer.kind, OFFER_LABELS[v.offer.kind]) for v in node.variants]
        label = "Offer · " + (kinds[0] if len(set(kinds)) == 1 else "A/B") if kinds else "Offer"
        headline = node.variants[0].offer.headline if node.variants else ""
        extra = (
            f" (+{len(node.variants) - 1} variant{'s' if len(node.variants) > 2 else ''})"
            if len(node.variants) > 1
            else ""
        )
        return label, (headline or "No headline yet") + extra
    if node.type == "survey":
        n = len(node.reasons)
        return "Survey", node.title or f"{n} reason{'s' if n != 1 else ''}"
    if node.type == "stories":
        n = len(node.stories)
        return "Stories", node.title or f"{n} stor{'ies' if n != 1 else 'y'}"
    return NODE_LABELS[node.type], node.title or "Confirm cancellation"


def _clip(text: str, n: int = 26) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _layers(flow: Flow) -> dict[str, int]:
    """Row of each reached node: the longest loop-free path from the start, so every forward
    link points down; Confirm steps sit on the last row."""
    order: list[str] = []  # reverse post-order of a depth-first walk = a topological order
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()

    def visit(nid: str) -> None:
        state[nid] = 1
        for t in flow.node(nid).targets():
            if flow.node(t) is None:
                continue
            if state.get(t) == 1:
                back.add((nid, t))
            elif t not in state:
                visit(t)
        state[nid] = 2
        order.append(nid)

    if flow.node(flow.start) is None:
        return {}
    visit(flow.start)
    order.reverse()
    depth = {flow.start: 0}
    for nid in order:
        for t in flow.node(nid).targets():
            if flow.node(t) is not None and (nid, t) not in back:
                depth[t] = max(depth.get(t, 0), depth[nid] + 1)
    bottom = max((d for n, d in depth.items() if flow.node(n).type != "confirm"), default=-1) + 1
    for nid in depth:
        if flow.node(nid).type == "confirm":
            depth[nid] = max(depth[nid], bottom)
    return depth


DUMMY_W = 28


def layout(flow: Flow) -> Canvas:
    depth = _layers(flow)
    last = max(depth.values(), default=-1) + 1
    for n in flow.nodes:
        depth.setdefault(n.id, last)  # not reached: a row of their own at the bottom
    reached = set(_layers(flow))

    # Links between nodes, grouped per (source, target) with their labels.
    links: list[tuple[str, str, list[str]]] = []
    for n in flow.nodes:
        grouped: dict[str, list[str]] = {}
        if n.type == "survey":
            for r in n.reasons:
                if r.next and flow.node(r.next):
                    grouped.setdefault(r.next, []).append(r.label or r.code)
        elif n.type == "stories" and flow.node(n.next):
            grouped[n.next] = ["Continue"]
        elif n.type == "offer" and flow.node(n.on_decline):
            grouped[n.on_decline] = ["Declined"]
        links.extend((n.id, t, labels) for t, labels in grouped.items())

    # Rows hold node ids and, for links that skip rows, one waypoint per row skipped.
    rows: dict[int, list[str]] = {}
    for n in flow.nodes:
        rows.setdefault(depth[n.id], []).append(n.id)
    waypoints: dict[int, list[str]] = {}
    parents: dict[str, list[str]] = {}
    for i, (src, dst, _) in enumerate(links):
        a, b = depth[src], depth[dst]
        prev = src
        for row in range(a + 1, b):
            wp = f"~{i}~{row}"
            rows.setdefault(row, []).append(wp)
            waypoints.setdefault(i, []).append(wp)
            parents.setdefault(wp, []).append(prev)
            prev = wp
        parents.setdefault(dst, []).append(prev)

    # Order each row by where its parents sit (barycentre), keeping document order on ties.
    index: dict[str, float] = {}
    for row in sorted(rows):
        items = rows[row]
        if row > 0:
            items.sort(
                key=lambda k: (
                    sum(index[p] for p in parents.get(k, []) if p in index)
                    / max(len([p for p in parents.get(k, []) if p in index]), 1)
                    if any(p in index for p in parents.get(k, []))
                    else 1e9
                )
            )
        for i, k in enumerate(items):
            index[k] = i

    def w(k: str) -> int:
        return DUMMY_W if k.startswith("~") else NODE_W

    row_widths = {r: sum(w(k) for k in items) + GAP_X * (len(items) - 1) for r, items in rows.items()}
    width = PAD * 2 + max(row_widths.values(), default=NODE_W)
    xy: dict[str, tuple[int, int]] = {}
    for row, items in rows.items():
        x = (width - row_widths[row]) // 2
        for k in items:
            xy[k] = (x, PAD + row * (NODE_H + GAP_Y))
            x += w(k) + GAP_X
    height = PAD * 2 + (max(rows, default=0) + 1) * NODE_H + max(rows, default=0) * GAP_Y

    boxes = []
    for row in sorted(rows):
        for k in rows[row]:
            if k.startswith("~"):
                continue
            n = flow.node(k)
            kind, summary = _summary(n)
            if k not in reached:
                kind += " · not reached"
            boxes.append(Box(n, xy[k][0], xy[k][1], kind, _clip(summary)))

    edges: list[Edge] = []
    for i, (src, dst, labels) in enumerate(links):
        sx, sy = xy[src]
        dx, dy = xy[dst]
        label = labels[0] if len(labels) == 1 else f"{len(labels)} reasons"
        if depth[dst] <= depth[src]:  # pointing up: swing out to the right
            x1, y1 = sx + NODE_W, sy + NODE_H // 2
            x2, y2 = dx + NODE_W, dy + NODE_H // 2
            bend = max(x1, x2) + 60
            path = f"M{x1},{y1} C{bend},{y1} {bend},{y2} {x2 + 6},{y2}"
            edges.append(
                # From a reached step it closes a loop (the validator reports it); from an
                # unreached one it is only unplaced.
                Edge(
                    src,
                    dst,
                    _clip(label, 22),
                    "; ".join(labels),
                    path,
                    bend - 10,
                    (y1 + y2) // 2,
                    src in reached,
                )
            )
            continue
        points = [(sx + NODE_W // 2, sy + NODE_H)]
        for wp in waypoints.get(i, []):
            points.append((xy[wp][0] + DUMMY_W // 2, xy[wp][1]))
            points.append((xy[wp][0] + DUMMY_W // 2, xy[wp][1] + NODE_H))
        points.append((dx + NODE_W // 2, dy - 6))
        d = f"M{points[0][0]},{points[0][1]}"
        for (x1, y1), (x2, y2) in itertools.pairwise(points):
            if x1 == x2:
                d += f" L{x2},{y2}"
            else:
                mid = (y1 + y2) // 2
                d += f" C{x1},{mid} {x2},{mid} {x2},{y2}"
        edges.append(Edge(src, dst, _clip(label, 18), "; ".join(labels), d, *points[1], False))
    # Labels sit just above where each link arrives in the next row; links leaving one step are
    # staggered so neighbouring labels don't overprint each other.
    placed: list[Edge] = []
    for src in dict.fromkeys(e.source for e in edges):
        mine = sorted((e for e in edges if e.source == src and not e.back), key=lambda e: e.lx)
        for k, e in enumerate(mine):
            placed.append(replace(e, ly=e.ly - 10 - 15 * (k % 2)))
        placed.extend(e for e in edges if e.source == src and e.back)
    edges = placed
    if any(depth[dst] <= depth[src] for src, dst, _ in links):
        width += 80
    return Canvas(boxes, edges, width, height)
