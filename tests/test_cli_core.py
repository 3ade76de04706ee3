"""The CLI contract for speedup, cost and demo: one JSON object, exit 2 with one sentence."""

import json
import subprocess
import sys

import pytest

from osdsim.cli.main import main


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_speedup_json_contract(capsys):
    code, out, err = run_cli(capsys, "speedup", "--alpha", "0.8", "--gamma", "5", "--c", "0.05", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    for key in ("tau", "speedup", "c", "optimal_gamma", "optimal_speedup"):
        assert key in data
    assert data["tau"] == pytest.approx(3.68928)
    assert data["speedup"] == pytest.approx(3.68928 / 1.25)
    assert data["c"] == 0.05


def test_speedup_from_cards(capsys):
    code, out, _ = run_cli(capsys, "speedup", "--alpha", "0.7", "--gamma", "3", "--target", "vicuna-7b-v1.3",
                           "--draft", "llama-160m", "--hardware", "a100-80g", "--batch", "4", "--json")
    data = json.loads(out)
    assert code == 0 and 0 < data["c"] < 1 and data["batch"] == 4
    assert "closed_form_speedup" in data and data["optimal_gamma"] >= 0
    assert data["framework"] == "vllm-v1"  # the default framework, stated


@pytest.mark.parametrize("args,needle", [
    (["speedup", "--alpha", "1.5", "--gamma", "2", "--c", "0.1"], "--alpha"),
    (["speedup", "--alpha", "0.5", "--gamma", "-1", "--c", "0.1"], "--gamma"),
    (["speedup", "--alpha", "0.5", "--gamma", "2"], "--c"),
    (["speedup", "--alpha", "0.5", "--gamma", "2", "--target", "nope", "--draft", "llama-160m",
      "--hardware", "a100-80g"], "unknown LLM card 'nope'"),
    (["cost", "--model", "vicuna-7b-v1.3", "--hardware", "a100-80g", "--batch", "0"], "--batch"),
    (["cost", "--model", "vicuna-7b-v1.3", "--hardware", "tpu"], "known: a100-40g"),
])
def test_bad_input_exit_2_one_sentence(capsys, args, needle):
    code, out, err = run_cli(capsys, *args, "--json")
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_malformed_card_yaml(capsys, tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("num_layers: [1, 2\n")
    code, _, err = run_cli(capsys, "cost", "--model", str(bad), "--hardware", "a100-80g")
    assert code == 2 and "broken.yaml" in err and "line" in err


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["speedup", "--alpha", "x", "--gamma", "1"])
    assert exc.value.code == 2


def test_cost_json(capsys):
    code, out, _ = run_cli(capsys, "cost", "--model", "llama-3.1-70b", "--hardware", "h100-sxm",
                           "--tp", "4", "--batch", "8", "--context", "1000", "--json")
    data = json.loads(out)
    assert code == 0 and data["bound"] in ("memory", "compute", "overhead")
    assert data["time_s"] > data["comm_s"] > 0


def test_import_and_speedup_load_no_torch_or_matplotlib():
    code = (
        "import sys, json, io, contextlib\n"
        "import osdsim\n"
        "from osdsim.cli.main import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    main(['speedup', '--alpha', '0.7', '--gamma', '4', '--c', '0.1', '--json'])\n"
        "json.loads(buf.getvalue())\n"
        "import osdsim.cost, osdsim.specs\n"
        "bad = [m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
