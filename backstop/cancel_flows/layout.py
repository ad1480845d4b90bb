"""Where the builder draws each node: a top-down layered layout, computed, never stored.

Nodes sit in rows by their distance from the start (breadth-first); nodes no path reaches go in
a last row of their own so they stay visible (the validator reports them). Edges that leave the
same node for the same target are drawn once with a combined label.
"""

from __future__ import annotations

from dataclasses import dataclass

from backstop.cancel_flows.document import NODE_LABELS, OFFER_LABELS, Flow, Node

NODE_W = 196
NODE_H = 64
GAP_X = 36
GAP_Y = 84
PAD = 24


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
        kinds = [OFFER_LABELS[v.offer.kind] for v in node.variants]
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


def layout(flow: Flow) -> Canvas:
    depth: dict[str, int] = {}
    queue = [flow.start] if flow.node(flow.start) else []
    if queue:
        depth[flow.start] = 0
    while queue:
        nid = queue.pop(0)
        node = flow.node(nid)
        for target in node.targets() if node else []:
            if flow.node(target) and target not in depth:
                depth[target] = depth[nid] + 1
                queue.append(target)
    last = max(depth.values(), default=-1) + 1
    # Confirm reads best at the bottom: push every Confirm below the deepest other node.
    confirm_row = max((d for n, d in depth.items() if flow.node(n).type != "confirm"), default=-1) + 1
    for n in flow.nodes:
        if n.type == "confirm" and n.id in depth:
            depth[n.id] = max(depth[n.id], confirm_row)
    unreached = [n for n in flow.nodes if n.id not in depth]
    last = max(depth.values(), default=-1) + 1
    rows: dict[int, list[Node]] = {}
    for n in flow.nodes:
        rows.setdefault(depth.get(n.id, last), []).append(n)
    widest = max((len(r) for r in rows.values()), default=1)
    width = PAD * 2 + widest * NODE_W + (widest - 1) * GAP_X
    boxes: dict[str, Box] = {}
    for row, nodes in sorted(rows.items()):
        row_w = len(nodes) * NODE_W + (len(nodes) - 1) * GAP_X
        x0 = (width - row_w) // 2
        for i, n in enumerate(nodes):
            kind, summary = _summary(n)
            if n in unreached:
                kind += " · not reached"
            boxes[n.id] = Box(
                n, x0 + i * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y), kind, _clip(summary)
            )
    height = PAD * 2 + (max(rows, default=0) + 1) * NODE_H + max(rows, default=0) * GAP_Y

    edges: list[Edge] = []
    for n in flow.nodes:
        grouped: dict[str, list[str]] = {}
        if n.type == "survey":
            for r in n.reasons:
                if r.next and r.next in boxes:
                    grouped.setdefault(r.next, []).append(r.label or r.code)
        elif n.type == "stories" and n.next in boxes:
            grouped[n.next] = ["Continue"]
        elif n.type == "offer" and n.on_decline in boxes:
            grouped[n.on_decline] = ["Declined"]
        src = boxes[n.id]
        for target, labels in grouped.items():
            dst = boxes[target]
            x1, y1 = src.cx, src.y + NODE_H
            x2, y2 = dst.cx, dst.y
            back = y2 <= y1
            if back:  # loop or same row: swing out to the right
                x1, y1, x2, y2 = src.x + NODE_W, src.y + NODE_H // 2, dst.x + NODE_W, dst.y + NODE_H // 2
                bend = max(x1, x2) + 60
                path = f"M{x1},{y1} C{bend},{y1} {bend},{y2} {x2 + 6},{y2}"
                lx, ly = bend - 10, (y1 + y2) // 2
            else:
                mid = (y1 + y2) // 2
                path = f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2 - 6}"
                lx, ly = (x1 + x2) // 2, mid
            label = labels[0] if len(labels) == 1 else f"{len(labels)} reasons"
            edges.append(Edge(n.id, target, _clip(label, 22), "; ".join(labels), path, lx, ly, back))
    if any(e.back for e in edges):
        width += 80
    return Canvas(list(boxes.values()), edges, width, height)
