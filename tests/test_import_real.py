"""Every format vLLM and llama.cpp have printed for speculative metrics, one real sample each
(``traces/samples/real/``, provenance in ``traces/samples/README.md``): each imports with no
unreadable line, and the numbers read are the ones printed."""

from pathlib import Path

import pytest

from osdsim.trace.importers import import_log

REAL = Path(__file__).resolve().parents[1] / "traces" / "samples" / "real"

# file -> (kind, format, rows, {field of the last row: value})
SAMPLES = {
    # vLLM 0.4.1-0.5.x: V0 with both misprints ("draft tokens tokens", "emitted tokens tokens")
    "vllm-0.5-v0-tokens-tokens.log": ("vllm", "vllm-v0", 2,
                                      {"gamma": 5, "accepted": 3987 - 2874, "drafted": 6090 - 4410,
                                       "emitted": 4196 - 3024, "running": 12}),
    # vLLM 0.6-0.7: V0 with the misprint fixed (issues #9539 and #7301)
    "vllm-0.6-v0.log": ("vllm", "vllm-v0", 1, {"gamma": 3, "accepted": 8547, "drafted": 13311, "emitted": 10616}),
    "vllm-0.7-v0.log": ("vllm", "vllm-v0", 2, {"gamma": 5, "accepted": 0, "drafted": 10, "emitted": 2}),
    # vLLM 0.8.0-0.8.2: the first V1 releases, V0's marker, interval counts (PR #15902 "before")
    "vllm-0.8-v1-early.log": ("vllm", "vllm-v1", 1, {"accepted": 66, "drafted": 66}),
    # vLLM 0.8.3+: V1 "SpecDecoding metrics", counts only (PR #15902 "after")
    "vllm-0.8-v1-counts.log": ("vllm", "vllm-v1", 1, {"accepted": 66, "drafted": 66, "acceptance_rate": 1.0}),
    # vLLM 0.10+: V1 with mean acceptance length, throughputs and per-position rates (PR #24127)
    "vllm-0.10-v1-full.log": ("vllm", "vllm-v1", 1, {"accepted": 262, "drafted": 295, "gamma": 5,
                                                     "mean_acceptance_length": 5.44}),
    # vLLM V1 /metrics: Prometheus counters
    "vllm-v1-prometheus.txt": ("vllm", "vllm-prometheus", 1, {"accepted": 1615, "drafted": 3556}),
    # llama.cpp server, 2024-2025: "draft acceptance rate = r (a accepted / g generated)" (its docs)
    "llamacpp-server-docs.log": ("llamacpp", "llamacpp-server", 1, {"accepted": 171, "drafted": 297}),
    # llama.cpp server with a timestamp prefix (an MTP run)
    "llamacpp-server-mtp.log": ("llamacpp", "llamacpp-server", 1, {"accepted": 1186, "drafted": 1207}),
    # llama.cpp server 2026: mean acceptance length and per-position rates (PR #24536)
    "llamacpp-server-b2026.log": ("llamacpp", "llamacpp-server", 1, {"accepted": 167, "drafted": 259, "gamma": 3}),
}


def test_every_real_sample_is_listed():
    assert {p.name for p in REAL.iterdir()} == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_real_sample_imports(name):
    kind, fmt, rows, last = SAMPLES[name]
    result = import_log(kind, REAL / name)
    assert not result.unreadable, result.report()
    assert result.formats == {fmt: rows}
    row = result.aggregates[-1]
    for key, value in last.items():
        assert row.get(key) == pytest.approx(value), (key, row)


def test_the_llamacpp_speculative_example_summary():
    # llama.cpp examples/speculative prints this block at the end of a run (every release since 2023).
    result = import_log("llamacpp", REAL.parent / "llamacpp_speculative.log")
    row = result.aggregates[-1]
    assert (row["gamma"], row["drafted"], row["accepted"]) == (8, 120, 80)
