"""The first full copy of a Stripe account into the mirror: lists read side by side, paced, resumable.

Each list Backstop copies (products, prices, customers, subscriptions, three kinds of invoices) is
read newest first, 100 objects a page, expanding what would otherwise need one call per object.
A few threads fetch pages at once, all through the account's one pacer in
``backstop.connectors.stripe``, so Stripe never sees more than the configured number of requests
in a second; this thread applies each page and advances its cursor in one transaction.

Stripe pages a list one answer after another (each page's cursor is the last object of the one
before), so a single list can't use the budget when Stripe answers slowly. A big list is cut into
``created`` ranges while it is read: when threads would otherwise wait, a range that still has
pages is split below its cursor (the cursor keeps the newest slice, new ranges take the older
ones), down to the list's oldest ``created`` time, found once per list with a few one-object pages.
Ranges don't overlap, so no object is listed twice.

Everything needed to resume is in ``stripe_backfill_ranges``: a killed process resumes each range at
its last applied page. The ``stripe_backfills`` row names the process holding it (``pid@host`` and
since when; its lease, renewed with every page, is the heartbeat), so a second sync says who holds
it instead of paging the account again, and the claim of a dead holder is taken over.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from backstop import clock
from backstop.connectors.stripe import (
    StripeAuthFailed,
    StripeGateway,
    StripePermissionMissing,
    StripeUnavailable,
)
from backstop.db import all_rows, one, write_transaction
from backstop.lib import workrows
from backstop.stripe_sync import connection, mirror

log = logging.getLogger("backstop.stripe.backfill")

TABLE = "stripe_backfills"
LEASE = timedelta(minutes=2)
RECENT_PAID_DAYS = 90
PAGE = 100
# No Stripe object is older than Stripe (public since 2011): the lowest bound of any list.
STRIPE_EPOCH = 1_293_840_000
# The search for a list's oldest object (for its estimate) stops after this many one-object pages.
FLOOR_PROBES = 14
# A range is split only into pieces expected to hold at least this many pages each.
SPLIT_PAGES = 3
# Density measured over less than this many seconds of creation times says nothing about the rest.
MIN_SPAN_FOR_ESTIMATE = 60


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    path: str
    params: dict


STAGES = [
    Stage("products", "Products", "/v1/products", {}),
    Stage("prices", "Prices", "/v1/prices", {}),
    Stage(
        "customers",
        "Customers",
        "/v1/customers",
        {"expand": ["data.invoice_settings.default_payment_method"]},
    ),
    Stage(
        "subscriptions",
        "Subscriptions",
        "/v1/subscriptions",
        {"status": "all", "expand": ["data.default_payment_method"]},
    ),
    Stage("invoices_open", "Open invoices", "/v1/invoices", {"status": "open"}),
    Stage("invoices_uncollectible", "Uncollectible invoices", "/v1/invoices", {"status": "uncollectible"}),
    Stage("invoices_paid", "Recently paid invoices", "/v1/invoices", {"status": "paid"}),
]
STAGE_KEYS = [s.key for s in STAGES]
_BY_KEY = {s.key: s for s in STAGES}


def stages() -> list[Stage]:
    return list(STAGES)


def lanes_for(rate: float) -> int:
    """Pages fetched at once: enough to keep ``rate`` requests a second going when Stripe takes a
    few hundred milliseconds to answer, and not so many that a low limit leaves threads waiting."""
    return max(4, min(16, math.ceil(rate / 2)))


def _first_gte(key: str) -> int | None:
    if key == "invoices_paid":  # paid invoices matter for the last 90 days only
        return int((clock.now() - timedelta(days=RECENT_PAID_DAYS)).timestamp())
    return None


# -- who holds a backfill ---------------------------------------------------------------------


def this_process() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def _dead_here(name: str | None) -> bool:
    """True when ``name`` (pid@host) is a process on this machine that no longer runs."""
    pid, _, host = (name or "").partition("@")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


@dataclass(frozen=True)
class Holder:
    name: str  # pid@host
    since: str
    heartbeat: str  # when it last showed it was alive (a page applied, or its claim)


def holder(db: Database, workspace_id: int) -> Holder | None:
    """The process running this workspace's backfill now, or None (nobody, or a holder that died:
    its process is gone from this machine, or its lease ran out without a heartbeat)."""
    row = one(
        db,
        "SELECT work_state, claimed_until, holder, holder_since FROM stripe_backfills WHERE workspace_id = ?",
        [workspace_id],
    )
    if row is None or row["work_state"] != "working" or not row["claimed_until"]:
        return None
    if row["claimed_until"] < clock.iso() or _dead_here(row["holder"]):
        return None
    heartbeat = clock.iso(clock.parse(row["claimed_until"]) - LEASE)
    return Holder(row["holder"] or "another process", row["holder_since"] or heartbeat, heartbeat)


def _claim(db: Database, row_id: int) -> bool:
    with write_transaction(db):
        row = one(db, "SELECT work_state, holder FROM stripe_backfills WHERE id = ?", [row_id])
        if row is None:
            return False
        if row["work_state"] == "working" and _dead_here(row["holder"]):
            log.warning("backfill %s: %s stopped without finishing; taking it over", row_id, row["holder"])
            db.execute(
                "UPDATE stripe_backfills SET work_state = 'pending', claimed_until = NULL, due_at = ? "
                "WHERE id = ? AND work_state = 'working'",
                [clock.iso(), row_id],
            )
        if not workrows.claim(db, TABLE, row_id, lease=LEASE):
            return False
        db.execute(
            "UPDATE stripe_backfills SET holder = ?, holder_since = ? WHERE id = ?",
            [this_process(), clock.iso(), row_id],
        )
    return True


def _let_go(db: Database, row_id: int) -> None:
    db.execute("UPDATE stripe_backfills SET holder = NULL, holder_since = NULL WHERE id = ?", [row_id])


# -- starting ---------------------------------------------------------------------------------


def resume_or_start(db: Database, workspace_id: int, *, restart: bool = False) -> int:
    """The backfill to run now: the unfinished one, made due at once, or a new one when there is
    none, it finished or failed, or ``restart`` is asked (unless a live process is running it:
    the caller then sees the holder and waits)."""
    row = one(
        db, "SELECT id, finished_at, work_state FROM stripe_backfills WHERE workspace_id = ?", [workspace_id]
    )
    if row is None or row["finished_at"] or row["work_state"] == "failed":
        return start(db, workspace_id)
    if restart and holder(db, workspace_id) is None:
        return start(db, workspace_id)
    db.execute(
        "UPDATE stripe_backfills SET due_at = ? WHERE id = ? AND work_state = 'pending'",
        [clock.iso(), row["id"]],
    )
    return row["id"]


def start(db: Database, workspace_id: int) -> int:
    """Create (or restart) the workspace's backfill; return its row id for the job. A backfill a
    live process is running carries on: it isn't reset underneath that process."""
    existing = one(db, "SELECT id FROM stripe_backfills WHERE workspace_id = ?", [workspace_id])
    if existing is not None and holder(db, workspace_id) is not None:
        return existing["id"]
    now = clock.iso()
    with write_transaction(db):
        db.execute(
            "INSERT INTO stripe_backfills (workspace_id, stage, cursor, counts, started_at, due_at) "
            "VALUES (?, ?, NULL, ?, ?, ?) ON CONFLICT (workspace_id) DO UPDATE SET stage = excluded.stage, "
            "cursor = NULL, counts = excluded.counts, started_at = excluded.started_at, finished_at = NULL, "
            "work_state = 'pending', due_at = excluded.due_at, claimed_until = NULL, attempts = 0, "
            "last_error = NULL, plan = '{}', holder = NULL, holder_since = NULL",
            [workspace_id, STAGE_KEYS[0], json.dumps(dict.fromkeys(STAGE_KEYS, 0)), now, now],
        )
        row_id = one(db, "SELECT id FROM stripe_backfills WHERE workspace_id = ?", [workspace_id])["id"]
        db.execute("DELETE FROM stripe_backfill_ranges WHERE backfill_id = ?", [row_id])
        for key in STAGE_KEYS:
            db.execute(
                "INSERT INTO stripe_backfill_ranges (backfill_id, stage, created_gte) VALUES (?, ?, ?)",
                [row_id, key, _first_gte(key)],
            )
    return row_id


