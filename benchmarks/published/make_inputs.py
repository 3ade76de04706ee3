"""Write inputs.csv: how osdsim reads each row of measurements.csv (which cards, framework, dtype,
lengths, where its acceptance comes from), or why it cannot predict the row.

The published rows stay as they were found; every modelling choice is here, in one place, as a
rule per source, so a reader can check it. Run it after editing either file:

    .venv/bin/python benchmarks/published/make_inputs.py

Acceptance (column ``acceptance``): ``alpha`` / ``tau`` / ``rate-prefix`` / ``rate-position``
read the row's own published figure; ``transfer:ID`` solves α from row ID (the same pair and
task on other hardware) and predicts this row with it; ``curve:ID`` solves α at row ID, the
lowest request rate of the same published curve, and predicts the rest of the curve with it.
No α is ever solved from the row being predicted.

Proposers (columns ``drafter`` and ``tree``): ``model`` is a separate draft card; the other kinds
are read per method below (``METHODS``), each as the method's reference code runs it by default —
the trees and constants, with where each was read, are in osdsim/validate/fidelity.py. A method
whose proposer or tree cannot be determined, or that osdsim cannot price, stays skipped with the
reason (``METHOD_SKIP``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent

TARGETS = {
    "Vicuna-7B-v1.3": "vicuna-7b-v1.3", "Vicuna-13B-v1.3": "vicuna-13b-v1.3", "Vicuna-33B-v1.3": "vicuna-33b-v1.3",
    "Llama-3.1-405B-Instruct (FP8-KV)": "llama-3.1-405b", "Llama-3.1-70B-Instruct (FP8-KV)": "llama-3.1-70b-instruct",
    "Llama3-70B": "llama-3-70b-instruct", "facebook/opt-6.7b": "opt-6.7b", "meta-llama/Llama-3.1-8B": "llama-3.1-8b",
    "Qwen2.5-Coder-7B-Instruct (Q4_K_S GGUF)": "qwen2.5-coder-7b",
    "Qwen2.5-Coder-14B-Instruct (Q4_K_M GGUF)": "qwen2.5-14b",  # the coder model shares Qwen2.5-14B's architecture
    "Llama-3.1-8B-Instruct (ollama llama3.1:8b-instruct-q8_0)": "llama-3.1-8b-instruct",
    "meta-llama/Llama-2-70b-chat-hf": "llama-2-70b-chat",
    "decapoda-research/llama-13b-hf": "llama-13b", "decapoda-research/llama-30b-hf": "llama-30b",
    "LLaMA-65B (custom HF conversion)": "llama-65b", "Qwen3-8B": "qwen3-8b",
    "meta-llama/Llama-2-7b-hf": "llama-2-7b", "meta-llama/Llama-2-13b-hf": "llama-2-13b",
    "meta-llama/Llama-2-70b-hf": "llama-2-70b", "meta-llama/Meta-Llama-3-8B": "llama-3-8b",
    "Llama-3.1-8B-Instruct": "llama-3.1-8b-instruct", "Llama3.1-8B-Instruct": "llama-3.1-8b-instruct",
    "Llama3-70B-Instruct": "llama-3-70b-instruct", "Llama 3.3 70B Instruct": "llama-3.3-70b-instruct",
    "google/gemma-2-9b": "gemma-2-9b", "codellama/CodeLlama-13b-Instruct-hf": "codellama-13b",
}
DRAFTS = {
    "vicuna-68m": "vicuna-68m", "Llama-3.2-1B (FP8)": "llama-3.2-1b", "Llama-3.1-8B (FP8)": "llama-3.1-8b",
    "Llama-3.2-3B (FP8)": "llama-3.2-3b", "Llama-3.1-8B (draft not quantized)": "llama-3.1-8b",
    "Llama-3.1-8B (FP8 draft)": "llama-3.1-8b", "turboderp/Qwama-0.5B-Instruct": "qwen2.5-0.5b",
    "facebook/opt-125m": "opt-125m", "meta-llama/Llama-3.2-1B": "llama-3.2-1b",
    "Qwen2.5-Coder-0.5B-Instruct (Q8_0 GGUF)": "qwen2.5-coder-0.5b",
    "Llama-3.2-1B-Instruct (llama3.2:1b-instruct-q8_0)": "llama-3.2-1b-instruct",
    "meta-llama/Llama-2-7b-chat-hf": "llama-2-7b-chat", "decapoda-research/llama-7b-hf": "llama-7b",
    "decapoda-research/llama-7b-hf (8-bit)": "llama-7b",
}
HARDWARE = {
    "A100-80GB": "a100-80g", "RTX 3090 (24GB)": "rtx-3090", "RTX 3090": "rtx-3090", "MI300X": "mi300x", "H100": "h100-sxm",
    "RTX 4090": "rtx-4090", "RTX 5060 Ti (16GB)": "rtx-5060-ti", "GTX 1080 Ti (11GB)": "gtx-1080-ti",
    "RTX 3060 12GB": "rtx-3060-12g", "A100-80GB (power-limited to 330W)": "a100-80g",
    "A100 40GB (p4d.24xlarge)": "a100-40g", "A10G 24GB (g5.12xlarge)": "a10g",
    "Apple M3 Max (30-core GPU, 36GB)": "m3-max",
    # specdecode-bench: "NVIDIA H100 80GB" (project page index.md, set-up); the SXM card is assumed (PCIe
    # H100s also have 80 GB; the page does not say which)
    "H100-80GB": "h100-sxm",
}
# llama.cpp's Metal and Vulkan backends have no card (their costs differ from the CUDA backend's:
# the InventiveHQ rows show Vulkan's speculative runs 30-40% slower than CUDA's on the same GPU).
FRAMEWORKS = {"hf-eager": "hf-eager", "vllm-v0": "vllm-v0", "vllm-v1": "vllm-v1", "llama.cpp-gpu": "llama.cpp-gpu",
              "llama.cpp-cpu": "llama.cpp-cpu", "mlx": "mlx",
              "pytorch-compiled": "pytorch-compiled", "sglang": "sglang", "tensorrt-llm": "tensorrt-llm"}
# Rows whose published set-up osdsim cannot express (say why, once per source or row).
SKIP_SOURCE = {
    "amd-rocm-blog-ssd-2026": "speculative speculative decoding on an extra GPU, not draft-then-verify",
    "magicdec-blog-2024": "StreamingLLM-compressed draft KV cache at 8k-100k contexts: not modelled",
    "thc1006-qwen36-rtx3090-2026": "hybrid Gated-DeltaNet/MoE target: no card (MoE is not modelled)",
    "lmstudio-mlx-engine-issue-103": "no acceptance published", "lmstudio-mlx-engine-issue-113": "no acceptance published",
}
SKIP_ROW = {
    **{f"ihqrepo-{k:03d}": "the source's README: the CUDA build's draft path collapsed on this card (a version-"
       "specific defect; its Vulkan rows ihqrepo-006..010 are predicted)" for k in range(1, 6)},
    "inventivehq-001": "superseded by ihqrepo-021..025 (one request's acceptance, 5 of 12 baselines failed: SOURCES.md)",
    "inventivehq-002": "superseded by ihqrepo-021..025 (SOURCES.md)", "inventivehq-003": "superseded (SOURCES.md)",
}
# Proposers other than a draft model: (source, the row's draft) -> (drafter, tree, gamma, gamma policy).
# drafter: ``ngram`` (prompt lookup), ``eagle-head`` (one decoder layer of the target's shape and its LM
# head), ``medusa-head:N``; tree: a name in osdsim.validate.fidelity.TREES or a dynamic one.
METHODS = {
    # Spec-Bench model/pld/pld.py via evaluation/inference_pld.py: a chain of draft_num_candidate_tokens = 10
    # whenever the last 1-3 tokens match earlier context (fidelity.PLD_NUM_PRED_TOKENS).
    ("spec-bench", "ngram (prompt lookup decoding)"): ("ngram", "", "10", "fixed"),
    # evaluation/inference_eagle.py: EAGLE-1's static tree mc_sim_7b_63 (25 nodes).
    ("spec-bench", "eagle"): ("eagle-head", "eagle1-mc_sim_7b_63", "", "tree"),
    # evaluation/inference_eagle2.py: total_token 60, depth 5, top_k 10 (a dynamic tree).
    ("spec-bench", "eagle-2"): ("eagle-head", "eagle2-dynamic", "", "tree"),
    # evaluation/inference_medusa.py: num_heads = 4, tree mc_sim_7b_63 (63 nodes).
    ("spec-bench", "medusa"): ("medusa-head:4", "medusa-mc_sim_7b_63", "", "tree"),
    # SGLang v0.5.9 EAGLE chain, k = 3 drafts per step (index.md, "Tree vs. Chain Verification"). The head
    # checkpoint is not named: an EAGLE head (not EAGLE-3's reduced vocabulary) is assumed.
    ("specdecode-bench-2026", "eagle (chain)"): ("eagle-head", "", "3", "fixed"),
}
# Non-model rows osdsim cannot read honestly: why (by the row's draft; the first match wins).
METHOD_SKIP = {
    "sam-decoding": "SAM-Decoding merges suffix-automaton retrieval into EAGLE-2's tree each step: a hybrid proposer "
                    "osdsim's drafters do not express",
    # https://huggingface.co/ankner/hydra-vicuna-13b-v1.3/blob/main/config.json: hydra_head_arch "prefix-mlp",
    # hydra_num_heads 4, hydra_num_layers 4, grounded_heads true (Spec-Bench model/hydra/hydra_model.py)
    "hydra": "Hydra++ heads (prefix-mlp: a prefix attention layer, then 4 sequentially dependent heads of 4 MLP "
             "layers each, drafting one depth per forward) have no drafter style in osdsim (eagle, mtp, medusa)",
    "token-recycling": "Token Recycling's static 80-node tree (Spec-Bench model/recycling/tree_template_.py, "
                       "version 2.2.2) is not transcribed into osdsim, and its adjacency-matrix lookup time per "
                       "step is not published: not priced",
    "rest": "REST builds its draft tree each step from the datastore's retrieved continuations (shape and size "
            "vary) and its datastore search time is not published: tree not determined",
    "lookahead": "Lookahead decoding verifies n-grams in the same forward as its Jacobi lookahead branch (level 5, "
                 "window 7, guess 7): osdsim's drafters cannot price non-draft tokens in the verify",
    "eagle (tree, depth 3, branching 4)": "SGLang's dynamic EAGLE tree (depth 3, top-k 4, k = 21): whether k counts "
                                          "the root token and how SGLang picks the nodes per step are not stated "
                                          "with the row, and the head checkpoint is not named: tree not determined",
}
FIELDS = ["id", "target_card", "draft_card", "hardware_card", "framework_card", "dtype", "draft_dtype", "tp",
          "draft_tp", "prompt_tokens", "output_tokens", "metric", "drafter", "tree", "acceptance", "rate", "gamma",
          "gamma_policy", "skip"]


def _dtypes(row) -> tuple[str, str]:
    text = (row["dtype"] or "").lower()
    if "q4_k" in text and "q8_0 draft" in text:
        return "q4_k", "q8_0"
    if "q8_0" in text or "8-bit" in text:
        return "q8_0", "q8_0"
    if "int8" in text:
        return "int8", "int8"
    if "fp8" in text or "FP8" in row["target"]:
        return "fp8", "fp16" if "not quantized" in row["draft"] else "fp8"
    if "fp32" in text:
        return "fp32", "fp32"
    return "fp16", "fp16"


def _acceptance(row) -> tuple[str, str]:
    """(kind, value) from the row's own published acceptance, or ("", "")."""
    if row["alpha"]:
        return "alpha", row["alpha"]
    if row["tau"]:
        return "tau", row["tau"]
    if row["accept_rate"]:
        # vLLM V0 counts every position the rejection sampler accepted; llama.cpp, vLLM V1 and
        # transformers count the accepted prefix (osdsim/cost/acceptance_inputs.py).
        return ("rate-position" if row["framework"] == "vllm-v0" else "rate-prefix"), row["accept_rate"]
    return "", ""


