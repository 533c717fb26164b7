"""Failover operations in network namespaces: preempt settings, standby and
takeover, hostile adverts, duplicate addresses, tracked services, partition
heal."""
import hashlib
import signal
import hmac
import struct
import time

import pytest

from failover_bed import GROUP, KEY, VIP, master_down_ms, record
from netns import PY, have_netns, wait_until

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(have_netns() is not None, reason=str(have_netns()))]

ADVERT_PORT = 7788


def test_failback_without_preempt(make_pair):
    pair = make_pair(lb1_fo={"preempt": False})
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    bed["lb1"].link(False)
    lb2.wait_state("master", 2)
    bed["lb1"].link(True)
    lb1.wait_state("backup", 2)
    # lb1 has the higher priority, but without preempt it leaves lb2 in charge
    time.sleep(4 * master_down_ms(150) / 1000 + 0.6)
    assert lb1.state() == "backup" and lb2.state() == "master"
    assert bed["lb2"].has(VIP) and not bed["lb1"].has(VIP)
    assert pair.prober.last_who() == bed["lb2"].ip


def test_preempt_delay(make_pair):
    pair = make_pair(lb1_fo={"preempt_delay": "1500ms"})
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    bed["lb1"].link(False)
    lb2.wait_state("master", 2)
    bed["lb1"].link(True)
    lb1.wait_state("backup", 2)
    wait_until(lambda: lb1.fo()["priority"] == 150, 3, "lb1's services up again")
    t_ready = time.monotonic()
    time.sleep(1.0)
    assert lb1.state() == "backup", "preempted before preempt_delay"
    lb1.wait_state("master", 2)
    waited = time.monotonic() - t_ready
    assert waited >= 1.4, waited
    lb2.wait_state("backup", 1)


def test_standby_and_takeover(make_pair):
    pair = make_pair()
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    t0 = time.monotonic()
    r = lb1.ctl("standby")
    assert r.returncode == 0, r.stderr
    lb2.wait_state("master", 1)
    lb1.wait_state("backup", 1)
    pair.prober.wait_answer(bed["lb2"].ip, 2, after=t0)
    time.sleep(0.2)
    record("standby", outage_ms=round(pair.prober.outage(t0) * 1000))
    assert lb1.fo()["priority"] == 0 and lb1.fo()["standby"] is True
    assert "resigned" in lb2.fo()["reason"]
    # lb1 stays backup although it has the higher priority and preempts
    time.sleep(3 * master_down_ms(150) / 1000)
    assert lb1.state() == "backup" and bed["lb2"].has(VIP) and not bed["lb1"].has(VIP)
    # lb2 cannot go standby: nobody would take over
    r = lb2.ctl("standby")
    assert r.returncode == 1 and "peer lb1 is in standby itself" in r.stderr, r.stderr
    assert lb2.state() == "master" and bed["lb2"].has(VIP)
    r = lb1.ctl("takeover")
    assert r.returncode == 0, r.stderr
    lb1.wait_state("master", 1)
    lb2.wait_state("backup", 1)
    assert lb1.fo()["priority"] == 255 and "takeover" in lb1.fo()["reason"]
    t1 = time.monotonic()
    pair.prober.wait_answer(bed["lb1"].ip, 2, after=t1 - 0.05)
    assert bed["lb1"].has(VIP) and not bed["lb2"].has(VIP)
    assert bed["client"].neigh_mac(VIP) == bed["lb1"].mac


def test_standby_refused_without_peer(make_pair):
    pair = make_pair()
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    assert lb2.stop() == 0
    time.sleep(master_down_ms(150) / 1000 + 0.1)
    r = lb1.ctl("standby")
    assert r.returncode == 1 and "no peer is alive" in r.stderr, r.stderr
    assert lb1.state() == "master" and lb1.fo()["standby"] is False
    assert lb1.fo()["priority"] == 150 and bed["lb1"].has(VIP)
    assert "standby refused" in lb1.log()