# -- progress ---------------------------------------------------------------------------------


@dataclass
class Range:
    id: int
    stage: str
    created_gte: int | None
    created_lt: int | None
    cursor: str | None
    cursor_created: int | None
    newest: int | None
    fetched: int
    done: bool


def _ranges(db: Database, row_id: int) -> list[Range]:
    rows = all_rows(
        db,
        "SELECT id, stage, created_gte, created_lt, cursor, cursor_created, newest, fetched, done "
        "FROM stripe_backfill_ranges WHERE backfill_id = ? ORDER BY id",
        [row_id],
    )
    return [Range(**{**r, "done": bool(r["done"])}) for r in rows]


def estimate(ranges: list[Range], floor: int | None) -> int | None:
    """How many objects a list holds, from what its ranges read so far: the objects per second of
    creation time seen, times the creation time still to read (down to ``floor``, the list's oldest
    bound). Exact once the list is done; None while there is too little to go on."""
    synced = sum(r.fetched for r in ranges)
    unfinished = [r for r in ranges if not r.done]
    if not unfinished:
        return synced
    read = [r for r in ranges if r.fetched and r.newest is not None and r.cursor_created is not None]
    covered = sum(r.newest - r.cursor_created + 1 for r in read)
    if not read or covered < MIN_SPAN_FOR_ESTIMATE:
        return None
    density = synced / covered
    remaining = 0.0
    if floor is None:
        return None
    for r in unfinished:
        bottom = floor if r.created_gte is None else max(floor, r.created_gte)
        top = r.cursor_created if r.fetched else (r.created_lt or int(clock.now_ts()))
        remaining += max(0, top - bottom) * density
    return synced + max(len(unfinished), round(remaining))


