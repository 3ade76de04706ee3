"""The replica engine: iteration-level continuous batching with speculative steps.

One ``serve`` generator per replica admits waiting requests (FIFO, within ``max_batch`` and the
KV-cache capacity), then runs one iteration: a prefill, a speculative step for the running batch,
or both fused (chunked prefill); γ = 0 is plain decoding. Events are per iteration and per
arrival, never per token.

The engine is split by concept, and this module gathers its names:

- :mod:`osdsim.sim.replica`: one replica's state (:class:`Replica`: queue, KV use, the running
  batch's state matrix with columns ``Y``, ``SCALE``, ``START``, ``ID``, ``DOM``, acceptance
  sampling and the γ policy, online updates);
- :mod:`osdsim.sim.loop`: the serving loop (:func:`serve`, :class:`IdleWait`);
- :mod:`osdsim.sim.routing`: the clocks and the router (:func:`run_alone` for round robin,
  :func:`simpy_replica` and :func:`dispatcher` for least outstanding).
"""

from __future__ import annotations

from osdsim.sim.loop import CLIP_SCALE, IdleWait, serve
from osdsim.sim.replica import COLS, DOM, EXP_BLOCK, ID, SCALE, START, Replica, Y
from osdsim.sim.routing import dispatcher, run_alone, simpy_replica

__all__ = ["CLIP_SCALE", "COLS", "DOM", "EXP_BLOCK", "ID", "SCALE", "START", "Y", "IdleWait", "Replica",
           "dispatcher", "run_alone", "serve", "simpy_replica"]
