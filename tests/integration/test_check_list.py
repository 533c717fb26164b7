"""check: as a list: every check gates the backend (or, with ports:, only some
of the service's ports), each with its own port and rise/fall; the status names
the failing one and lists them all in checks[]."""
from vigil import (Backend, base_config, check_conf, free_port, metric, parse_prometheus,
                   service, wait_for, who_answers, http_get)


def two_port_pool(n=2):
    """n backends on 127.0.0.(2+i), each listening on the same two ports p1, p2
    (which the VIP 127.0.0.1 serves too)."""
    p1, p2 = free_port(), free_port()
    bes = []
    for i in range(n):
        host = f"127.0.0.{2 + i}"
        bes.append([Backend(f"fe{i + 1}", host=host, port=p1),
                    Backend(f"fe{i + 1}-b", host=host, port=p2)])
    return p1, p2, bes


def answers(vip, port, n=8):
    return {who_answers(vip, port) for _ in range(n)}


def pool_backends(n=2):
    return [{"name": f"fe{i + 1}", "address": f"127.0.0.{2 + i}"} for i in range(n)]


def check_samples(v, port):
    status, _, body = http_get("127.0.0.1", port, "/metrics")
    assert status == 200
    return parse_prometheus(body.decode())


def test_gated_port_leaves_other_port_in_rotation(vigild_factory):
    """A check with ports: [p2] that fails takes p2 traffic away from that
    backend only; p1 keeps both backends; the backend stays up."""
    p1, p2, bes = two_port_pool()
    vip, sport = "127.0.0.1", free_port()
    try:
        svc = service("fe", vip, [p1, p2], pool_backends(),
                      check=[check_conf(), check_conf(ports=[p2], fall=2)])
        v = vigild_factory(base_config([svc], status_listen=f"127.0.0.1:{sport}"))
        for i in range(2):
            v.wait_state("fe", f"fe{i + 1}", "up")
        assert answers(vip, p2) == {"fe1-b", "fe2-b"}
        bes[0][1].close()                    # fe1's second port goes away
        wait_for(lambda: v.backend("fe", "fe1")["gated_ports"] == [p2], 10,
                 what="fe1 gated on the second port")
        b = v.backend("fe", "fe1")
        assert b["state"] == "up", b
        assert b["check"]["last"] == "connect", b
        assert [c["state"] for c in b["checks"]] == ["up", "down"], b
        assert b["checks"][1]["port"] == p2 and b["checks"][1]["ports"] == [p2], b
        assert b["checks"][0]["ports"] == [] and b["checks"][0]["last"] == "ok", b
        assert answers(vip, p2) == {"fe2-b"}
        assert answers(vip, p1) == {"fe1", "fe2"}
        assert f"port {p2} out of rotation" in v.log()
        m = check_samples(v, sport)
        assert metric(m, "vigil_check_up", service="fe", backend="fe1", check="2", type="tcp",
                      port=str(p2)) == 0
        assert metric(m, "vigil_check_up", service="fe", backend="fe1", check="1", type="tcp",
                      port=str(p1)) == 1
        # the port comes back: so does the traffic
        bes[0][1] = Backend("fe1-b", host="127.0.0.2", port=p2)
        wait_for(lambda: v.backend("fe", "fe1")["gated_ports"] == [], 10,
                 what="fe1's second port back")
        wait_for(lambda: answers(vip, p2) == {"fe1-b", "fe2-b"}, 10, what="both on port 2")
    finally:
        for a, b in bes:
            a.close()
            b.close()


def test_any_failing_check_takes_backend_down_and_names_it(vigild_factory):
    """Without ports:, every check gates the whole backend."""
    p1, p2, bes = two_port_pool()
    vip = "127.0.0.1"
    try:
        svc = service("pool", vip, [p1], pool_backends(),
                      check=[check_conf(), check_conf(port=p2, fall=2)])
        v = vigild_factory(base_config([svc]))
        for i in range(2):
            v.wait_state("pool", f"fe{i + 1}", "up")
        bes[1][1].close()
        v.wait_state("pool", "fe2", "down")
        b = v.backend("pool", "fe2")
        assert b["check"]["last"] == "connect", b
        assert [c["state"] for c in b["checks"]] == ["up", "down"], b
        assert b["gated_ports"] == [], b
        assert answers(vip, p1) == {"fe1"}
        assert "check 2 (tcp:%d): connect" % p2 in v.log()
    finally:
        for a, b in bes:
            a.close()
            b.close()


def test_reload_changes_the_list_without_a_false_down(vigild_factory):
    """A reload that adds a check keeps the backends up until the new check's
    first result; one that fails then gates only its port; removing the list
    again frees the port."""
    p1, p2, bes = two_port_pool()
    vip = "127.0.0.1"
    try:
        svc = service("fe", vip, [p1, p2], pool_backends(), check=check_conf())
        v = vigild_factory(base_config([svc]))
        for i in range(2):
            v.wait_state("fe", f"fe{i + 1}", "up")
        bes[1][1].close()                    # fe2's second port: nobody checks it yet
        svc["check"] = [check_conf(), check_conf(ports=[p2], interval="10s", timeout="1s")]
        v.write_config(base_config([svc]))
        assert v.ctl("reload").returncode == 0
        wait_for(lambda: v.backend("fe", "fe2")["gated_ports"] == [p2], 10,
                 what="fe2 gated on the second port after the reload")
        assert v.backend("fe", "fe2")["state"] == "up"
        assert v.backend("fe", "fe1")["gated_ports"] == []
        assert "up -> down" not in v.log()
        assert answers(vip, p2) == {"fe1-b"}
        svc["check"] = check_conf()
        v.write_config(base_config([svc]))
        assert v.ctl("reload").returncode == 0
        wait_for(lambda: v.backend("fe", "fe2")["gated_ports"] == [], 10, what="gate lifted")
        assert len(v.backend("fe", "fe2")["checks"]) == 1
    finally:
        for a, b in bes:
            a.close()
            b.close()
