"""llama.cpp speculative-decoding logs → aggregate rows.

Formats as llama.cpp prints them (https://github.com/ggml-org/llama.cpp: the ``speculative``
example and the server); a sample of each variant is in ``traces/samples/``, and a real one per
release format in ``traces/samples/real/``: the ``speculative`` example's summary (every release
since 2023), the server's ``draft acceptance rate = …`` lines (2024–2025, plain or timestamped)
and its ``draft acceptance = …, mean acceptance length = …, acceptance rate per position`` lines
(2026).

Two sources, detected per line:

- The ``speculative`` example's end-of-run summary: ``n_draft`` (γ, the most drafts per step),
  ``n_predict`` (tokens generated), ``n_drafted``, ``n_accept``, ``accept = …%`` and the
  ``decoded N tokens in S seconds, speed: R t/s`` line. One row per summary (a summary ends at
  ``n_accept``/``accept``). It does not print the number of target steps; each step emits its
  accepted drafts plus one token, so steps ≈ n_predict − n_accept (flagged as an estimate).
- The server's per-request line ``draft acceptance = 0.6 (60 accepted / 100 generated), mean
  acceptance length = 2.5, acceptance rate per position = (0.8, 0.5, 0.3)``; older servers print
  ``draft acceptance rate = …`` and only the counts.

llama.cpp stops a draft at its first rejection, so "accepted" is the accepted prefix.
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
    finish,
    grab,
    number_list,
)

ALPHA_DEFINITION = {
    "llamacpp-speculative": "llama.cpp 'accept' = n_accept/n_drafted (accepted prefix over drafted "
                            "tokens); not Leviathan's alpha; drafts may stop early (p_min)",
    "llamacpp-server": "llama.cpp server 'draft acceptance' = accepted/generated drafts (accepted "
                       "prefix); per-position rates = P(position i accepted); not Leviathan's alpha",
}

_SERVER = re.compile(r"draft acceptance(?: rate)?\s*=\s*" + NUM + r"\s*\(\s*" + INT
                     + r"\s*accepted\s*/\s*" + INT + r"\s*generated\s*\)")
_SUMMARY_KEYS = ("n_draft", "n_predict", "n_drafted", "n_accept")
_SUMMARY = re.compile(r"\b(n_draft|n_predict|n_drafted|n_accept)\s*=\s*(\S+)")
_ACCEPT = re.compile(r"\baccept\s*=\s*(\S+?)\s*%")
_DECODED = re.compile(r"\bdecoded\s+" + INT + r"\s+tokens in\s+" + NUM + r"\s+seconds(?:,\s*speed:\s*"
                      + NUM + r"\s*t/s)?")


def parse_server(line: str) -> dict[str, Any]:
    """One server per-request line → counts, mean acceptance length, per-position rates."""
    m = _SERVER.search(line)
    if m is None:
        raise Unreadable("malformed 'draft acceptance' line")
    rate, accepted, drafted = float(m.group(1)), int(m.group(2)), int(m.group(3))
    check_counts(drafted, accepted)
    mean_len = grab(r"mean acceptance length\s*=\s*" + NUM, line)
    pm = re.search(r"acceptance rate per position\s*=\s*\(([^)]*)\)", line)
    per_position = number_list(pm.group(1)) if pm else None
    k = len(per_position) if per_position else None
    num_drafts = None
    if mean_len is not None and mean_len > 1.0 and accepted > 0:
        num_drafts = round(accepted / (mean_len - 1.0))
    elif k and drafted % k == 0:
        num_drafts = drafted // k
    return {"format": "llamacpp-server", "counters": "request", "gamma": k, "drafted": drafted,
            "accepted": accepted, "num_drafts": num_drafts,
            "emitted": None if num_drafts is None else accepted + num_drafts,
            "acceptance_rate": rate, "mean_acceptance_length": mean_len, "per_position": per_position}


class _Summary:
    """Fields of one ``speculative`` summary, collected across lines until it is complete."""

    def __init__(self):
        self.fields: dict[str, Any] = {}
        self.first_line = 0

    def feed(self, key: str, value: Any, lineno: int) -> None:
        if not self.fields:
            self.first_line = lineno
        self.fields[key] = value

    def complete(self) -> bool:
        return all(k in self.fields for k in _SUMMARY_KEYS)

    def row(self) -> dict[str, Any]:
        f = self.fields
        drafted, accepted, emitted = f["n_drafted"], f["n_accept"], f["n_predict"]
        if accepted > drafted:
            raise Unreadable("n_accept exceeds n_drafted")
        steps = emitted - accepted
        row = {"format": "llamacpp-speculative", "line": self.first_line, "counters": "run",
               "gamma": f["n_draft"], "drafted": drafted, "accepted": accepted, "emitted": emitted,
               "num_drafts": steps if steps > 0 else None, "num_drafts_estimated": True,
               "acceptance_rate": f.get("accept")}
        for key in ("decoded_tokens", "decode_s", "tokens_per_s"):
            if key in f:
                row[key] = f[key]
        return row


def _summary_value(key: str, raw: str) -> int:
    if not raw.isdigit():
        raise Unreadable(f"{key} = {raw!r} is not a non-negative integer")
    return int(raw)


def parse_llamacpp(lines: list[str | None], path: str = "<text>") -> ImportResult:
    """Aggregate rows from the lines of a llama.cpp speculative-example or server log."""
    result = ImportResult(path=path, kind="llamacpp", total_lines=len(lines))
    summary = _Summary()
    for lineno, line in enumerate(lines, start=1):
        if line is None:
            result.bad(lineno, "line longer than the limit")
            continue
        try:
            if "draft acceptance" in line:
                result.add({"line": lineno, **parse_server(line)})
            else:
                fields = _summary_fields(line)
                if fields is None:
                    result.other += 1
                    continue
                if any(key in summary.fields for key in fields):  # a new run's summary begins
                    summary = _close(summary, result)
                for key, value in fields.items():
                    summary.feed(key, value, lineno)
            result.parsed += 1
        except Unreadable as exc:
            result.bad(lineno, str(exc), line)
            continue
        if summary.complete() and "accept" in summary.fields:
            summary = _close(summary, result)
    _close(summary, result)
    return finish(result)


def _summary_fields(line: str) -> dict[str, Any] | None:
    """The summary fields one line carries, or None if it carries none."""
    if (m := _SUMMARY.search(line)) is not None:
        return {m.group(1): _summary_value(m.group(1), m.group(2))}
    if (m := _ACCEPT.search(line)) is not None:
        return {"accept": grab(NUM, m.group(1), required=True, name="accept") / 100.0}
    if (m := _DECODED.search(line)) is not None:
        fields = {"decoded_tokens": int(m.group(1)), "decode_s": float(m.group(2))}
        if m.group(3) is not None:
            fields["tokens_per_s"] = float(m.group(3))
        return fields
    return None


def _close(summary: _Summary, result: ImportResult) -> _Summary:
    """Emit a complete summary (or count an incomplete one as unreadable); a fresh one to fill."""
    if summary.complete():
        try:
            result.add(summary.row())
        except Unreadable as exc:
            result.bad(summary.first_line, str(exc))
    elif summary.fields:
        result.bad(summary.first_line, "speculative summary is incomplete (needs "
                   + ", ".join(k for k in _SUMMARY_KEYS if k not in summary.fields) + ")")
    return _Summary()
