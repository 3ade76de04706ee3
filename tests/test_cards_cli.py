"""Cards anyone can add: `osdsim cards list/show/new`, a Hugging Face config.json accepted
wherever an LLM card is, and `--set hardware.<field>=…` overriding one field of a card."""

import json

import pytest

from osdsim.cli.main import main
from osdsim.sim import load_scenario, simulate
from osdsim.specs import CardError, card_from_mapping, load_hardware, load_model, models_dir

HF_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
             "intermediate_size": 8192, "num_attention_heads": 32, "num_hidden_layers": 16,
             "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": True,
             "max_position_embeddings": 131072}


def _json(capsys, argv):
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cards_ship_inside_the_package():
    assert models_dir().parts[-2:] == ("osdsim", "cards")
    assert (models_dir() / "hardware" / "a100-80g.yaml").is_file()


def test_cards_list_and_show(capsys):
    listed = _json(capsys, ["cards", "list"])
    names = {(c["kind"], c["name"]) for c in listed["cards"]}
    assert {("llm", "vicuna-7b-v1.3"), ("hardware", "l4"), ("framework", "vllm-v1")} <= names
    shown = _json(capsys, ["cards", "show", "h100-sxm"])
    assert shown["kind"] == "hardware" and shown["fields"]["bandwidth_Bps"] == 3.35e12


def test_hf_config_is_an_llm_card_everywhere(tmp_path, capsys):
    folder = tmp_path / "my-llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(HF_CONFIG))
    spec = load_model(str(folder / "config.json"))
    assert spec.name == "my-llama" and spec.num_layers == 16
    assert load_model(str(folder)).num_kv_heads == 8  # the model folder works too
    out = _json(capsys, ["speedup", "--alpha", "0.7", "--target", "llama-3.1-8b", "--draft",
                         str(folder / "config.json"), "--hardware", "l4"])
    assert out["draft"] == "my-llama" and out["speedup"] > 1
    written = _json(capsys, ["cards", "new", "--from-hf", str(folder / "config.json"), "--out",
                             str(tmp_path / "my-llama.yaml")])
    assert written["kind"] == "llm"
    assert load_model(str(tmp_path / "my-llama.yaml")).params == pytest.approx(spec.params)


def test_cards_new_like_a_shipped_card(tmp_path, capsys):
    out = tmp_path / "my-gpu.yaml"
    made = _json(capsys, ["cards", "new", "--like", "l4", "--name", "my-gpu", "--set", "memory_GB=32",
                          "--set", "bandwidth_GBps=450", "--out", str(out)])
    assert made["kind"] == "hardware"
    hw = load_hardware(str(out))
    assert hw.bandwidth_Bps == 450e9 and hw.memory_bytes == 32e9
    assert hw.peak_flops == load_hardware("l4").peak_flops  # everything else from l4
    assert main(["cards", "new", "--like", "l4", "--out", str(out)]) == 2  # no silent overwrite
    assert main(["cards", "new", "--like", "l4", "--set", "bandwidth_GBps=fast", "--out",
                 str(tmp_path / "bad.yaml")]) == 2  # a bad field is refused before writing
    assert not (tmp_path / "bad.yaml").exists()


def test_set_overrides_one_field_of_a_card():
    base = "examples/scenarios/vicuna-a100.yaml"
    sc = load_scenario(base, ["hardware.bandwidth_GBps=1000", "workload.num_requests=40"])
    assert sc.hardware.bandwidth_Bps == 1e12 and sc.hardware.memory_bytes == load_hardware("a100-80g").memory_bytes
    slow = simulate(sc, baseline=False).summary
    fast = simulate(load_scenario(base, ["workload.num_requests=40"]), baseline=False).summary
    assert slow["latency_mean_s"] > fast["latency_mean_s"]
    with pytest.raises(CardError, match="unknown field"):
        card_from_mapping("hardware", {"like": "a100-80g", "bandwith_GBps": 1})


def test_help_says_card_paths_work(capsys):
    with pytest.raises(SystemExit):
        main(["speedup", "--help"])
    text = capsys.readouterr().out
    assert "card YAML file" in text and "config.json" in text
