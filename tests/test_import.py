"""Importers of vLLM and llama.cpp logs: every hand-written sample variant, garbage, limits, fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osdsim.trace import read_trace
from osdsim.trace.importers import LogImportError, import_log, import_text, trace_lines
from osdsim.trace.importers import common as import_common
from osdsim.validate.imported import alpha_from_tau, analyse, summarize

SAMPLES = Path(__file__).resolve().parents[1] / "traces" / "samples"


def rows_of(name: str, kind: str):
    return import_log(kind, SAMPLES / name).aggregates


def test_vllm_v0_cumulative_counters_become_deltas():
    result = import_log("vllm", SAMPLES / "vllm_v0.log")
    rows = result.aggregates
    assert [r["drafted"] for r in rows] == [1000, 1000, 1000]
    assert [r["accepted"] for r in rows] == [700, 710, 700]
    assert [r["emitted"] for r in rows] == [693, 697, 692]
    assert all(r["gamma"] == 4 and r["num_drafts"] == 250 for r in rows)
    assert result.unreadable == 0 and result.other == 3  # engine config and throughput lines


def test_vllm_v0_tokens_tokens_and_restart():
    rows = rows_of("vllm_v0_tokens_tokens.log", "vllm")
    assert [r["drafted"] for r in rows] == [500, 500, 200]
    assert [r["restart"] for r in rows] == [True, False, True]


def test_vllm_v1_new_fields_and_per_position():
    rows = rows_of("vllm_v1.log", "vllm")
    first = rows[0]
    assert first["gamma"] == 3 and first["num_drafts"] == 200 and first["emitted"] == 500
    assert first["per_position"] == [0.8, 0.45, 0.25]
    assert first["acceptance_rate"] == pytest.approx(0.5)
    assert first["mean_acceptance_length"] == pytest.approx(2.5)


def test_vllm_v1_older_lines_lack_fields():
    rows = rows_of("vllm_v1_old.log", "vllm")
    assert rows[0]["num_drafts"] == 200 and rows[0]["gamma"] == 3
    assert rows[1]["num_drafts"] == 200 and rows[1]["gamma"] == 3  # from mean acceptance length
    assert rows[2]["num_drafts"] is None and rows[2]["emitted"] is None  # counts only
    s = summarize(rows)
    assert s["rows_with_step_counts"] == 2 and s["tau"] == pytest.approx((300 + 280 + 400) / 400)


def test_vllm_v1_early_lines_share_the_v0_marker_but_count_per_interval():
    result = import_log("vllm", SAMPLES / "vllm_v1_early.log")
    rows = result.aggregates
    assert [(r["format"], r["counters"]) for r in rows] == [("vllm-v1", "interval")] * 2
    assert [(r["drafted"], r["accepted"]) for r in rows] == [(240, 150), (240, 144)]  # not deltas
    assert rows[0]["acceptance_rate"] == pytest.approx(0.625) and rows[0]["gamma"] is None
    assert result.unreadable == 0


def test_vllm_v1_apiserver_prefix_and_a_long_per_position_list():
    result = import_log("vllm", SAMPLES / "vllm_v1_apiserver.log")
    (row,) = result.aggregates
    assert row["gamma"] == 15 and row["num_drafts"] == 65 and row["emitted"] == 91 + 65
    assert row["per_position"][:3] == [0.6, 0.385, 0.215] and len(row["per_position"]) == 15
    assert row["acceptance_rate"] == pytest.approx(0.093)
    assert row["mean_acceptance_length"] == pytest.approx(2.4)
    assert result.other == 1


def test_prometheus_total_suffix_and_positions():
    result = import_log("vllm", SAMPLES / "vllm_prometheus.txt")
    (row,) = result.aggregates
    assert (row["drafted"], row["accepted"], row["num_drafts"], row["emitted"]) == (600, 300, 200, 500)
    assert row["per_position"] == pytest.approx([0.8, 0.45, 0.25])
    assert row["gamma"] == 3


def test_prometheus_scrapes_are_deltas():
    rows = rows_of("vllm_prometheus_scrapes.txt", "vllm")
    assert [r["drafted"] for r in rows] == [1000, 1000]
    assert [r["emitted"] for r in rows] == [693, 697]


def test_llamacpp_speculative_summary():
    (row,) = rows_of("llamacpp_speculative.log", "llamacpp")
    assert (row["gamma"], row["drafted"], row["accepted"], row["emitted"]) == (8, 120, 80, 100)
    assert row["num_drafts"] == 20 and row["num_drafts_estimated"]
    assert row["acceptance_rate"] == pytest.approx(0.66667)
    assert row["tokens_per_s"] == pytest.approx(20.0) and row["decode_s"] == pytest.approx(5.0)


def test_llamacpp_server_lines_new_and_old():
    rows = rows_of("llamacpp_server.log", "llamacpp")
    assert [(r["accepted"], r["drafted"], r["num_drafts"]) for r in rows] == [(60, 100, 40), (40, 100, 50)]
    assert rows[0]["per_position"] == [0.6, 0.4, 0.25, 0.15, 0.1] and rows[0]["gamma"] == 5
    old = rows_of("llamacpp_server_old.log", "llamacpp")
    assert [(r["accepted"], r["drafted"], r["num_drafts"]) for r in old] == [(55, 100, None), (65, 100, None)]


@pytest.mark.parametrize("kind", ["vllm", "llamacpp"])
def test_garbage_is_an_error_naming_the_file(kind):
    with pytest.raises(LogImportError, match="garbage.log"):
        import_log(kind, SAMPLES / "garbage.log")


def test_missing_file_and_unknown_kind():
    with pytest.raises(LogImportError, match="does not exist"):
        import_log("vllm", SAMPLES / "nope.log")
    with pytest.raises(LogImportError, match="unknown log kind"):
        import_text("sglang", "x")


def test_unreadable_lines_are_counted_not_dropped():
    text = (SAMPLES / "vllm_v1.log").read_text() + "SpecDecoding metrics: Accepted: 9 tokens, Drafted: 3 tokens\n"
    result = import_text("vllm", text)
    assert result.unreadable == 1 and "exceeds" in result.unreadable_examples[0]["reason"]
    assert result.report()["unreadable_lines"] == 1


def test_size_limits(monkeypatch, tmp_path):
    monkeypatch.setattr(import_common, "MAX_LINE_BYTES", 100)
    result = import_text("vllm", "x" * 200 + "\nSpecDecoding metrics: Accepted: 3 tokens, Drafted: 9 tokens\n")
    assert result.unreadable == 1
    big = tmp_path / "big.log"
    big.write_text("x" * 50)
    monkeypatch.setattr(import_common, "MAX_FILE_BYTES", 10)
    with pytest.raises(LogImportError, match="limit"):
        import_log("vllm", big)


@pytest.mark.parametrize("name,kind", [
    ("vllm_v0.log", "vllm"), ("vllm_v1.log", "vllm"), ("vllm_prometheus.txt", "vllm"),
    ("llamacpp_speculative.log", "llamacpp"), ("llamacpp_server_old.log", "llamacpp")])
def test_trace_lines_round_trip_through_the_trace_reader(tmp_path, name, kind):
    from osdsim.trace import TraceWriter

    meta, *rows = trace_lines(import_log(kind, SAMPLES / name), target="t")
    path = tmp_path / "imported.jsonl"
    with TraceWriter(path, mode="w") as w:
        w.write("meta", **meta)
        for row in rows:
            w.write("aggregate", **row)
    trace = read_trace(path)
    assert len(trace.aggregates) == len(rows) and trace.meta["source"] == f"import:{kind}"
    assert "alpha_definition" in trace.meta


@pytest.mark.parametrize("alpha,gamma", [(0.0, 3), (0.3, 1), (0.7, 4), (0.95, 8)])
def test_alpha_from_tau_inverts_tau(alpha, gamma):
    from osdsim.cost import tau

    assert alpha_from_tau(tau(alpha, gamma), gamma) == pytest.approx(alpha, abs=1e-9)


def test_analyse_v1_gives_leviathan_alpha_and_what_if():
    out = analyse(rows_of("vllm_v1.log", "vllm"), c=0.05, gammas=[1, 3, 5], alphas=[0.9])
    overall = out["overall"]
    assert overall["tau"] == pytest.approx((500 + 520) / 400)
    assert overall["alpha"] != pytest.approx(overall["source_acceptance_rate"], abs=0.01)
    pred = out["prediction"]
    assert pred["speedup"] == pytest.approx(overall["tau"] / (3 * 0.05 + 1))
    assert [g["gamma"] for g in pred["gamma_what_if"]] == [1, 3, 5]
    assert pred["alpha_what_if"][0]["speedup"] > pred["speedup"]


_LINE_PIECES = st.sampled_from([
    "Speculative metrics:", "SpecDecoding metrics:", "vllm:spec_decode_num_drafts_total",
    "vllm:spec_decode_num_draft_tokens{position=\"1\"}", "Number of draft tokens tokens:",
    "Accepted:", "Drafted:", " tokens", "Per-position acceptance rate:", "draft acceptance =",
    "n_draft =", "n_predict =", "n_drafted =", "n_accept =", "accept =", "%", "decoded", "(", ")",
    " accepted /", " generated", ", ", "\n", " ", "1e999", "nan", "-3", "0.5", "7", "99999999999999999999"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), st.lists(_LINE_PIECES, max_size=60).map("".join),
                 st.binary(max_size=300)), st.sampled_from(["vllm", "llamacpp"]))
def test_fuzz_never_raises_anything_but_the_documented_error(text, kind):
    try:
        result = import_text(kind, text)
    except LogImportError:
        return
    assert result.aggregates and result.parsed + result.unreadable + result.other >= 1
    analyse(result.aggregates, c=0.1, gammas=[2], alphas=[0.5])


def _interval_log(gen_tok_s: float, prompt_tok_s: float = 0.0, running: int = 8) -> str:
    return (f"(APIServer pid=7) INFO 05-01 10:00:00 [loggers.py:123] Engine 000: Avg prompt throughput: "
            f"{prompt_tok_s:.4f} tokens/s, Avg generation throughput: {gen_tok_s:.4f} tokens/s, Running: {running} "
            "reqs, Waiting: 0 reqs, GPU KV cache usage: 3.1%, Prefix cache hit rate: 0.0%\n"
            "(APIServer pid=7) INFO 05-01 10:00:00 [metrics.py:101] SpecDecoding metrics: Mean acceptance length: "
            "2.50, Accepted throughput: 30.00 tokens/s, Drafted throughput: 60.00 tokens/s, Accepted: 300 tokens, "
            "Drafted: 600 tokens, Per-position acceptance rate: 0.800, 0.450, 0.250, Avg Draft acceptance rate: 50.0%\n")


def test_throughput_lines_attach_to_their_interval_and_check_the_cost_model():
    from osdsim.cost import RooflineCost
    from osdsim.specs import load_hardware, load_model
    from osdsim.validate.imported import throughput_check

    target, draft, cost = load_model("vicuna-7b-v1.3"), load_model("llama-160m"), RooflineCost(load_hardware("a100-80g"))
    step = 3 * cost.forward_s(draft, 8, 1, 512) + cost.forward_s(target, 8, 4, 512)
    exact = 8 * 2.5 / step  # batch 8, tau = (300 + 200) / 200, gamma 3
    result = import_text("vllm", _interval_log(exact))
    (row,) = result.aggregates
    assert (row["running"], row["waiting"], row["kv_usage_pct"]) == (8, 0, 3.1) and result.other == 1
    check = throughput_check(result.aggregates, cost, target, draft, context=512)
    assert check["error"]["median_ape_pct"] < 0.01
    # a second of prefill work at P prompt tokens/s leaves (1 - P * per-token prefill cost) for decoding
    per_token = cost.forward_s(target, 1, 512, 0) / 512
    busy = import_text("vllm", _interval_log(exact * (1 - 200 * per_token), prompt_tok_s=200)).aggregates
    assert throughput_check(busy, cost, target, draft, context=512)["error"]["median_ape_pct"] < 0.01
    # a throughput line far from any speculative line is not attached
    far = import_text("vllm", _interval_log(exact).replace("\n", "\n" + "INFO other\n" * 6, 1)).aggregates
    assert "running" not in far[0] and throughput_check(far, cost, target, draft) is None


def test_a_throughput_line_printed_after_its_interval_attaches_to_that_interval():
    spec = ("INFO 07-08 12:00:{s} [metrics.py:82] SpecDecoding metrics: Mean acceptance length: 2.50, Accepted: 300 "
            "tokens, Drafted: 600 tokens, Per-position acceptance rate: 0.800, 0.450, 0.250\n")
    tput = ("INFO 07-08 12:00:{s} [loggers.py:118] Engine 000: Avg prompt throughput: 0.0 tokens/s, Avg generation "
            "throughput: {g} tokens/s, Running: 4 reqs, Waiting: 0 reqs, GPU KV cache usage: 1.0%\n")
    after = spec.format(s="00") + tput.format(s="00", g=75.0) + spec.format(s="10") + tput.format(s="10", g=99.0)
    rows = import_text("vllm", after).aggregates
    assert [r["gen_tok_s"] for r in rows] == [75.0, 99.0]
    # a throughput line of another interval (another timestamp) is not attached
    other = tput.format(s="05", g=50.0) + spec.format(s="10")
    assert "gen_tok_s" not in import_text("vllm", other).aggregates[0]


def test_an_integer_field_is_never_read_from_the_front_of_another_number():
    """'Number of speculative tokens: 1e400' is not k = 1 (nor '3.5' k = 3): the line is unreadable."""
    import re

    from osdsim.trace.importers.common import INT

    assert re.search("k: " + INT, "k: 1e400") is None and re.search("k: " + INT, "k: 3.5,") is None
    assert re.search("k: " + INT, "k: 10616.").group(1) == "10616"  # a sentence's full stop is fine
