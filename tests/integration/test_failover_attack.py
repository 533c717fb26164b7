"""The failover protocol attacked from a third host without the key (issue 13).

A pair (unicast adverts, then multicast) runs in network namespaces; an
attacker namespace on the same LAN, which never has the key, replays what a
mirror port shows it (captured in the switch namespace):
  - reflection: lb1's own adverts sent back to lb1 from lb2's address and from
    a stranger's, lb2's own adverts back to lb2 from lb1's address;
  - replay: lb2's old adverts to lb1 from lb2's address (and lb1's to lb2);
  - flood: lb2's adverts from 100 strangers' addresses, and 30 forged ones;
  - a restart of lb2 (new boot ID, sequence back at 1 - what a clock set back
    did to the old wall-clock epoch), then its previous boot's adverts again.
The master never yields, no split brain, genuine adverts keep being accepted,
each rejection is counted under its reason, and the restarted peer is
accepted from its first advert on.
"""
import hashlib
import hmac
import json
import struct
import time

import pytest

from failover_bed import GROUP, KEY, VIP, Pair
from netns import HERE, PY, have_netns, run, wait_until

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(have_netns() is not None, reason=str(have_netns()))]

ADVERT_PORT = 7788


def capture(pair, tmp, name, seconds=1.0):
    """Adverts crossing the switch for `seconds`, as an attacker's mirror port sees them."""
    out = tmp / f"{name}.jsonl"
    run("ip", "netns", "exec", pair.bed.sw, PY, HERE / "netns.py", "advert-capture", out,
        seconds, ADVERT_PORT, timeout=seconds + 10)
    pkts = [json.loads(line) for line in out.read_text().splitlines()]
    by = {n: [p for p in pkts if p["src"] == pair.bed[n].ip] for n in ("lb1", "lb2")}
    assert len(by["lb1"]) >= 5 and len(by["lb2"]) >= 5, {k: len(v) for k, v in by.items()}
    # what a mirror port shows: TTL 255 adverts (so TTL is no defence)
    assert all(p["ttl"] == 255 for p in pkts)
    return by


def v1_advert(node="lb9"):
    """An advert of the old format version 1 (wall-clock epoch), signed with the
    pair's key: what a node not yet upgraded sends."""
    body = (b"VG" + bytes([1, 1, GROUP, 100, 1, 0]) + struct.pack(">HH", 100, 0) +
            struct.pack(">QQ", int(time.time() * 1e6), 1) + bytes(16) +
            node.encode().ljust(32, b"\0"))
    return (body + hmac.new(KEY.encode(), body, hashlib.sha256).digest()).hex()


def inject(pair, tmp, name, sends):
    path = tmp / f"{name}.inject"
    path.write_text("".join(json.dumps(dict(s, port=ADVERT_PORT)) + "\n" for s in sends))
    pair.bed["evil"].sh(PY, HERE / "netns.py", "advert-inject", path, timeout=60)


def snapshot(v):
    fo = v.fo()
    return {"state": fo["state"], "transitions": fo["transitions"],
            "received": fo["adverts"]["received"], "rejected": dict(fo["adverts"]["rejected"])}


def grew(before, after, reason):
    return after["rejected"][reason] - before["rejected"][reason]


def check_steady(pair, b1, b2):
    """Still lb1 master, lb2 backup, nobody moved, the VIP only on lb1, and both
    keep accepting each other's genuine adverts."""
    a1, a2 = snapshot(pair["lb1"]), snapshot(pair["lb2"])
    assert a1["state"] == "master" and a2["state"] == "backup", (a1, a2, pair.logs())
    assert a1["transitions"] == b1["transitions"], pair.logs()
    assert a2["transitions"] == b2["transitions"], pair.logs()
    assert pair.bed["lb1"].has(VIP) and not pair.bed["lb2"].has(VIP)
    wait_until(lambda: pair["lb1"].fo()["adverts"]["received"] > a1["received"] + 3, 2,
               "lb1 to keep accepting lb2's adverts")
    wait_until(lambda: pair["lb2"].fo()["adverts"]["received"] > a2["received"] + 3, 2,
               "lb2 to keep accepting lb1's adverts")
    return a1, a2


