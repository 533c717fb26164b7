"""Proxied connections on a VIP this node lets go of are closed at once
(issue 7, defect 7): after a failover the clients' packets go to the peer, so
the old master's connections are dead, and must not sit open until
client_idle. Network namespaces, like the other failover tests."""
import re
import subprocess
import time

import pytest

from failover_bed import PORT, VIP, NsVigild, node_config
from netns import PY, Testbed as _Testbed, have_netns, wait_until

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(have_netns() is not None, reason=str(have_netns()))]

# Connect to the VIP, print the greeting, then hold the connection open.
HOLD = ("import socket, sys, time\n"
        "s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)\n"
        "print(s.recv(100).decode().strip(), flush=True)\n"
        "time.sleep(60)\n")


def vip_conns(node):
    """Established TCP sockets in node's namespace whose local end is VIP:PORT."""
    out = node.sh("ss", "-Htn", "state", "established", f"( sport = :{PORT} )").stdout
    return [ln for ln in out.splitlines() if f"{VIP}:{PORT}" in ln]


def hold_connections(bed, n):
    """n clients in the client namespace, each connected through the VIP and
    greeted by a backend; returns the processes and the greetings."""
    procs, who = [], []
    for _ in range(n):
        procs.append(bed["client"].popen([PY, "-c", HOLD, VIP, PORT], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True))
    for p in procs:
        who.append(p.stdout.readline().strip())
    return procs, who


def stop_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=5)


def released_lines(v):
    return re.findall(rf"VIP {re.escape(VIP)}: closed (\d+) proxied connections? and "
                      rf"\d+ waiting to be accepted \(([^)]*)\)", v.log())


def test_standby_closes_connections_of_the_old_master(make_pair):
    pair = make_pair()
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    procs, who = hold_connections(bed, 3)
    try:
        assert set(who) == {bed["lb1"].ip}, who       # proxied by lb1, the master
        wait_until(lambda: len(vip_conns(bed["lb1"])) >= 3, 2, "3 connections on lb1")
        r = lb1.ctl("standby")
        assert r.returncode == 0, r.stderr
        t0 = time.monotonic()
        lb2.wait_state("master", 2)
        wait_until(lambda: not vip_conns(bed["lb1"]), 1.0,
                   "the old master's connections on the VIP to close")
        record_s = time.monotonic() - t0
        assert record_s < 1.5, record_s
        lines = released_lines(lb1)
        assert lines and int(lines[-1][0]) >= 3, lb1.log()[-2000:]   # + any probe
        assert len(lines) == 1, lines                  # one line for the one VIP
        assert lb1.service("web")["active"] == 0
    finally:
        stop_all(procs)


def test_fault_closes_connections_single_node(tmp_path):
    """One node with failover (its peer never answers) takes the VIP, then its
    link goes down: fault, the VIP goes, and so do the connections on it."""
    bed = _Testbed(nodes=(("lb1", 1), ("client", 100), ("be1", 11), ("be2", 12)))
    v = None
    procs = []
    try:
        bed.who_server("be1", PORT)
        bed.who_server("be2", PORT)
        cfg = node_config(bed, tmp_path, "lb1", 150, [])
        cfg["failover"]["peers"] = ["192.0.2.2"]      # nobody there
        v = NsVigild(tmp_path, cfg, bed["lb1"], "lb1").start()
        v.wait_state("master", 5)
        wait_until(lambda: v.service("web")["available"], 5, "a backend up")
        procs, who = hold_connections(bed, 2)
        assert set(who) == {bed["lb1"].ip}, who
        wait_until(lambda: len(vip_conns(bed["lb1"])) >= 2, 2, "2 connections on lb1")
        bed["lb1"].link(False)
        v.wait_state("fault", 3)
        wait_until(lambda: not vip_conns(bed["lb1"]), 1.0,
                   "the connections on the released VIP to close")
        lines = released_lines(v)
        assert lines and int(lines[-1][0]) == 2, v.log()[-2000:]
    finally:
        stop_all(procs)
        if v is not None and v.proc is not None:
            v.stop()
            assert not v.sanitizer_reports()
        bed.close()
