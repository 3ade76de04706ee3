"""Numbers from files and command lines: finite, in range, of the right type.

``float("nan")``, YAML's ``.inf`` and JSON's ``NaN`` are all valid Python floats, and a string
can stand where a number belongs; every reader checks its numbers here so that a bad one is one
sentence naming the field, never an ``OverflowError``, a ``TypeError`` or a silent NaN result.
"""

from __future__ import annotations

import argparse
import math
import numbers

from osdsim.safe.text import short


class InputError(ValueError):
    """Bad input (a file, a field, an option): the message is one sentence naming what and where."""


def _num(value) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else f"{value:g}"


def _bound(minimum, maximum, strict: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if strict else '>='} {_num(minimum)}")
    if maximum is not None:
        parts.append(f"<= {_num(maximum)}")
    return " and ".join(parts)


def check_number(value, name: str, *, minimum: float | None = None, maximum: float | None = None,
                 strict: bool = False, integer: bool = False, allow_inf: bool = False):
    """``value`` as a float (``integer``: an int) if it is a real number (not a bool, not a string),
    not NaN, finite unless ``allow_inf``, and within [``minimum``, ``maximum``] (``strict``: above
    ``minimum``); else :class:`InputError` naming ``name``."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be {kind}, got {short(value)}")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and (integer or not allow_inf)):
        raise InputError(f"{name} must be a finite number, got {short(value)}")
    if integer and number != math.floor(number):
        raise InputError(f"{name} must be an integer, got {short(value)}")
    low_bad = minimum is not None and (number < minimum or (strict and number == minimum))
    if low_bad or (maximum is not None and number > maximum):
        raise InputError(f"{name} must be {_bound(minimum, maximum, strict)}, got {short(value)}")
    return int(value) if integer else number


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int in [``minimum``, ``maximum``] (a float with no fraction counts)."""
    return check_number(value, name, minimum=minimum, maximum=maximum, integer=True)


def finite_float(text: str) -> float:
    """An argparse ``type``: a float that is neither NaN nor infinite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {short(text)}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {short(text)}")
    return value


def int_range(minimum: int | None = None, maximum: int | None = None):
    """An argparse ``type``: an integer within [``minimum``, ``maximum``]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {short(text)}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {_bound(minimum, maximum, False)}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def float_range(minimum: float | None = None, maximum: float | None = None, strict: bool = False):
    """An argparse ``type``: a finite float within [``minimum``, ``maximum``] (``strict``: above ``minimum``)."""

    def parse(text: str) -> float:
        value = finite_float(text)
        if (minimum is not None and (value < minimum or (strict and value == minimum))) or (
                maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {_bound(minimum, maximum, strict)}, got {value:g}")
        return value

    parse.__name__ = "float"
    return parse