def test_standby_refused_while_peer_in_standby_then_resume(make_pair):
    """lb2 goes standby (lb1 holds the VIP); lb1's standby would leave nobody
    to hold it: refused, and the VIP stays served by lb1. After lb2 resumes,
    lb1's standby hands over; lb1's resume takes the VIP back (preempt)."""
    pair = make_pair()
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    r = lb2.ctl("standby")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: lb1.fo()["peers"][0]["priority"] == 0, 2, "lb1 to hear lb2's standby")
    t0 = time.monotonic()
    r = lb1.ctl("standby")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "peer lb2 is in standby itself" in r.stderr and "resume" in r.stderr, r.stderr
    assert lb1.fo()["peers"][0]["standby"] is True
    # the VIP stays held and served: no outage, for several master-down times
    time.sleep(4 * master_down_ms(150) / 1000)
    assert lb1.state() == "master" and lb1.fo()["standby"] is False
    assert bed["lb1"].has(VIP) and not bed["lb2"].has(VIP)
    gap = pair.prober.outage(t0)
    assert gap is not None and gap < 1.0, gap   # (a probe every 10 ms; margin for load)
    assert pair.prober.last_who() == bed["lb1"].ip
    # a group that is not ours is refused; ours (51) is accepted
    r = lb2.ctl("resume", "52")
    assert r.returncode == 1 and "no failover group 52" in r.stderr, r.stderr
    r = lb2.ctl("resume", str(GROUP))
    assert r.returncode == 0, r.stderr
    assert lb2.fo()["standby"] is False and lb2.fo()["priority"] == 100
    wait_until(lambda: lb1.fo()["peers"][0]["priority"] == 100, 2, "lb1 to hear the resume")
    assert lb1.fo()["peers"][0]["standby"] is False
    assert lb2.state() == "backup"      # lb1 has the higher priority: nothing moves
    r = lb1.ctl("standby")
    assert r.returncode == 0, r.stderr
    lb2.wait_state("master", 1)
    lb1.wait_state("backup", 1)
    # resume: lb1 is back at 150 > 100 and preempts
    t1 = time.monotonic()
    r = lb1.ctl("resume")
    assert r.returncode == 0, r.stderr
    lb1.wait_state("master", 2)
    lb2.wait_state("backup", 1)
    assert lb1.fo()["priority"] == 150 and lb1.fo()["standby"] is False
    pair.prober.wait_answer(bed["lb1"].ip, 2, after=t1)
    assert bed["lb1"].has(VIP) and not bed["lb2"].has(VIP)


def test_resume_ends_takeover(make_pair):
    """After takeover on the lower-priority node, resume drops its priority
    back and the normal election (preempt) gives the VIP to lb1 again."""
    pair = make_pair()
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    r = lb2.ctl("takeover")
    assert r.returncode == 0, r.stderr
    lb2.wait_state("master", 1)
    lb1.wait_state("backup", 1)
    assert lb2.fo()["priority"] == 255 and lb2.fo()["forced"] is True
    r = lb2.ctl("resume")
    assert r.returncode == 0, r.stderr
    assert lb2.fo()["forced"] is False and lb2.fo()["priority"] == 100
    lb1.wait_state("master", 2)
    lb2.wait_state("backup", 1)
    assert bed["lb1"].has(VIP) and not bed["lb2"].has(VIP)
    # resume with nothing to end is fine
    assert lb1.ctl("resume").returncode == 0 and lb1.state() == "master"


def advert(key, node="lb1", prio=200, state=2, boot=1, seq=1, group=GROUP):
    """An advert of format version 2 (boot ID, sequence)."""
    body = (b"VG" + bytes([2, 1, group, prio, state, 0]) + struct.pack(">HH", 100, 0) +
            struct.pack(">QQ", boot, seq) + bytes(16) + node.encode().ljust(32, b"\0"))
    return body + hmac.new(key, body, hashlib.sha256).digest()


def send_from(bed, node, src_ip, dst_ip, payload):
    """Send one UDP advert (TTL 255) from namespace node, source src_ip
    (spoofed with IP_TRANSPARENT when it is not node's address)."""
    code = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "s.setsockopt(socket.SOL_IP,19,1)\n"     # IP_TRANSPARENT
        "s.setsockopt(socket.SOL_IP,socket.IP_TTL,255)\n"
        "s.setsockopt(socket.SOL_IP,socket.IP_MULTICAST_TTL,255)\n"
        f"s.setsockopt(socket.SOL_IP,socket.IP_MULTICAST_IF,socket.inet_aton('{bed[node].ip}'))\n"
        f"s.bind(('{src_ip}',{ADVERT_PORT}))\n"
        f"s.sendto(bytes.fromhex('{payload.hex()}'),('{dst_ip}',{ADVERT_PORT}))\n")
    bed[node].sh(PY, "-c", code)


