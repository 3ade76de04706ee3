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
    (tmp_path / "t.jsonl").write_text("")
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
    out.write_text("")
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
