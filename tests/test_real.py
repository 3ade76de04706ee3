"""Real speculative decoding, losses, cache rollback and distillation on tiny models (seconds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from scipy.stats import chisquare  # noqa: E402
from tiny_llama import tiny  # noqa: E402
from transformers import LlamaForCausalLM  # noqa: E402

from osdsim.real.cache import cache_length, crop_cache  # noqa: E402
from osdsim.real.losses import distill_loss, forward_kl, jsd, mix, reverse_kl  # noqa: E402
from osdsim.real.online import OnlineDistiller, Request, serve_stream  # noqa: E402
from osdsim.real.sampling import greedy_verify, rejection_verify  # noqa: E402
from osdsim.real.speculative import (  # noqa: E402
    forward,
    new_cache,
    speculative_generate,
    target_generate,
)
from osdsim.trace import TraceWriter, new_meta, read_trace  # noqa: E402

pytestmark = pytest.mark.real


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny models gain nothing from threads, and the CPU is shared with other processes.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pair():
    return tiny(32, 2, 0), tiny(16, 1, 1)


@pytest.mark.parametrize("gamma", [0, 1, 3, 6])
def test_greedy_speculative_equals_target_greedy(pair, gamma):
    target, draft = pair
    g = torch.Generator().manual_seed(gamma)
    for n in range(4):
        prompt = torch.randint(0, 64, (1 + 5 * n,), generator=g).tolist()
        spec = speculative_generate(target, draft, prompt, 16, gamma)
        assert spec.tokens == target_generate(target, prompt, 16).tokens
        assert len(spec.tokens) == 16 == sum(s.emitted for s in spec.steps)


def test_greedy_matches_transformers_generate(pair):
    target, draft = pair
    prompt = [5, 9, 11, 3]
    ref = target.generate(torch.tensor([prompt]), max_new_tokens=16, do_sample=False,
                          min_new_tokens=16, eos_token_id=None, pad_token_id=0)
    assert speculative_generate(target, draft, prompt, 16, 3).tokens == ref[0, 4:].tolist()


def test_identical_draft_accepts_everything(pair):
    target, _ = pair
    gen = speculative_generate(target, target, [1, 2, 3], 20, 4)
    assert gen.alpha == 1.0 and all(s.accepted == s.gamma for s in gen.steps)


def test_cache_rollback_equals_fresh_forward(pair):
    target, _ = pair
    ids = list(range(3, 20))
    cache = new_cache(target)
    forward(target, ids[:10], cache)
    forward(target, [40, 41, 42, 43], cache)  # drafts that get rejected
    crop_cache(cache, 10)
    assert cache_length(cache) == 10
    rolled = forward(target, ids[10:], cache)
    fresh = target(input_ids=torch.tensor([ids])).logits[0, 10:]
    torch.testing.assert_close(rolled, fresh, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        crop_cache(cache, 99)


def test_greedy_verify_rows():
    logits = torch.tensor([[0.0, 5.0, 0.0], [4.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    v = greedy_verify(logits, [1, 2])  # first matches (1), second does not (argmax 0)
    assert (v.accepted, v.next_token, v.accepted_mask) == (1, 0, [1, 0])
    v = greedy_verify(logits, [1, 0])
    assert (v.accepted, v.next_token, v.accepted_mask) == (2, 2, [1, 1])


@pytest.mark.parametrize("q_row", [[0.7, 0.1, 0.1, 0.1, 0.0], [0.2, 0.2, 0.2, 0.2, 0.2],
                                   [0.0, 0.0, 0.0, 0.5, 0.5]])
def test_rejection_sampling_is_lossless(q_row):
    """Chi-square: the first emitted token is distributed as p whatever q is."""
    p = torch.tensor([[0.1, 0.4, 0.2, 0.2, 0.1], [0.2, 0.2, 0.2, 0.2, 0.2]])
    q = torch.tensor([q_row])
    g = torch.Generator().manual_seed(1)
    counts = np.zeros(5)
    trials = 4000
    for _ in range(trials):
        x = torch.multinomial(q[0], 1, generator=g).item()
        v = rejection_verify(p, q, [x], g)
        counts[x if v.accepted else v.next_token] += 1
    assert chisquare(counts, p[0].double().numpy() / float(p[0].sum()) * trials).pvalue > 1e-3
    beta = float(torch.minimum(p[0], q[0]).sum())
    assert v.beta == pytest.approx([beta])


def two_token_sampling(target, draft, prompt: list[int], temperature: float = 1.5, trials: int = 500):
    """Sample two new tokens ``trials`` times by speculative sampling (γ = 2) with ``draft`` (a
    model or a proposer); (chi-square p-value against the target's exact joint distribution of
    the two tokens, drafts accepted in the first steps)."""
    vocab = target.config.vocab_size
    with torch.no_grad():
        p1 = torch.softmax(target(input_ids=torch.tensor([prompt])).logits[0, -1] / temperature, -1)
        seqs = torch.tensor([prompt + [a] for a in range(vocab)])
        p2 = torch.softmax(target(input_ids=seqs).logits[:, -1] / temperature, -1)
    expected = (p1[:, None] * p2).flatten().double().numpy()
    g = torch.Generator().manual_seed(0)
    counts, accepted = np.zeros(vocab * vocab), 0
    for _ in range(trials):
        gen = speculative_generate(target, draft, prompt, 2, 2, temperature, g)
        a, b = gen.tokens
        counts[a * vocab + b] += 1
        accepted += gen.steps[0].accepted
    return chisquare(counts, expected / expected.sum() * trials).pvalue, accepted


def test_sampling_end_to_end_matches_target_distribution():
    """Two new tokens from speculative sampling vs the target's exact joint distribution."""
    vocab = 4
    target, draft = tiny(16, 1, 3, vocab), tiny(16, 1, 4, vocab)
    assert two_token_sampling(target, draft, [1, 2])[0] > 1e-3


