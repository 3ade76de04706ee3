"""The simulator's fingerprint (tests/sim_fingerprint.py): scenarios covering every engine
path — γ fixed and goodput, every acceptance model, chunked prefill, KV limits, horizons, both
routers, online updates in spare and exclusive mode, drafts per domain, draft kinds, trees, γ
policies and methods — give bit-identical summaries and tables to the committed hashes. A change
meant to alter results rewrites them (``python tests/sim_fingerprint.py --write``) and says why in
its commit."""

from __future__ import annotations

import json

import pytest
import sim_fingerprint as fp

COMMITTED = json.loads(fp.FINGERPRINT.read_text())


def test_fingerprint_covers_every_scenario():
    assert set(COMMITTED) == set(fp.SCENARIOS)


@pytest.mark.parametrize("name", sorted(fp.SCENARIOS))
def test_scenario_matches_fingerprint(name):
    assert fp.fingerprint([name])[name] == COMMITTED[name]
