"""Figures: DataFrames in, matplotlib Figures out, no computation; the only file writer is
``style.save``, which the CLI calls.

Submodules import matplotlib when imported; ``import osdsim.plots`` alone does not.
"""
