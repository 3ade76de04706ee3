"""Predicted vs measured: replay traces through the cost model, analyse imported logs."""
