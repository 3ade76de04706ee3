"""``osdsim cards``: list, show and create the cards (LLM, hardware, serving framework).

The shipped cards are package data (``osdsim/cards/{llm,hardware,framework}``, or
``$OSDSIM_MODELS_DIR``). A card of your own is a YAML file; pass its path wherever a card name
goes. ``cards new --from-hf config.json`` writes an LLM card from a Hugging Face config (which is
also accepted directly as an LLM card); ``cards new --like l4 --set bandwidth_GBps=500`` writes a
hardware (or LLM, or framework) card that starts from a shipped one and lists what differs.
"""

from __future__ import annotations

from pathlib import Path

from osdsim.cli.common import Result, UsageError, add_parser, key_values, table

KINDS = ("llm", "hardware", "framework")


def register(subparsers) -> None:
    p = add_parser(subparsers, "cards", "list, show and create model, hardware and framework cards",
                   "Cards hold the numbers osdsim prices with: LLM architectures, hardware spec sheets, "
                   "serving-framework costs. A card name, a card YAML file, or (for an LLM) a Hugging Face "
                   "config.json is accepted wherever a command takes a card.\n\n"
                   "examples:\n  osdsim cards list hardware\n  osdsim cards show h100-sxm\n"
                   "  osdsim cards new --from-hf /models/my-llama/config.json --out my-llama.yaml\n"
                   "  osdsim cards new --like l4 --name my-gpu --set memory_GB=32 --set bandwidth_GBps=450 "
                   "--out my-gpu.yaml")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    ls = add_parser(sub, "list", "list the shipped cards (default: every kind)")
    ls.add_argument("kind", nargs="?", choices=KINDS, help="only cards of this kind")
    ls.set_defaults(handler=run_list)
    show = add_parser(sub, "show", "print a card's fields as osdsim reads them (like: resolved)")
    show.add_argument("name", help="a card name, a card YAML file or a Hugging Face config.json")
    show.add_argument("--kind", choices=KINDS, help="the card's kind (default: the first kind that has the name)")
    show.set_defaults(handler=run_show)
    new = add_parser(sub, "new", "write a new card file: from a Hugging Face config.json, or like a shipped card")
    src = new.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-hf", metavar="CONFIG", help="a Hugging Face config.json (or its model folder): an LLM card")
    src.add_argument("--like", metavar="NAME", help="a card to start from (e.g. l4); --set lists what differs")
    new.add_argument("--kind", choices=KINDS, help="with --like: the card's kind (default: the first kind that has NAME)")
    new.add_argument("--name", help="the new card's name (default: the model folder's name, or NAME-custom)")
    new.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                     help="a field of the new card in the card's own units, e.g. bandwidth_GBps=450, "
                          "peak_TFLOPs.bf16=200 (repeatable)")
    new.add_argument("--params", type=float, help="with --from-hf: the published parameter count (default: "
                                                   "what the architecture implies)")
    new.add_argument("--out", help="card file to write (default: NAME.yaml here)")
    new.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    new.set_defaults(handler=run_new, writes=("out",))
    p.set_defaults(handler=lambda args: (_ for _ in ()).throw(
        UsageError("give an action: list, show or new (osdsim cards --help)")))


def _loader(kind: str):
    from osdsim.specs import load_framework, load_hardware, load_model

    return {"llm": load_model, "hardware": load_hardware, "framework": load_framework}[kind]


def _kind_of(name: str, kind: str | None) -> str:
    """The kind of card ``name`` is: given, or the first kind that has it (files: read them)."""
    from osdsim.specs import card_names

    if kind:
        return kind
    if name.endswith(".json") or (Path(name) / "config.json").is_file():
        return "llm"
    if name.endswith((".yaml", ".yml")):
        for k in KINDS:  # a card file: the kind whose loader accepts it
            try:
                _loader(k)(name)
                return k
            except ValueError:
                continue
        raise UsageError(f"{name} is not a valid LLM, hardware or framework card (osdsim cards show --kind KIND "
                         f"{name} names the problem)")
    for k in KINDS:
        if name in card_names(k):
            return k
    raise UsageError(f"no card named {name!r}; `osdsim cards list` shows them")


