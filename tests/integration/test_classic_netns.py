"""Check type icmp in network namespaces (issue 14): vigild in lb1 probes be1,
which answers echo requests, and be2, which ignores them
(net.ipv4.icmp_echo_ignore_all=1 in its namespace). Run once over raw
sockets (ping sockets not allowed in lb1, the default) and once over ping
sockets (net.ipv4.ping_group_range opened in lb1's namespace)."""
import pytest

from failover_bed import NsVigild
import netns
from netns import have_netns, wait_until
from vigil import base_config, service

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(have_netns() is not None, reason=str(have_netns()))]


@pytest.fixture
def bed():
    with netns.Testbed(nodes=(("lb1", 1), ("be1", 11), ("be2", 12))) as b:
        yield b


def backend_of(v, name):
    for b in v.status()["services"][0]["backends"]:
        if b["name"] == name:
            return b
    raise KeyError(name)


@pytest.mark.parametrize("sock", ["raw", "ping"])
def test_icmp_answering_and_dropping_hosts(bed, tmp_path, sock):
    lb, be1, be2 = bed["lb1"], bed["be1"], bed["be2"]
    lb.sh("sysctl", "-qw", "net.ipv4.ping_group_range=" +
          ("1 0" if sock == "raw" else "0 2147483647"))
    be2.sh("sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
    chk = {"type": "icmp", "interval": "200ms", "timeout": "150ms", "rise": 2, "fall": 2}
    cfg = base_config([service("ping", lb.ip, [7000],
                               [{"name": "be1", "address": be1.ip},
                                {"name": "be2", "address": be2.ip}], check=chk)])
    v = NsVigild(tmp_path, cfg, lb, "vigild").start()
    try:
        wait_until(lambda: backend_of(v, "be1")["state"] == "up", 10, "be1 up")
        wait_until(lambda: backend_of(v, "be2")["check"]["last"] == "timeout", 10,
                   "be2 timing out")
        b2 = backend_of(v, "be2")
        assert b2["state"] == "down"
        assert b2["check"]["detail"] == "no echo reply within 150 ms"
        b1 = backend_of(v, "be1")
        assert b1["check"]["detail"].startswith("echo reply in ")
        assert 0 < b1["response_ms"] < 150
        log = v.log()
        want = "ICMP echo over a raw socket" if sock == "raw" else "ICMP echo over a ping socket"
        assert want in log, log
        # be1 starts ignoring pings: down after fall (2) timeouts; back up when it answers
        be1.sh("sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
        wait_until(lambda: backend_of(v, "be1")["state"] == "down", 5, "be1 down")
        assert "after 2 failed checks" in v.log()
        be1.sh("sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=0")
        be2.sh("sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=0")
        wait_until(lambda: backend_of(v, "be1")["state"] == "up", 5, "be1 up again")
        wait_until(lambda: backend_of(v, "be2")["state"] == "up", 5, "be2 up")
    finally:
        assert v.stop() == 0
