"""Figures: DataFrames in, matplotlib Figures out, no computation and no file writes.

Submodules import matplotlib when imported; ``import osdsim.plots`` alone does not.
"""