def _summary(kind: str, spec) -> str:
    if kind == "llm":
        return f"{spec.params / 1e9:.3g}B params, {spec.num_layers} layers, hidden {spec.hidden_size}"
    if kind == "hardware":
        bf16 = spec.peak_flops.get("bf16") or max(spec.peak_flops.values())
        return (f"{spec.memory_bytes / 1e9:.0f} GB, {spec.bandwidth_Bps / 1e9:.0f} GB/s, "
                f"{bf16 / 1e12:.0f} TFLOP/s bf16")
    return (spec.source or "")[:70]


def run_list(args) -> Result:
    from osdsim.specs import card_names, models_dir

    rows = []
    for kind in [args.kind] if args.kind else KINDS:
        for name in card_names(kind):
            try:
                brief = _summary(kind, _loader(kind)(name))
            except ValueError as exc:
                brief = f"unreadable: {exc}"
            rows.append({"kind": kind, "name": name, "summary": brief})
    text = table(rows) + f"\n\n{len(rows)} cards in {models_dir()}"
    return Result({"cards": rows, "dir": str(models_dir())}, text)


def _fields(spec) -> dict:
    from dataclasses import asdict

    return {k: v for k, v in asdict(spec).items() if k not in ("measured", "measured_updates", "loso")}


def run_show(args) -> Result:
    from osdsim.specs import card_path

    kind = _kind_of(args.name, args.kind)
    spec = _loader(kind)(args.name)
    path = card_path(kind, args.name)
    fields = _fields(spec)
    shown = {k: (v if not isinstance(v, dict) else ", ".join(f"{a}={b:g}" for a, b in v.items()))
             for k, v in fields.items()}
    text = f"{kind} card {spec.name} ({path})\n" + key_values(shown)
    return Result({"kind": kind, "name": spec.name, "path": str(path), "fields": fields}, text)


def _set_fields(items: list[str]) -> dict:
    from osdsim.safe.loaders import load_yaml
    from osdsim.safe.text import short

    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects FIELD=VALUE, got {short(item)}")
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UsageError(f"--set {short(key.strip())}: {part} is set to a value, not a mapping")
        # bounded YAML: no alias bombs, no deep nesting (osdsim.safe.loaders)
        node[parts[-1]] = load_yaml(value, f"--set {key.strip()[:40]}") if value.strip() else value
    return out


def run_new(args) -> Result:
    import yaml

    from osdsim.safe.atomic import write_text_atomic
    from osdsim.specs import card_from_mapping, card_path

    fields = _set_fields(args.set)
    if args.from_hf:
        from dataclasses import asdict, replace

        spec = _loader("llm")(args.from_hf)  # the HF converter, with its errors
        if args.params:
            spec = replace(spec, params=float(args.params))
        name = args.name or spec.name
        data = {k: v for k, v in asdict(spec).items() if k != "name"}
        data.update(fields)
        data["source"] = f"converted by osdsim cards new from {card_path('llm', args.from_hf)}"
        kind, header = "llm", (f"# {name}: converted from a Hugging Face config.json by `osdsim cards new --from-hf`.\n"
                               f"# params: {'given' if args.params else 'what the architecture implies'}.\n")
    else:
        kind = _kind_of(args.like, args.kind)
        _loader(kind)(args.like)  # the base card must load
        name = args.name or f"{Path(args.like).stem}-custom"
        data = {"like": args.like, **fields}
        header = (f"# {name}: the {kind} card {args.like} with the fields below changed "
                  f"(written by `osdsim cards new --like`). Cite a source beside each number you change.\n")
        data.setdefault("source", f"like {args.like}; changed: {', '.join(fields) or 'nothing yet'}")
    # The new card must load before it is written: a typo is an error now, not at the next run.
    try:
        spec = card_from_mapping(kind, {**data, "name": name}, where=f"new {kind} card {name}")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out or f"{name}.yaml")
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; pass --force to overwrite it")
    # atomic: renamed into place when whole (osdsim.safe.atomic)
    write_text_atomic(out, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "card")
    flag = {"llm": "--target/--draft", "hardware": "--hardware", "framework": "--framework"}[kind]
    text = (f"wrote {kind} card {name} to {out}\n" + key_values(_brief(kind, spec)) +
            f"\n\nuse it as {flag} {out} (or `{'target' if kind == 'llm' else kind}: {out}` in a scenario)")
    return Result({"kind": kind, "name": name, "out": str(out), "fields": _fields(spec)}, text)


def _brief(kind: str, spec) -> dict:
    return {"summary": _summary(kind, spec)}
