"""Proxy workers (issue 12): `global.workers` event loops on threads share
the backends' state, so the schedulers stay exact, maxconn holds across
them, every worker takes clients, and a second process cannot share the
port through SO_REUSEPORT."""
import os
import threading
from collections import Counter

from vigil import (Backend, base_config, connect, free_port, http_get, metric,
                   parse_prometheus, recv_line, run_vigild, service, wait_all_state, wait_for)

VIP = "127.0.0.11"
# these tests set workers in the file: no override from the suite's matrix
OWN = {"VIGIL_WORKERS": ""}


def start(vigild_factory, bes, scheduler, workers=4, weights=None, gkeys=None, **extra):
    confs = [b.conf(weight=w) if weights else b.conf()
             for b, w in zip(bes, weights or [None] * len(bes))]
    port, hport = free_port(VIP), free_port()
    g = {"workers": workers, "status_listen": f"127.0.0.1:{hport}"}
    g.update(gkeys or {})
    v = vigild_factory(base_config([service("s", VIP, [port], confs, scheduler=scheduler,
                                            **extra)], **g), env=OWN)
    wait_all_state(v, "s", [b.name for b in bes])
    return v, port, hport


def parallel(nthreads, fn):
    """Run fn(i) in nthreads threads; re-raise the first failure."""
    errors = []

    def run(i):
        try:
            fn(i)
        except Exception as e:    # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors[:3]


def per_worker(hport, name):
    m = parse_prometheus(http_get("127.0.0.1", hport, "/metrics")[2].decode())
    return {dict(k[1])["worker"]: val for k, val in m.items() if k[0] == name}


def test_wrr_is_exact_across_workers(vigild_factory, backends):
    bes = backends(3)
    v, port, hport = start(vigild_factory, bes, "weighted-roundrobin", weights=[1, 2, 3])
    seen = Counter()
    lock = threading.Lock()

    def clients(i):
        local = Counter()
        for _ in range(750):
            with connect(VIP, port) as s:
                local[recv_line(s)] += 1
        with lock:
            seen.update(local)

    parallel(8, clients)
    assert sum(seen.values()) == 6000, seen
    for name, share in (("be1", 1 / 6), ("be2", 2 / 6), ("be3", 3 / 6)):
        assert abs(seen[name] / 6000 - share) <= 0.02, seen
    st = {b["name"]: b["total"] for b in v.service("s")["backends"]}
    assert st == dict(seen), (st, seen)
    # the clients were spread over the workers, and the totals are their sums
    acc = per_worker(hport, "vigil_worker_connections_total")
    assert len(acc) == 4 and sum(acc.values()) == v.status()["total"] >= 6000, acc
    assert sum(1 for n in acc.values() if n > 0) >= 2, acc


def test_leastconn_balances_across_workers(vigild_factory, backends):
    bes = backends(3)
    v, port, hport = start(vigild_factory, bes, "leastconn")
    held, lock = [], threading.Lock()

    def clients(i):
        for _ in range(10):
            s = connect(VIP, port)
            name = recv_line(s)
            with lock:
                held.append((s, name))

    try:
        parallel(6, clients)
        c = Counter(n for _, n in held)
        assert sum(c.values()) == 60 and max(c.values()) - min(c.values()) <= 1, c
        active = {b["name"]: b["active"] for b in v.service("s")["backends"]}
        assert active == dict(c), (active, c)
        assert sum(per_worker(hport, "vigil_worker_active_connections").values()) == 60
    finally:
        for s, _ in held:
            s.close()
    wait_for(lambda: v.status()["active"] == 0, 5, what="all closed")


def test_maxconn_holds_across_workers(vigild_factory):
    be = Backend("be1")
    try:
        v, port, hport = start(vigild_factory, [be], "roundrobin", gkeys={"maxconn": 10})
        socks, lock = [], threading.Lock()

        def clients(i):
            for _ in range(5):
                s = connect(VIP, port)
                with lock:
                    socks.append(s)

        parallel(6, clients)          # 30 clients, at most 10 proxied at once
        greeted = []
        for s in socks:
            s.settimeout(0.3)
            try:
                if recv_line(s) == "be1":
                    greeted.append(s)
            except OSError:
                pass
        assert len(greeted) == 10, len(greeted)
        assert v.status()["active"] == 10 and be.open <= 10
        for s in greeted:             # room again: the waiting ones go through,
            s.close()                 # whichever worker holds them in its backlog
        rest = [s for s in socks if s not in greeted]
        wait_for(lambda: v.status()["active"] == 10 and be.open == 10, 5,
                 what="10 waiting clients to go through")
        n = 0
        for s in rest:
            s.settimeout(0.2)
            try:
                n += recv_line(s) == "be1"
            except OSError:
                pass
        assert n == 10 and v.status()["active"] == 10
        for s in socks:
            s.close()
    finally:
        be.close()


def test_workers_auto_and_status(vigild_factory, backends):
    bes = backends(1)
    v, port, hport = start(vigild_factory, bes, "roundrobin", workers="auto")
    assert v.status()["workers"] == min(len(os.sched_getaffinity(0)), 64)
    assert "proxy worker" in v.log()


def test_workers_bad_values_refused(tmp_path):
    for bad, why in (("0", "auto or an integer 1..64"), ("65", "auto or an integer 1..64"),
                     ("many", "auto or an integer 1..64"), ("[2]", "auto or an integer")):
        p = tmp_path / "v.yaml"
        p.write_text("global: {workers: %s}\nservices:\n - {name: s, vip: 127.0.0.11, "
                     "ports: [80], backends: [{name: a, address: 127.0.0.1}]}\n" % bad)
        r = run_vigild("-t", "-c", p)
        assert r.returncode != 0 and "workers" in r.stderr and why in r.stderr, (bad, r.stderr)


def test_second_process_cannot_share_the_port(vigild_factory, backends):
    bes = backends(1)
    v, port, hport = start(vigild_factory, bes, "roundrobin")
    other = vigild_factory(base_config([service("s", VIP, [port], [bes[0].conf()])],
                                       workers=4), name="other", start=False, env=OWN)
    other.start(wait=False)
    wait_for(lambda: not other.alive(), 10, what="the second vigild to give up")
    assert other.proc.returncode != 0
    assert "Address already in use" in other.log(), other.log()[-2000:]
    with connect(VIP, port) as s:
        assert recv_line(s) == "be1"


def test_reload_reaches_every_worker(vigild_factory, backends):
    bes = backends(2)
    v, port, hport = start(vigild_factory, bes, "roundrobin")
    port2 = free_port(VIP)
    cfg = v.config
    cfg["services"][0]["ports"] = [port2]
    v.write_config(cfg)
    assert v.ctl("reload").returncode == 0
    seen = Counter()
    lock = threading.Lock()

    def clients(i):
        for _ in range(25):
            with connect(VIP, port2) as s:
                name = recv_line(s)
            with lock:
                seen[name] += 1

    parallel(4, clients)
    assert seen == {"be1": 50, "be2": 50}, seen
    # the old port is closed on every worker
    for _ in range(20):
        try:
            with connect(VIP, port, timeout=1) as s:
                assert recv_line(s) == "", "old port still served"
        except OSError:
            pass
    acc = per_worker(hport, "vigil_worker_connections_total")
    assert sum(1 for n in acc.values() if n > 0) >= 2, acc