def capture_advert(bed, node, timeout=2.0):
    """One advert payload as it arrives on node's eth0 (AF_PACKET)."""
    code = (
        "import socket,sys,time\n"
        "s=socket.socket(socket.AF_PACKET,socket.SOCK_DGRAM,socket.htons(0x0800))\n"
        f"s.settimeout({timeout})\n"
        "while True:\n"
        "  p,a=s.recvfrom(4096)\n"
        "  if p[9]==17 and int.from_bytes(p[22:24],'big')==%d and a[2]==0:\n"
        "    ihl=(p[0]&15)*4; print(p[ihl+8:].hex()); break\n" % ADVERT_PORT)
    return bytes.fromhex(bed[node].sh(PY, "-c", code, timeout=timeout + 5).stdout.strip())


def test_forged_and_replayed_adverts(make_pair):
    pair = make_pair()
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    real = capture_advert(bed, "lb2")
    assert len(real) == 108 and real[:2] == b"VG"
    # a forged "master resigns" from lb1's address with the wrong key
    send_from(bed, "client", bed["lb1"].ip, bed["lb2"].ip,
              advert(b"wrong key, same length as it....", prio=0))
    # a forged better master towards lb1
    send_from(bed, "client", bed["lb2"].ip, bed["lb1"].ip,
              advert(b"wrong key, same length as it....", node="lb2", prio=254))
    # a real advert of lb1, replayed
    send_from(bed, "client", bed["lb1"].ip, bed["lb2"].ip, real)
    # right key, lb1's current boot, an old sequence: a replay
    boot1 = int(lb1.fo()["boot"], 16)
    send_from(bed, "client", bed["lb1"].ip, bed["lb2"].ip,
              advert(KEY.encode(), prio=0, boot=boot1, seq=1))
    # right key but a stranger's address
    send_from(bed, "client", bed["client"].ip, bed["lb2"].ip,
              advert(KEY.encode(), prio=0, boot=1 << 62))
    # truncated
    send_from(bed, "client", bed["lb1"].ip, bed["lb2"].ip, real[:60])
    rej2 = wait_until(lambda: (lambda r: r if r["replay"] >= 2 else None)(
        lb2.fo()["adverts"]["rejected"]), 2, "rejections counted")
    rej1 = lb1.fo()["adverts"]["rejected"]
    assert rej2["bad_mac"] == 1 and rej2["unknown_sender"] == 1 and rej2["truncated"] == 1
    assert rej1["bad_mac"] == 1
    time.sleep(0.3)
    assert lb1.state() == "master" and lb2.state() == "backup"
    assert bed["lb1"].has(VIP) and not bed["lb2"].has(VIP)
    assert "rejected (replay)" in lb2.log() and "rejected (bad_mac)" in lb1.log()
    metrics = lb2.ctl("status", "--json")  # status still answers
    assert metrics.returncode == 0


def test_startup_refused_while_another_host_holds_vip(make_pair):
    pair = make_pair(start=False)
    bed, lb1 = pair.bed, pair["lb1"]
    bed["client"].ip_cmd("addr", "add", f"{VIP}/32", "dev", "eth0")
    lb1.start()
    wait_until(lambda: lb1.fo()["duplicate_refusals"] >= 1, 3, "duplicate refusal")
    assert lb1.state() == "backup" and not bed["lb1"].has(VIP)
    assert "another host holds the address" in lb1.log()
    assert bed["client"].mac in lb1.log()
    r = lb1.ctl("takeover")
    assert r.returncode == 1 and "another host holds" in r.stderr
    assert lb1.state() == "backup"
    # once the address is free, the next master-down round claims it
    bed["client"].ip_cmd("addr", "del", f"{VIP}/32", "dev", "eth0")
    lb1.wait_state("master", 3)
    assert bed["lb1"].has(VIP)


def test_tracked_service_down_moves_the_vip(make_pair):
    pair = make_pair()
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    t0 = time.monotonic()
    for be in ("be1", "be2"):    # lb1 alone loses its way to the backends (EHOSTUNREACH:
        # the backend's side; "prohibit" would be EACCES, a local policy, not charged)
        bed["lb1"].ip_cmd("route", "add", "unreachable", f"{bed[be].ip}/32")
    wait_until(lambda: lb1.fo()["priority"] == 90, 3, "lb1's priority to drop")
    assert lb1.fo()["services_down"] == ["web"]
    lb2.wait_state("master", 2)
    lb1.wait_state("backup", 1)
    pair.prober.wait_answer(bed["lb2"].ip, 2, after=t0)
    assert "preempt" in lb2.fo()["reason"]
    for be in ("be1", "be2"):
        bed["lb1"].ip_cmd("route", "del", "unreachable", f"{bed[be].ip}/32")
    lb1.wait_state("master", 3)


