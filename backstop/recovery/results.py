"""Recovered revenue over time: per week for the last 12 months, the amount recovered and the
recovery rate, split by the decline class that opened each campaign (soft, hard, never retry).

A campaign counts in the week it closed (Monday to Sunday, UTC), like the Overview's trend. The
recovery rate of a week is its campaigns closed as recovered ÷ all it closed (recovered, lost or
abandoned); a week that closed none has no rate rather than 0 %.

Amounts are never added across currencies. The chart draws the main currency (the one with the
most recovered over the period); every currency has its own column in the table and total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.recovery import policy as rules

WEEKS = 52
CLASSES = rules.CLASSES


@dataclass
class Cell:
    """One decline class (or all of them) in one week, or over the whole period."""

    recovered: int = 0
    closed: int = 0
    amounts: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return self.recovered / self.closed if self.closed else None

    def add(self, status: str, currency: str, amount: int) -> None:
        self.closed += 1
        if status == "recovered":
            self.recovered += 1
            self.amounts[currency] = self.amounts.get(currency, 0) + amount


@dataclass
class Week:
    start: date
    by_class: dict[str, Cell]
    all: Cell

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)


@dataclass
class Results:
    weeks: list[Week]
    by_class: dict[str, Cell]  # the whole period
    all: Cell
    currency: str | None  # the one the chart draws; None when nothing was recovered
    currencies: list[str]  # every currency recovered, the main one first

    @property
    def others(self) -> list[str]:
        return self.currencies[1:]

    def top(self) -> int:
        """The largest weekly amount in the main currency (the chart's scale)."""
        if not self.currency:
            return 0
        return max((w.all.amounts.get(self.currency, 0) for w in self.weeks), default=0)


def first_week(today: date, weeks: int = WEEKS) -> date:
    return today - timedelta(days=today.weekday() + 7 * (weeks - 1))


def weekly(db: Database, workspace_id: int, weeks: int = WEEKS) -> Results:
    first = first_week(clock.now().date(), weeks)
    rows = db.execute(
        # The class that opened the campaign: a new card later reclassifies it as soft, which
        # would credit every card-update recovery to the soft class.
        "SELECT c.closed_at, c.status, c.currency, c.amount_due, "
        "COALESCE(json_extract(e.detail, '$.decline_class'), c.decline_class) "
        "FROM campaigns c LEFT JOIN campaign_events e ON e.campaign_id = c.id AND e.kind = 'opened' "
        "WHERE c.workspace_id = ? AND c.status != 'in_flight' AND c.closed_at >= ?",
        [workspace_id, first.isoformat()],
    ).fetchall()
    out = [Week(first + timedelta(days=7 * i), {k: Cell() for k in CLASSES}, Cell()) for i in range(weeks)]
    totals, overall = {k: Cell() for k in CLASSES}, Cell()
    for closed_at, status, currency, amount, decline_class in rows:
        index = (clock.parse(closed_at).date() - first).days // 7
        if not 0 <= index < weeks:
            continue
        cls = decline_class if decline_class in CLASSES else rules.SOFT
        week = out[index]
        for cell in (week.by_class[cls], week.all, totals[cls], overall):
            cell.add(status, currency, amount or 0)
    currencies = sorted(overall.amounts, key=lambda c: (-overall.amounts[c], c))
    return Results(out, totals, overall, currencies[0] if currencies else None, currencies)


# -- the chart's geometry -----------------------------------------------------------------------

BAR_W = 14
PLOT_H = 160
LEFT = 64  # room for the amount axis
RIGHT = 40  # room for the rate axis


@dataclass(frozen=True)
class Bar:
    cls: str
    x: float
    y: float
    height: float


def chart(results: Results) -> dict:
    """Where each stacked bar (main currency, by class) and each rate point goes, in SVG units."""
    top = results.top()
    bars: list[Bar] = []
    points: list[tuple[float, float]] = []
    segments: list[list[tuple[float, float]]] = [[]]
    for i, week in enumerate(results.weeks):
        x = LEFT + i * BAR_W + 2
        base = PLOT_H
        for cls in CLASSES:
            amount = week.by_class[cls].amounts.get(results.currency or "", 0)
            if not amount or not top:
                continue
            h = round(amount / top * (PLOT_H - 10), 1)
            base -= h
            bars.append(Bar(cls, x, round(base, 1), max(h, 1)))
        rate = week.all.rate
        if rate is None:
            if segments[-1]:
                segments.append([])
            continue
        point = (x + (BAR_W - 4) / 2, round(PLOT_H - rate * (PLOT_H - 10), 1))
        points.append(point)
        segments[-1].append(point)
    labels = [
        (LEFT + i * BAR_W + 2, w.start)
        for i, w in enumerate(results.weeks)
        if i % 8 == 0 or i == len(results.weeks) - 1
    ]
    return {
        "width": LEFT + len(results.weeks) * BAR_W + RIGHT,
        "height": PLOT_H + 24,
        "plot_h": PLOT_H,
        "left": LEFT,
        "right_x": LEFT + len(results.weeks) * BAR_W + 4,
        "top": top,
        "bars": bars,
        "points": points,
        "lines": [" ".join(f"{x},{y}" for x, y in seg) for seg in segments if len(seg) > 1],
        "labels": labels,
    }
