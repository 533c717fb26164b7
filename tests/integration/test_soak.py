"""The soak harness (tests/soak/soak.py) stays working: a 20-second run of it,
and its log cross-check on hand-written logs (it must catch a connection sent
to a backend vigild had logged down, and must allow the in-flight window)."""
import json
import os
import subprocess
import sys

import pytest

from realservers import missing
from vigil import ROOT, SLOW

sys.path.insert(0, str(ROOT / "tests" / "soak"))
import soak  # noqa: E402

LOG = """\
2026-12-02T05:00:00.000Z notice: service web backend ng1: down -> up (probe ok: 200)
2026-12-02T05:00:10.000Z warning: service web backend ng1: up -> down (503 Service Unavailable)
2026-12-02T05:00:20.000Z notice: service web backend ng1: down -> up (probe ok: 200)
2026-12-02T05:00:30.000Z notice: service web backend ng1: removed by reload (0 connections finish)
2026-12-02T05:00:40.000Z notice: service web backend ng1: down -> up (probe ok: 200)
2026-12-02T05:00:50.000Z warning: service web backend ng1: up -> down (connect: refused)
"""
T0 = soak._t("2026-12-02T05:00:00.000")


def test_cross_check_of_the_log():
    spans = soak.down_spans(LOG)
    assert spans[("web", "ng1")] == [(T0 + 10, T0 + 20, "known-down"),
                                     (T0 + 30, T0 + 40, "removed"),
                                     (T0 + 50, float("inf"), "known-down")]
    conns = [
        ("web", "ng1", T0 + 5, T0 + 5.01),      # up: fine
        ("web", "ng1", T0 + 9.99, T0 + 10.01),  # in flight when it went down: fine
        ("web", "ng1", T0 + 12, T0 + 12.01),    # known down: caught
        ("web", "ng1", T0 + 19.99, T0 + 20.5),  # answered after it came up: fine
        ("web", "ng2", T0 + 12, T0 + 12.01),    # another backend: fine
        ("smtp", "ng1", T0 + 12, T0 + 12.01),   # same name, other service: fine
        ("web", "ng1", T0 + 35, T0 + 35.01),    # removed by reload: caught
        ("web", "ng1", T0 + 60, T0 + 60.01),    # down until the end: caught
    ]
    out = soak.check_routing(conns, spans)
    assert [c[2] for c in out["to known-down backend"]] == [T0 + 12, T0 + 60]
    assert [c[2] for c in out["to removed backend"]] == [T0 + 35]


@pytest.mark.realservers
def test_soak_smoke(tmp_path):
    if "nginx" in missing():
        pytest.skip("nginx is not installed")
    out = tmp_path / "soak.json"
    env = dict(os.environ, SOAK_SECONDS="15")
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "soak" / "soak.py"), "--idle", "200",
                        "--failover-every", "6", "--json", str(out)],
                       capture_output=True, text=True, timeout=240 * SLOW, env=env,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "SOAK PASSED" in r.stdout
    res = json.loads(out.read_text())
    c = res["counts"]
    # the harness did its work: transfers, churn, cross-checked connections
    assert c.get("transfers ok", 0) >= 3, c
    assert c.get("flaps", 0) >= 2 and c.get("reloads", 0) >= 2, c
    assert res["connections_checked"] >= 20, res
    assert res["sanitizer_reports"] == 0 and res["exit_code"] == 0, res
    if os.geteuid() == 0:
        assert res["failovers"] >= 1, res
