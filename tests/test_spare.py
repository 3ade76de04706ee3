"""Spare compute and distillation-update accounting."""

import pytest

from osdsim import cost
from osdsim.specs import load_hardware, load_model


def test_distill_flops_six_per_param_token():
    draft = load_model("llama-160m")
    assert cost.distill_flops(draft, 1000) == pytest.approx(6 * draft.params * 1000)


def test_decode_leaves_most_compute_spare():
    target, hw = load_model("vicuna-7b-v1.3"), load_hardware("a100-80g")
    step_s = cost.forward_time(target, hw, 1, 1, 256)
    used = cost.forward_flops(target, 1, 1, 256)
    util = cost.utilisation(step_s, used, hw)
    assert util < 0.01  # batch-1 decode uses well under 1% of an A100's FLOPs
    spare = cost.spare_flops(step_s, used, hw)
    assert spare == pytest.approx(cost.capacity_flops_per_s(hw) * step_s - used)


def test_update_fits_hand_case():
    draft, hw = load_model("llama-160m"), load_hardware("a100-80g")
    cap = cost.capacity_flops_per_s(hw)
    # A step of 10 ms using nothing leaves cap * 0.01 FLOPs; 50 steps per record, I = 8 records.
    out = cost.update_fits(draft, hw, step_s=0.01, step_flops=0.0, steps_per_record=50,
                           train_tokens_per_record=100, update_interval=8)
    assert out["spare_flops"] == pytest.approx(cap * 0.01 * 50 * 8)
    assert out["update_flops"] == pytest.approx(6 * draft.params * 800)
    # 6 x 1.62e8 x 800 = 7.8e11 FLOPs against 312e12 x 0.75 x 0.01 x 400 = 9.36e14 spare: 0.08%.
    assert out["fraction"] == pytest.approx(6 * 1.62e8 * 800 / (312e12 * 0.75 * 0.01 * 400))
    assert bool(out["fits"])
    # With no spare compute nothing fits.
    full = cost.update_fits(draft, hw, step_s=0.01, step_flops=cap * 0.01, steps_per_record=50,
                            train_tokens_per_record=100, update_interval=8)
    assert not bool(full["fits"])


def test_distill_time_grows_with_tokens():
    draft, hw = load_model("llama-160m"), load_hardware("a100-80g")
    assert cost.distill_time(draft, hw, 1e6) > cost.distill_time(draft, hw, 1e3) > 0
    with pytest.raises(ValueError, match="num_tokens"):
        cost.distill_flops(draft, -1)
