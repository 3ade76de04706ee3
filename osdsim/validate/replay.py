"""Replay a real run's trace through a cost model at batch 1 and compare with what was measured.

The real runs (``osdsim/real/speculative.py``) serve one record at a time: a prefill of the
prompt on both models, then steps of ``drafted`` sequential draft forwards (one new token each)
and one target verify over ``drafted + 1`` tokens after ``position − 1`` cached tokens; the
baseline decodes one token per target forward. The replay prices exactly those forwards, so at
batch 1 with no queue it is what the simulator's engine computes (the limiting case in
docs/architecture.md), without its sampling noise:

- ``replay_steps``  — every measured step, priced: per-step latency error of the cost model.
- ``replay_records`` — each record's latency with the record's own measured step sequence
  ("replayed" acceptance): cost-model error on whole records, baseline records included.
- ``model_records`` — each record re-generated from an acceptance model (the trace's empirical
  accepted-count distribution, or the learning curves of an online run), averaged over
  ``repeats`` Monte-Carlo draws: the error of a full prediction (acceptance and cost).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from osdsim.specs import ModelSpec
from osdsim.trace.select import record_mode, speculative_records


def step_positions(steps: pd.DataFrame, records: pd.DataFrame) -> pd.Series:
    """Tokens in context before each step: the ``position`` field, else prompt + emitted so far."""
    if "position" in steps and steps["position"].notna().all():
        return steps["position"].astype(float)
    prompt = {}
    if "prompt_tokens" in records:
        spec = speculative_records(records)
        prompt = dict(zip(spec["record"], spec["prompt_tokens"].fillna(1)))
    before = steps.groupby("record")["emitted"].cumsum() - steps["emitted"]
    return steps["record"].map(lambda r: float(prompt.get(r, 1))) + before


def prefill_s(cost, model: ModelSpec, prompt_tokens: float) -> float:
    """One forward over the prompt minus its last token (that one starts the first step)."""
    n = float(prompt_tokens) - 1.0
    return cost.forward_s(model, 1, n, 0) if n >= 1 else 0.0


def step_s(cost, target: ModelSpec, draft: ModelSpec | None, drafted: int, position: float,
           batch: int = 1) -> tuple[float, float]:
    """(draft seconds, verify seconds) of one step at ``position`` tokens of context, ``batch``
    sequences in the forward (the step line's ``batch``; osdsim's own runs are batch 1)."""
    ctx = position - 1.0
    d = sum(cost.forward_s(draft, batch, 1, ctx + i) for i in range(int(drafted))) if drafted else 0.0
    return d, cost.forward_s(target, batch, int(drafted) + 1, ctx)


def replay_steps(steps: pd.DataFrame, records: pd.DataFrame, cost, target: ModelSpec,
                 draft: ModelSpec) -> pd.DataFrame:
    """The step lines with ``predicted_draft_s``, ``predicted_verify_s``, ``predicted_s``, ``measured_s``."""
    out = steps.loc[:, [c for c in ("record", "step", "gamma", "drafted", "accepted", "emitted",
                                    "draft_s", "verify_s") if c in steps]].copy()
    out["position"] = step_positions(steps, records).to_numpy()
    batch = steps["batch"].fillna(1).astype(int) if "batch" in steps else pd.Series(1, index=steps.index)
    out["batch"] = batch.to_numpy()
    priced = [step_s(cost, target, draft, d, p, b) for d, p, b in zip(out["drafted"], out["position"], out["batch"])]
    out["predicted_draft_s"] = [p[0] for p in priced]
    out["predicted_verify_s"] = [p[1] for p in priced]
    out["predicted_s"] = out["predicted_draft_s"] + out["predicted_verify_s"]
    out["measured_s"] = out["draft_s"] + out["verify_s"]
    return out


def baseline_s(cost, target: ModelSpec, prompt_tokens: float, num_tokens: int) -> float:
    """Plain decoding of ``num_tokens`` after a prompt: prefill, then one forward per token."""
    ctx0 = max(float(prompt_tokens) - 1.0, 0.0)
    return prefill_s(cost, target, prompt_tokens) + sum(
        cost.forward_s(target, 1, 1, ctx0 + i) for i in range(int(num_tokens)))


def replay_records(records: pd.DataFrame, priced_steps: pd.DataFrame, cost, target: ModelSpec,
                   draft: ModelSpec) -> pd.DataFrame:
    """Per record: measured and predicted latency and tokens/s (steps as measured)."""
    df = records.copy()
    df["mode"] = record_mode(df)
    prompt = df["prompt_tokens"].fillna(1) if "prompt_tokens" in df else pd.Series(1, index=df.index)
    step_sum = priced_steps.groupby("record")["predicted_s"].sum()
    predicted = []
    for i, row in df.iterrows():
        if row["mode"] == "baseline":
            predicted.append(baseline_s(cost, target, prompt[i], row["num_tokens"]))
        else:
            predicted.append(prefill_s(cost, target, prompt[i]) + prefill_s(cost, draft, prompt[i])
                             + float(step_sum.get(row["record"], 0.0)))
    df["predicted_latency_s"] = predicted
    return _rates(df)


def _rates(df: pd.DataFrame) -> pd.DataFrame:
    df["measured_tok_s"] = df["num_tokens"] / df["latency_s"]
    df["predicted_tok_s"] = df["num_tokens"] / df["predicted_latency_s"]
    return df


def model_records(records: pd.DataFrame, acceptance, gamma: int, cost, target: ModelSpec,
                  draft: ModelSpec, rng: np.random.Generator, repeats: int = 16,
                  n_trained: pd.Series | None = None) -> pd.DataFrame:
    """Speculative records re-generated from ``acceptance`` (an osdsim.acceptance model).

    Each record keeps its prompt length and its number of new tokens; steps draw their accepted
    count from the model (domain and, for learning curves, records trained on), with the last
    step's γ shortened as the real loop does. ``predicted_latency_s`` is the mean over
    ``repeats`` draws and ``predicted_alpha`` the model's expected α for the record.
    """
    df = speculative_records(records).copy()
    prompt = df["prompt_tokens"].fillna(1) if "prompt_tokens" in df else pd.Series(1, index=df.index)
    domain = df["domain"].astype(str) if "domain" in df else pd.Series("default", index=df.index)
    trained = n_trained if n_trained is not None else pd.Series(0, index=df.index)
    latency, alphas = [], []
    for i, row in df.iterrows():
        n, dom, tr = int(row["num_tokens"]), domain[i], float(trained.get(i, 0))
        fixed = prefill_s(cost, target, prompt[i]) + prefill_s(cost, draft, prompt[i])
        runs = [fixed + _one_generation(acceptance, rng, gamma, n, float(prompt[i]), dom, tr, cost, target, draft)
                for _ in range(repeats)]
        latency.append(float(np.mean(runs)))
        alphas.append(float(acceptance.expected_alpha(dom, tr)))
    df["predicted_latency_s"] = latency
    df["predicted_alpha"] = alphas
    return _rates(df)


def _one_generation(acceptance, rng, gamma, num_tokens, prompt, domain, trained, cost, target, draft) -> float:
    total, made, position = 0.0, 0, prompt
    while made < num_tokens:
        g = min(gamma, num_tokens - made - 1)
        accepted = acceptance.sample_accepted(rng, g, domain, trained) if g > 0 else 0
        d, v = step_s(cost, target, draft, g, position)
        total += d + v
        made += accepted + 1
        position += accepted + 1
    return total
