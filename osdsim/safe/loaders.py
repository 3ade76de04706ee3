"""YAML, JSON and TOML text → Python data, with bounded depth and size.

YAML goes through a ``yaml.SafeLoader`` subclass that

- refuses nesting deeper than :data:`MAX_DEPTH` levels while composing (PyYAML's composer
  recurses; a few thousand ``[`` end in ``RecursionError``);
- counts the nodes a document would have with every alias expanded and refuses more than
  :data:`MAX_NODES`, or an alias inside itself, before anything is constructed (a 300-byte
  "billion laughs" is 9⁹ nodes once printed or serialised); aliases that expand to a reasonable
  size are fine;
- reads YAML 1.2 floats without a dot (``1e3``, ``2E-5``) as numbers, as YAML 1.2 and TOML
  do (YAML 1.1, PyYAML's default, reads them as strings).

JSON refuses ``NaN``/``Infinity`` (not JSON; osdsim never writes them) and deep nesting; TOML
refuses deep nesting. Every failure is an :class:`~osdsim.safe.numbers.InputError` naming ``where``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from osdsim.safe.numbers import InputError
from osdsim.safe.text import one_line

MAX_DEPTH = 64  # levels of nesting (aliases expanded)
MAX_NODES = 500_000  # nodes once every alias is expanded

_FLOAT_12 = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader with a depth limit while composing (see the module docstring)."""

    def __init__(self, stream, where: str, max_depth: int):
        super().__init__(stream)
        self._where, self._max_depth, self._depth = where, max_depth, 0

    def compose_node(self, parent, index):
        if self._depth >= self._max_depth:
            raise InputError(f"{self._where}: nested deeper than {self._max_depth} levels")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_BoundedLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789"))


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root, where: str, max_nodes: int, max_depth: int) -> None:
    """Refuse a node graph whose alias-expanded tree has more than ``max_nodes`` nodes, is deeper
    than ``max_depth`` or is infinite (an alias inside its own anchor). Iterative: the graph may
    be deep through chains of aliases."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, closing = stack.pop()
        key = id(node)
        kids = _children(node)
        if closing:
            open_.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > max_nodes:
                raise InputError(f"{where}: more than {max_nodes} values once its aliases are expanded "
                                 f"(an alias bomb?)")
            if depth[key] > max_depth:
                raise InputError(f"{where}: nested deeper than {max_depth} levels once its aliases are expanded")
            continue
        if key in size:
            continue
        open_.add(key)
        stack.append((node, True))
        for kid in kids:
            if id(kid) in open_:
                raise InputError(f"{where}: an alias refers to a value that contains it (infinite nesting)")
            if id(kid) not in size:
                stack.append((kid, False))


def load_yaml(text: str, where: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Any:
    """The one YAML document in ``text`` (None for an empty one), bounded as the module says;
    ``where`` (a file name, ``--set seed``) names the source in errors."""
    loader = _BoundedLoader(text, where, max_depth)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, where, max_nodes, max_depth)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        detail = f" ({one_line(problem, 120)})" if problem else ""
        raise InputError(f"{where}{line}: not valid YAML{detail}") from None
    except RecursionError:
        raise InputError(f"{where}: nested too deeply") from None
    finally:
        loader.dispose()


def check_depth(value: Any, where: str, max_depth: int = MAX_DEPTH) -> Any:
    """``value`` unchanged if its lists and mappings nest at most ``max_depth`` levels."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if level > max_depth:
                raise InputError(f"{where}: nested deeper than {max_depth} levels")
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return value


def _no_constant(name: str):
    raise InputError(f"{name} is not a number JSON allows")


def load_json(text: str | bytes, where: str, max_depth: int = MAX_DEPTH, allow_nan: bool = False) -> Any:
    """Parse JSON ``text``; nesting deeper than ``max_depth`` is refused, and so are ``NaN`` and
    ``Infinity`` unless ``allow_nan`` (Python's own files, written with ``json.dumps``' default)."""
    try:
        value = json.loads(text, parse_constant=None if allow_nan else _no_constant)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    except RecursionError:
        raise InputError(f"{where}: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    return check_depth(value, where, max_depth)


def load_toml(text: str, where: str, max_depth: int = MAX_DEPTH) -> dict:
    """Parse TOML ``text``; nesting deeper than ``max_depth`` is refused."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise InputError(f"{where}: nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML ({one_line(str(exc), 120)})") from None
    return check_depth(value, where, max_depth)
