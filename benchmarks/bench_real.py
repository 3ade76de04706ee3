"""Real runs on this machine: achieved speculative speedup vs the closed form, drafts of three
sizes (alpha and c each), and OSD gains per domain block read from traces.

    python benchmarks/bench_real.py                      # speedup table for the three drafts
    python benchmarks/bench_real.py --online-checkpoint traces/X.jsonl.draft.pt \
        --traces online=traces/X.jsonl untouched=out/real/untouched.jsonl

Uses osdsim's small models (trained and cached by ``osdsim train`` on first use). Timings are
medians/sums of perf_counter around whole calls on a CPU shared with other processes; the first
request of every configuration is a discarded warm-up. Writes nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def measure(target, draft, requests, gamma: int, max_new_tokens: int) -> dict:
    """Plain and speculative greedy decoding of the same prompts, interleaved; sums of times."""
    from osdsim.real.speculative import speculative_generate, target_generate

    target_generate(target, requests[0].prompt, 8)  # warm-up, discarded
    speculative_generate(target, draft, requests[0].prompt, 8, gamma)
    acc = {"base_s": 0.0, "spec_s": 0.0, "base_decode_s": 0.0, "spec_decode_s": 0.0,
           "accepted": 0, "tested": 0, "steps": 0, "emitted": 0, "draft_s": 0.0, "drafted": 0,
           "verify_s": 0.0, "base_tokens": 0, "same": True}
    for req in requests:
        base = target_generate(target, req.prompt, max_new_tokens)
        spec = speculative_generate(target, draft, req.prompt, max_new_tokens, gamma)
        acc["same"] &= base.tokens == spec.tokens
        acc["base_s"] += base.latency_s
        acc["spec_s"] += spec.latency_s
        acc["base_decode_s"] += sum(base.token_s)
        acc["base_tokens"] += len(base.token_s)
        acc["spec_decode_s"] += spec.latency_s - spec.prefill_s
        for s in spec.steps:
            acc["accepted"] += s.accepted
            acc["tested"] += len(s.accepted_mask)
            acc["steps"] += 1
            acc["emitted"] += s.emitted
            acc["draft_s"] += s.draft_s
            acc["drafted"] += s.drafted
            acc["verify_s"] += s.verify_s
    return acc


def row(name: str, params: int, gamma: int, m: dict) -> dict:
    from osdsim.cost.closed_form import tau, walltime_improvement

    alpha = m["accepted"] / m["tested"] if m["tested"] else 0.0
    t_target = m["base_decode_s"] / m["base_tokens"]  # one plain decode forward (+ argmax)
    t_draft = m["draft_s"] / m["drafted"] if m["drafted"] else 0.0
    t_verify = m["verify_s"] / m["steps"]
    c = t_draft / t_target
    achieved = m["base_decode_s"] / m["spec_decode_s"]
    predicted = walltime_improvement(alpha, gamma, c)  # Leviathan Thm 3.8: verify = 1 forward
    refined = tau(alpha, gamma) * t_target / (gamma * t_draft + t_verify)  # measured verify cost
    return {"draft": name, "params": params, "gamma": gamma, "alpha": alpha,
            "tau": m["emitted"] / m["steps"], "c": c, "verify/target": t_verify / t_target,
            "achieved": achieved, "e2e": m["base_s"] / m["spec_s"], "closed_form": predicted,
            "err_%": 100 * (predicted - achieved) / achieved, "refined": refined,
            "refined_err_%": 100 * (refined - achieved) / achieved, "identical": m["same"]}


def speedup_table(args) -> list[dict]:
    import torch

    from osdsim.real.loading import load_model, num_params
    from osdsim.real.pair import load_pair
    from osdsim.real.stream import build_requests, parse_schedule

    pair = load_pair(None, None, "m", seed=args.seed, progress=False)
    k = args.prompts_per_domain
    schedule = ",".join(f"{d}:{k}" for d in args.domains.split(","))
    requests = build_requests(pair.tokenizer, parse_schedule(schedule), seed=args.seed + 2000)
    drafts = []
    for size in filter(None, args.drafts.split(",")):
        d = load_pair(None, None, size, seed=args.seed, progress=False).draft
        drafts.append((f"draft-{size}", d))
    if args.online_checkpoint:
        d = load_pair(None, None, args.online_size, seed=args.seed, progress=False).draft
        d.load_state_dict(torch.load(args.online_checkpoint, weights_only=True)["draft"])
        drafts.append((f"draft-{args.online_size}-online", d.eval()))
    if args.offline_dir:
        drafts.append((f"draft-{args.online_size}-offline", load_model(args.offline_dir)))
    rows = []
    for name, draft in drafts:
        for gamma in [int(g) for g in args.gammas.split(",")]:
            m = measure(pair.target, draft, requests, gamma, args.max_new_tokens)
            rows.append(row(name, num_params(draft), gamma, m))
            print(f"  measured {name} gamma={gamma}", file=sys.stderr, flush=True)
    return rows


def block_summary(label: str, path: str, window: int = 50) -> list[dict]:
    """Per domain block: mean alpha of its first and last ``window`` records, and the gain."""
    from osdsim.trace import read_trace

    t = read_trace(path)
    r = t.records
    if "mode" in r:
        r = r[r["mode"] != "baseline"]
    r = r.sort_values("record").reset_index(drop=True)
    block = r["domain"].ne(r["domain"].shift()).cumsum()
    out = []
    for _, g in r.groupby(block):
        first, last = g["alpha"].head(window).mean(), g["alpha"].tail(window).mean()
        out.append({"run": label, "domain": g["domain"].iloc[0], "records": len(g),
                    "alpha_first": first, "alpha_last": last, "gain": last - first,
                    "updates": int(t.updates["after_record"].between(
                        g["record"].min(), g["record"].max()).sum()) if len(t.updates) else 0,
                    "update_s": float(t.updates["update_s"].median()) if len(t.updates) else 0.0,
                    "I": (t.meta.get("online") or {}).get("update_interval"),
                    "draft_params": t.meta.get("draft_params")})
    return out


def small_models_built(args) -> bool:
    from osdsim.real import small

    names = ["target"] + [f"draft-{d}" for d in filter(None, args.drafts.split(","))]
    if args.online_checkpoint or args.offline_dir:
        names.append(f"draft-{args.online_size}")
    return all((small.model_dir(small.PRESETS[n], args.seed) / "osdsim.json").exists() for n in names)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--drafts", default="s,m,l", help="sizes of untouched drafts ('' for none)")
    p.add_argument("--domains", default="code,sql,math", help="domains of the speedup prompts")
    p.add_argument("--gammas", default="1,3")
    p.add_argument("--prompts-per-domain", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--online-checkpoint", help="a <trace>.draft.pt of an online run")
    p.add_argument("--online-size", default="m")
    p.add_argument("--offline-dir", help="an offline-distilled draft (osdsim distill --out)")
    p.add_argument("--traces", nargs="*", default=[], help="label=path of run traces to summarise")
    p.add_argument("--skip-speedup", action="store_true")
    p.add_argument("--train", action="store_true", help="build the small models if not cached")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", help="also write the speedup table here, with draft_params/speedup/series "
                   "columns for `osdsim plot draft-size`")
    args = p.parse_args(argv)

    from osdsim.cli.common import table

    try:
        from osdsim.real.env import import_torch

        import_torch(args.threads)
    except ImportError:
        print("bench_real: skipped (torch is not installed)")
        return 0
    if not args.skip_speedup and not args.train and not small_models_built(args):
        print("bench_real: speedup part skipped: osdsim's small models are not built yet; run "
              "`osdsim train` (about 20-30 min on 2 cores) or pass --train")
        args.skip_speedup = True
    if not args.skip_speedup:
        rows = speedup_table(args)
        print(f"Greedy speculative decoding on {args.domains}, achieved vs predicted (decode "
              f"time, sums over {len(args.domains.split(',')) * args.prompts_per_domain} prompts "
              f"x {args.max_new_tokens} tokens)")
        print(table(rows, floatfmt=".3g"))
        errs = [abs(r["err_%"]) for r in rows]
        print(f"closed form |error|: median {statistics.median(errs):.1f}%, max {max(errs):.1f}%; "
              f"refined: median {statistics.median(abs(r['refined_err_%']) for r in rows):.1f}%")
        if args.csv:
            import pandas as pd

            df = pd.DataFrame(rows)
            df["draft_params"], df["speedup"] = df["params"], df["achieved"]
            df["series"] = "measured, γ = " + df["gamma"].astype(str)
            df.to_csv(args.csv, index=False)
            print(f"wrote {args.csv}")
    summaries = []
    for item in args.traces:
        label, _, path = item.partition("=")
        if os.path.exists(path):
            summaries += block_summary(label, path)
    if summaries:
        print("\nalpha per domain block: mean of first and last 50 records")
        print(table(summaries, floatfmt=".3g"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
