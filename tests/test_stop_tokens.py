"""Ending a reply at the target's end-of-sequence token, as serving engines do (tiny models, seconds)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from tiny_llama import tiny  # noqa: E402

from osdsim.real.offline import until_stop  # noqa: E402
from osdsim.real.online import OnlineDistiller, Request, serve_stream  # noqa: E402
from osdsim.real.pair import Pair  # noqa: E402
from osdsim.real.speculative import speculative_generate, target_generate  # noqa: E402
from osdsim.real.workflow import resume_mismatch  # noqa: E402

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def models():
    torch.set_num_threads(1)
    return tiny(32, 2, 0, 32), tiny(16, 1, 1, 32)


def stopped(tokens: list[int], stop: set[int]) -> list[int]:
    """The hand-made answer: ``tokens`` up to and including the first stop token."""
    for i, t in enumerate(tokens):
        if t in stop:
            return tokens[: i + 1]
    return tokens


@pytest.mark.parametrize("gamma", [0, 1, 3, 5])
@pytest.mark.parametrize("self_draft", [False, True])  # the target as its own draft: stops inside accepted runs
def test_speculative_output_ends_where_the_targets_does(models, gamma, self_draft):
    target, draft = models
    draft = target if self_draft else draft
    for n in range(5):
        prompt = [(7 * n + k) % 32 for k in range(1 + 3 * n)]
        full = target_generate(target, prompt, 24).tokens
        stop = {full[5 + 2 * n]}  # a token the greedy reply does write
        want = stopped(full, stop)
        plain = target_generate(target, prompt, 24, stop_tokens=stop)
        spec = speculative_generate(target, draft, prompt, 24, gamma, collect=True, stop_tokens=stop)
        assert plain.tokens == want and spec.tokens == want
        assert sum(s.emitted for s in spec.steps) == len(want)
        assert all(s.accepted <= s.drafted and len(s.accepted_mask) <= s.drafted + 1 for s in spec.steps)
        assert spec.target_logits.shape[0] == len(want) == len(spec.mismatch)


def test_a_stop_inside_an_accepted_run_drops_what_followed(models):
    target, _ = models
    prompt = [3, 1, 4, 1, 5]
    full = target_generate(target, prompt, 16).tokens
    stop = {full[1]} - set(full[:1])
    if not stop:
        pytest.skip("the greedy reply repeats its first token")
    gen = speculative_generate(target, target, prompt, 16, 4, collect=True, stop_tokens=stop)
    first = gen.steps[0]
    assert gen.tokens == full[:2] and len(gen.steps) == 1
    assert (first.drafted, first.accepted, first.emitted, first.accepted_mask) == (4, 2, 2, [1, 1])
    assert not gen.mismatch.any()  # both kept tokens were accepted drafts


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 31), st.integers(1, 6), st.integers(0, 3))
def test_sampling_stops_at_the_first_stop_token(models, seed, gamma, stop_token):
    target, draft = models
    g = torch.Generator().manual_seed(seed)
    gen = speculative_generate(target, draft, [seed, 1], 20, gamma, temperature=1.0, generator=g,
                               stop_tokens={stop_token})
    assert stop_token not in gen.tokens[:-1]
    assert len(gen.tokens) == 20 or gen.tokens[-1] == stop_token
    assert sum(s.emitted for s in gen.steps) == len(gen.tokens)


def test_serve_stream_stops_both_decodings_and_trains_on_the_reply_only(models):
    target, draft = models
    full = target_generate(target, [2, 3], 16).tokens
    stop = {full[4]}
    lines = []
    distiller = OnlineDistiller(draft, lr=1e-3, update_interval=10, positions="all")
    serve_stream(target, draft, [Request(0, "x", [2, 3])], lambda kind, **f: lines.append((kind, f)),
                 gamma=3, max_new_tokens=16, distiller=distiller, baseline=True, stop_tokens=stop)
    records = [f for kind, f in lines if kind == "record"]
    assert [r["num_tokens"] for r in records] == [len(stopped(full, stop))] * 2
    assert records[1]["matches_target"] is True
    assert distiller.buffer[0].target_logits.shape[0] == len(stopped(full, stop))


@given(st.lists(st.integers(0, 9), max_size=12), st.integers(0, 12), st.sets(st.integers(0, 9), max_size=3))
def test_until_stop_keeps_the_prompt_and_cuts_after_the_first_stop(ids, n, stop):
    n = min(n, len(ids))
    cut, kept = until_stop(ids, n, stop)
    assert kept == n and cut[:n] == ids[:n]
    assert cut[n:] == stopped(ids[n:], stop)


@pytest.mark.parametrize("eos, want", [(2, [2]), ([5, 2, 5], [2, 5]), (None, [])])
def test_pair_stop_tokens_read_the_generation_config(eos, want):
    model = tiny(16, 1, 0, 32)
    model.generation_config.eos_token_id = eos
    model.config.eos_token_id = None
    assert Pair(model, model, None, "t", "d").stop_tokens() == want


def test_a_trace_from_before_stop_tokens_ran_to_the_length_limit():
    old = {"target": "t", "max_new_tokens": 64}
    assert resume_mismatch(old, {"target": "t", "max_new_tokens": 64, "stop_tokens": []}) == []
    assert resume_mismatch(old, {"target": "t", "max_new_tokens": 64, "stop_tokens": [2]}) == \
        ["stop_tokens: trace [], now [2]"]