@dataclass(frozen=True)
class TypeProgress:
    key: str
    label: str
    synced: int
    estimated: int | None  # None: not known yet
    done: bool

    @property
    def shown(self) -> str:
        """For a person: "3,200 of about 10,000", "10,000" once done, "3,200 so far" unestimated."""
        if self.done:
            return f"{self.synced:,}"
        if self.estimated:
            return f"{self.synced:,} of about {self.estimated:,}"
        return f"{self.synced:,} so far"


@dataclass(frozen=True)
class Progress:
    stage: str
    stage_label: str
    stage_index: int
    stage_count: int
    counts: dict
    synced: int
    finished_at: str | None
    state: str
    last_error: str | None
    types: tuple[TypeProgress, ...] = ()
    holder: Holder | None = None

    @property
    def estimated(self) -> int | None:
        """The whole account's estimate: known once every list's is."""
        if any(t.estimated is None for t in self.types):
            return None
        return sum(t.estimated or 0 for t in self.types)

    @property
    def summary(self) -> str:
        """ "3,200 of about 12,000 objects", or "3,200 objects" while the total isn't known."""
        total = self.estimated
        if total and not self.finished_at:
            return f"{self.synced:,} of about {max(total, self.synced):,} objects"
        return f"{self.synced:,} objects"

    @property
    def percent(self) -> int:
        if self.finished_at:
            return 100
        total = self.estimated
        if total:
            return min(99, int(100 * self.synced / total))
        return int(100 * self.stage_index / self.stage_count)


