"""Failover notifications (program and e-mail), a VIP deleted behind our back,
and the watcher running unprivileged - in network namespaces."""
import json
import os
import re
import pwd
import signal
import subprocess
import time

from pathlib import Path

import pytest

from failover_bed import VIP
from netns import PY, have_netns, wait_until

FAKE_RELAY = Path(__file__).resolve().parent / "fakes" / "fake_relay.py"

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(have_netns() is not None, reason=str(have_netns()))]


def notify_script(tmp_path, name):
    out = tmp_path / f"{name}.calls"
    script = tmp_path / f"{name}.sh"
    script.write_text(f"#!/bin/sh\necho \"$# $*\" >> {out}\n")
    os.chmod(script, 0o755)
    return script, out


def test_notify_exec_gets_new_old_node(make_pair, tmp_path):
    s1, out1 = notify_script(tmp_path, "lb1")
    s2, out2 = notify_script(tmp_path, "lb2")
    pair = make_pair(lb1_fo={"notify": {"exec": str(s1)}},
                     lb2_fo={"notify": {"exec": str(s2)}})
    wait_until(lambda: out1.exists() and len(out1.read_text().splitlines()) >= 2, 3,
               "lb1's notifications")
    assert out1.read_text().splitlines()[:2] == ["3 backup init lb1", "3 master backup lb1"]
    pair["lb1"].signal(signal.SIGKILL)
    wait_until(lambda: "3 master backup lb2" in out2.read_text().splitlines(), 3,
               "lb2's master notification")
    assert out2.read_text().splitlines() == ["3 backup init lb2", "3 master backup lb2"]


def make_cert(tmp_path):
    key, crt = tmp_path / "sink.key", tmp_path / "sink.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=sink.example", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    return str(crt), str(key)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "starttls"])
def test_notify_email(make_pair, tmp_path, tls):
    pair = make_pair(start=False)
    bed = pair.bed
    mails = tmp_path / "mails.jsonl"
    bed.smtp_sink("client", 2525, mails, starttls=make_cert(tmp_path) if tls else None)
    email = {"smtp": f"{bed['client'].ip}:2525", "from": "vigil@example.com",
             "to": ["ops@example.com", "oncall@example.com"]}
    pair["lb1"].write_config(_with_notify(pair["lb1"].config, {"email": email}))
    pair.start()
    got = wait_until(lambda: mails.exists() and [json.loads(l) for l in
                                                 mails.read_text().splitlines()], 5,
                     "mail at the sink")
    wait_until(lambda: len(mails.read_text().splitlines()) >= 2, 5, "both mails")
    got = [json.loads(l) for l in mails.read_text().splitlines()]
    m = [g for g in got if "backup -> master" in g["data"]][0]
    assert m["from"] == "vigil@example.com"
    assert m["to"] == ["ops@example.com", "oncall@example.com"]
    assert m["tls"] is tls
    assert "Subject: [vigil] lb1 group 51: backup -> master" in m["data"]
    assert "reason: no master heard" in m["data"] and "time:" in m["data"]
    assert "delivered" in pair["lb1"].log()


def test_notify_email_retried_until_the_relay_answers(make_pair, tmp_path):
    """No relay listening at first: the loop is never blocked, the failure is
    logged, and a later attempt delivers."""
    pair = make_pair(start=False)
    mails = tmp_path / "late.jsonl"
    email = {"smtp": f"{pair.bed['client'].ip}:2526", "from": "vigil@example.com",
             "to": ["ops@example.com"]}
    pair["lb1"].write_config(_with_notify(pair["lb1"].config, {"email": email}))
    pair.start()
    wait_until(lambda: "retrying" in pair["lb1"].log(), 5, "a retry")
    assert pair["lb1"].state() == "master"
    assert pair["lb1"].fo()["adverts"]["sent"] > 0
    pair.bed.smtp_sink("client", 2526, mails)
    wait_until(lambda: mails.exists() and "backup -> master" in mails.read_text(), 10,
               "the retried mail")
    assert "delivered" in pair["lb1"].log()


