"""`osdsim run` / `osdsim distill` end to end on tiny saved models (seconds, no training)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from osdsim.trace import read_trace  # noqa: E402

pytestmark = pytest.mark.real


def cli(argv: list[str]) -> tuple[int, dict]:
    """Run an osdsim command through main(), as the console script does."""
    from osdsim.cli import main as cli_main

    return cli_main.main(argv), {}


def test_the_run_workflow_refuses_bad_options_before_loading_models(tmp_path):
    from osdsim.real.workflow import RunOptions, serve_to_trace

    with pytest.raises(ValueError, match="--gamma"):
        serve_to_trace(RunOptions(gamma=-1))
    with pytest.raises(ValueError, match="--resume needs --out"):
        serve_to_trace(RunOptions(), resume=True)
    (tmp_path / "t.jsonl").write_text('{"type": "meta", "schema_version": 1}\n')  # (an empty file holds nothing)
    with pytest.raises(ValueError, match="exists"):
        serve_to_trace(RunOptions(), str(tmp_path / "t.jsonl"))


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from osdsim.real import corpus

    root = tmp_path_factory.mktemp("models")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    text = [p + a for d in ("sql", "math") for p, a in corpus.synthetic(d, 200, 0)]
    tok.train_from_iterator(text, trainers.BpeTrainer(
        vocab_size=320, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok)
    dirs = {}
    for name, hidden, seed in (("target", 32, 0), ("draft", 16, 1)):
        torch.manual_seed(seed)
        cfg = LlamaConfig(vocab_size=len(fast), hidden_size=hidden, intermediate_size=2 * hidden,
                          num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)
        path = root / name
        LlamaForCausalLM(cfg).save_pretrained(path)
        fast.save_pretrained(path)
        dirs[name] = str(path)
    return dirs


def test_run_online_writes_trace_curves_and_resumes(model_dirs, tmp_path, capsys):
    out = tmp_path / "run.jsonl"
    base = ["run", "--target", model_dirs["target"], "--draft", model_dirs["draft"],
            "--schedule", "sql:6,math:6", "--max-new-tokens", "8", "--gamma", "2", "--online",
            "--update-interval", "4", "--baseline", "--threads", "1", "--no-progress",
            "--out", str(out), "--json"]
    code, _ = cli(base + ["--records", "7"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["records"] == 7 and payload["online"]["update_interval"] == 4
    t = read_trace(out)
    assert t.meta["gamma"] == 2 and t.meta["draft_params"] > 0 and len(t.updates) == 1
    curves = json.loads((tmp_path / "run.jsonl.curves.json").read_text())
    assert curves["form"] == "exp" and set(curves["domains"]) == {"sql", "math"}
    # A killed run: cut in the middle of the last record's steps, then resume from update 1.
    data = out.read_bytes()
    out.write_bytes(data[: data.rindex(b'"type":"step"') + 5])
    code, _ = cli(base + ["--resume"])
    assert code == 0
    t = read_trace(out)
    spec = t.records[t.records["mode"] == "speculative"]
    assert list(spec["record"]) == list(range(12))
    assert not t.steps[["record", "step"]].duplicated().any()
    assert list(t.updates["update"]) == [1, 2, 3] and spec["matches_target"].all()


def test_run_refuses_existing_trace_and_bad_schedule(model_dirs, tmp_path):
    out = tmp_path / "x.jsonl"
    out.write_text('{"type": "meta", "schema_version": 1}\n')
    code, err = cli(["run", "--target", model_dirs["target"], "--draft", model_dirs["draft"],
                     "--out", str(out)])
    assert code == 2 and "exists" in err.get("error", "exists")
    code, err = cli(["run", "--target", model_dirs["target"], "--draft", model_dirs["draft"],
                     "--schedule", "poetry:3"])
    assert code == 2


def test_distill_saves_a_loadable_draft(model_dirs, tmp_path, capsys):
    out = tmp_path / "distilled"
    code, _ = cli(["distill", "--target", model_dirs["target"], "--draft", model_dirs["draft"],
                   "--domains", "sql", "--prompts-per-domain", "3", "--max-new-tokens", "6",
                   "--epochs", "1", "--source", "mixed_request", "--no-progress", "--threads", "1",
                   "--out", str(out), "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["sequences"] == 3 and payload["steps"] == 3
    from osdsim.real.loading import load_model

    assert load_model(out).config.hidden_size == 16


def _run_argv(model_dirs, out, *extra):
    return ["run", "--target", model_dirs["target"], "--draft", model_dirs["draft"], "--schedule", "sql:3,math:3",
            "--max-new-tokens", "6", "--gamma", "2", "--threads", "1", "--no-progress", "--out", str(out), *extra]


def test_resume_refuses_a_trace_of_another_run_naming_the_fields(model_dirs, tmp_path, capsys):
    out = tmp_path / "run.jsonl"
    assert cli(_run_argv(model_dirs, out, "--records", "2"))[0] == 0
    before = out.read_bytes()
    capsys.readouterr()
    for extra, field in ((["--gamma", "3"], "gamma"), (["--temperature", "0.5"], "temperature"),
                         (["--schedule", "sql:4,math:3"], "schedule"), (["--max-new-tokens", "7"], "max_new_tokens"),
                         (["--seed", "1"], "seed"), (["--baseline"], "baseline"),
                         (["--target", model_dirs["draft"]], "target")):
        code, _ = cli(_run_argv(model_dirs, out, "--resume", *extra))
        err = capsys.readouterr().err
        assert code == 2 and f"{field}: trace" in err and "other options" in err, (extra, err)
        assert err.count("error:") == 1 and err.rstrip().endswith("--out.") and "Traceback" not in err
        assert out.read_bytes() == before  # refused before anything was cut or appended
    # The same options resume (and a longer --records continues the stream).
    assert cli(_run_argv(model_dirs, out, "--resume"))[0] == 0
    assert len(read_trace(out).records) == 6


def test_resume_refuses_an_unsafe_checkpoint_in_one_sentence(model_dirs, tmp_path, capsys):
    import pickle

    out = tmp_path / "run.jsonl"
    online = ("--online", "--update-interval", "2")
    assert cli(_run_argv(model_dirs, out, "--records", "2", *online))[0] == 0

    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "run.jsonl.draft.pt").write_bytes(pickle.dumps(Exploit()))
    capsys.readouterr()
    code, _ = cli(_run_argv(model_dirs, out, "--resume", *online))
    captured = capsys.readouterr()
    assert code == 2 and "not a draft checkpoint osdsim can load safely" in captured.err
    assert "pwned" not in captured.out and "Traceback" not in captured.err


def test_a_run_that_fails_early_leaves_no_empty_trace(model_dirs, tmp_path):
    out = tmp_path / "run.jsonl"
    code, _ = cli(["run", "--target", model_dirs["target"], "--draft", str(tmp_path / "no-such-model"),
                   "--no-progress", "--out", str(out)])
    assert code == 2 and not out.exists()
    out.write_text("")  # an empty trace (an older osdsim's failed run) holds nothing: a fresh run takes it
    assert cli(_run_argv(model_dirs, out, "--records", "1"))[0] == 0
    assert len(read_trace(out).records) == 1


def test_distill_saves_nothing_from_diverged_training(model_dirs, tmp_path):
    from osdsim.real.model_workflows import save_draft
    from osdsim.real.pair import load_pair

    pair = load_pair(model_dirs["target"], model_dirs["draft"], "m", "cpu", "float32", 0, progress=False)
    with torch.no_grad():
        next(pair.draft.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="NaN or infinite weights"):
        save_draft(pair, str(tmp_path / "draft"))
    assert not (tmp_path / "draft").exists()
    (tmp_path / "file").write_text("x")
    code, _ = cli(["distill", "--target", model_dirs["target"], "--draft", model_dirs["draft"], "--out",
                   str(tmp_path / "file"), "--no-progress"])
    assert code == 2 and (tmp_path / "file").read_text() == "x"


def test_run_writes_model_specs_and_saves_the_adapted_draft(model_dirs, tmp_path, capsys):
    out, saved = tmp_path / "run.jsonl", tmp_path / "adapted"
    code, _ = cli(_run_argv(model_dirs, out, "--online", "--update-interval", "2", "--save-draft", str(saved)))
    assert code == 0
    specs = json.loads((tmp_path / "run.jsonl.models.json").read_text())
    assert specs[model_dirs["target"]]["hidden_size"] == 32 and specs[model_dirs["draft"]]["hidden_size"] == 16
    from osdsim.real.loading import load_model

    adapted, original = load_model(saved), load_model(model_dirs["draft"])
    assert not torch.equal(adapted.lm_head.weight, original.lm_head.weight)  # six updates moved it
    capsys.readouterr()
    code, _ = cli(_run_argv(model_dirs, tmp_path / "r2.jsonl", "--save-draft", str(tmp_path / "x")))
    assert code == 2 and "add --online" in capsys.readouterr().err


def test_distill_builds_a_reduced_draft_from_the_target(model_dirs, tmp_path, capsys, monkeypatch):
    from osdsim.real import datasets

    texts = ("SELECT name FROM singer WHERE age > 30;", "The answer is 12 apples.")
    monkeypatch.setattr(datasets, "vocabulary_texts", lambda chars: texts)
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    target = tmp_path / "target2"  # two layers: a 1-layer draft of it
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=2, num_key_value_heads=2)).save_pretrained(target)
    AutoTokenizer.from_pretrained(model_dirs["target"]).save_pretrained(target)
    out = tmp_path / "built"
    code, _ = cli(["distill", "--target", str(target), "--draft", "layers:1", "--draft-vocab", "64",
                   "--domains", "sql", "--prompts-per-domain", "2", "--max-new-tokens", "4", "--epochs", "1",
                   "--no-progress", "--threads", "1", "--out", str(out), "--json"])
    assert code == 0, capsys.readouterr().err
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["draft_layers"] == 1 and payload["draft_vocab"] == 64 and payload["draft_vocab_coverage"] == 1.0
    from osdsim.real.loading import load_model
    from osdsim.specs.hf import model_spec_from_hf_dir

    draft = load_model(out)
    assert draft.lm.lm_head.out_features == 65 and draft.full_vocab == 320
    assert model_spec_from_hf_dir(out).head_vocab == 65  # the cost model prices 65 head rows
    code, _ = cli(["distill", "--target", str(target), "--draft", "layers:x", "--out", str(tmp_path / "y")])
    assert code == 2 and "layers:K" in capsys.readouterr().err
