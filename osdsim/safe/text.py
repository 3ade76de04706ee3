"""Bounded text for error messages: a value is quoted by a short prefix, never in full.

A value read from a hostile file can be enormous (a YAML alias bomb expands to billions of
nodes when printed), so messages never use ``{value!r}`` directly: :func:`short` walks at most a
few levels and items and cuts the result.
"""

from __future__ import annotations

import reprlib

MAX_QUOTE = 60  # characters of a value quoted in an error message
MAX_MESSAGE = 400  # characters of a whole one-line message

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
for _name in ("maxtuple", "maxlist", "maxarray", "maxdict", "maxset", "maxfrozenset", "maxdeque"):
    setattr(_REPR, _name, 4)
_REPR.maxstring = MAX_QUOTE
_REPR.maxlong = 24
_REPR.maxother = MAX_QUOTE


def short(value, limit: int = MAX_QUOTE) -> str:
    """``repr(value)`` bounded in depth, items and characters (``'abc…'`` past ``limit``)."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()  # np.float64(nan) -> nan
    try:
        text = _REPR.repr(value)
    except Exception:  # a hostile __repr__: name the type only
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message`` on one line (whitespace runs folded), cut at ``limit`` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