def mail_pair(make_pair, tmp_path, mode, port, cert=()):
    """A pair whose lb1 mails one recipient through the fake relay in mode
    (fakes/fake_relay.py) on the client node; returns (pair, relay log path)."""
    pair = make_pair(start=False)
    node, out = pair.bed["client"], tmp_path / f"relay-{mode}.jsonl"
    node.popen([PY, FAKE_RELAY, node.ip, port, mode, out, *cert],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: node.sh("ss", "-Hltn", f"sport = :{port}").stdout.strip(), 5,
               "fake relay")
    email = {"smtp": f"{node.ip}:{port}", "from": "vigil@example.com",
             "to": ["ops@example.com"]}
    pair["lb1"].write_config(_with_notify(pair["lb1"].config, {"email": email}))
    pair.start()
    return pair, out


def relay_cmds(out):
    return [json.loads(l) for l in out.read_text().splitlines()] if out.exists() else []


def test_notify_email_refuses_replies_injected_before_starttls(make_pair, tmp_path):
    """The relay pipelines a forged dialogue after its 220 to STARTTLS: those
    plaintext bytes are never taken as replies after TLS, so no MAIL FROM is
    sent on the strength of them and the mail is not reported delivered."""
    pair, out = mail_pair(make_pair, tmp_path, "inject", 2527, make_cert(tmp_path))
    lb1 = pair["lb1"]
    wait_until(lambda: "retrying" in lb1.log() or "delivered" in lb1.log(), 6,
               "the first attempt to end")
    time.sleep(0.5)
    log = lb1.log()
    # (the old client took the forged replies after TLS and logged the mail
    # delivered, although no MAIL FROM ever reached the relay)
    assert "delivered" not in log
    cmds = relay_cmds(out)
    assert any(c["cmd"] == "STARTTLS" for c in cmds), cmds
    assert not any(c["cmd"].upper().startswith(("MAIL", "RCPT", "DATA")) for c in cmds), cmds
    # refused at once (the forged bytes came with the 220), or, had they
    # come in a later segment, they would have broken the TLS handshake
    assert "unexpected bytes after its STARTTLS reply" in log or "TLS handshake" in log, log
    assert lb1.state() == "master"


def test_notify_email_bare_reply_lines(make_pair, tmp_path):
    """A relay whose every reply is a bare code ("220", "250", "354"): the
    mail goes through, without STARTTLS (a bare 250 offers no extension)."""
    pair, out = mail_pair(make_pair, tmp_path, "bare", 2528)
    wait_until(lambda: "delivered" in pair["lb1"].log(), 5, "the mail delivered")
    cmds = [c["cmd"] for c in relay_cmds(out)]
    assert "STARTTLS" not in cmds and "MAIL FROM:<vigil@example.com>" in cmds, cmds
    assert "RCPT TO:<ops@example.com>" in cmds and any(c.startswith("<text ") for c in cmds)


def test_notify_email_bare_250_not_read_past_its_end(make_pair, tmp_path):
    """A bare "250" EHLO reply followed by unterminated bytes "STARTTLS": those
    bytes are not part of the 250 line, so the client must not start TLS on
    them (the old client looked 4 bytes into the line, past its end)."""
    pair, out = mail_pair(make_pair, tmp_path, "bareext", 2529)
    lb1 = pair["lb1"]
    wait_until(lambda: "retrying" in lb1.log() or "delivered" in lb1.log(), 5,
               "the first attempt to end")
    cmds = [c["cmd"] for c in relay_cmds(out)]
    assert cmds and cmds[0].startswith("EHLO"), cmds
    assert "STARTTLS" not in cmds, cmds
    assert "unexpected bytes after its EHLO reply" in lb1.log()


def test_notify_email_relay_refuses(make_pair, tmp_path):
    pair, out = mail_pair(make_pair, tmp_path, "refuse", 2530)
    lb1 = pair["lb1"]
    wait_until(lambda: "550 5.7.1 relaying denied; retrying" in lb1.log(), 5, "the refusal")
    cmds = [c["cmd"] for c in relay_cmds(out)]
    assert "MAIL FROM:<vigil@example.com>" in cmds and not any(
        c.startswith(("RCPT", "DATA")) for c in cmds), cmds
    # the goodbye is polite: QUIT after the refusal
    wait_until(lambda: "QUIT" in [c["cmd"] for c in relay_cmds(out)], 2, "QUIT")
    assert "delivered" not in lb1.log()


