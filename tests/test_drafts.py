"""Drafts built from a target: truncated layers + a reduced, frequency-ranked head (seconds)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from test_real import one_thread, tiny, two_token_sampling  # noqa: E402, F401  (shared with test_real)

from osdsim.real.drafts import (  # noqa: E402
    ReducedHeadLM,
    is_reduced_dir,
    rank_vocabulary,
    target_for,
    training_logits,
    truncated_draft,
)
from osdsim.real.loading import check_pair, load_model  # noqa: E402
from osdsim.real.losses import forward_kl  # noqa: E402
from osdsim.real.online import OnlineDistiller  # noqa: E402
from osdsim.real.speculative import speculative_generate, target_generate  # noqa: E402

pytestmark = pytest.mark.real

KEEP = [0, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53]


@pytest.fixture(scope="module")
def target():
    return tiny(32, 3, 0)


@pytest.fixture(scope="module")
def draft(target):
    return truncated_draft(target, 1, KEEP)


class CharTokenizer:
    """Token id = ord(c) - 97 for a..z: enough of a tokenizer for ranking."""

    def __init__(self, vocab=26):
        self.vocab = vocab

    def __len__(self):
        return self.vocab

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) - 97 for c in text]}


def test_rank_vocabulary_keeps_the_most_frequent_and_the_special_ids():
    keep, coverage = rank_vocabulary(CharTokenizer(), ["aaab", "ab", "c"], 3, always=[25])
    assert keep == [0, 1, 25]  # a (4), b (2); z forced in; c (1) dropped
    assert coverage == pytest.approx(6 / 7)
    keep, _ = rank_vocabulary(CharTokenizer(), ["ab"], 4)
    assert keep == [0, 1, 2, 3]  # too small a corpus: filled with the lowest unused ids
    with pytest.raises(ValueError, match="--draft-vocab"):
        rank_vocabulary(CharTokenizer(), ["ab"], 26)


def test_truncated_draft_copies_the_targets_first_layers_and_head_rows(target, draft):
    assert isinstance(draft, ReducedHeadLM) and draft.config.num_hidden_layers == 1
    assert torch.equal(draft.lm.model.layers[0].self_attn.q_proj.weight, target.model.layers[0].self_attn.q_proj.weight)
    assert torch.equal(draft.lm.lm_head.weight[:-1], target.lm_head.weight[KEEP])
    assert draft.lm.model.embed_tokens.weight.shape[0] == 64  # inputs: the whole vocabulary
    check_pair(target, draft)  # it answers in the target's vocabulary
    x = torch.tensor([[1, 2, 60, 9]])  # 60 and 9 are outside the kept ids: fine as inputs
    with torch.no_grad():
        full = draft(input_ids=x).logits
    assert full.shape == (1, 4, 64)
    outside = torch.ones(64, dtype=torch.bool)
    outside[KEEP] = False
    assert torch.isneginf(full[..., outside]).all() and torch.isfinite(full[..., KEEP]).all()
    with pytest.raises(ValueError, match="draft layers"):
        truncated_draft(target, 3, KEEP)  # as deep as the target: no draft


def test_projection_is_the_targets_distribution_on_the_drafts_buckets(draft):
    logits = torch.randn(5, 64)
    p = torch.softmax(logits, -1)
    q = torch.softmax(draft.project(logits), -1)
    assert torch.allclose(q[:, :-1], p[:, KEEP], atol=1e-6)
    rest = torch.ones(64, dtype=torch.bool)
    rest[KEEP] = False
    assert torch.allclose(q[:, -1], p[:, rest].sum(-1), atol=1e-6)
    # the KL between coarsened distributions is never above the full one (data processing)
    d = torch.randn(5, 64)
    d[:, rest] = float("-inf")
    d_full = torch.where(rest, torch.full_like(d, -30.0), d)  # nearly no mass outside the kept ids
    assert forward_kl(draft.project(logits), draft.project(d_full)) <= forward_kl(logits, d_full) + 1e-5


@pytest.mark.parametrize("gamma", [1, 3])
def test_greedy_speculation_with_a_reduced_draft_is_the_targets_output(target, draft, gamma):
    for prompt in ([1, 2, 3], [40, 50, 60, 7]):
        assert speculative_generate(target, draft, prompt, 12, gamma).tokens == target_generate(target, prompt, 12).tokens


def test_sampling_with_a_reduced_draft_stays_lossless(target, draft):
    p_value, _ = two_token_sampling(target, draft, [3, 9], trials=400)
    assert p_value > 0.001


def test_save_and_load_round_trip_and_refuse_bad_files(draft, tmp_path):
    draft.save_pretrained(tmp_path / "d")
    assert is_reduced_dir(tmp_path / "d")
    back = load_model(tmp_path / "d")
    x = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        assert torch.equal(back(input_ids=x).logits, draft(input_ids=x).logits)
    assert back.info["layers"] == 1
    from osdsim.real.profile import load_for_timing
    from osdsim.specs.hf import model_spec_from_hf_config, model_spec_from_hf_dir

    _, config = load_for_timing(str(tmp_path / "d"))  # osdsim profile's record of it
    assert model_spec_from_hf_config(config, "d").head_vocab == len(KEEP) + 1
    assert model_spec_from_hf_dir(tmp_path / "d").lm_head_params == (len(KEEP) + 1) * 32
    (tmp_path / "d" / "osdsim-draft.json").write_text('{"keep": "many"}')
    with pytest.raises(ValueError, match="osdsim-draft.json"):
        load_model(tmp_path / "d")


def test_online_update_lowers_the_coarsened_loss(target):
    draft = truncated_draft(target, 1, KEEP)
    gens = [speculative_generate(target, draft, [i, i + 1], 10, 2, collect=True) for i in range(4)]
    distiller = OnlineDistiller(draft, lr=1e-2, update_interval=4, positions="all")

    def loss():
        total = 0.0
        with torch.no_grad():
            for i, g in enumerate(gens):
                x = torch.tensor([[i, i + 1] + g.tokens[:-1]])
                total += float(forward_kl(target_for(draft, g.target_logits), training_logits(draft, x)[0, 1:]))
        return total

    before = loss()
    for _ in range(5):
        for i, g in enumerate(gens):
            distiller.add([i, i + 1], g)
        distiller.update()
    assert loss() < 0.5 * before


class TemplateTokenizer:
    """Renders a conversation as role markers and characters: ids are small and predictable."""

    def apply_chat_template(self, messages, tokenize=True):
        out = []
        for m in messages:
            out += [1 if m["role"] == "user" else 2] + [10 + (ord(c) % 40) for c in m["content"]]
        return out


def test_conversation_chunks_render_and_cut_the_text():
    from osdsim.real.offline import conversation_chunks

    convs = [[{"role": "user", "content": "abc"}, {"role": "assistant", "content": "de"}]] * 10
    chunks = conversation_chunks(TemplateTokenizer(), iter(convs), 4, 14)
    assert chunks == [[1, 27, 28, 29], [2, 30, 31, 1], [27, 28, 29, 2]]  # 14 tokens: 3 whole chunks


def test_text_distillation_brings_the_draft_toward_the_target(target):
    from osdsim.real.offline import distill_text

    draft = truncated_draft(target, 1, KEEP)
    g = torch.Generator().manual_seed(0)
    chunks = torch.randint(0, 64, (16, 12), generator=g).tolist()
    x = torch.tensor(chunks)

    def loss():
        with torch.no_grad():
            return float(forward_kl(target_for(draft, target(input_ids=x).logits).reshape(-1, 17),
                                    training_logits(draft, x).reshape(-1, 17)))

    before = loss()
    frozen = draft.lm.model.embed_tokens.weight.clone()
    for seed in range(6):
        stats = distill_text(target, draft, chunks, lr=1e-2, batch=4, seed=seed)
    assert stats["text_steps"] == 4 and stats["text_tokens"] == 16 * 12
    assert loss() < 0.5 * before
    assert torch.equal(draft.lm.model.embed_tokens.weight, frozen)  # the target's embedding stays
