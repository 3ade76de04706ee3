"""vLLM speculative-decoding metrics → aggregate rows.

Formats as vLLM prints them (https://github.com/vllm-project/vllm: V0 ``vllm/spec_decode/metrics.py``
and ``vllm/engine/metrics.py``, V1 ``vllm/v1/spec_decode/metrics.py``); a sample of each variant is
in ``traces/samples/``.

Releases covered (a real sample of each in ``traces/samples/real/``, ``tests/test_import_real.py``):
V0 in vLLM 0.4.1–0.5.x ("Number of draft tokens tokens", "Number of emitted tokens tokens") and
0.6–0.7 (misprints fixed); the first V1 releases 0.8.0–0.8.2 (V0's marker, interval counts); V1
``SpecDecoding metrics`` from 0.8.3 (counts only) to 0.10+ (mean acceptance length, throughputs,
per-position rates, ``(APIServer pid=…)`` prefix); Prometheus ``vllm:spec_decode_*`` counters.

Three sources, detected per line, so one file may mix them:

- V0 engine ``Speculative metrics: ...`` — counters cumulative since start; each row here is the
  delta since the previous line (a counter going down means a restart: the delta restarts too).
  V0's "accepted" counts every drafted position that matched, also after a rejection.
- V1 engine ``SpecDecoding metrics: ...`` — counts per logging interval; older versions print
  fewer fields, and the first V1 releases (before April 2025) printed ``Speculative metrics:
  Draft acceptance rate: …, Number of accepted tokens: …, Number of draft tokens: …`` (the V0
  marker without V0's speculative-token and emitted counts; per interval, counts only). V1's "accepted" counts the accepted prefix of each draft (mean acceptance length
  = 1 + accepted / drafts), with per-position rates when printed.
- The engine's throughput line of the same logging interval (V0 ``Avg prompt throughput: …,
  Avg generation throughput: …, Running: … reqs, … GPU KV cache usage: …%``; V1 the same after
  ``Engine 000:``), printed just before the speculative line (or just after; the two must share
  a timestamp where both have one): its numbers are attached to that interval's row (``gen_tok_s``, ``prompt_tok_s``, ``running``, ``waiting``, ``kv_usage_pct``)
  so the cost model's throughput at the logged batch can be checked against it. These lines are
  counted as "other" (they are not speculative-decoding metrics).
- Prometheus text exposition of ``vllm:spec_decode_*`` counters (``importers.prometheus``).
"""

from __future__ import annotations

import re
from typing import Any

from osdsim.trace.importers.common import (
    INT,
    NUM,
    ImportResult,
    Unreadable,
    check_counts,
    counter_delta,
    finish,
    grab,
    number_list,
)
from osdsim.trace.importers.prometheus import PROM_PREFIX, PromSnapshots, parse_prometheus_sample

V0_MARK = "Speculative metrics:"
V1_MARK = "SpecDecoding metrics:"
_TIME = re.compile(r"(\d\d-\d\d \d\d:\d\d:\d\d)")

ALPHA_DEFINITION = {
    "vllm-v0": "vLLM V0 'draft acceptance rate' = accepted/drafted, where accepted counts every "
               "matching drafted position, also after a rejection; it equals Leviathan's alpha only "
               "if acceptance is i.i.d. across positions (alpha here is solved from tau instead)",
    "vllm-v1": "vLLM V1 'draft acceptance rate' = accepted/drafted with accepted = accepted prefix "
               "per draft; per-position rates = P(position i accepted); not Leviathan's alpha",
    "vllm-prometheus": "vLLM counters: accepted/drafted over the accepted prefix per draft; "
                       "not Leviathan's alpha",
}


def _timestamp(line: str) -> str | None:
    m = _TIME.search(line)
    return m.group(1) if m else None


