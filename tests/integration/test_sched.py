"""Each scheduler's distribution through real connections (issue 2)."""
from collections import Counter

from vigil import (base_config, connect, free_port, recv_line, service, wait_all_state,
                   wait_for, who_answers, who_answers_from)

VIP = "127.0.0.10"


def start(vigild_factory, bes, scheduler, weights=None, **extra):
    """vigild with one service "s" on VIP over bes; waits until all are up."""
    confs = [b.conf(weight=w) if weights else b.conf()
             for b, w in zip(bes, weights or [None] * len(bes))]
    port = free_port(VIP)
    v = vigild_factory(base_config([service("s", VIP, [port], confs, scheduler=scheduler,
                                            **extra)]))
    wait_all_state(v, "s", [b.name for b in bes])
    return v, port


def hold(port, n):
    """Open n connections one after the other; returns [(sock, backend name)]."""
    out = []
    for _ in range(n):
        s = connect(VIP, port)
        out.append((s, recv_line(s)))
    return out


def landed(held):
    return Counter(name for _, name in held)


def close_on(held, name, v, backend):
    """Close every held connection on backend name and wait until vigil saw it."""
    keep = []
    for s, n in held:
        if n == name:
            s.close()
        else:
            keep.append((s, n))
    wait_for(lambda: v.backend("s", backend)["active"] == 0, 5, what=f"{backend} active 0")
    return keep


def test_roundrobin_is_even(vigild_factory, backends):
    bes = backends(3)
    v, port = start(vigild_factory, bes, "roundrobin")
    seq = [who_answers(VIP, port) for _ in range(30)]
    assert Counter(seq) == {"be1": 10, "be2": 10, "be3": 10}, seq
    for i in range(len(seq) - 2):
        assert len(set(seq[i:i + 3])) == 3, f"not a rotation at {i}: {seq}"
    st = {b["name"]: b["total"] for b in v.service("s")["backends"]}
    assert st == {"be1": 10, "be2": 10, "be3": 10}


def test_weighted_roundrobin_follows_weights_smoothly(vigild_factory, backends):
    bes = backends(3)
    v, port = start(vigild_factory, bes, "weighted-roundrobin", weights=[1, 2, 3])
    seq = [who_answers(VIP, port) for _ in range(60)]
    assert Counter(seq) == {"be1": 10, "be2": 20, "be3": 30}, seq
    # smooth interleaving: any 6 consecutive picks are one full cycle 1:2:3,
    # and no backend is picked three times in a row
    for i in range(len(seq) - 5):
        assert Counter(seq[i:i + 6]) == {"be1": 1, "be2": 2, "be3": 3}, f"window {i}: {seq}"
    for i in range(len(seq) - 2):
        assert len(set(seq[i:i + 3])) > 1, f"three in a row at {i}: {seq}"


def test_leastconn_prefers_fewer_open_connections(vigild_factory, backends):
    bes = backends(3)
    v, port = start(vigild_factory, bes, "leastconn")
    held = []
    try:
        for _ in range(6):
            held += hold(port, 1)
            c = landed(held)
            counts = [c.get(b.name, 0) for b in bes]
            assert max(counts) - min(counts) <= 1, held
        assert landed(held) == {"be1": 2, "be2": 2, "be3": 2}
        assert [b["active"] for b in v.service("s")["backends"]] == [2, 2, 2]
        held = close_on(held, "be2", v, "be2")
        # be2 has 0 open, the others 2: the next two connections go to be2
        held += hold(port, 2)
        assert landed(held) == {"be1": 2, "be2": 2, "be3": 2}, held
        # one more on each once they are level again
        held += hold(port, 3)
        assert landed(held) == {"be1": 3, "be2": 3, "be3": 3}, held
    finally:
        for s, _ in held:
            s.close()


def test_weighted_leastconn_follows_weights(vigild_factory, backends):
    bes = backends(3)
    v, port = start(vigild_factory, bes, "weighted-leastconn", weights=[1, 2, 3])
    held = []
    try:
        held += hold(port, 6)
        assert landed(held) == {"be1": 1, "be2": 2, "be3": 3}, held
        held += hold(port, 6)
        assert landed(held) == {"be1": 2, "be2": 4, "be3": 6}, held
        held = close_on(held, "be3", v, "be3")
        # be3 is now at 0/3 against 2/1 and 4/2: the next six all go to be3
        held += hold(port, 6)
        assert landed(held) == {"be1": 2, "be2": 4, "be3": 6}, held
        assert [b["active"] for b in v.service("s")["backends"]] == [2, 4, 6]
    finally:
        for s, _ in held:
            s.close()


def clients(n):
    """n distinct client source addresses on 127.3.0.0/16."""
    return [f"127.3.{i // 250}.{i % 250 + 1}" for i in range(n)]


def mapping(srcs, port):
    return {src: who_answers_from(src, VIP, port) for src in srcs}


def test_source_hash_same_client_same_backend(vigild_factory, backends):
    bes = backends(3)
    v, port = start(vigild_factory, bes, "source-hash")
    seq = [who_answers(VIP, port) for _ in range(20)]
    assert len(set(seq)) == 1 and seq[0] in ("be1", "be2", "be3"), seq
    for src in ("127.3.9.1", "127.3.9.77"):
        seq = [who_answers_from(src, VIP, port) for _ in range(8)]
        assert len(set(seq)) == 1 and seq[0], (src, seq)


def test_source_hash_spreads_and_removal_moves_only_its_clients(vigild_factory, backends):
    bes = backends(3)
    v, port = start(vigild_factory, bes, "source-hash")
    srcs = clients(150)
    before = mapping(srcs, port)
    spread = Counter(before.values())
    assert set(spread) == {"be1", "be2", "be3"}, spread
    assert min(spread.values()) >= 25, f"uneven spread over 150 clients: {spread}"

    # take be2 out: its clients move, (almost) nobody else does
    assert v.ctl("disable", "s", "be2").returncode == 0
    v.wait_state("s", "be2", "maint")
    after = mapping(srcs, port)
    assert "be2" not in after.values()
    others_moved = [s for s in srcs if before[s] != "be2" and after[s] != before[s]]
    assert len(others_moved) <= 3, f"{len(others_moved)} clients of be1/be3 moved: {others_moved}"

    # back in: the table is the same as before, so every client is home again
    assert v.ctl("enable", "s", "be2").returncode == 0
    v.wait_state("s", "be2", "up")
    assert mapping(srcs, port) == before

    # removing it through a reload behaves the same
    cfg = base_config([service("s", VIP, [port], [bes[0], bes[2]], scheduler="source-hash")])
    cfg["global"]["control_socket"] = v.sock
    v.write_config(cfg)
    r = v.ctl("reload")
    assert r.returncode == 0, r.stderr
    assert [b["name"] for b in v.service("s")["backends"]] == ["be1", "be3"]
    reloaded = mapping(srcs, port)
    others_moved = [s for s in srcs if before[s] != "be2" and reloaded[s] != before[s]]
    assert len(others_moved) <= 3, f"{len(others_moved)} clients of be1/be3 moved on reload"


def test_source_hash_mask_groups_a_subnet(vigild_factory, backends):
    bes = backends(3)
    v, port = start(vigild_factory, bes, "source-hash", source_mask=24)
    # every client of one /24 lands on one backend; different /24s spread
    per_net = {}
    for net in range(12):
        seen = {who_answers_from(f"127.4.{net}.{host}", VIP, port) for host in (1, 60, 200)}
        assert len(seen) == 1, (net, seen)
        per_net[net] = seen.pop()
    assert len(set(per_net.values())) >= 2, per_net
