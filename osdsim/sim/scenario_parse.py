"""A raw scenario mapping (as read from YAML/TOML) → :class:`Scenario`, every field checked.

An unknown or bad field raises ``ValueError`` naming its dotted path (``workload.rate``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields

from osdsim.safe.numbers import check_int, check_number
from osdsim.safe.text import short
from osdsim.sim.scenario_draft import check_draft, parse_draft, parse_policy
from osdsim.sim.scenario_fields import (
    ACCEPTANCE_MODELS,
    ARRIVALS,
    COST_MODELS,
    DISTS,
    ROUTERS,
    AcceptanceSpec,
    CostSpec,
    LengthDist,
    Online,
    Scenario,
    Schedule,
    Slo,
    Workload,
)
from osdsim.sim.scenario_methods import draft_shorthand, expand_method
from osdsim.specs import DTYPE_BYTES, HardwareSpec, ModelSpec

# Bounds on sizes, so that a typo (or a hostile file) is an error, not hours of simulation or
# gigabytes of arrays: requests per run, tokens per request, and any other count.
MAX_REQUESTS = 10_000_000
MAX_TOKENS = 10_000_000
MAX_COUNT = 2**63 - 1  # seeds and other integers without a tighter bound
MAX_GAMMA = 256  # draft tokens per step


def _int(value, path: str, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    """An integer in [minimum, maximum] (finite, not a bool or a string; 3.0 counts)."""
    return check_int(value, path, minimum, maximum)


def _float(value, path: str, minimum: float = 0.0, strict: bool = False, maximum: float | None = None,
           allow_inf: bool = False) -> float:
    """A finite number (``allow_inf``: or +inf, "no bound") >= minimum (``strict``: >) and <= maximum."""
    return check_number(value, path, minimum=minimum, maximum=maximum, strict=strict, allow_inf=allow_inf)


def _str(value, path: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{path} must be a non-empty string, got {short(value)}")
    if choices and value not in choices:
        raise ValueError(f"{path} must be one of {', '.join(choices)}, got {short(value)}")
    return value


def _mapping(value, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValueError(f"{path} must be a mapping, got {short(value)}")
    return value


def _check_keys(raw: Mapping, cls, path: str, extra: tuple[str, ...] = ()) -> None:
    allowed = {f.name for f in fields(cls)} | set(extra)
    for key in raw:
        if key not in allowed or key == "base_dir":
            where = f"{path}.{key}" if path else str(key)
            raise ValueError(f"{where} is not a scenario field")


def _length(value, path: str) -> LengthDist:
    if not isinstance(value, Mapping):
        mean = _float(value, path, 1.0, maximum=MAX_TOKENS)
        return LengthDist("fixed", mean)
    _check_keys(value, LengthDist, path, extra=("value",))
    dist = _str(value.get("dist", "fixed"), f"{path}.dist", DISTS)
    if dist == "uniform":
        low = _int(value.get("low", 1), f"{path}.low", 1, MAX_TOKENS)
        high = _int(value.get("high", low), f"{path}.high", low, MAX_TOKENS)
        return LengthDist(dist, (low + high) / 2.0, 0.0, low, high)
    mean = _float(value.get("mean", value.get("value", 128)), f"{path}.mean", 1.0, maximum=MAX_TOKENS)
    cv = _float(value.get("cv", 0.0), f"{path}.cv", maximum=10.0) if dist == "lognormal" else 0.0
    return LengthDist(dist, mean, cv)


def _workload(raw: Mapping) -> Workload:
    _check_keys(raw, Workload, "workload")
    w = Workload()
    arrival = _str(raw.get("arrival", w.arrival), "workload.arrival", ARRIVALS)
    num = raw.get("num_requests", None if "duration_s" in raw else w.num_requests)
    domains = raw.get("domains", list(w.domains))
    if isinstance(domains, str):
        domains = [domains]
    if not isinstance(domains, list) or not domains or not all(isinstance(d, str) and d for d in domains):
        raise ValueError("workload.domains must be a non-empty list of domain names")
    if len(domains) > 10_000:
        raise ValueError(f"workload.domains lists {len(domains)} domains; at most 10000")
    if len(set(domains)) != len(domains):
        raise ValueError("workload.domains must not repeat a name")
    out = Workload(
        arrival=arrival,
        rate=_float(raw.get("rate", w.rate), "workload.rate", 0.0, strict=True),
        cv=_float(raw.get("cv", w.cv), "workload.cv", 0.0, strict=True, maximum=100.0),
        file=None if raw.get("file") is None else _str(raw["file"], "workload.file"),
        concurrency=_int(raw.get("concurrency", w.concurrency), "workload.concurrency", 1, MAX_REQUESTS),
        think_s=_float(raw.get("think_s", w.think_s), "workload.think_s", 0.0),
        num_requests=None if num is None else _int(num, "workload.num_requests", 1, MAX_REQUESTS),
        duration_s=None if raw.get("duration_s") is None else _float(raw["duration_s"], "workload.duration_s", 0, True),
        prompt_tokens=_length(raw.get("prompt_tokens", 128), "workload.prompt_tokens"),
        output_tokens=_length(raw.get("output_tokens", 128), "workload.output_tokens"),
        domains=tuple(domains),
        schedule=_schedule(raw.get("schedule", "mix"), len(domains)),
        dataset=None if raw.get("dataset") is None else _str(raw["dataset"], "workload.dataset"),
        tokenizer=None if raw.get("tokenizer") is None else _str(raw["tokenizer"], "workload.tokenizer"),
    )
    if out.dataset is not None and ({"prompt_tokens", "output_tokens"} & set(raw)):
        raise ValueError("workload.dataset draws prompt and output lengths itself: drop workload.prompt_tokens "
                         "and workload.output_tokens, or drop workload.dataset")
    if out.tokenizer is not None and out.dataset is None:
        raise ValueError("workload.tokenizer counts the lengths of workload.dataset; give workload.dataset too")
    if arrival == "closed" and out.num_requests is None:
        raise ValueError("workload.num_requests is required when workload.arrival is closed (the clients "
                         "send requests until that many were sent)")
    if arrival != "replay" and out.num_requests is None and out.duration_s is None:
        raise ValueError("workload.num_requests or workload.duration_s must be given")
    if arrival not in ("replay", "closed") and out.num_requests is None and out.rate * out.duration_s > MAX_REQUESTS:
        raise ValueError(f"workload.rate × workload.duration_s is {out.rate * out.duration_s:.3g} requests; "
                         f"at most {MAX_REQUESTS} (give num_requests, or a shorter duration)")
    return out


def _schedule(value, num_domains: int) -> Schedule:
    if isinstance(value, str):
        value = {"kind": value}
    value = _mapping(value, "workload.schedule")
    _check_keys(value, Schedule, "workload.schedule")
    kind = _str(value.get("kind", "mix"), "workload.schedule.kind", ("mix", "blocks"))
    weights = value.get("weights", [])
    if not isinstance(weights, list) or (weights and len(weights) != num_domains):
        raise ValueError("workload.schedule.weights must list one weight per domain")
    weights = tuple(_float(x, f"workload.schedule.weights[{i}]") for i, x in enumerate(weights))
    if weights and not sum(weights) > 0:
        raise ValueError("workload.schedule.weights must not all be zero")
    block = _int(value.get("block_records", 2000), "workload.schedule.block_records", 1)
    return Schedule(kind, weights, block)


def _acceptance(raw: Mapping) -> AcceptanceSpec:
    _check_keys(raw, AcceptanceSpec, "acceptance")
    model = _str(raw.get("model", "constant"), "acceptance.model", ACCEPTANCE_MODELS)
    alpha, by_domain = raw.get("alpha", 0.7), {}
    if isinstance(alpha, Mapping):
        by_domain = {str(k): _float(v, f"acceptance.alpha.{k}", 0.0, maximum=1.0) for k, v in alpha.items()}
        alpha = by_domain.get("default", 0.7)
    alpha = _float(alpha, "acceptance.alpha", 0.0, maximum=1.0)
    by_domain.update({str(k): _float(v, f"acceptance.by_domain.{k}", 0.0, maximum=1.0)
                      for k, v in _mapping(raw.get("by_domain", {}), "acceptance.by_domain").items()})
    alphas = raw.get("alphas", [])
    if not isinstance(alphas, list) or len(alphas) > 1024:
        raise ValueError("acceptance.alphas must be a list of at most 1024 probabilities")
    alphas = tuple(_float(a, f"acceptance.alphas[{i}]", 0.0, maximum=1.0) for i, a in enumerate(alphas))
    spec = AcceptanceSpec(model, alpha, by_domain, alphas,
                          None if raw.get("trace") is None else _str(raw["trace"], "acceptance.trace"),
                          None if raw.get("curves") is None else _str(raw["curves"], "acceptance.curves"),
                          None if raw.get("domains") is None else dict(_mapping(raw["domains"], "acceptance.domains")))
    if model == "per_position" and not alphas:
        raise ValueError("acceptance.alphas is required for the per_position model")
    if model == "empirical" and spec.trace is None:
        raise ValueError("acceptance.trace is required for the empirical model")
    if model == "learning_curve" and (spec.curves is None) == (spec.domains is None):
        raise ValueError("acceptance.curves (a path) or acceptance.domains (inline), exactly one, is required")
    return spec


def _online(raw) -> Online | None:
    if raw is None or raw is False:
        return None
    raw = _mapping(raw, "online")
    _check_keys(raw, Online, "online")
    o = Online()
    return Online(
        update_interval=_int(raw.get("update_interval", o.update_interval), "online.update_interval", 1),
        mode=_str(raw.get("mode", o.mode), "online.mode", ("spare", "exclusive")),
        interference=_float(raw.get("interference", o.interference), "online.interference", maximum=100.0),
        buffer_size=_int(raw.get("buffer_size", o.buffer_size), "online.buffer_size", 1, 10**12),
        loss=_str(raw.get("loss", o.loss), "online.loss"),
        lr=_float(raw.get("lr", o.lr), "online.lr", 0.0, strict=True),
    )


def _cost(raw) -> CostSpec:
    if isinstance(raw, str):
        raw = {"model": raw}
    raw = _mapping(raw, "cost")
    _check_keys(raw, CostSpec, "cost")
    model = _str(raw.get("model", "auto"), "cost.model", COST_MODELS)
    times = {str(k): _float(v, f"cost.forward_s.{str(k)[:40]}", 0.0, strict=True, maximum=3600.0)
             for k, v in _mapping(raw.get("forward_s", {}), "cost.forward_s").items()}
    if model == "constant" and not times:
        raise ValueError("cost.forward_s must give seconds per forward for each model of a constant cost")
    return CostSpec(model, times,
                    _float(raw.get("capacity_flops_per_s", 1e15), "cost.capacity_flops_per_s", 1.0),
                    _float(raw.get("update_s_per_token", 0.0), "cost.update_s_per_token", maximum=3600.0))


def _slo(raw) -> Slo:
    raw = _mapping(raw, "slo")
    _check_keys(raw, Slo, "slo")
    return Slo(_float(raw.get("ttft_s", math.inf), "slo.ttft_s", 0.0, strict=True, allow_inf=True),
               _float(raw.get("tpot_s", math.inf), "slo.tpot_s", 0.0, strict=True, allow_inf=True))


def _opt_int(raw, key, minimum):
    return None if raw.get(key) is None else _int(raw[key], key, minimum)


def parse_scenario(raw: Mapping, base_dir: str = ".") -> Scenario:
    """Validate a scenario mapping (as read from YAML/TOML) into a :class:`Scenario`."""
    raw = _mapping(raw, "scenario")
    method = raw.get("method")
    raw = expand_method(raw)  # a named method's fields replace the scenario's (osdsim.sim.scenario_methods)
    _check_keys(raw, Scenario, "")
    d = Scenario()
    gamma = raw.get("gamma", d.gamma)
    if gamma != "goodput":
        if isinstance(gamma, str):
            raise ValueError(f"gamma must be an integer or 'goodput', got {short(gamma)}")
        gamma = _int(gamma, "gamma", 0, MAX_GAMMA)
    draft = raw.get("draft", d.draft)
    if draft is False or (isinstance(draft, str) and draft.lower() in ("none", "null", "")):
        draft = None  # TOML has no null: draft = "none" (or false) means plain decoding
    if isinstance(draft, str) and draft_shorthand(draft) is not None:
        draft = draft_shorthand(draft)  # draft: ngram / eagle / mtp / medusa / self:K
    scenario = Scenario(
        seed=_int(raw.get("seed", d.seed), "seed", 0),
        target=_card(raw.get("target", d.target), "target", ModelSpec),
        draft=None if draft is None else (parse_draft(draft) if isinstance(draft, Mapping)
                                          else _card(draft, "draft", ModelSpec)),
        gamma_policy=parse_policy(raw.get("gamma_policy")),
        hardware=_card(raw.get("hardware", d.hardware), "hardware", HardwareSpec),
        replicas=_int(raw.get("replicas", d.replicas), "replicas", 1, 100_000),
        max_batch=_int(raw.get("max_batch", d.max_batch), "max_batch", 1, 1_000_000),
        gamma=gamma,
        max_gamma=_int(raw.get("max_gamma", d.max_gamma), "max_gamma", 1, MAX_GAMMA),
        tp=_int(raw.get("tp", d.tp), "tp", 1, 4096),
        draft_tp=_int(raw.get("draft_tp", d.draft_tp), "draft_tp", 1, 4096),
        framework=None if raw.get("framework") is None else _str(raw["framework"], "framework"),
        dtype=None if raw.get("dtype") is None else _str(raw["dtype"], "dtype", tuple(DTYPE_BYTES)),
        draft_dtype=None if raw.get("draft_dtype") is None else _str(raw["draft_dtype"], "draft_dtype",
                                                                       tuple(DTYPE_BYTES)),
        router=_str(raw.get("router", d.router), "router", ROUTERS),
        draft_per_domain=_bool(raw.get("draft_per_domain", False), "draft_per_domain"),
        kv_reserve=_float(raw.get("kv_reserve", d.kv_reserve), "kv_reserve", 0.0, maximum=0.99),
        kv_tokens=None if raw.get("kv_tokens") is None else _float(raw["kv_tokens"], "kv_tokens", 1.0, maximum=1e15),
        prefill_chunk=_opt_int(raw, "prefill_chunk", 1),
        context_bucket=_int(raw.get("context_bucket", d.context_bucket), "context_bucket", 1, MAX_TOKENS),
        horizon_s=None if raw.get("horizon_s") is None else _float(raw["horizon_s"], "horizon_s", 0.0, True),
        workload=_workload(_mapping(raw.get("workload", {}), "workload")),
        acceptance=_acceptance(_mapping(raw.get("acceptance", {}), "acceptance")),
        online=_online(raw.get("online")),
        cost=_cost(raw.get("cost", {})),
        slo=_slo(raw.get("slo", {})),
        method=method,
        base_dir=str(base_dir),
    )
    if scenario.online is not None and scenario.draft is None:
        raise ValueError("online needs a draft (draft is null)")
    check_draft(scenario)
    if scenario.workload.arrival == "closed" and scenario.router != "round_robin" and scenario.replicas > 1:
        raise ValueError("router: closed-loop clients are spread round robin over the replicas; "
                         "least_outstanding is not supported with workload.arrival closed")
    if scenario.draft_tp > scenario.tp:
        raise ValueError(f"draft_tp must be <= tp ({scenario.tp}): the draft runs on the target's GPUs, "
                         f"got {scenario.draft_tp}")
    return scenario


def _card(value, path: str, kind):
    """A card name or path, a card object (the API's way to pass cards without files), or a
    mapping of card fields, usually ``{like: NAME, field: value}`` (what ``--set
    hardware.bandwidth_GBps=1500`` makes of ``hardware: NAME``)."""
    if isinstance(value, Mapping):
        from osdsim.specs import card_from_mapping

        card_kind = "hardware" if kind is HardwareSpec else "llm"
        return card_from_mapping(card_kind, dict(value), where=path)
    return value if isinstance(value, kind) else _str(value, path)


def _bool(value, path: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{path} must be true or false, got {short(value)}")
    return value