def attack(pair, tmp, multicast):
    bed = pair.bed
    bed.add_node("evil", 66)
    ip1, ip2 = bed["lb1"].ip, bed["lb2"].ip
    stranger = "192.0.2.77"
    old = capture(pair, tmp, "boot1")
    b1, b2 = snapshot(pair["lb1"]), snapshot(pair["lb2"])
    t_start = time.monotonic()

    # 1. reflection, spread over ~1.5 s (several master-down intervals)
    sends = []
    for p in old["lb1"]:
        sends += [{"src": ip2, "dst": ip1, "hex": p["hex"], "gap": 0.01},
                  {"src": stranger, "dst": ip1, "hex": p["hex"], "gap": 0.01}]
    for p in old["lb2"]:
        sends.append({"src": ip1, "dst": ip2, "hex": p["hex"], "gap": 0.01})
    inject(pair, tmp, "reflect", sends)
    a1, a2 = check_steady(pair, b1, b2)
    assert grew(b1, a1, "reflected") >= 2 * len(old["lb1"]), a1
    assert grew(b2, a2, "reflected") >= len(old["lb2"]), a2

    # 2. replay of old adverts from the right addresses
    sends = [{"src": ip2, "dst": ip1, "hex": p["hex"], "gap": 0.005} for p in old["lb2"]]
    sends += [{"src": ip1, "dst": ip2, "hex": p["hex"], "gap": 0.005} for p in old["lb1"]]
    inject(pair, tmp, "replay", sends)
    c1, c2 = check_steady(pair, b1, b2)
    assert grew(a1, c1, "replay") >= len(old["lb2"]), c1
    assert grew(a2, c2, "replay") >= len(old["lb1"]), c2

    # 3. flood: lb2's adverts from 100 strangers, and forged ones (no key)
    sends = [{"src": f"192.0.2.{150 + i}", "dst": ip1, "hex": old["lb2"][i % len(old["lb2"])]["hex"]}
             for i in range(100)]
    forged = bytearray.fromhex(old["lb2"][-1]["hex"])
    forged[5] = 254                        # priority 254, MAC left as it was
    sends += [{"src": ip2, "dst": ip1, "hex": forged.hex()} for _ in range(30)]
    inject(pair, tmp, "flood", sends)
    sends = [{"src": ip2, "dst": ip1, "hex": v1_advert()} for _ in range(5)]
    inject(pair, tmp, "v1", sends)
    d1, d2 = check_steady(pair, b1, b2)
    assert grew(c1, d1, "version") == 5, d1
    assert "advert format version 1, this vigild speaks version 2" in pair["lb1"].log()
    # unicast: not a configured peer; multicast: lb2's boot heard from elsewhere
    assert grew(c1, d1, "wrong_address" if multicast else "unknown_sender") >= 100, d1
    assert grew(c1, d1, "bad_mac") >= 30, d1
    assert len(pair["lb1"].fo()["peers"]) == 1      # no stranger got an entry

    # 4. lb2 restarts: new boot, sequence back at 1; accepted from its first advert
    pair["lb2"].stop()
    e1 = snapshot(pair["lb1"])
    pair["lb2"].start()
    pair["lb2"].wait_state("backup", 5)
    wait_until(lambda: "peer lb2 restarted" in pair["lb1"].log(), 2, "lb1 to accept the new lb2")
    f1, f2 = check_steady(pair, e1, snapshot(pair["lb2"]))
    assert grew(e1, f1, "replay") == 0, (e1, f1)    # not a single genuine advert refused
    peer = pair["lb1"].fo()["peers"][0]
    assert peer["node"] == "lb2" and peer["last_seen_ms"] < 300, peer
    assert peer["restarts"] == 1 and peer["boot"] == pair["lb2"].fo()["boot"], peer
    assert pair["lb1"].fo()["advert_version"] == 2

    # 5. the previous boot's adverts again: that boot is retired
    sends = [{"src": ip2, "dst": ip1, "hex": p["hex"], "gap": 0.005} for p in old["lb2"]]
    inject(pair, tmp, "retired", sends)
    g1, _ = check_steady(pair, e1, f2)
    assert grew(f1, g1, "replay") >= len(old["lb2"]), g1
    # the client only ever reached lb1
    who = {r[3] for r in pair.prober.records() if r[2] and r[0] >= t_start}
    assert who == {bed["lb1"].ip}, who

    # 6. lb1 restarts: lb2's first boot is now one lb1 cannot know. Replayed,
    # it must not push lb2's live boot out (no lock-out, no split brain)
    pair["lb1"].stop()
    pair["lb1"].start()
    pair["lb1"].wait_state("master", 5)
    wait_until(lambda: pair["lb1"].fo()["peers"][0].get("node") == "lb2", 3, "lb1 hears lb2")
    h1, h2 = snapshot(pair["lb1"]), snapshot(pair["lb2"])
    sends = [{"src": ip2, "dst": ip1, "hex": p["hex"], "gap": 0.005} for p in old["lb2"]]
    inject(pair, tmp, "unknown", sends)
    time.sleep(1.5)                        # past the 10-advert window
    i1, _ = check_steady(pair, h1, h2)
    assert pair["lb1"].fo()["peers"][0]["last_seen_ms"] < 300
    j1 = snapshot(pair["lb1"])
    time.sleep(0.5)
    k1 = snapshot(pair["lb1"])
    assert grew(j1, k1, "replay") == 0 and k1["received"] > j1["received"] + 3, (j1, k1)
    return k1


@pytest.mark.parametrize("mode", ["unicast", "multicast"])
def test_attacker_without_key(tmp_path, mode):
    fo = {"peers": None} if mode == "multicast" else None
    pair = Pair(tmp_path, lb1_fo=fo, lb2_fo=fo)
    try:
        counts = attack(pair, tmp_path, mode == "multicast")
        # every rejection reason is in the status and in /metrics
        for reason in ("reflected", "replay", "unknown_sender", "wrong_address", "table_full",
                       "bad_mac", "version"):
            assert reason in counts["rejected"]
    finally:
        problems = pair.close()
    assert not problems, problems
