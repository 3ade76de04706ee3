"""A fingerprint of the simulator: the hashes of the summary and of every table of many scenarios.

The engine may be restructured or sped up, but a change that is not meant to change behaviour
must leave every hash as it was (bit-identical summaries and tables). Run as a script to print
which scenarios changed, or to rewrite the committed fingerprint after a change that is meant to
alter results (say why in the commit):

    .venv/bin/python tests/sim_fingerprint.py            # compare with tests/data/sim_fingerprint.json
    .venv/bin/python tests/sim_fingerprint.py --write    # rewrite it

``tests/test_sim_fingerprint.py`` runs the comparison in the suite.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT = Path(__file__).with_name("data") / "sim_fingerprint.json"
TRACE = str(ROOT / "traces" / "osd-small-cpu-baseline.jsonl")

BASE = {
    "seed": 0, "target": "vicuna-7b-v1.3", "draft": "llama-160m", "hardware": "a100-80g",
    "max_batch": 16, "gamma": 4,
    "workload": {"arrival": "poisson", "rate": 6.0, "num_requests": 120,
                 "prompt_tokens": {"dist": "lognormal", "mean": 96, "cv": 0.5},
                 "output_tokens": {"dist": "lognormal", "mean": 48, "cv": 0.6}},
    "acceptance": {"model": "constant", "alpha": 0.7},
}
CURVES = {"a": {"alpha0": 0.3, "alpha_inf": 0.8, "scale": 40},
          "b": {"alpha0": 0.5, "alpha_inf": 0.7, "scale": 25}}
TWO_DOMAINS = {"domains": ["a", "b"], "schedule": {"kind": "blocks", "block_records": 30}}


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _variants() -> dict[str, dict]:
    v: dict[str, dict] = {}
    for gamma in (0, 1, 3, 5, 8):
        v[f"gamma{gamma}"] = {"gamma": gamma}
    for alpha in (0.0, 0.35, 0.9, 1.0):
        v[f"alpha{alpha}"] = {"acceptance": {"alpha": alpha}}
    v["plain_no_draft"] = {"draft": None}
    v["by_domain"] = {"workload": {"domains": ["a", "b"]},
                      "acceptance": {"by_domain": {"a": 0.4, "b": 0.85}}}
    v["per_position"] = {"acceptance": {"model": "per_position", "alphas": [0.9, 0.7, 0.5]}}
    v["per_position_goodput"] = {"gamma": "goodput", "max_gamma": 6,
                                 "acceptance": {"model": "per_position", "alphas": [0.9, 0.8, 0.6, 0.5]}}
    v["empirical"] = {"gamma": 2, "acceptance": {"model": "empirical", "trace": TRACE}}
    v["empirical_g3"] = {"gamma": 3, "acceptance": {"model": "empirical", "trace": TRACE}}
    v["goodput"] = {"gamma": "goodput"}
    v["goodput_busy"] = {"gamma": "goodput", "max_batch": 64, "workload": {"rate": 40.0}}
    v["goodput_domains"] = {"gamma": "goodput", "workload": {"domains": ["a", "b"]},
                            "acceptance": {"by_domain": {"a": 0.3, "b": 0.9}}}
    v["chunked"] = {"prefill_chunk": 256}
    v["chunked_small"] = {"prefill_chunk": 32, "workload": {"rate": 20.0}}
    v["chunked_plain"] = {"prefill_chunk": 128, "gamma": 0}
    v["busy"] = {"max_batch": 64, "workload": {"rate": 40.0}}
    v["kv_limited"] = {"kv_tokens": 1200, "workload": {"rate": 20.0}}
    v["kv_drops"] = {"kv_tokens": 150, "workload": {"rate": 10.0}}
    v["one_token"] = {"workload": {"output_tokens": 1}}
    v["fixed_lengths"] = {"workload": {"prompt_tokens": 64, "output_tokens": 32}}
    v["uniform_lengths"] = {"workload": {"prompt_tokens": {"dist": "uniform", "low": 8, "high": 300},
                                         "output_tokens": {"dist": "uniform", "low": 1, "high": 90}}}
    v["gamma_arrivals"] = {"workload": {"arrival": "gamma", "cv": 3.0}}
    v["constant_arrivals"] = {"workload": {"arrival": "constant", "rate": 3.0}}
    v["duration"] = {"workload": {"num_requests": None, "duration_s": 15.0}}
    v["horizon"] = {"horizon_s": 6.0, "workload": {"rate": 30.0}}
    v["horizon_chunked"] = {"horizon_s": 5.0, "prefill_chunk": 64, "workload": {"rate": 30.0}}
    v["rr2"] = {"replicas": 2, "workload": {"rate": 12.0}}
    v["rr3_busy"] = {"replicas": 3, "max_batch": 32, "workload": {"rate": 60.0}}
    v["lo2"] = {"replicas": 2, "router": "least_outstanding", "workload": {"rate": 12.0}}
    v["lo3_goodput"] = {"replicas": 3, "router": "least_outstanding", "gamma": "goodput",
                        "workload": {"rate": 30.0}}
    v["lo2_horizon"] = {"replicas": 2, "router": "least_outstanding", "horizon_s": 5.0,
                        "workload": {"rate": 40.0}}
    v["tp2_70b"] = {"target": "llama-2-70b", "hardware": "h100-sxm", "tp": 2}
    v["h100_8b"] = {"target": "llama-3.1-8b", "draft": "llama-3.2-1b", "hardware": "h100-sxm"}
    v["l4_small"] = {"target": "qwen2.5-7b", "draft": "qwen2.5-0.5b", "hardware": "l4"}
    v["fp16"] = {"dtype": "fp16"}
    v["bucket64"] = {"context_bucket": 64}
    v["cpu_small"] = {"hardware": "cpu", "target": "llama-3.2-1b", "draft": "llama-160m",
                      "workload": {"rate": 0.5, "num_requests": 10}}
    v["constant_cost"] = {"cost": {"model": "constant",
                                   "forward_s": {"vicuna-7b-v1.3": 0.02, "llama-160m": 0.002}}}
    v["seed7"] = {"seed": 7}
    v["closed"] = {"workload": {"arrival": "closed", "concurrency": 6}}
    v["closed_rr2_think"] = {"replicas": 2, "workload": {"arrival": "closed", "concurrency": 5, "think_s": 0.3}}
    v["fw_hf_eager"] = {"framework": "hf-eager"}
    v["fw_vllm_v0_expansion"] = {"framework": "vllm-v0", "max_batch": 64, "workload": {"rate": 30.0}}
    v["fw_sglang_chunked"] = {"framework": "sglang", "prefill_chunk": 128}
    v["fw_none"] = {"framework": "none"}
    v["draft_tp"] = {"target": "llama-2-70b", "draft": "llama-3.2-1b", "hardware": "h100-sxm", "tp": 4,
                     "draft_tp": 2}
    v["draft_dtype"] = {"target": "llama-3.1-8b", "draft": "llama-3.2-1b", "hardware": "h100-sxm",
                        "dtype": "fp8", "draft_dtype": "bf16"}
    v["quantised"] = {"target": "qwen2.5-7b", "draft": "qwen2.5-0.5b", "hardware": "rtx-3090",
                      "framework": "llama.cpp-gpu", "dtype": "q4_k", "draft_dtype": "q8_0"}
    # Draft kinds, trees, γ policies and methods (issue 11).
    v["kind_ngram"] = {"draft": {"kind": "ngram", "cpu_per_step_us": 200, "match_rate": 0.6}}
    v["kind_eagle_chain"] = {"draft": "eagle"}
    v["kind_eagle_tree"] = {"draft": {"kind": "head", "style": "eagle", "tree": "eagle-mc_sim_7b_63"}}
    v["kind_medusa_full_tree"] = {"draft": {"kind": "head", "style": "medusa", "heads": 3,
                                            "tree": {"width": 2, "depth": 3}}}
    v["kind_self"] = {"draft": "self:8"}
    v["policy_hf_heuristic"] = {"gamma_policy": {"kind": "hf-heuristic"}}
    v["policy_confidence"] = {"gamma": 8, "gamma_policy": {"kind": "confidence", "pass_rate": 0.8,
                                                           "alpha_passed": 0.85}}
    v["policy_adaptive"] = {"gamma": 10, "gamma_policy": {"kind": "adaptive", "threshold": 0.2}}
    v["method_lookup"] = {"methods": {"lookup": {"draft": "ngram", "acceptance": {"alpha": 0.4}}},
                          "method": "lookup"}
    curves = {"acceptance": {"model": "learning_curve", "domains": CURVES}, "workload": TWO_DOMAINS}
    v["curve_frozen"] = curves
    for mode in ("spare", "exclusive"):
        for interval in (1, 8):
            v[f"osd_{mode}_I{interval}"] = _merge(curves, {"online": {"update_interval": interval,
                                                                      "mode": mode}})
    v["osd_spare_busy"] = _merge(curves, {"online": {"update_interval": 4, "interference": 0.3},
                                          "max_batch": 64, "workload": {"rate": 30.0}})
    v["osd_spare_idle"] = _merge(curves, {"online": {"update_interval": 2}, "workload": {"rate": 0.5}})
    v["osd_small_buffer"] = _merge(curves, {"online": {"update_interval": 4, "buffer_size": 10}})
    v["osd_per_domain"] = _merge(curves, {"online": {"update_interval": 4}, "draft_per_domain": True})
    v["osd_per_domain_excl"] = _merge(curves, {"online": {"update_interval": 4, "mode": "exclusive"},
                                               "draft_per_domain": True})
    v["osd_goodput"] = _merge(curves, {"online": {"update_interval": 4}, "gamma": "goodput"})
    v["osd_chunked"] = _merge(curves, {"online": {"update_interval": 4}, "prefill_chunk": 128})
    v["osd_lo2"] = _merge(curves, {"online": {"update_interval": 4}, "replicas": 2,
                                   "router": "least_outstanding", "workload": {"rate": 12.0}})
    v["osd_rr2"] = _merge(curves, {"online": {"update_interval": 4}, "replicas": 2,
                                   "workload": {"rate": 12.0}})
    v["osd_horizon"] = _merge(curves, {"online": {"update_interval": 2}, "horizon_s": 8.0})
    v["osd_constant_cost"] = _merge(curves, {
        "online": {"update_interval": 4},
        "cost": {"model": "constant", "forward_s": {"vicuna-7b-v1.3": 0.02, "llama-160m": 0.003},
                 "capacity_flops_per_s": 2e12, "update_s_per_token": 0.001}})
    v["osd_mix_domains"] = _merge(curves, {"online": {"update_interval": 4},
                                           "workload": {"schedule": {"kind": "mix", "weights": [0.3, 0.7]}}})
    return {name: _merge(BASE, extra) for name, extra in v.items()}


SCENARIOS = _variants()


def _hash_frame(frame) -> str:
    digest = hashlib.sha256()
    digest.update(repr(list(frame.columns)).encode())
    digest.update(repr([str(t) for t in frame.dtypes]).encode())
    digest.update(frame.to_csv(index=False, float_format=repr).encode() if len(frame) else b"")
    return digest.hexdigest()[:16]


def _hash_summary(summary: dict) -> str:
    # The assumptions name the trace by its path: hash it relative to the checkout, so a clone
    # elsewhere (CI) gets the same fingerprint.
    text = json.dumps(summary, sort_keys=True, default=repr).replace(str(ROOT), "<root>")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(names=None) -> dict[str, dict[str, str]]:
    """name -> {summary, requests, steps, updates} hashes (the baseline is in the summary)."""
    from osdsim.sim import simulate

    out = {}
    for name in names or SCENARIOS:
        result = simulate(SCENARIOS[name])
        out[name] = {"summary": _hash_summary(result.summary), "requests": _hash_frame(result.requests),
                     "steps": _hash_frame(result.steps), "updates": _hash_frame(result.updates)}
    return out


def main(argv: list[str]) -> int:
    current = fingerprint()
    if "--write" in argv:
        FINGERPRINT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(current)} scenarios to {FINGERPRINT}")
        return 0
    committed = json.loads(FINGERPRINT.read_text())
    changed = {n: [k for k in h if committed.get(n, {}).get(k) != h[k]] for n, h in current.items()}
    changed = {n: ks for n, ks in changed.items() if ks}
    for name, keys in changed.items():
        print(f"{name}: {', '.join(keys)} changed")
    print(f"{len(current)} scenarios, {len(changed)} changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
