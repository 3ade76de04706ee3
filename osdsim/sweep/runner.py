"""Run a sweep's points through an evaluator, on local processes or on Ray.

Both backends evaluate the same pure function of (base scenario, overrides), so they return the
same rows; rows come back sorted by point index whatever order they finished in. ``on_row`` sees
each row as it finishes (the CLI appends it to a journal, which is how a sweep resumes).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable

from osdsim.safe.procs import die_with_parent, stop_pool
from osdsim.sim.scenario_files import apply_overrides
from osdsim.sweep.grid import ALIASES, point_id


def _flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def simulate_evaluator(scenario: dict, baseline: bool = True, base_dir: str = ".") -> dict:
    """Run the simulator on a scenario dict; the summary, flattened (baseline.* for the baseline),
    with the service metrics of :func:`osdsim.sim.metrics.service_metrics` (p50/p90/p95/p99 of
    TTFT, TPOT, ITL and latency; served rate and queue growth).

    ``base_dir`` is the scenario file's folder, which its relative paths (curves, traces) resolve against.
    """
    from osdsim.sim import load_scenario, simulate
    from osdsim.sim.metrics import service_metrics

    result = simulate(load_scenario(scenario, base_dir=base_dir), baseline=baseline)
    summary = {**result.summary, **service_metrics(result)}
    out: dict = {}
    _flatten("", summary, out)
    return out


def roofline_evaluator(scenario: dict, base_dir: str = ".") -> dict:
    """Batch-aware roofline speedup of a scenario's pair at its max_batch (no queue): fast what-ifs.

    Fields and defaults come from the scenario parser, so a sweep means the same thing here as
    in the simulator; α is the constant model's, the context the mean prompt length.
    """
    from osdsim import cost
    from osdsim.sim import load_scenario
    from osdsim.specs import load_hardware, load_model

    sc = load_scenario(scenario, base_dir=base_dir)
    if sc.draft is None:
        raise ValueError("the roofline evaluator needs a draft (draft is null)")
    target, draft, hw = load_model(sc.target), load_model(sc.draft), load_hardware(sc.hardware)
    alpha, context, batch = sc.acceptance.alpha, sc.workload.prompt_tokens.mean, sc.max_batch
    best_g, best_s = cost.optimal_gamma_at_batch(alpha, target, draft, hw, batch, context, sc.dtype, sc.tp)
    gamma = best_g if sc.gamma == "goodput" else int(sc.gamma)
    return {"speedup": float(cost.spec_speedup(alpha, target, draft, hw, batch, gamma, context, sc.dtype, sc.tp)),
            "tau": float(cost.tau(alpha, gamma)), "optimal_gamma": int(best_g), "optimal_speedup": float(best_s),
            "step_s": float(cost.spec_step_time(target, draft, hw, batch, gamma, context, sc.dtype, sc.tp))}


EVALUATORS: dict[str, Callable[[dict], dict]] = {
    "simulate": simulate_evaluator,
    "roofline": roofline_evaluator,
}


def evaluate_point(base: dict, overrides: dict, evaluator: str = "simulate", index: int = 0,
                   base_dir: str = ".") -> dict:
    """One row: index, point id, the overrides, the full config (JSON) and the evaluator's outputs."""
    if evaluator not in EVALUATORS:
        raise ValueError(f"unknown evaluator {evaluator!r}; known: {', '.join(EVALUATORS)}")
    scenario = apply_overrides(base, overrides, aliases=ALIASES)
    result = EVALUATORS[evaluator](scenario, base_dir=base_dir)
    row = {"index": index, "point_id": point_id(overrides), **overrides}
    # NaN (e.g. the baseline's mean_alpha) becomes None: rows compare equal and journal as JSON.
    row.update({k: None if isinstance(v, float) and math.isnan(v) else v for k, v in result.items()})
    row["config"] = json.dumps(scenario, sort_keys=True, default=str)
    return row  # no wall-clock fields: the same point gives the same row on every backend


def _evaluate_star(task):
    return evaluate_point(*task)


class Progress:
    """A dependency-free progress line on stderr (only when stderr is a terminal, unless forced)."""

    def __init__(self, total: int, enabled: bool | None = None, label: str = "sweep"):
        self.total, self.done, self.label = total, 0, label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.perf_counter()

    def step(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        elapsed = max(1e-9, time.perf_counter() - self.started)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        width = 30
        fill = int(width * self.done / max(1, self.total))
        sys.stderr.write(f"\r{self.label} [{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
                         f"{rate:.1f} pts/s, {elapsed:.0f} s elapsed, ETA {left:.0f} s ")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run_sweep(base: dict, points: list[dict], *, evaluator: str = "simulate", backend: str = "local",
              workers: int | None = None, address: str | None = None, skip_ids: Iterable[str] = (),
              on_row: Callable[[dict], None] | None = None, progress: bool | None = None,
              base_dir: str = ".") -> list[dict]:
    """Evaluate ``points`` (override dicts) on ``base``; returns the new rows sorted by index.

    Points whose id is in ``skip_ids`` (finished in an earlier, interrupted run) are not recomputed.
    """
    skip = set(skip_ids)
    tasks = [(base, p, evaluator, i, base_dir) for i, p in enumerate(points) if point_id(p) not in skip]
    bar = Progress(len(tasks), progress)
    rows: list[dict] = []

    def collect(row: dict) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)
        bar.step()

    if backend == "local":
        _run_local(tasks, workers, collect)
    elif backend == "ray":
        _run_ray(tasks, workers, address, collect)
    else:
        raise ValueError(f"unknown backend {backend!r}; use local or ray")
    return sorted(rows, key=lambda r: r["index"])


def _run_local(tasks, workers, collect) -> None:
    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            collect(_evaluate_star(task))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # fork would copy a parent that may hold threads (Ray, BLAS); spawn is safe and deterministic.
    # Workers die with this process, even when it is killed (osdsim.safe.procs.die_with_parent).
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        futures = [pool.submit(_evaluate_star, t) for t in tasks]
        for future in as_completed(futures):
            collect(future.result())
    except BaseException:  # a failed point, Ctrl-C or SIGTERM: stop every worker now, not after the queue
        stop_pool(pool)
        raise
    pool.shutdown()


RAY_CONNECT_TIMEOUT_S = 10.0


def check_reachable(address: str, timeout_s: float = RAY_CONNECT_TIMEOUT_S) -> None:
    """One sentence, within ``timeout_s``, when nothing listens at a Ray ``address`` (HOST:PORT or
    ray://HOST:PORT; "auto" and "local" are Ray's own and pass)."""
    import socket

    if address in ("auto", "local"):
        return
    host, sep, port = address.split("://", 1)[-1].rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--address must be HOST:PORT or ray://HOST:PORT, got {address[:80]!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ValueError(f"cannot reach the Ray cluster at {address[:80]} within {timeout_s:g} s "
                         f"({exc.strerror or exc}); is it running?") from None


def _run_ray(tasks, workers, address, collect) -> None:
    try:
        import ray
    except ImportError:
        raise ValueError("the ray backend needs Ray: pip install 'osdsim[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        kwargs = {"include_dashboard": False, "log_to_driver": False}
        if address:
            check_reachable(address)  # ray.init retries an unreachable address for minutes
            kwargs["address"] = address
        elif workers:
            kwargs["num_cpus"] = workers
        ray.init(**kwargs)
    try:
        remote = ray.remote(_evaluate_star)
        pending = [remote.remote(t) for t in tasks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            collect(ray.get(done[0]))
    finally:
        if started_here:
            ray.shutdown()