def _source_rules(row, out: dict) -> None:
    """Acceptance and lengths that come from a source's set-up rather than the row."""
    i, src = row["id"], row["source"]
    n = int(re.sub(r"\D", "", i.split("-")[-1]) or 0)
    if src == "spec-bench":
        out["prompt_tokens"], out["output_tokens"] = "", ""  # batch-1 decode: context assumed by the predictor
        out["gamma_policy"] = out["gamma_policy"] or "hf-heuristic"  # transformers 4.37.1 (requirements.txt)
        if not out["acceptance"] and 1 <= n <= 13 and n != 7:
            other = n + 7 if n <= 6 else n - 7  # the same task on the other card (RTX 3090 <-> A100)
            out["acceptance"], out["rate"] = f"transfer:specbench-{other:03d}", ""
        elif not out["acceptance"] and 29 <= n <= 41 and n != 35:
            # prompt lookup, Vicuna-7B: the same task on the other card (029-034 RTX 3090 <-> 036-041 A100)
            other = n + 7 if n <= 34 else n - 7
            out["acceptance"], out["rate"] = f"transfer:specbench-{other:03d}", ""
        elif not out["acceptance"] and 43 <= n <= 55 and n != 49:
            out["skip"] = ("per-task column: tau is published only for the whole benchmark, and no other card ran "
                           "this model and task (no transfer)")
    elif src == "amd-rocm-blog-spec-deep-dive-2025":
        # The blog's commands: --random-input 8192 --random-output 256. Fixed lengths: its published
        # baseline latencies (4.5 s for 405B at 0.2 req/s) fit 8,192 + 256 tokens, not lengths drawn
        # uniformly below them.
        out["prompt_tokens"], out["output_tokens"] = "8192", "256"
        # 405B: the no-spec server command runs --tensor-parallel-size 8 (the text says 4 GPUs; at 4 the
        # measured baseline latency is out of reach of any card), 70B on 1 GPU (the text).
        out["tp"] = "8" if "405B" in row["target"] else "1"
        if 7 <= n <= 13:
            out["acceptance"] = "anchor" if n == 7 else "curve:amddeep-007"
        elif 19 <= n <= 24:
            out["acceptance"] = "anchor" if n in (19, 20) else f"curve:amddeep-{19 + (n - 19) % 2:03d}"
        else:
            out["skip"] = "request rate not published"
    elif src == "vllm-blog-2024":
        out["tp"], out["prompt_tokens"], out["output_tokens"] = "4", "", ""  # ShareGPT lengths (predictor)
        if row["draft_kind"] == "model":  # the n-gram rows are another proposer: the draft model's α is not theirs
            out["acceptance"] = "anchor" if i == "vllmblog24-001" else "curve:vllmblog24-001"
    elif src == "inventivehq-specdec-repo-2026":
        out["output_tokens"] = "256"
    elif src == "llamacpp-issue-5877-comment":
        out["output_tokens"] = "673"


