"""vLLM's Prometheus counters ``vllm:spec_decode_*`` → aggregate rows (part of ``parse_vllm``).

Text exposition format (https://prometheus.io/docs/instrumenting/exposition_formats/), counters
with or without ``_total``, per-position samples labelled ``position="i"`` (0-based), as vLLM
exports them (https://github.com/vllm-project/vllm: ``SpecDecodingProm`` in
``vllm/v1/spec_decode/metrics.py``; V0 also counts emitted tokens). Each scrape
is one cumulative snapshot; a repeated sample starts the next one, and rows are deltas between
snapshots.
"""

from __future__ import annotations

import re
from typing import Any

from osdsim.trace.importers.common import ImportResult, Unreadable, counter_delta

PROM_PREFIX = "vllm:spec_decode_"
_PROM_LINE = re.compile(r"^(vllm:spec_decode_[A-Za-z0-9_]+?)(?:_total)?(\{[^}]*\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
_PROM_COUNTERS = ("num_drafts", "num_draft_tokens", "num_accepted_tokens", "num_emitted_tokens",
                  "num_accepted_tokens_per_pos")


def parse_prometheus_sample(line: str) -> tuple[str, dict[str, str], float] | None:
    """(counter name without prefix/_total, labels, value), or None for a sample of no interest."""
    m = _PROM_LINE.match(line.strip())
    if m is None:
        raise Unreadable("not a Prometheus sample line")
    name = m.group(1)[len(PROM_PREFIX):]
    if name.endswith("_created") or name not in _PROM_COUNTERS:
        return None
    labels = dict(_LABEL.findall(m.group(2) or ""))
    try:
        value = float(m.group(3))
    except ValueError:
        raise Unreadable(f"value {m.group(3)!r} is not a number") from None
    if not 0 <= value < 1e300:
        raise Unreadable(f"counter value {m.group(3)!r} is not a finite non-negative number")
    return name, labels, value


class PromSnapshots:
    """Collects samples into scrapes (a repeated series starts a new one) and emits delta rows."""

    def __init__(self, result: ImportResult):
        self.result = result
        self.current: dict[tuple, float] = {}
        self.first_line = 0
        self.previous: dict[tuple, dict[str, Any]] = {}

    def add(self, name: str, labels: dict[str, str], value: float, lineno: int) -> None:
        position = labels.pop("position", None)
        key = (tuple(sorted(labels.items())), name, position)
        if key in self.current:
            self.close()
        if not self.current:
            self.first_line = lineno
        self.current[key] = value

    def close(self) -> None:
        groups: dict[tuple, dict[str, Any]] = {}
        for (labels, name, position), value in self.current.items():
            g = groups.setdefault(labels, {"per_pos": {}})
            if position is None:
                g[name] = value
            elif position.isdigit():
                g["per_pos"][int(position)] = value
        for labels, g in groups.items():
            self._emit(labels, g)
        self.current = {}

    def _emit(self, labels: tuple, g: dict[str, Any]) -> None:
        if "num_draft_tokens" not in g or "num_accepted_tokens" not in g:
            self.result.bad(self.first_line, "scrape lacks num_draft_tokens or num_accepted_tokens")
            return
        drafts = g.get("num_drafts")
        emitted = g.get("num_emitted_tokens")
        if emitted is None and drafts is not None:
            emitted = g["num_accepted_tokens"] + drafts
        cur = {"drafted": g["num_draft_tokens"], "accepted": g["num_accepted_tokens"],
               "emitted": -1.0 if emitted is None else emitted, "num_drafts": -1.0 if drafts is None else drafts}
        per_pos = [g["per_pos"][i] for i in sorted(g["per_pos"])]
        for i, v in enumerate(per_pos):
            cur[f"pos{i}"] = v
        if cur["accepted"] > cur["drafted"]:
            self.result.bad(self.first_line, "accepted exceeds drafted in scrape")
            return
        d = counter_delta(cur, self.previous.get(labels), tuple(cur))
        self.previous[labels] = cur
        row = {"format": "vllm-prometheus", "line": self.first_line, "counters": "delta of cumulative",
               "labels": dict(labels), "drafted": d["drafted"], "accepted": d["accepted"],
               "emitted": d["emitted"] if emitted is not None else None,
               "num_drafts": d["num_drafts"] if drafts is not None else None, "restart": d["restart"]}
        if per_pos and row["num_drafts"]:
            row["gamma"] = len(per_pos)
            row["per_position"] = [d[f"pos{i}"] / row["num_drafts"] for i in range(len(per_pos))]
        elif row["num_drafts"]:
            row["gamma"] = round(row["drafted"] / row["num_drafts"])
        self.result.add(row)
