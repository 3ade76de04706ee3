"""Predicted vs measured: replay traces through the cost model, analyse imported logs.

``workflow.check_trace`` is what ``osdsim validate`` computes; ``core`` replays a trace through a
cost model, ``simulated`` through the simulator, ``imported`` analyses imported logs, ``report``
holds the error statistics and ``synthetic`` makes test traces.
"""
