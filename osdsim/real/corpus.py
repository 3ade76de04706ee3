"""Text for osdsim's small models, found or generated on every machine (no downloads).

Four domains stand in for the OSD paper's datasets:
- ``code``: the Python standard library's own .py files (like Code-Search-Net Python);
- ``prose``: their docstrings and comments (English prose about code);
- ``sql``: SQL queries answering questions over a few made-up schemas (like Spider);
- ``math``: arithmetic word problems with worked answers (like GSM8K).
Everything is deterministic for a seed; files are split into train/eval by a hash of their path.
"""

from __future__ import annotations

import ast
import hashlib
import io
import random
import sysconfig
import tokenize
from functools import lru_cache
from pathlib import Path

DOMAINS = ("code", "prose", "sql", "math")


def _is_eval(path: str) -> bool:
    return hashlib.sha256(path.encode()).digest()[0] < 26  # ~10% of files held out


@lru_cache(maxsize=2)
def stdlib_files(max_bytes: int = 200_000) -> tuple[str, ...]:
    """The stdlib's .py files (tests and site-packages excluded), sorted, each under max_bytes."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).as_posix()
        if "site-packages" in rel or "/test" in f"/{rel}" or "idle_test" in rel:
            continue
        try:
            if p.stat().st_size <= max_bytes:
                out.append(str(p))
        except OSError:
            continue
    return tuple(out)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def prose_of(source: str) -> list[str]:
    """Docstrings and comment blocks of one Python source, as paragraphs."""
    parts = []
    try:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 40:
                    parts.append(doc)
        comments, block = [], []
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT and not tok.string.startswith("#!"):
                block.append(tok.string.lstrip("#").strip())
            elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                if len(" ".join(block)) > 40:
                    comments.append(" ".join(block))
                block = []
        parts += comments
    except (SyntaxError, tokenize.TokenError, ValueError):
        pass
    return parts


def file_texts(domain: str, split: str, max_chars: int) -> list[str]:
    """Texts of ``code`` or ``prose`` from the stdlib files of ``split`` ("train" or "eval")."""
    out, total = [], 0
    for path in stdlib_files():
        if _is_eval(path) != (split == "eval"):
            continue
        source = _read(path)
        texts = [source] if domain == "code" else prose_of(source)
        for t in texts:
            out.append(t)
            total += len(t)
        if total >= max_chars:
            break
    return out


# --- synthetic SQL (Spider-like) -----------------------------------------------------------

SCHEMAS = {
    "singer": ("singer_id", "name", "country", "age", "song_name", "sales"),
    "concert": ("concert_id", "concert_name", "theme", "stadium_id", "year"),
    "stadium": ("stadium_id", "location", "name", "capacity", "highest", "average"),
    "employee": ("employee_id", "name", "department", "salary", "hire_year", "city"),
    "orders": ("order_id", "customer_id", "product", "quantity", "price", "order_year"),
    "student": ("student_id", "name", "major", "gpa", "enroll_year", "advisor"),
}
NUMERIC = {"age", "sales", "year", "capacity", "highest", "average", "salary", "hire_year",
           "quantity", "price", "order_year", "gpa", "enroll_year"}


def sql_example(rng: random.Random) -> tuple[str, str]:
    """(prompt, answer): a schema comment and a question, then the SQL answer."""
    table = rng.choice(sorted(SCHEMAS))
    cols = SCHEMAS[table]
    nums = [c for c in cols if c in NUMERIC]
    texts = [c for c in cols if c not in NUMERIC and not c.endswith("_id")]
    num, txt = rng.choice(nums), rng.choice(texts)
    v = rng.randint(1, 99) * (100 if num in ("salary", "capacity", "sales") else 1)
    op, word = rng.choice([(">", "greater than"), ("<", "less than"), ("=", "equal to")])
    kind = rng.randrange(5)
    if kind == 0:
        q, a = f"How many {table} rows have {num} {word} {v}?", \
            f"SELECT COUNT(*) FROM {table} WHERE {num} {op} {v};"
    elif kind == 1:
        q, a = f"List the {txt} of every {table} ordered by {num}.", \
            f"SELECT {txt} FROM {table} ORDER BY {num} DESC;"
    elif kind == 2:
        agg = rng.choice(["AVG", "MAX", "MIN", "SUM"])
        q, a = f"What is the {agg.lower()} {num} for each {txt}?", \
            f"SELECT {txt}, {agg}({num}) FROM {table} GROUP BY {txt};"
    elif kind == 3:
        q, a = f"Show the {txt} and {num} of {table} with {num} {word} {v}.", \
            f"SELECT {txt}, {num} FROM {table} WHERE {num} {op} {v};"
    else:
        q, a = f"Which {txt} has the most {table} entries?", \
            f"SELECT {txt} FROM {table} GROUP BY {txt} ORDER BY COUNT(*) DESC LIMIT 1;"
    schema = f"-- table {table}({', '.join(cols)})"
    return f"{schema}\n-- question: {q}\n", f"{a}\n"


# --- synthetic arithmetic word problems (GSM8K-like) -----------------------------------------

NAMES = ("Ava", "Ben", "Chloe", "Dan", "Emma", "Finn", "Grace", "Hugo", "Iris", "Jack")
ITEMS = ("apples", "books", "coins", "marbles", "pencils", "stickers", "cookies", "shells")


def math_example(rng: random.Random) -> tuple[str, str]:
    """(prompt, answer): a two-step word problem, then its worked answer ending in '#### n'."""
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b, c = rng.randint(2, 60), rng.randint(2, 40), rng.randint(2, 9)
    kind = rng.randrange(3)
    if kind == 0:
        q = f"{name} has {a} {item}. {name} buys {b} more and then gives away {c}. " \
            f"How many {item} does {name} have now?"
        s1, s2 = a + b, a + b - c
        w = f"{name} has {a} + {b} = {s1} {item}. After giving away {c}, {s1} - {c} = {s2}."
    elif kind == 1:
        q = f"{name} packs {c} boxes with {b} {item} each and finds {a} more. " \
            f"How many {item} are there in total?"
        s1, s2 = b * c, b * c + a
        w = f"The boxes hold {c} * {b} = {s1} {item}. Adding {a} gives {s1} + {a} = {s2}."
    else:
        total = a * c
        q = f"{name} shares {total} {item} equally among {c} friends and keeps {b} extra. " \
            f"How many {item} does each friend get, plus the extra?"
        s1, s2 = total // c, total // c + b
        w = f"Each friend gets {total} / {c} = {s1} {item}. Then {s1} + {b} = {s2}."
    return f"Question: {q}\nAnswer:", f" {w}\n#### {s2}\n"


def synthetic(domain: str, count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(f"{domain}-{seed}")
    make = sql_example if domain == "sql" else math_example
    return [make(rng) for _ in range(count)]


def training_text(domain: str, max_chars: int, seed: int = 0) -> str:
    """Training text of one domain, at most about ``max_chars`` characters."""
    if domain in ("code", "prose"):
        return "\n\n".join(file_texts(domain, "train", max_chars))[:max_chars]
    examples = synthetic(domain, max(1, max_chars // 150), seed)
    return "\n".join(p + a for p, a in examples)[:max_chars]


def prompts(domain: str, count: int, seed: int, max_chars: int = 240) -> list[str]:
    """``count`` evaluation prompts of ``domain``, disjoint from the training text."""
    rng = random.Random(f"prompts-{domain}-{seed}")
    if domain in ("sql", "math"):
        return [p for p, _ in synthetic(domain, count, 10_000 + seed)]
    texts = [t for t in file_texts(domain, "eval", 2_000_000) if len(t) > 80]
    if not texts:
        raise ValueError(f"no held-out {domain} text found in the standard library")
    out = []
    for _ in range(count):
        t = rng.choice(texts)
        if domain == "code":
            lines = t.splitlines(keepends=True)
            i = rng.randrange(max(1, len(lines) - 8))
            t = "".join(lines[i:i + 8])
        out.append(t[:max_chars] if len(t) > 20 else t)
    return out
