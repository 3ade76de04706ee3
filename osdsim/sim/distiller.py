"""The online distiller of one replica's draft(s) (OSD, Liu et al. 2024, Section 4).

Positions where the draft was wrong go into a bounded buffer (the target's distribution there
came free with verification); every ``update_interval`` finished records a draft trains on its
buffer and clears it. The replica owns the clock: this module holds the state and the accounting
of an update against the replica's time and FLOPs, in one of two modes (``DISTILLER_MODES``):

- ``spare``: the update starts at once and lasts at least ``update_s`` (its time on an idle
  replica); serving steps during it run ``interference`` slower (memory-bandwidth contention);
  its FLOPs are paid from each step's spare FLOPs (capacity × step time − step FLOPs) and from
  idle time. If, when ``update_s`` has passed, FLOPs are still owed, the remainder runs
  exclusively — the step in flight is lengthened by remainder / capacity (``stall_s``): an
  update that does not fit shows up as longer steps.
- ``exclusive``: the replica stops serving for ``update_s``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FINISH_TOLERANCE_S = 1e-12  # an update due at t counts as done at t − this (float round-off)


@dataclass(slots=True)
class Update:
    distiller: Distiller
    start_s: float
    min_end_s: float  # start + update_s
    flops: float
    flops_left: float
    num_tokens: int
    records: list[int]  # records per domain in this update
    stall_s: float = 0.0


class Distiller:
    """Buffer and record counters of one draft; ``domains`` is the domain indices it serves."""

    __slots__ = ("name", "serves", "serves_l", "serves_all", "interval", "buffer_size", "buffer_tokens",
                 "records", "pending")

    def __init__(self, name: str, domains: np.ndarray, num_domains: int, interval: int, buffer_size: int):
        self.name = name
        self.serves = np.zeros(num_domains, dtype=bool)
        self.serves[domains] = True
        self.serves_l = self.serves.tolist()
        self.serves_all = all(self.serves_l)
        self.interval, self.buffer_size = interval, buffer_size
        self.buffer_tokens = 0
        self.records = [0] * num_domains  # finished since the last update, per domain
        self.pending = 0  # their total

    def add_mismatches(self, count: int) -> None:
        # Bounded buffer: beyond buffer_size the oldest positions are dropped.
        self.buffer_tokens = min(self.buffer_size, self.buffer_tokens + count)

    def add_records(self, domains: list[int]) -> None:
        """Count finished records (their domain indices) that this draft serves."""
        records = self.records
        if self.serves_all:
            for d in domains:
                records[d] += 1
            self.pending += len(domains)
            return
        for d in domains:
            if self.serves_l[d]:
                records[d] += 1
                self.pending += 1

    @property
    def due(self) -> bool:
        return self.pending >= self.interval

    def start(self, now: float, update_s: float, flops: float) -> Update:
        update = Update(self, now, now + update_s, flops, flops, self.buffer_tokens, self.records)
        self.buffer_tokens = 0
        self.records = [0] * len(self.records)
        self.pending = 0
        return update


class SpareMode:
    """Updates ride in the FLOPs serving leaves idle (see the module docstring)."""

    name = "spare"
    exclusive = False

    def __init__(self, interference: float, capacity_flops_per_s: float):
        self.slowdown = 1.0 + interference
        self.capacity = capacity_flops_per_s

    def charge_step(self, update: Update, now: float, seconds: float, flops: float) -> tuple[float, float]:
        """A serving step of ``seconds`` and ``flops`` starting at ``now`` while ``update`` runs:
        returns the step's seconds after interference and any exclusive remainder, and that
        remainder (the stall)."""
        seconds *= self.slowdown
        spare = self.capacity * seconds - flops
        if spare > 0.0:
            update.flops_left -= spare
        stall = 0.0
        if update.flops_left > 0.0 and now + seconds >= update.min_end_s:
            stall = update.flops_left / self.capacity  # the rest runs with the card to itself
            update.flops_left = 0.0
            update.stall_s += stall
        return seconds + stall, stall

    def charge_idle(self, update: Update, idle_s: float) -> None:
        """An idle replica gives the update all its FLOPs."""
        update.flops_left -= self.capacity * idle_s

    def idle_finish_s(self, update: Update, now: float) -> float:
        """When the update would finish if the replica stayed idle from ``now``."""
        return max(update.min_end_s, now + max(0.0, update.flops_left) / self.capacity)


class ExclusiveMode(SpareMode):
    """Updates take the replica: serving waits ``update_s``."""

    name = "exclusive"
    exclusive = True


def done(update: Update, now: float) -> bool:
    return now >= update.min_end_s - FINISH_TOLERANCE_S and update.flops_left <= 0.0


DISTILLER_MODES = {"spare": SpareMode, "exclusive": ExclusiveMode}
