"""Scenario files (YAML or TOML) → frozen dataclasses, every field defaulted and checked.

The core fields are DESIGN.md's "Scenario files" contract; the rest are additions. An unknown or
bad field raises ``ValueError`` naming its dotted path (``workload.rate``). Relative file paths
(replay file, learning curves, empirical trace) resolve against the scenario file's folder.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from osdsim.specs import DTYPE_BYTES

ARRIVALS = ("poisson", "gamma", "constant", "replay")
ACCEPTANCE_MODELS = ("constant", "per_position", "empirical", "learning_curve")
# auto: the card's measured table (``osdsim calibrate``) where it has one and it applies (tensor
# parallelism 1, the card's dtype), the roofline elsewhere; measured: the same, and an error when
# it does not apply; roofline: the roofline only; constant: fixed seconds per forward.
COST_MODELS = ("auto", "roofline", "measured", "constant")
ROUTERS = ("round_robin", "least_outstanding")
DISTS = ("fixed", "uniform", "lognormal")
MAX_SCENARIO_BYTES = 1_000_000  # scenario files are small; refuse anything larger


@dataclass(frozen=True)
class LengthDist:
    """Token counts per request: fixed ``mean``; uniform integers in [low, high]; or lognormal
    with ``mean`` and coefficient of variation ``cv``. Draws are rounded to integers, and a draw
    below 1 becomes 1 (the only clipping; lognormal draws are positive so it is rare)."""

    dist: str = "fixed"
    mean: float = 128.0
    cv: float = 0.0
    low: int = 1
    high: int = 1


@dataclass(frozen=True)
class Schedule:
    """Which domain each request comes from: ``mix`` draws i.i.d. with ``weights`` (equal if
    empty); ``blocks`` serves ``block_records`` records of each domain in turn (the OSD paper's
    2,000-record blocks), cycling."""

    kind: str = "mix"
    weights: tuple[float, ...] = ()
    block_records: int = 2000


@dataclass(frozen=True)
class Workload:
    arrival: str = "poisson"  # poisson | gamma (gaps with coefficient of variation cv) | constant | replay
    rate: float = 2.0  # requests per second (whole cluster)
    cv: float = 1.0  # gamma arrivals: coefficient of variation of the gaps (1 = Poisson)
    file: str | None = None  # replay: CSV or JSONL with arrival_s, prompt_tokens, output_tokens[, domain]
    num_requests: int | None = 1000
    duration_s: float | None = None  # instead of num_requests: arrivals in [0, duration_s)
    prompt_tokens: LengthDist = LengthDist(mean=128.0)
    output_tokens: LengthDist = LengthDist(mean=128.0)
    domains: tuple[str, ...] = ("default",)
    schedule: Schedule = Schedule()


@dataclass(frozen=True)
class AcceptanceSpec:
    model: str = "constant"
    alpha: float = 0.7  # constant: α for every domain not in by_domain
    by_domain: Mapping[str, float] = field(default_factory=dict)  # constant: α per domain
    alphas: tuple[float, ...] = ()  # per_position: α_1..α_k
    trace: str | None = None  # empirical: a trace JSONL, or a CSV with domain, gamma, accepted
    curves: str | None = None  # learning_curve: path to a <trace>.curves.json
    domains: Mapping[str, Any] | None = None  # learning_curve: inline curves per domain


@dataclass(frozen=True)
class Online:
    update_interval: int = 8  # I: records between draft updates (OSD's online scripts use 8)
    mode: str = "spare"  # spare: rides in idle FLOPs | exclusive: takes the replica
    interference: float = 0.1  # spare mode: serving steps run this fraction slower during an update
    buffer_size: int = 100_000  # most mismatched positions kept for one update (oldest dropped)
    loss: str = "fkl"  # informational: the learning curve measured with this loss
    lr: float = 1e-4  # informational, as above (OSD online runs: AdamW, lr 1e-4)


@dataclass(frozen=True)
class CostSpec:
    model: str = "auto"  # auto | roofline | measured | constant (see COST_MODELS)
    forward_s: Mapping[str, float] = field(default_factory=dict)  # constant: seconds per forward by model
    capacity_flops_per_s: float = 1e15  # constant: the spare-compute ceiling
    update_s_per_token: float = 0.0  # constant: update seconds per buffered token


@dataclass(frozen=True)
class Slo:
    ttft_s: float = math.inf
    tpot_s: float = math.inf


@dataclass(frozen=True)
class Scenario:
    seed: int = 0
    target: str = "vicuna-7b-v1.3"
    draft: str | None = "llama-160m"  # None (TOML: "none" or false): plain decoding
    hardware: str = "a100-80g"
    replicas: int = 1
    max_batch: int = 64
    gamma: int | str = 5  # an integer, or "goodput" (per-step γ maximising expected tokens/s)
    max_gamma: int = 8  # goodput policy searches 0..max_gamma
    tp: int = 1
    dtype: str | None = None  # None: the card's default dtype
    router: str = "round_robin"
    draft_per_domain: bool = False  # one draft (and distiller) per domain on each replica
    kv_reserve: float = 0.1  # fraction of memory kept off the KV cache (vLLM's 0.9 utilisation)
    kv_tokens: float | None = None  # override the KV capacity (tokens per replica)
    prefill_chunk: int | None = None  # chunked prefill: prompt tokens per iteration (None: whole prompts)
    context_bucket: int = 16  # mean context rounded to this many tokens when pricing (cache hits)
    horizon_s: float | None = None  # stop the clock here; requests still in flight are unfinished
    workload: Workload = Workload()
    acceptance: AcceptanceSpec = AcceptanceSpec()
    online: Online | None = None
    cost: CostSpec = CostSpec()
    slo: Slo = Slo()
    base_dir: str = "."  # folder relative paths resolve against (not a file field)

    @property
    def speculative(self) -> bool:
        return self.draft is not None and self.gamma != 0

    def resolve(self, path: str) -> str:
        p = Path(path)
        return str(p if p.is_absolute() or p.exists() else Path(self.base_dir) / p)

    def plain(self) -> Scenario:
        """The same workload and seed, decoded without a draft (the baseline)."""
        return replace(self, draft=None, gamma=0, online=None)


# ---------------------------------------------------------------- parsing helpers


def _int(value, path: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"{path} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{path} must be >= {minimum}, got {value!r}")
    return int(value)


def _float(value, path: str, minimum: float = 0.0, strict: bool = False, maximum: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{path} must be a number, got {value!r}")
    value = float(value)
    if value < minimum or (strict and value == minimum) or value > maximum:
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ValueError(f"{path} must be {bound}" + (f" and <= {maximum}" if maximum < math.inf else "")
                         + f", got {value!r}")
    return value


def _str(value, path: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{path} must be a non-empty string, got {value!r}")
    if choices and value not in choices:
        raise ValueError(f"{path} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _mapping(value, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValueError(f"{path} must be a mapping, got {value!r}")
    return value


def _check_keys(raw: Mapping, cls, path: str, extra: tuple[str, ...] = ()) -> None:
    allowed = {f.name for f in fields(cls)} | set(extra)
    for key in raw:
        if key not in allowed or key == "base_dir":
            where = f"{path}.{key}" if path else str(key)
            raise ValueError(f"{where} is not a scenario field")


def _length(value, path: str) -> LengthDist:
    if not isinstance(value, Mapping):
        mean = _float(value, path, 1.0)
        return LengthDist("fixed", mean)
    _check_keys(value, LengthDist, path, extra=("value",))
    dist = _str(value.get("dist", "fixed"), f"{path}.dist", DISTS)
    if dist == "uniform":
        low = _int(value.get("low", 1), f"{path}.low", 1)
        high = _int(value.get("high", low), f"{path}.high", low)
        return LengthDist(dist, (low + high) / 2.0, 0.0, low, high)
    mean = _float(value.get("mean", value.get("value", 128)), f"{path}.mean", 1.0)
    cv = _float(value.get("cv", 0.0), f"{path}.cv") if dist == "lognormal" else 0.0
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
    if len(set(domains)) != len(domains):
        raise ValueError("workload.domains must not repeat a name")
    out = Workload(
        arrival=arrival,
        rate=_float(raw.get("rate", w.rate), "workload.rate", 0.0, strict=True),
        cv=_float(raw.get("cv", w.cv), "workload.cv", 0.0, strict=True),
        file=None if raw.get("file") is None else _str(raw["file"], "workload.file"),
        num_requests=None if num is None else _int(num, "workload.num_requests", 1),
        duration_s=None if raw.get("duration_s") is None else _float(raw["duration_s"], "workload.duration_s", 0, True),
        prompt_tokens=_length(raw.get("prompt_tokens", 128), "workload.prompt_tokens"),
        output_tokens=_length(raw.get("output_tokens", 128), "workload.output_tokens"),
        domains=tuple(domains),
        schedule=_schedule(raw.get("schedule", "mix"), len(domains)),
    )
    if arrival == "replay" and out.file is None:
        raise ValueError("workload.file is required when workload.arrival is replay")
    if arrival != "replay" and out.num_requests is None and out.duration_s is None:
        raise ValueError("workload.num_requests or workload.duration_s must be given")
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
    if not isinstance(alphas, list):
        raise ValueError("acceptance.alphas must be a list of probabilities")
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
        interference=_float(raw.get("interference", o.interference), "online.interference"),
        buffer_size=_int(raw.get("buffer_size", o.buffer_size), "online.buffer_size", 1),
        loss=_str(raw.get("loss", o.loss), "online.loss"),
        lr=_float(raw.get("lr", o.lr), "online.lr", 0.0, strict=True),
    )


def _cost(raw) -> CostSpec:
    if isinstance(raw, str):
        raw = {"model": raw}
    raw = _mapping(raw, "cost")
    _check_keys(raw, CostSpec, "cost")
    model = _str(raw.get("model", "auto"), "cost.model", COST_MODELS)
    times = {str(k): _float(v, f"cost.forward_s.{k}", 0.0, strict=True)
             for k, v in _mapping(raw.get("forward_s", {}), "cost.forward_s").items()}
    if model == "constant" and not times:
        raise ValueError("cost.forward_s must give seconds per forward for each model of a constant cost")
    return CostSpec(model, times,
                    _float(raw.get("capacity_flops_per_s", 1e15), "cost.capacity_flops_per_s", 0.0, strict=True),
                    _float(raw.get("update_s_per_token", 0.0), "cost.update_s_per_token"))


def _slo(raw) -> Slo:
    raw = _mapping(raw, "slo")
    _check_keys(raw, Slo, "slo")
    return Slo(_float(raw.get("ttft_s", math.inf), "slo.ttft_s", 0.0, strict=True),
               _float(raw.get("tpot_s", math.inf), "slo.tpot_s", 0.0, strict=True))


def _opt_int(raw, key, minimum):
    return None if raw.get(key) is None else _int(raw[key], key, minimum)


def parse_scenario(raw: Mapping, base_dir: str = ".") -> Scenario:
    """Validate a scenario mapping (as read from YAML/TOML) into a :class:`Scenario`."""
    raw = _mapping(raw, "scenario")
    _check_keys(raw, Scenario, "")
    d = Scenario()
    gamma = raw.get("gamma", d.gamma)
    if gamma != "goodput":
        if isinstance(gamma, str):
            raise ValueError(f"gamma must be an integer or 'goodput', got {gamma!r}")
        gamma = _int(gamma, "gamma", 0)
    draft = raw.get("draft", d.draft)
    if draft is False or (isinstance(draft, str) and draft.lower() in ("none", "null", "")):
        draft = None  # TOML has no null: draft = "none" (or false) means plain decoding
    scenario = Scenario(
        seed=_int(raw.get("seed", d.seed), "seed", 0),
        target=_str(raw.get("target", d.target), "target"),
        draft=None if draft is None else _str(draft, "draft"),
        hardware=_str(raw.get("hardware", d.hardware), "hardware"),
        replicas=_int(raw.get("replicas", d.replicas), "replicas", 1),
        max_batch=_int(raw.get("max_batch", d.max_batch), "max_batch", 1),
        gamma=gamma,
        max_gamma=_int(raw.get("max_gamma", d.max_gamma), "max_gamma", 1),
        tp=_int(raw.get("tp", d.tp), "tp", 1),
        dtype=None if raw.get("dtype") is None else _str(raw["dtype"], "dtype", tuple(DTYPE_BYTES)),
        router=_str(raw.get("router", d.router), "router", ROUTERS),
        draft_per_domain=_bool(raw.get("draft_per_domain", False), "draft_per_domain"),
        kv_reserve=_float(raw.get("kv_reserve", d.kv_reserve), "kv_reserve", 0.0, maximum=0.99),
        kv_tokens=None if raw.get("kv_tokens") is None else _float(raw["kv_tokens"], "kv_tokens", 1.0),
        prefill_chunk=_opt_int(raw, "prefill_chunk", 1),
        context_bucket=_int(raw.get("context_bucket", d.context_bucket), "context_bucket", 1),
        horizon_s=None if raw.get("horizon_s") is None else _float(raw["horizon_s"], "horizon_s", 0.0, True),
        workload=_workload(_mapping(raw.get("workload", {}), "workload")),
        acceptance=_acceptance(_mapping(raw.get("acceptance", {}), "acceptance")),
        online=_online(raw.get("online")),
        cost=_cost(raw.get("cost", {})),
        slo=_slo(raw.get("slo", {})),
        base_dir=str(base_dir),
    )
    if scenario.online is not None and scenario.draft is None:
        raise ValueError("online needs a draft (draft is null)")
    return scenario


def _bool(value, path: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{path} must be true or false, got {value!r}")
    return value


def read_scenario_file(path: str | os.PathLike) -> dict:
    """The raw mapping of a YAML (``.yaml``/``.yml``) or TOML (``.toml``) scenario file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"scenario file {path} does not exist")
    if path.stat().st_size > MAX_SCENARIO_BYTES:
        raise ValueError(f"{path}: scenario file is larger than {MAX_SCENARIO_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from None
    else:
        import yaml

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a scenario must be a mapping of fields")
    return raw


def apply_overrides(raw: Mapping, overrides: list[str] | tuple[str, ...] | Mapping[str, Any]) -> dict:
    """Apply ``key.path=value`` overrides (values parsed as YAML scalars) to a raw mapping."""
    import copy

    import yaml

    out = copy.deepcopy(dict(raw))
    items = overrides.items() if isinstance(overrides, Mapping) else [_split(o) for o in overrides]
    for key, value in items:
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip() else value
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return out


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set expects key=value, got {item!r}")
    return key.strip(), value


def load_scenario(source: str | os.PathLike | Mapping | Scenario, overrides=(), base_dir: str = ".") -> Scenario:
    """A :class:`Scenario` from a file path, a raw mapping, or a Scenario (returned as is).

    Relative paths inside a mapping resolve against ``base_dir`` (a file's own folder otherwise).
    """
    if isinstance(source, Scenario):
        if overrides:
            raise ValueError("overrides apply to a file or mapping, not to a Scenario object")
        return source
    if isinstance(source, Mapping):
        return parse_scenario(apply_overrides(source, overrides), str(base_dir))
    path = Path(source)
    return parse_scenario(apply_overrides(read_scenario_file(path), overrides), str(path.parent))
