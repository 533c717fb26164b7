"""source: client in a failover pair with a floating gateway (issue 8, Tests):
the backends' only route to the clients is the gateway address 198.51.100.1,
a failover.addresses entry of the group that also owns the VIP. Through lb1
the backend sees the client's own address and the client gets its reply;
after lb1's vigild dies (kill -9) lb2 takes the VIP and the gateway, announces
the gateway so the backend's neighbour entry follows, and a new client
connection through lb2 again shows the client's address at the backend and
gets its reply. No default route anywhere, no IP forwarding on the lbs.

The bed is transp_bed.TranspPairBed; both nodes run vigild -n NAME on one
shared file, each in a mount namespace of its own (PairNode, as in
test_failover_pair.py).
"""
import json
import signal

import pytest

from failover_bed import PairNode, key_file, logs, stop_nodes
from netns import have_netns, wait_until
from transp_bed import BE4, CLIENT4, LB_BE4, VIP4, TranspPairBed
from vigil import Vigild, base_config

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(have_netns() is not None, reason=str(have_netns()))]

PORT, GROUP = 8025, 51
CHECK = {"type": "tcp", "interval": "100ms", "timeout": "100ms", "rise": 1, "fall": 1}
ASKS = 4


def pair_config(bed, tmp_path):
    key = key_file(tmp_path)
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    cfg = base_config([{
        "name": "smtp", "vip": VIP4, "ports": [PORT], "source": "client", "check": CHECK,
        "backends": [{"name": f"be{i + 1}", "address": a} for i, a in enumerate(BE4)]}],
        control_socket=str(run / "control.sock"))
    cfg["failover"] = {
        "interface": "eth0", "auth_key_file": str(key), "advert_interval": "100ms",
        "garp": {"count": 3, "interval": "100ms"},
        "nodes": {n: {"address": front} for n, (front, _) in bed.LB_OWN.items()},
        "groups": [{"id": GROUP, "services": ["smtp"], "priority": {"lb1": 150, "lb2": 100}}],
        "addresses": [{"address": f"{LB_BE4}/24", "interface": "eth1", "group": GROUP}],
    }
    return cfg, run


def rules_for(be4):
    return sorted(f"from {ip} ipproto tcp sport {PORT} lookup 7789 proto 118" for ip in be4)


@pytest.fixture
def tpair(tmp_path):
    bed = TranspPairBed()
    vig = {}
    try:
        for ip in BE4:
            bed.peer_server(ip, PORT)
        cfg, run = pair_config(bed, tmp_path)
        shared = tmp_path / "vigil.yaml"
        shared.write_text(json.dumps(cfg, indent=1))
        for n in ("lb1", "lb2"):
            vig[n] = PairNode(tmp_path, bed.node(n), n, shared, run)
        vig["lb1"].start()
        vig["lb1"].wait_group(GROUP, "master", 5)
        vig["lb2"].start()
        vig["lb2"].wait_group(GROUP, "backup", 5)
        for v in vig.values():
            for i in range(len(BE4)):
                Vigild.wait_state(v, "smtp", f"be{i + 1}", "up", 10)
        yield bed, vig
    except BaseException:
        print(logs(vig))
        raise
    finally:
        problems = stop_nodes(vig)
        bed.close()
    assert not problems, problems


def served(v):
    return sum(v.backend("smtp", f"be{i + 1}")["total"] for i in range(len(BE4)))


def test_failover_keeps_client_address(tpair):
    bed, vig = tpair
    lb1, lb2 = vig["lb1"], vig["lb2"]
    mac1, mac2 = bed.mac("lb1", "eth1"), bed.mac("lb2", "eth1")
    for lb in ("lb1", "lb2", "be", "client"):
        assert "default" not in bed.ip(lb, "route", "show").stdout
    for lb in ("lb1", "lb2"):
        assert bed.sh(lb, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "0"
        # both nodes hold the rules, whichever is master
        assert bed.rules(node=lb) == rules_for(BE4), lb

    # through lb1: VIP and gateway there, the backend sees the client
    wait_until(lambda: bed.has("lb1", "eth0", VIP4) and bed.has("lb1", "eth1", LB_BE4), 3,
               "VIP and gateway on lb1")
    assert not bed.has("lb2", "eth0", VIP4) and not bed.has("lb2", "eth1", LB_BE4)
    seen = [bed.ask(VIP4, PORT) for _ in range(ASKS)]
    assert seen == [f"PEER {CLIENT4}"] * ASKS, (seen, lb1.log()[-2000:])
    assert served(lb1) == ASKS and served(lb2) == 0
    assert bed.be_gateway_mac() == mac1

    # lb1's vigild dies: lb2 takes the group, its VIP and the gateway
    lb1.signal(signal.SIGKILL)
    lb1.proc.wait(10)
    lb2.wait_group(GROUP, "master", 3)
    wait_until(lambda: bed.has("lb2", "eth0", VIP4) and bed.has("lb2", "eth1", LB_BE4), 3,
               "VIP and gateway on lb2")
    wait_until(lambda: not bed.has("lb1", "eth1", LB_BE4) and not bed.has("lb1", "eth0", VIP4),
               3, "VIP and gateway gone from lb1 (its watcher)")
    assert lb2.group(GROUP)["addresses"] == [LB_BE4]
    # the gateway's announcement moved the backend's neighbour entry to lb2
    wait_until(lambda: bed.be_gateway_mac() == mac2, 3,
               f"backend's neighbour entry of {LB_BE4} to follow lb2 ({mac2})")
    assert bed.rules(node="lb2") == rules_for(BE4)

    # through lb2: the backend still sees the client, the reply reaches it
    seen = [bed.ask(VIP4, PORT) for _ in range(ASKS)]
    assert seen == [f"PEER {CLIENT4}"] * ASKS, (seen, lb2.log()[-2000:])
    assert served(lb2) == ASKS