def parse_v0(line: str) -> dict[str, Any]:
    """Cumulative counters of one V0 line ("Number of draft tokens tokens" accepted too)."""
    body = line.split(V0_MARK, 1)[1]
    k = grab(r"Number of speculative tokens:\s*" + INT, body, int, True, "speculative tokens")
    accepted = grab(r"Number of accepted tokens:\s*" + INT, body, int, True, "accepted tokens")
    drafted = grab(r"Number of draft tokens(?: tokens)?:\s*" + INT, body, int, True, "draft tokens")
    emitted = grab(r"Number of emitted tokens(?: tokens)?:\s*" + INT, body, int, True, "emitted tokens")
    if k < 1:
        raise Unreadable("number of speculative tokens must be >= 1")
    check_counts(drafted, accepted)
    return {"gamma": k, "accepted": accepted, "drafted": drafted, "emitted": emitted,
            "acceptance_rate": grab(r"Draft acceptance rate:\s*" + NUM, body),
            "system_efficiency": grab(r"System efficiency:\s*" + NUM, body),
            "time": _timestamp(line)}


def parse_v1(line: str) -> dict[str, Any]:
    """One V1 interval line; the number of drafts is recovered from k or the mean length."""
    body = line.split(V1_MARK, 1)[1]
    accepted = grab(r"Accepted:\s*" + INT + r"\s*tokens", body, int, True, "Accepted")
    drafted = grab(r"Drafted:\s*" + INT + r"\s*tokens", body, int, True, "Drafted")
    check_counts(drafted, accepted)
    mean_len = grab(r"Mean acceptance length:\s*" + NUM, body)
    m = re.search(r"Per-position acceptance rate:\s*(" + NUM + r"(?:\s*,\s*" + NUM + r")*)", body)
    per_position = number_list(m.group(1)) if m else None
    rate = grab(r"Draft acceptance rate:\s*" + NUM, body)
    if rate is not None and re.search(r"Draft acceptance rate:\s*" + NUM + r"\s*%", body):
        rate /= 100.0
    k = len(per_position) if per_position else None
    num_drafts = None
    if k and drafted % k == 0:
        num_drafts = drafted // k
    elif mean_len is not None and mean_len > 1.0:
        num_drafts = round(accepted / (mean_len - 1.0))
    if num_drafts is not None and k is None and num_drafts > 0:
        k = round(drafted / num_drafts)
    return {"gamma": k, "accepted": accepted, "drafted": drafted, "num_drafts": num_drafts,
            "emitted": None if num_drafts is None else accepted + num_drafts,
            "mean_acceptance_length": mean_len, "per_position": per_position,
            "acceptance_rate": rate,
            "accepted_tok_s": grab(r"Accepted throughput:\s*" + NUM, body),
            "drafted_tok_s": grab(r"Drafted throughput:\s*" + NUM, body),
            "time": _timestamp(line)}


def is_v0(line: str) -> bool:
    """A ``Speculative metrics:`` line of the V0 engine (it prints k and emitted tokens), as
    opposed to the first V1 releases, which used the same marker for interval counts only."""
    body = line.split(V0_MARK, 1)[1]
    return bool(re.search(r"speculative tokens|emitted tokens|System efficiency", body))


def parse_v1_early(line: str) -> dict[str, Any]:
    """One interval line of the first V1 releases: accepted and drafted tokens, nothing per draft."""
    body = line.split(V0_MARK, 1)[1]
    accepted = grab(r"Number of accepted tokens:\s*" + INT, body, int, True, "accepted tokens")
    drafted = grab(r"Number of draft tokens(?: tokens)?:\s*" + INT, body, int, True, "draft tokens")
    check_counts(drafted, accepted)
    return {"gamma": None, "accepted": accepted, "drafted": drafted, "num_drafts": None, "emitted": None,
            "mean_acceptance_length": None, "per_position": None,
            "acceptance_rate": grab(r"Draft acceptance rate:\s*" + NUM, body), "time": _timestamp(line)}


THROUGHPUT_MARK = "Avg generation throughput:"
ATTACH_WITHIN_LINES = 5  # a throughput line belongs to the speculative line this close after it


