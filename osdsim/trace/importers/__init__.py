"""Importers: external speculative-decoding logs (vLLM, llama.cpp) → osdsim traces.

``import_log(kind, path)`` reads a log into an :class:`ImportResult` (aggregate rows and a count
of every line: parsed, unreadable, other); ``trace_lines(result)`` turns it into the meta line and
``aggregate`` lines of a trace (``osdsim/trace/SCHEMA.md``). Only stdlib here: deriving
Leviathan's α, τ and speedups from an import is ``osdsim.validate.imported`` (it needs the cost
model, a layer above the trace).
"""

from __future__ import annotations

import os
from typing import Any

from osdsim.trace.importers.common import (
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    ImportResult,
    LogImportError,
    read_log_lines,
    split_lines,
)
from osdsim.trace.importers.llamacpp import ALPHA_DEFINITION as _LLAMACPP_DEFS
from osdsim.trace.importers.llamacpp import parse_llamacpp
from osdsim.trace.importers.vllm import ALPHA_DEFINITION as _VLLM_DEFS
from osdsim.trace.importers.vllm import parse_vllm

PARSERS = {"vllm": parse_vllm, "llamacpp": parse_llamacpp}
ALPHA_DEFINITIONS = {**_VLLM_DEFS, **_LLAMACPP_DEFS}

__all__ = [
    "ALPHA_DEFINITIONS", "MAX_FILE_BYTES", "MAX_LINE_BYTES", "PARSERS", "ImportResult",
    "LogImportError", "import_log", "import_text", "parse_llamacpp", "parse_vllm", "trace_lines",
]


def _parser(kind: str):
    try:
        return PARSERS[kind]
    except KeyError:
        raise LogImportError(f"unknown log kind {kind!r}; known: {', '.join(PARSERS)}") from None


def import_log(kind: str, path: str | os.PathLike) -> ImportResult:
    """Parse the log at ``path`` as ``kind`` ("vllm" or "llamacpp").

    Raises :class:`LogImportError` (a ValueError) if the file is missing, over
    :data:`MAX_FILE_BYTES`, or has no readable line; nothing else for any file content.
    """
    parse = _parser(kind)
    return parse(read_log_lines(path), os.fspath(path))


def import_text(kind: str, text: str | bytes, name: str = "<text>") -> ImportResult:
    """Like :func:`import_log` on in-memory text (tests, pipes)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if len(data) > MAX_FILE_BYTES:
        raise LogImportError(f"{name}: text is over the {MAX_FILE_BYTES}-byte limit")
    return _parser(kind)(split_lines(data), name)


def trace_lines(result: ImportResult, **meta: Any) -> list[dict[str, Any]]:
    """The trace of an import: a meta line, then one ``aggregate`` line per row (no ``type`` keys).

    Returns ``[meta_fields, aggregate_fields, ...]``; the CLI writes them with ``TraceWriter``.
    ``meta`` adds fields (target, draft, hardware names) to the meta line.
    """
    from osdsim.trace.io import new_meta

    formats = sorted(result.formats)
    gammas = sorted({row["gamma"] for row in result.aggregates if row.get("gamma")})
    head = new_meta(source=f"import:{result.kind}", imported_from=result.path, mode="imported",
                    formats=formats, gamma=gammas[0] if len(gammas) == 1 else None,
                    alpha_definition={f: ALPHA_DEFINITIONS[f] for f in formats},
                    import_report={k: v for k, v in result.report().items() if k != "unreadable_examples"},
                    **meta)
    rows = [{k: v for k, v in row.items() if v is not None} for row in result.aggregates]
    for row in rows:
        row.setdefault("emitted", None)  # required by the schema; null where the source lacks it
    return [head, *rows]
