"""The shipped Exchange and Lync templates pass `vigild -t` without a warning,
and `vigild -t` warns (exit 0, FILE:LINE:COL on stderr) about an HTTPS service
without a check and a long-lived service with a short client_idle."""
import pytest

from vigil import ROOT, run_vigild

TEMPLATES = ["exchange-2016.yaml", "exchange-2010.yaml", "lync-2013.yaml"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_is_valid_without_warnings(name):
    path = ROOT / "examples" / name
    r = run_vigild("-c", path, "-t")
    assert r.returncode == 0, r.stderr
    assert "configuration is valid" in r.stdout
    assert r.stderr == "", r.stderr


HTTPS_NO_CHECK = """\
services:
  - name: owa
    vip: 192.0.2.10
    ports: [80, 443]
    backends: [{name: ex1, address: 198.51.100.11}]
"""

SHORT_IDLE = """\
defaults:
  timeouts: {client_idle: 10m}
services:
  - name: sip
    vip: 192.0.2.10
    ports: [5061]
    backends: [{name: fe1, address: 198.51.100.11}]
  - name: imap
    vip: 192.0.2.10
    ports: [993]
    timeouts: {client_idle: 29m}
    check: {type: imaps}
    backends: [{name: ex1, address: 198.51.100.11}]
  - name: web
    vip: 192.0.2.10
    ports: [8080]
    backends: [{name: w1, address: 198.51.100.11}]
"""


def test_warns_https_without_check(tmp_path):
    cfg = tmp_path / "v.yaml"
    cfg.write_text(HTTPS_NO_CHECK)
    r = run_vigild("-c", cfg, "-t")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines == [f"{cfg}:4:17: services[0].ports[1]: warning: HTTPS port 443 without a "
                     "check: only a TCP connect is probed (expected check: with type https, "
                     "e.g. path /owa/healthcheck.htm for Exchange)"], r.stderr
    # a check written anywhere (even tcp, deliberately) silences it
    cfg.write_text(HTTPS_NO_CHECK + "    check: {type: tcp}\n")
    r = run_vigild("-c", cfg, "-t")
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_warns_short_idle_on_long_lived_ports(tmp_path):
    cfg = tmp_path / "v.yaml"
    cfg.write_text(SHORT_IDLE)
    r = run_vigild("-c", cfg, "-t")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith(f"{cfg}:2:27: defaults.timeouts.client_idle: warning: 10m is "
                               "below 30m for service \"sip\" on port 5061"), lines
    assert lines[1].startswith(f"{cfg}:11:29: services[1].timeouts.client_idle: warning: 29m "
                               "is below 30m for service \"imap\" on port 993"), lines
    # the daemon logs the same warnings when it loads the file (not only -t)