def parse_throughput(line: str) -> dict[str, Any] | None:
    """The engine's interval throughput line, or None if a field is missing or malformed."""
    try:
        out = {"gen_tok_s": grab(r"Avg generation throughput:\s*" + NUM, line, float, True),
               "prompt_tok_s": grab(r"Avg prompt throughput:\s*" + NUM, line),
               "running": grab(r"Running:\s*" + INT + r"\s*req", line, int, True),
               "waiting": grab(r"(?:Waiting|Pending):\s*" + INT + r"\s*req", line, int),
               "kv_usage_pct": grab(r"GPU KV cache usage:\s*" + NUM + r"\s*%", line)}
    except Unreadable:
        return None
    return out


def _v0_row(cur: dict[str, Any], prev: dict[str, Any] | None, lineno: int) -> dict[str, Any]:
    d = counter_delta(cur, prev, ("accepted", "drafted", "emitted"))
    k = cur["gamma"]
    return {"format": "vllm-v0", "line": lineno, "counters": "delta of cumulative", **d, "gamma": k,
            "num_drafts": d["drafted"] / k, "cumulative_drafted": cur["drafted"],
            "cumulative_accepted": cur["accepted"], "cumulative_emitted": cur["emitted"],
            "acceptance_rate": cur["acceptance_rate"], "system_efficiency": cur["system_efficiency"],
            "time": cur["time"]}


def parse_vllm(lines: list[str | None], path: str = "<text>") -> ImportResult:
    """Aggregate rows from the lines of a vLLM log or Prometheus scrape (see module docstring)."""
    result = ImportResult(path=path, kind="vllm", total_lines=len(lines))
    prev_v0: dict[str, Any] | None = None
    prom = PromSnapshots(result)
    engine: tuple[int, dict[str, Any]] | None = None  # the last unattached throughput line

    def same_interval(line_no: int, time: str | None, other_line: int, other_time: str | None) -> bool:
        close = 0 < abs(line_no - other_line) <= ATTACH_WITHIN_LINES
        return close and (time is None or other_time is None or time == other_time)

    def add(row: dict[str, Any]) -> None:
        nonlocal engine
        if engine is not None and same_interval(row["line"], row.get("time"), engine[0], engine[1]["time"]):
            row.update({k: v for k, v in engine[1].items() if k != "time"})
            engine = None
        result.add(row)

    for lineno, line in enumerate(lines, start=1):
        if line is None:
            result.bad(lineno, "line longer than the limit")
            continue
        try:
            if THROUGHPUT_MARK in line and V0_MARK not in line and V1_MARK not in line:
                stats = parse_throughput(line)
                engine = None
                if stats is not None:
                    stats["time"] = _timestamp(line)
                    last = result.aggregates[-1] if result.aggregates else None
                    if (last is not None and "gen_tok_s" not in last and str(last.get("format", "")).startswith("vllm-v")
                            and same_interval(lineno, stats["time"], last["line"], last.get("time"))):
                        last.update({k: v for k, v in stats.items() if k != "time"})  # printed after its row
                    else:
                        engine = (lineno, stats)
                result.other += 1
                continue
            if V0_MARK in line and not is_v0(line):
                add({"format": "vllm-v1", "line": lineno, "counters": "interval", **parse_v1_early(line)})
            elif V0_MARK in line:
                cur = parse_v0(line)
                add(_v0_row(cur, prev_v0, lineno))
                prev_v0 = cur
            elif V1_MARK in line:
                add({"format": "vllm-v1", "line": lineno, "counters": "interval", **parse_v1(line)})
            elif line.lstrip().startswith(PROM_PREFIX):
                sample = parse_prometheus_sample(line)
                if sample is None:
                    result.other += 1
                    continue
                prom.add(*sample, lineno)
            else:
                result.other += 1
                continue
            result.parsed += 1
        except Unreadable as exc:
            result.bad(lineno, str(exc), line)
    prom.close()
    return finish(result)