def inputs_for(row) -> dict:
    out = dict.fromkeys(FIELDS, "")
    out["id"] = row["id"]
    out["gamma"], out["gamma_policy"] = row["gamma"], row["gamma_policy"]
    out["tp"], out["draft_tp"] = row["tp"] or "1", row["draft_tp"] or "1"
    out["prompt_tokens"], out["output_tokens"] = row["prompt_tokens"], row["output_tokens"]
    out["metric"] = row["speedup_metric"]
    out["acceptance"], out["rate"] = _acceptance(row)
    out["dtype"], out["draft_dtype"] = _dtypes(row)
    out["target_card"] = TARGETS.get(row["target"], "")
    kind = row["draft_kind"]
    out["draft_card"] = DRAFTS.get(row["draft"], "") if kind == "model" else ""
    out["drafter"] = "model" if kind == "model" else ""
    method = METHODS.get((row["source"], row["draft"])) if kind in ("head", "ngram") else None
    if method:
        out["drafter"], out["tree"] = method[0], method[1]
        out["gamma"], out["gamma_policy"] = method[2] or out["gamma"], method[3]
    out["hardware_card"] = HARDWARE.get(row["hardware"], "")
    out["framework_card"] = FRAMEWORKS.get(row["framework"], "")
    if "Vulkan backend" in row["notes"]:
        out["framework_card"] = ""  # llama.cpp's Vulkan backend: no card
    _source_rules(row, out)
    reasons = [SKIP_ROW.get(row["id"]), SKIP_SOURCE.get(row["source"]), out["skip"] or None]
    unread = kind != "model" and not method
    if kind == "self":
        reasons.append("draft kind self (self-speculation: not modelled in this suite yet)")
    elif unread:
        reasons.append(next((text for key, text in METHOD_SKIP.items() if row["draft"].lower().startswith(key)), None))
    for col, name in (("target_card", "target"), ("draft_card", "draft"), ("hardware_card", "hardware"),
                      ("framework_card", "framework")):
        if col == "draft_card" and kind != "model":
            continue  # a head is shaped from its target; a lookup has no model
        if not out[col]:
            what = row[name] + (" (Vulkan backend)" if "Vulkan backend" in row["notes"] else "")
            reasons.append(f"no {name} card for {what!r}")
    if out["acceptance"] == "anchor":
        reasons.append("anchor: the curve's alpha is solved from this row, so it is not scored")
    elif not out["acceptance"]:
        reasons.append("no acceptance published (and no anchor row to solve it from)")
    if unread and kind != "self":
        reasons.append(f"{kind} proposer {row['draft']!r}: its set-up (proposer, tree) is not read for this source")
    out["skip"] = "; ".join(r for r in reasons if r)
    return out


def main() -> None:
    with open(HERE / "measurements.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(HERE / "inputs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow(inputs_for(row))
    print(f"wrote {len(rows)} rows to {HERE / 'inputs.csv'}")


if __name__ == "__main__":
    main()