def test_losses_equal_hand_computed_values():
    p, q = [0.5, 0.5], [0.25, 0.75]
    t, d = torch.log(torch.tensor([p])), torch.log(torch.tensor([q]))
    fkl = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    rkl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert float(forward_kl(t, d)) == pytest.approx(fkl, rel=1e-5)
    assert float(reverse_kl(t, d)) == pytest.approx(rkl, rel=1e-5)
    assert float(mix(t, d)) == pytest.approx(0.9 * fkl + 0.1 * rkl, rel=1e-5)
    for beta in (0.5, 0.1):
        m = [beta * a + (1 - beta) * b for a, b in zip(p, q)]
        want = beta * sum(a * math.log(a / c) for a, c in zip(p, m)) + \
            (1 - beta) * sum(b * math.log(b / c) for b, c in zip(q, m))
        assert float(jsd(t, d, beta)) == pytest.approx(want, rel=1e-5)
    assert float(distill_loss("jsd", t, t)) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError):
        distill_loss("l2", t, d)


def counting_target(vocab: int = 16, step: int = 3):
    """A tiny target that has learnt x[t+1] = x[t] + step (mod vocab): learnable by a draft."""
    model = tiny(32, 1, 7, vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(150):
        start = torch.randint(0, vocab, (16, 1), generator=g)
        x = (start + step * torch.arange(17)) % vocab
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_online_distillation_raises_alpha(tmp_path):
    target, draft = counting_target(), tiny(16, 1, 8, 16)
    reqs = [Request(r, "count", [r % 16, (r + 3) % 16]) for r in range(48)]
    path = tmp_path / "osd.jsonl"
    distiller = OnlineDistiller(draft, loss="fkl", lr=1e-2, update_interval=4, positions="all")
    with TraceWriter(path, mode="w") as w:
        w("meta", **new_meta(gamma=3, mode="greedy"))
        serve_stream(target, draft, reqs, w, gamma=3, max_new_tokens=12, distiller=distiller,
                     baseline=True)
    t = read_trace(path)
    spec = t.records[t.records["mode"] == "speculative"]
    assert len(spec) == 48 and len(t.updates) == 12
    assert spec["matches_target"].all()
    assert list(spec["draft_version"])[::4] == list(range(12))
    early, late = spec["alpha"].iloc[:8].mean(), spec["alpha"].iloc[-8:].mean()
    assert late > early + 0.3, (early, late)
    assert (t.steps["accepted"] <= t.steps["gamma"]).all()


def test_offline_distillation_raises_alpha():
    from osdsim.real.offline import distill, make_sequences

    target, draft = counting_target(), tiny(16, 1, 9, 16)
    prompts = [[i, (i + 3) % 16] for i in range(16)]

    def alpha() -> float:
        return float(np.mean([speculative_generate(target, draft, p, 12, 3).alpha for p in prompts]))

    before = alpha()
    seqs = make_sequences(target, draft, prompts, 12, "mixed_token", seed=0)
    assert all(len(ids) == 14 for ids, _ in seqs)
    stats = distill(target, draft, seqs, loss="mix", lr=1e-2, epochs=4)
    assert stats["steps"] == 64 and stats["final_loss"] < stats["first_loss"]
    assert alpha() > before + 0.3


def test_small_model_training_is_deterministic():
    from osdsim.real.small import SmallModel, _train, llama_config

    preset = SmallModel("toy", 16, 1, 2, 32, True, (("sql", 1.0),), steps=3, batch=2, seq_len=8)
    data = {"sql": np.arange(500) % 50}
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        model = LlamaForCausalLM(llama_config(preset, vocab_size=50))
        losses = _train(model, preset, data, np.random.default_rng(0), progress=False)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert len(losses) == 3 and torch.equal(weights[0], weights[1])


def test_stream_schedule_and_prompts():
    from osdsim.real.stream import parse_schedule

    assert parse_schedule("sql:3, math:2") == [("sql", 3), ("math", 2)]
    for bad in ("poetry:3", "sql", "sql:0", ""):
        with pytest.raises(ValueError):
            parse_schedule(bad)
