"""Real proposers: n-gram prompt lookup, self-speculation, draft confidence in traces (seconds)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from test_real import one_thread, tiny, two_token_sampling  # noqa: E402, F401  (shared with test_real)

from osdsim.real.online import Request, serve_stream  # noqa: E402
from osdsim.real.proposers import NgramProposer, SelfProposer, make_proposer, shallow_model  # noqa: E402
from osdsim.real.speculative import speculative_generate, target_generate  # noqa: E402
from osdsim.real.workflow import RunOptions  # noqa: E402

pytestmark = pytest.mark.real


SHORT_CYCLE = list(range(8))  # the target maps 0→1→…→7→0
LONG_CYCLE = list(range(8, 32))  # and 8→9→…→31→8


def bigram_target(vocab: int = 32):
    """A real LlamaForCausalLM whose greedy next token depends on the last token only: its
    attention and MLP write nothing (o_proj, down_proj zero), the embedding is one-hot and the
    LM head maps token i to its successor on one of two cycles."""
    model = tiny(vocab, 1, 0, vocab)
    succ = {c[i]: c[(i + 1) % len(c)] for c in (SHORT_CYCLE, LONG_CYCLE) for i in range(len(c))}
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.model.embed_tokens.weight.copy_(torch.eye(vocab))
        model.model.norm.weight.fill_(1.0)
        for layer in model.model.layers:
            layer.input_layernorm.weight.fill_(1.0)
            layer.post_attention_layernorm.weight.fill_(1.0)
        for i, j in succ.items():
            model.lm_head.weight[j, i] = 1.0
    return model


def test_ngram_lookup_takes_the_longest_latest_match():
    p = NgramProposer(max_ngram=2, min_ngram=1)
    assert p.lookup([5, 6, 7, 1, 5, 6, 9, 9, 5, 6], 3) == [9, 9, 5]  # bigram "5 6", latest occurrence
    assert p.lookup([1, 2, 3, 4], 3) == []  # no earlier occurrence of 4
    assert p.lookup([3, 1, 2, 3], 5) == [1, 2, 3]  # unigram; stops at the context's end
    assert p.lookup([3, 1, 2, 3], 0) == []
    assert NgramProposer(3, 3).lookup([1, 2, 9, 1, 2], 2) == []  # a 2-token match is below min_ngram
    with pytest.raises(ValueError, match="--ngram-min"):
        NgramProposer(max_ngram=2, min_ngram=3)


def test_ngram_acceptance_is_high_on_a_repetitive_prompt_and_low_on_a_random_one():
    target = bigram_target()
    repetitive = SHORT_CYCLE * 3
    rng = np.random.default_rng(0)
    random_prompt = rng.choice(LONG_CYCLE, size=24).tolist()
    runs = {}
    for name, prompt in (("repetitive", repetitive), ("random", random_prompt)):
        gen = speculative_generate(target, NgramProposer(3, 1), prompt, 16, 4)
        assert gen.tokens == target_generate(target, prompt, 16).tokens  # lossless
        runs[name] = gen
    assert runs["repetitive"].alpha == 1.0
    assert runs["repetitive"].steps[0].drafted == 4 and len(runs["repetitive"].steps) == 4  # 16 tokens / 5 per step
    assert runs["random"].alpha < 0.3
    assert sum(s.emitted for s in runs["random"].steps) == 16
    assert all(s.confidence is None for s in runs["random"].steps)  # a lookup has no confidence


def test_ngram_sampling_stays_lossless():
    """Two tokens sampled with one-hot n-gram proposals vs the target's exact joint distribution."""
    target = tiny(16, 1, 3, 4)
    prompt = [1, 2, 1]  # "1" occurred before: the lookup proposes [2, 1]
    assert NgramProposer(2, 1).lookup(prompt, 2) == [2, 1]
    pvalue, accepted = two_token_sampling(target, NgramProposer(2, 1), prompt)
    assert pvalue > 1e-3
    assert accepted > 0  # the proposals were tested, not skipped


def test_self_draft_is_the_targets_first_layers_and_shares_its_weights():
    target = tiny(32, 3, 5)
    shallow = shallow_model(target, 2)
    ids = torch.tensor([[3, 9, 27, 4, 11]])
    with torch.no_grad():
        hidden = target(input_ids=ids, output_hidden_states=True).hidden_states[2]  # after 2 layers
        expected = target.lm_head(target.model.norm(hidden))
        got = shallow(input_ids=ids).logits
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert len(target.model.layers) == 3 and target.config.num_hidden_layers == 3  # target untouched
    assert shallow.model.layers[0].self_attn.q_proj.weight.data_ptr() == \
        target.model.layers[0].self_attn.q_proj.weight.data_ptr()
    with pytest.raises(ValueError, match="--self-layers must be in 1..2"):
        shallow_model(target, 3)


def test_self_speculation_is_lossless_and_records_confidence():
    target = tiny(32, 3, 6)
    proposer = SelfProposer(target, 1)
    for prompt in ([1, 2, 3], [7, 7, 40, 2, 9]):
        gen = speculative_generate(target, proposer, prompt, 12, 3)  # proposer reused: begin() resets its cache
        assert gen.tokens == target_generate(target, prompt, 12).tokens
        for s in gen.steps:
            assert len(s.confidence) == s.drafted and all(0 < c <= 1 for c in s.confidence)


def test_step_lines_carry_confidence_and_the_proposer_rejects_bad_options():
    target, draft = tiny(32, 2, 0), tiny(16, 1, 1)
    lines = []
    serve_stream(target, draft, [Request(0, "x", [1, 2, 3])], lambda kind, **f: lines.append((kind, f)),
                 gamma=3, max_new_tokens=8)
    steps = [f for kind, f in lines if kind == "step"]
    assert steps and all(len(f.get("confidence", [])) == f["drafted"] for f in steps)
    assert any(f["drafted"] for f in steps)
    with pytest.raises(ValueError, match="--online distils a draft model"):
        RunOptions(proposer="ngram", online=True).check()
    with pytest.raises(ValueError, match="--self-layers"):
        RunOptions(proposer="self").check()
    with pytest.raises(ValueError, match="--proposer must be one of"):
        RunOptions(proposer="medusa").check()
    with pytest.raises(ValueError, match="needs a draft model"):
        make_proposer("model", target)