def partition(bed, on):
    """Isolate the switch ports of lb1 and lb2 from each other (bridge port
    isolation): both still reach the client and the backends."""
    for n in ("lb1", "lb2"):
        bed[n].bed  # noqa: B018 - the node exists
        from netns import run
        run("ip", "netns", "exec", bed.sw, "bridge", "link", "set", "dev", n, "isolated",
            "on" if on else "off")


def test_partition_heals_to_one_master(make_pair):
    pair = make_pair()
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    partition(bed, True)
    lb2.wait_state("master", 2)       # split brain: both claim the VIP
    assert lb1.state() == "master"
    time.sleep(0.5)                   # the client follows the last GARP (lb2's)
    assert bed["client"].neigh_mac(VIP) == bed["lb2"].mac
    t_heal = time.monotonic()
    partition(bed, False)
    lb2.wait_state("backup", 2)
    assert lb1.state() == "master"
    # lb1 heard a worse master and re-asserted with gratuitous ARPs
    wait_until(lambda: bed["client"].neigh_mac(VIP) == bed["lb1"].mac, 2,
               "client's neighbour entry back on lb1")
    pair.prober.wait_answer(bed["lb1"].ip, 2, after=t_heal)
    assert "re-asserting" in lb1.log() or "yielded: re-announcing" in lb1.log()
    assert not bed["lb2"].has(VIP) and bed["lb1"].has(VIP)


def test_multicast_adverts(make_pair):
    """Without peers, adverts go to the link-local group 224.0.0.118 with TTL 255."""
    pair = make_pair(lb1_fo={"peers": None}, lb2_fo={"peers": None})
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    peers = lb2.fo()["peers"]
    assert [p["address"] for p in peers] == [bed["lb1"].ip] and peers[0]["state"] == "master"
    assert "multicast 224.0.0.118" in lb1.log()
    # a stranger on the LAN with the wrong key is counted, not learnt
    send_from(bed, "client", bed["client"].ip, "224.0.0.118",
              advert(b"wrong key, same length as it....", prio=0))
    wait_until(lambda: lb2.fo()["adverts"]["rejected"]["bad_mac"] >= 1, 2, "bad MAC counted")
    assert len(lb2.fo()["peers"]) == 1
    t = time.monotonic()
    lb1.signal(signal.SIGKILL)
    lb2.wait_state("master", 2)
    pair.prober.wait_answer(bed["lb2"].ip, 2, after=t)
    assert not bed["lb1"].has(VIP)


def test_equal_priority_higher_address_wins(make_pair):
    pair = make_pair(lb1_fo={"priority": 100})
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    # lb1 came first; an equal backup does not preempt
    time.sleep(3 * master_down_ms(100) / 1000)
    assert lb1.state() == "master" and lb2.state() == "backup"
    partition(bed, True)
    lb2.wait_state("master", 2)
    partition(bed, False)
    # two masters of priority 100: 192.0.2.2 beats 192.0.2.1
    lb1.wait_state("backup", 2)
    assert lb2.state() == "master" and "better master" in lb1.fo()["reason"]
    wait_until(lambda: bed["client"].neigh_mac(VIP) == bed["lb2"].mac, 2, "client on lb2")
    assert bed["lb2"].has(VIP) and not bed["lb1"].has(VIP)


def test_no_usable_address_is_a_fault(make_pair):
    pair = make_pair()
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    bed["lb1"].ip_cmd("addr", "del", f"{bed['lb1'].ip}/24", "dev", "eth0")
    lb1.wait_state("fault", 1)
    assert "no usable address" in lb1.fo()["reason"] and not bed["lb1"].has(VIP)
    lb2.wait_state("master", 2)
    bed["lb1"].ip_cmd("addr", "add", f"{bed['lb1'].ip}/24", "dev", "eth0")
    lb1.wait_state("master", 3)     # backup, then preempts lb2 (150 > 100)
    lb2.wait_state("backup", 1)