def test_notify_email_relay_times_out(make_pair, tmp_path):
    """A relay that accepts and never answers: the attempt ends at the 10 s
    deadline (the loop never waits on it) and is retried."""
    pair, out = mail_pair(make_pair, tmp_path, "silent", 2531)
    lb1 = pair["lb1"]
    assert lb1.state() == "master" and lb1.fo()["adverts"]["sent"] > 0
    wait_until(lambda: "retrying" in lb1.log(), 13, "the attempt to time out")
    line = [l for l in lb1.log().splitlines() if "retrying" in l][0]
    assert "no banner within 10000 ms" in line, line
    assert lb1.ctl("status").returncode == 0


def test_notify_email_through_real_postfix(make_pair, tmp_path):
    """The mail client against a real MTA: postfix (STARTTLS offered) runs in
    lb1's namespace on its loopback; both of lb1's mails are accepted over
    TLS in complete, polite sessions (EHLO twice, no pipelining, QUIT)."""
    from realservers import POSTFIX_MASTER, Postfix, make_certs, missing
    if "postfix" in missing():
        pytest.skip("postfix is not installed")
    pf = Postfix(make_certs(tmp_path / "certs"))
    try:
        pair = make_pair(start=False)
        node = pair.bed["lb1"]
        pf.log_file = open(pf.dir / "postfix.out", "ab")
        pf.proc = subprocess.Popen(["ip", "netns", "exec", node.ns, POSTFIX_MASTER, "-c",
                                    str(pf.dir / "conf"), "-d"], stdout=pf.log_file,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        wait_until(lambda: pf.proc.poll() is not None or node.sh(
            "ss", "-Hltn", f"sport = :{pf.port}").stdout.strip(), 20, "postfix to listen")
        assert pf.proc.poll() is None, pf.log()[-2000:]
        email = {"smtp": f"127.0.0.1:{pf.port}", "from": "vigil@example.com",
                 "to": ["ops@example.com"]}
        lb1 = pair["lb1"]
        lb1.write_config(_with_notify(lb1.config, {"email": email}))
        pair.start()
        wait_until(lambda: lb1.log().count("delivered") >= 2, 10, "both mails delivered")
        # starttls=1 and the second EHLO: the mail went over TLS
        wait_until(lambda: pf.maillog().count("ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1")
                   >= 2, 5, "postfix to log both sessions")
        log = pf.maillog()
        assert log.count("from=<vigil@example.com>") >= 2, log[-2000:]
        assert "improper command pipelining" not in log, log[-2000:]
        assert "lost connection" not in log, log[-2000:]
    finally:
        pf.cleanup()


def test_notify_exec_that_hangs_is_killed(make_pair, tmp_path):
    script = tmp_path / "hang.sh"
    script.write_text("#!/bin/sh\nexec sleep 60\n")
    os.chmod(script, 0o755)
    pair = make_pair(lb1_fo={"notify": {"exec": str(script)}})
    lb1, lb2 = pair["lb1"], pair["lb2"]
    # the failover goes on while the program hangs
    assert lb1.ctl("standby").returncode == 0
    lb2.wait_state("master", 1)
    wait_until(lambda: "killing its process group" in lb1.log(), 15,
               "the hung program to be killed")
    wait_until(lambda: "killed by signal 15" in lb1.log(), 2, "the kill to be reaped")


def _gone(pid):
    """True once pid has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_notify_exec_timeout_kills_the_process_group(make_pair, tmp_path):
    """A hung notify program that started a background job and ignores
    SIGTERM: after the timeout the whole group goes (SIGTERM, then SIGKILL
    after the grace), the background job included."""
    pids = tmp_path / "pids"
    script = tmp_path / "spawner.sh"
    script.write_text("#!/bin/sh\n"
                      f"[ \"$1\" = master ] || exit 0\n"
                      "sleep 300 &\n"
                      f"echo \"$$ $!\" > {pids}.tmp && mv {pids}.tmp {pids}\n"
                      "trap '' TERM\n"
                      "while :; do sleep 1; done\n")
    os.chmod(script, 0o755)
    pair = make_pair(lb1_fo={"notify": {"exec": str(script)}})
    lb1 = pair["lb1"]
    shell, bg = map(int, wait_until(lambda: pids.exists() and pids.read_text().split(), 3,
                                    "the program's pids"))
    assert not _gone(shell) and not _gone(bg)
    try:
        wait_until(lambda: "still running after" in lb1.log(), 15, "the timeout")
        # the background job dies on SIGTERM, the shell (ignoring it) on SIGKILL
        wait_until(lambda: _gone(bg), 2, f"background job {bg} to be killed")
        wait_until(lambda: _gone(shell), 5, f"notify program {shell} to be killed")
        wait_until(lambda: "killed by signal 9" in lb1.log(), 2, "the kill to be reaped")
    finally:
        for pid in (bg, shell):        # never leave our own test processes behind
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def _with_notify(config, notify):
    config = json.loads(json.dumps(config))
    config["failover"]["notify"] = notify
    return config


def test_deleted_vip_is_put_back(make_pair):
    pair = make_pair()
    bed, lb1 = pair.bed, pair["lb1"]
    bed["lb1"].ip_cmd("addr", "del", f"{VIP}/32", "dev", "eth0")
    wait_until(lambda: bed["lb1"].has(VIP), 1, "VIP restored")
    assert lb1.fo()["vips_restored"] == 1 and lb1.state() == "master"
    assert "was removed from eth0 while master" in lb1.log()


def test_stale_vip_of_previous_run_removed_and_watcher_unprivileged(make_pair, tmp_path):
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    pair = make_pair(start=False)
    bed, lb1 = pair.bed, pair["lb1"]
    cfg = json.loads(json.dumps(lb1.config))
    cfg["global"]["user"] = "nobody"
    lb1.write_config(cfg)
    os.chmod(tmp_path, 0o755)
    os.chmod(lb1.dir, 0o777)
    lb1.start()
    lb1.wait_state("master", 3)
    mine = subprocess.run(["pgrep", "-P", str(lb1.pid), "-x", "vigil-watcher"],
                          capture_output=True, text=True).stdout.split()
    assert len(mine) == 1, mine
    status = open(f"/proc/{mine[0]}/status").read()
    uid = [l for l in status.splitlines() if l.startswith("Uid:")][0].split()[1]
    assert int(uid) == pwd.getpwnam("nobody").pw_uid
    assert [l for l in status.splitlines() if l.startswith("CapEff:")][0].split()[1] \
        == "0000000000003400"      # net_bind_service, net_admin, net_raw
    # every thread of vigild itself (the loop, the advert thread and the
    # proxy workers after the first) runs as nobody with the three
    # capabilities at most, bounding set included
    workers = int(re.search(r"(\d+) proxy workers?", lb1.log()).group(1))
    tasks = os.listdir(f"/proc/{lb1.pid}/task")
    assert len(tasks) == 2 + workers - 1, (tasks, workers)
    for task in tasks:
        st = open(f"/proc/{lb1.pid}/task/{task}/status").read()
        field = lambda name: [l for l in st.splitlines() if l.startswith(name + ":")][0].split()[1:]
        assert set(field("Uid")) == {str(pwd.getpwnam("nobody").pw_uid)}, (task, field("Uid"))
        for capset in ("CapEff", "CapPrm", "CapBnd"):
            assert int(field(capset)[0], 16) & ~0x3400 == 0, (task, capset, field(capset))
    assert "(real-time thread)" in lb1.log()
    # kill -9: the unprivileged watcher still removes the VIP
    lb1.signal(signal.SIGKILL)
    wait_until(lambda: not bed["lb1"].has(VIP), 1, "watcher to remove the VIP")
    # a VIP left tagged by a "previous run" is removed at start-up
    lb1.proc.wait(5)
    bed["lb1"].ip_cmd("addr", "add", "192.0.2.99/32", "dev", "eth0", "label", "eth0:vgl")
    lb1.start()
    wait_until(lambda: not bed["lb1"].has("192.0.2.99"), 2, "stale VIP removed")
    assert "removed 1 stale VIP" in lb1.log()


VIP6 = "2001:db8::10"      # RFC 3849 documentation prefix


def test_ipv6_vip_nodad_and_unsolicited_na(make_pair):
    pair = make_pair(start=False)
    bed = pair.bed
    for i, n in enumerate(("lb1", "lb2", "client"), 1):
        bed[n].ip_cmd("-6", "addr", "add", f"2001:db8::{i if n != 'client' else 100}/64",
                      "dev", "eth0", "nodad")
    for name in ("lb1", "lb2"):
        cfg = json.loads(json.dumps(pair[name].config))
        svc = dict(cfg["services"][0], name="web6", vip=VIP6)
        cfg["services"].append(svc)
        pair[name].write_config(cfg)
    pair.start()
    out = bed["lb1"].ip_cmd("-6", "-o", "addr", "show", "dev", "eth0").stdout
    line = [l for l in out.splitlines() if VIP6 + "/128" in l]
    assert line and "tentative" not in line[0] and "nodad" in line[0], out
    # the client learns the VIP's MAC (lb1), then lb1 dies
    r = bed["client"].sh(PY, "-c", "import socket;s=socket.create_connection(('%s',8080),2);"
                         "print(s.recv(100).decode().strip())" % VIP6)
    assert r.stdout.strip() == bed["lb1"].ip   # proxied over IPv4 from lb1
    assert bed["client"].neigh_mac(VIP6) == bed["lb1"].mac
    pair["lb1"].signal(signal.SIGKILL)
    wait_until(lambda: not bed["lb1"].has(VIP6), 1, "IPv6 VIP gone from the dead node")
    pair["lb2"].wait_state("master", 2)
    assert bed["lb2"].has(VIP6)
    # the unsolicited NA (override) moved the client's entry without a new solicitation
    wait_until(lambda: bed["client"].neigh_mac(VIP6) == bed["lb2"].mac, 1,
               "client's IPv6 neighbour entry on lb2")


def test_ipv6_duplicate_refused(make_pair):
    pair = make_pair(start=False)
    bed, lb1 = pair.bed, pair["lb1"]
    bed["lb1"].ip_cmd("-6", "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad")
    bed["client"].ip_cmd("-6", "addr", "add", f"{VIP6}/64", "dev", "eth0", "nodad")
    cfg = json.loads(json.dumps(lb1.config))
    cfg["services"][0]["vip"] = VIP6
    lb1.write_config(cfg)
    lb1.start()
    wait_until(lambda: lb1.fo()["duplicate_refusals"] >= 1, 3, "duplicate refusal")
    assert lb1.state() == "backup" and not bed["lb1"].has(VIP6)
    assert bed["client"].mac in lb1.log()


def test_reload_changes_the_vip_set(make_pair):
    pair = make_pair()
    bed, lb1, lb2 = pair.bed, pair["lb1"], pair["lb2"]
    cfg = json.loads(json.dumps(lb1.config))
    cfg["services"].append(dict(cfg["services"][0], name="web2", vip="192.0.2.20"))
    lb1.write_config(cfg)
    r = lb1.ctl("reload")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: bed["lb1"].has("192.0.2.20"), 2, "new VIP on the master")
    # lb2 still has the old list: both sides see and report the mismatch
    wait_until(lambda: lb2.fo()["peers"][0]["vip_set_match"] is False, 2, "mismatch seen")
    assert "different VIP set" in lb2.log()
    r = bed["client"].sh(PY, "-c", "import socket;s=socket.create_connection(('192.0.2.20',"
                         "8080),2);print(s.recv(100).decode().strip())")
    assert r.stdout.strip() == bed["lb1"].ip
    lb2.write_config(dict(json.loads(json.dumps(lb2.config)), services=cfg["services"]))
    assert lb2.ctl("reload").returncode == 0
    wait_until(lambda: lb2.fo()["peers"][0]["vip_set_match"], 2, "VIP sets agree")
    assert not bed["lb2"].has("192.0.2.20")
    # removing it on the master takes it off the interface
    cfg["services"].pop()
    lb1.write_config(cfg)
    assert lb1.ctl("reload").returncode == 0
    wait_until(lambda: not bed["lb1"].has("192.0.2.20"), 2, "VIP removed by reload")
    assert bed["lb1"].has(VIP)
