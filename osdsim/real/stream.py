"""Streams of records for real runs: domain schedules and their prompts."""

from __future__ import annotations

from osdsim.real import corpus, datasets
from osdsim.real.online import Request

MAX_RECORDS = 1_000_000  # records one schedule may ask for


def parse_schedule(text: str) -> list[tuple[str, int]]:
    """``"sql:300,math:300"`` -> [("sql", 300), ("math", 300)]: blocks of one domain each."""
    blocks = []
    for part in text.split(","):
        name, _, count = part.strip().partition(":")
        if name not in corpus.DOMAINS and not datasets.is_real_domain(name):
            known = ", ".join([*corpus.DOMAINS, *datasets.REAL_DOMAINS, "chat-LANG", "chat-code", "chat-general"])
            raise ValueError(f"unknown domain {name[:40]!r} in schedule (known: {known})")
        try:
            n = int(count)
        except ValueError:
            raise ValueError(f"schedule block {part.strip()[:40]!r} needs a record count, like sql:300") from None
        if n < 1:
            raise ValueError(f"schedule block {part.strip()!r} needs at least one record")
        blocks.append((name, n))
    if not blocks:
        raise ValueError("the schedule is empty")
    if sum(n for _, n in blocks) > MAX_RECORDS:  # prompts are generated up front: bound them
        raise ValueError(f"the schedule asks for {sum(n for _, n in blocks)} records; at most {MAX_RECORDS}")
    return blocks


def build_requests(tokenizer, schedule: list[tuple[str, int]], seed: int = 0,
                   max_prompt_tokens: int = 96) -> list[Request]:
    """The stream's requests in order; prompts of a domain never repeat within a run. A tokenizer
    with a chat template (an instruction-tuned target) gets each prompt as one user turn, its text
    cut to ``max_prompt_tokens`` tokens before the template is applied; otherwise the prompt's
    last ``max_prompt_tokens`` tokens are kept."""
    totals: dict[str, int] = {}
    for name, n in schedule:
        totals[name] = totals.get(name, 0) + n
    texts = {name: (datasets.prompts(name, n, seed) if datasets.is_real_domain(name) else corpus.prompts(name, n, seed))
             for name, n in totals.items()}
    used = dict.fromkeys(totals, 0)
    chat = bool(getattr(tokenizer, "chat_template", None))
    out = []
    for name, n in schedule:
        for _ in range(n):
            text = texts[name][used[name]]
            used[name] += 1
            if chat:
                ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_prompt_tokens]
                ids = _as_user_turn(tokenizer, tokenizer.decode(ids))
            else:
                ids = tokenizer(text)["input_ids"][-max_prompt_tokens:]
            out.append(Request(len(out), name, ids or [0]))
    return out


def _as_user_turn(tokenizer, text: str) -> list[int]:
    ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                        tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):  # newer transformers return a BatchEncoding
        ids = ids["input_ids"]
    return [int(i) for i in ids]