def progress(db: Database, workspace_id: int) -> Progress | None:
    row = one(db, "SELECT * FROM stripe_backfills WHERE workspace_id = ?", [workspace_id])
    if row is None:
        return None
    counts = json.loads(row["counts"] or "{}")
    floors = json.loads(row["plan"] or "{}").get("floors", {})
    ranges = _ranges(db, row["id"])
    types = []
    for stage in STAGES:
        mine = [r for r in ranges if r.stage == stage.key]
        done = bool(row["finished_at"]) or (bool(mine) and all(r.done for r in mine))
        synced = counts.get(stage.key, 0)
        guess = synced if done or not mine else estimate(mine, floors.get(stage.key))
        types.append(TypeProgress(stage.key, stage.label, synced, guess, done))
    index = next((i for i, t in enumerate(types) if not t.done), len(STAGES))
    return Progress(
        stage=STAGE_KEYS[index] if index < len(STAGES) else "done",
        stage_label=STAGES[index].label if index < len(STAGES) else "Done",
        stage_index=index,
        stage_count=len(STAGES),
        counts=counts,
        synced=sum(counts.values()),
        finished_at=row["finished_at"],
        state=row["work_state"],
        last_error=row["last_error"],
        types=tuple(types),
        holder=holder(db, workspace_id),
    )


# -- running ----------------------------------------------------------------------------------


def run(
    db: Database,
    row_id: int,
    gateway_for: Callable[[int], StripeGateway],
    on_page: Callable[[Progress], None] | None = None,
) -> str | None:
    """Work through what is left. Returns 'done', 'retrying', 'failed', or None when the row is
    not claimable (another process has it, or it isn't due)."""
    if not _claim(db, row_id):
        return None
    row = one(db, "SELECT * FROM stripe_backfills WHERE id = ?", [row_id])
    workspace_id = row["workspace_id"]
    try:
        gateway: StripeGateway = gateway_for(workspace_id)
        _Run(db, row_id, workspace_id, gateway, on_page).go()
    except StripeUnavailable as exc:
        workrows.retry_later(
            db,
            TABLE,
            row_id,
            workrows.backoff(row["attempts"], cap=timedelta(minutes=30)),
            f"Stripe is unavailable: {exc.message}",
        )
        _let_go(db, row_id)
        return "retrying"
    except (StripeAuthFailed, StripePermissionMissing) as exc:
        connection.mark_failing(db, workspace_id, f"Stripe refused Backstop's key: {exc.message}")
        workrows.fail(db, TABLE, row_id, f"Stripe refused the key: {exc.message}")
        _let_go(db, row_id)
        return "failed"
    except Exception as exc:  # unplanned: give the row back at once, with why
        workrows.release_failed(db, TABLE, row_id, exc)
        _let_go(db, row_id)
        return "retrying"
    with write_transaction(db):
        db.execute(
            "UPDATE stripe_backfills SET finished_at = ?, stage = 'done', cursor = NULL WHERE id = ?",
            [clock.iso(), row_id],
        )
        workrows.complete(db, TABLE, row_id)
        _let_go(db, row_id)
    return "done"


