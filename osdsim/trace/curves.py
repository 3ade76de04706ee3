"""The learning-curves sidecar of a run trace, ``<trace>.curves.json``: its path, text and reader.

The curves are fitted by :func:`osdsim.calibrate.curves.fit_learning_curves`; the mapping is::

    {"form": "exp", "unit": "records",
     "domains": {"<domain>": {"alpha0": f, "alpha_inf": f, "scale": f, "points": int}}}

(:class:`osdsim.acceptance.LearningCurveAcceptance` reads it.)
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from osdsim.safe.loaders import load_json
from osdsim.safe.numbers import InputError


def curves_path(trace_path: str | os.PathLike) -> str:
    return f"{os.fspath(trace_path)}.curves.json"


def curves_json(curves: dict[str, Any]) -> str:
    """The JSON text of ``curves`` (non-finite numbers as null)."""
    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return json.dumps(clean(curves), indent=2) + "\n"


def read_curves(path: str | os.PathLike) -> dict[str, Any]:
    """The curves mapping of a ``.curves.json`` file (ValueError if it is not valid JSON)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:  # bounded: NaN/Infinity and deep nesting are refused
        return load_json(text, os.fspath(path))
    except InputError as exc:
        raise ValueError(f"not a learning-curves JSON file: {exc}") from None