class _Run:
    """One claimed run: threads fetch pages (and a list's oldest bound); this thread applies them."""

    def __init__(
        self,
        db: Database,
        row_id: int,
        workspace_id: int,
        gateway: StripeGateway,
        on_page: Callable[[Progress], None] | None,
    ) -> None:
        self.db, self.row_id, self.workspace_id = db, row_id, workspace_id
        self.gateway, self.on_page = gateway, on_page
        self.lanes = lanes_for(gateway.config.rate)
        row = one(db, "SELECT counts, plan FROM stripe_backfills WHERE id = ?", [row_id])
        self.counts = {**dict.fromkeys(STAGE_KEYS, 0), **json.loads(row["counts"] or "{}")}
        self.plan = json.loads(row["plan"] or "{}")
        self.floors: dict[str, int] = self.plan.setdefault("floors", {})
        self.ranges = {r.id: r for r in _ranges(db, row_id)}

    def go(self) -> None:
        in_flight: dict[Future, tuple[str, object]] = {}
        failure: BaseException | None = None
        pool = ThreadPoolExecutor(max_workers=self.lanes, thread_name_prefix="stripe-backfill")
        try:
            while True:
                if failure is None:
                    self._fill(pool, in_flight)
                if not in_flight:
                    break
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    kind, subject = in_flight.pop(future)
                    error = future.exception()
                    if error is not None:
                        # Stripe's failure ends the run, after the pages already on their way
                        # are applied: they were paid for.
                        failure = failure or error
                    elif kind == "floor":
                        self._save_floor(str(subject), future.result())
                    else:
                        self._apply(self.ranges[int(subject)], future.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if failure is not None:
            raise failure

    def _unfinished(self) -> list[Range]:
        order = {key: i for i, key in enumerate(STAGE_KEYS)}
        return sorted((r for r in self.ranges.values() if not r.done), key=lambda r: (order[r.stage], r.id))

    def _fill(self, pool: ThreadPoolExecutor, in_flight: dict[Future, tuple[str, object]]) -> None:
        busy = set(in_flight.values())
        unfinished = self._unfinished()
        # First, for a list with more than a page: its oldest bound, so it can be cut evenly and
        # its size estimated. Not for a list whose first page was created within a minute: its
        # creation times say too little to cut it or estimate it by.
        for r in unfinished:
            if len(in_flight) >= self.lanes:
                return
            dense = r.newest is not None and r.newest - (r.cursor_created or 0) + 1 < MIN_SPAN_FOR_ESTIMATE
            if r.fetched and not dense and r.stage not in self.floors and ("floor", r.stage) not in busy:
                bounds = [x.created_gte for x in self.ranges.values() if x.stage == r.stage]
                base = None if None in bounds else min(bounds)  # the list's own lower bound, if any
                job = (self._find_floor, _BY_KEY[r.stage], r.newest or 0, r.cursor_created or 0, base)
                in_flight[pool.submit(*job)] = ("floor", r.stage)
                busy.add(("floor", r.stage))
        for r in unfinished:
            if len(in_flight) >= self.lanes:
                return
            if ("page", r.id) not in busy:
                job = (self._fetch, _BY_KEY[r.stage], r.created_gte, r.created_lt, r.cursor)
                in_flight[pool.submit(*job)] = ("page", r.id)

    # -- in the threads --

    def _fetch(self, stage: Stage, gte: int | None, lt: int | None, cursor: str | None) -> dict:
        query = {**stage.params, "limit": PAGE}
        created = {k: v for k, v in (("gte", gte), ("lt", lt)) if v is not None}
        if created:
            query["created"] = created
        if cursor:
            query["starting_after"] = cursor
        return self.gateway.get(stage.path, query)

    def _find_floor(self, stage: Stage, newest: int, top: int, base: int | None) -> int:
        """A time no object of the list was created before, from one-object pages asking
        "anything older than T?". ``top`` is the ``created`` of the cursor's object, ``newest`` the
        list's first: their gap is what a page covers. Step back from ``top`` by that gap, then 8
        times further each time, until nothing is older; then halve the last step until the gap
        is under a quarter of the span known to hold objects. Usually 4 to 8 requests. ``base``:
        the list's own lower bound (recently paid invoices), if it has one."""
        params = {k: v for k, v in stage.params.items() if k != "expand"}
        start = STRIPE_EPOCH if base is None else base
        probes = 0

        def older_than(edge: int) -> bool:
            nonlocal probes
            probes += 1
            created = {"lt": edge} if base is None else {"gte": base, "lt": edge}
            page = self.gateway.get(stage.path, {**params, "limit": 1, "created": created})
            return bool(page.get("data"))

        if not older_than(top):
            return top  # the rest of the list shares the cursor's second
        high, low, reach = top, start, max(1, newest - top)  # something before high
        while probes < FLOOR_PROBES:
            edge = max(start, top - reach)
            if edge <= start or not older_than(edge):
                low = edge
                break
            high, reach = edge, reach * 8
        while probes < FLOOR_PROBES and high - low > max(1, (top - high) // 4):
            middle = (low + high) // 2
            if older_than(middle):
                high = middle
            else:
                low = middle
        return low

    # -- in this thread --

    def _save_floor(self, stage: str, floor: int) -> None:
        self.floors[stage] = floor
        with write_transaction(self.db):
            self.db.execute(
                "UPDATE stripe_backfills SET plan = ? WHERE id = ?", [json.dumps(self.plan), self.row_id]
            )

    def _split(self, r: Range) -> list[Range]:
        """Cut what ``r`` has left below its cursor into pieces for idle threads: ``r`` keeps the
        newest, each new range an older slice; the oldest keeps ``r``'s lower bound. Pieces are
        sized by the objects per second of creation time ``r`` has seen, a few pages each (a
        range's last page is usually short, so tiny ranges would cost requests): evenly down to
        the list's oldest bound when it is known, else one slice of that size below the cursor,
        the rest open-ended (it is cut again when it has pages of its own)."""
        spare = self.lanes - len(self._unfinished())
        if spare <= 0 or r.cursor_created is None or r.newest is None:
            return []
        top = r.cursor_created  # r's cursor object: it must stay inside r's range
        density = r.fetched / (r.newest - top + 1)
        floor = self.floors.get(r.stage)
        if floor is not None:
            bottom = floor if r.created_gte is None else max(floor, r.created_gte)
            worth = int(density * (top - bottom) / (SPLIT_PAGES * PAGE))
            pieces = min(spare + 1, top - bottom, worth)
            if pieces < 2:
                return []
            bounds = [bottom + (top - bottom) * i // pieces for i in range(pieces)]
        elif r.newest - top + 1 < MIN_SPAN_FOR_ESTIMATE:
            return []  # objects this close together in time say little of the rest: wait for the floor
        else:
            # Until the floor is known, one slice of a few pages' worth at a time: further cuts
            # could land on years without a single object.
            step = max(1, int(SPLIT_PAGES * PAGE / density))
            lowest = STRIPE_EPOCH if r.created_gte is None else r.created_gte
            if top - step <= lowest:
                return []
            pieces, bounds = 2, [lowest, top - step]
        children = []
        for i in range(1, pieces):
            gte = r.created_gte if i == 1 else bounds[i - 1]
            children.append(Range(0, r.stage, gte, bounds[i], None, None, None, 0, False))
        r.created_gte = bounds[-1]
        return children

    def _apply(self, r: Range, page: dict) -> None:
        objects = page.get("data") or []
        has_more = bool(page.get("has_more")) and bool(objects)
        version = int(clock.now_ts())
        db = self.db
        with write_transaction(db):
            for obj in objects:
                if obj.get("object") == "invoice":
                    obj = mirror.complete_invoice_lines(self.gateway.get, obj)
                mirror.apply_object(db, self.workspace_id, obj, version)
            self.counts[r.stage] += len(objects)
            r.fetched += len(objects)
            if objects:
                r.cursor, r.cursor_created = objects[-1]["id"], int(objects[-1].get("created") or 0)
                if r.newest is None:
                    r.newest = int(objects[0].get("created") or 0)
            r.done = not has_more
            children = [] if r.done else self._split(r)
            db.execute(
                "UPDATE stripe_backfill_ranges SET created_gte = ?, cursor = ?, cursor_created = ?, "
                "newest = ?, fetched = ?, done = ? WHERE id = ?",
                [r.created_gte, r.cursor, r.cursor_created, r.newest, r.fetched, int(r.done), r.id],
            )
            for child in children:
                cur = db.execute(
                    "INSERT INTO stripe_backfill_ranges (backfill_id, stage, created_gte, created_lt) "
                    "VALUES (?, ?, ?, ?)",
                    [self.row_id, child.stage, child.created_gte, child.created_lt],
                )
                child.id = cur.lastrowid
                self.ranges[child.id] = child
            first = self._unfinished()
            db.execute(
                "UPDATE stripe_backfills SET stage = ?, counts = ?, claimed_until = ? WHERE id = ?",
                [
                    first[0].stage if first else "done",
                    json.dumps(self.counts),
                    clock.iso(clock.now() + LEASE),
                    self.row_id,
                ],
            )
        if self.on_page is not None:
            self.on_page(progress(db, self.workspace_id))
