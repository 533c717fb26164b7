#!/usr/bin/env python3
"""gen_seeds.py - (re)write the generated part of the seed corpus.

The config seeds are copies of tests/config/good, tests/config/bad and
examples/*.yaml; adverts are encoded here as vip/peer_msg.c does (HMAC-SHA256
with the fuzz target's key); replies, requests and frames are real-looking
samples. Each seed is small. Run from anywhere: python3 tests/fuzz/gen_seeds.py
"""
import hashlib
import hmac
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
KEY = b"fuzz-shared-key-0123456789"    # == key[] in fuzz_peer_msg.c
MAC_OFF = 76


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def config():
    for sub in ("tests/config/good", "tests/config/bad", "examples"):
        src = os.path.join(ROOT, sub)
        for fn in sorted(os.listdir(src)):
            if fn.endswith(".yaml"):
                tag = sub.split("/")[-1]
                shutil.copy(os.path.join(src, fn),
                            os.path.join(CORPUS, "config", f"{tag}_{fn}"))


def advert(group=51, prio=100, state=2, flags=0, ms=100, boot=0x5eed0b0071d0c0de,
           seq=1, node=b"lb1", version=2):
    digest = hashlib.sha256(b"192.0.2.10/32").digest()[:16]
    body = struct.pack(">2sBBBBBBHHQQ16s32s", b"VG", version, 1, group, prio, state, flags,
                       ms, 0, boot, seq, digest, node.ljust(32, b"\0"))
    assert len(body) == MAC_OFF
    return body + hmac.new(KEY, body, hashlib.sha256).digest()


def peer_msg():
    a = advert()
    put("peer_msg", "master", b"\0" + a)
    put("peer_msg", "backup", b"\0" + advert(prio=50, state=1, node=b"lb2", seq=42))
    put("peer_msg", "standby", b"\0" + advert(flags=1, state=1, seq=7))
    put("peer_msg", "forced", b"\0" + advert(prio=255, flags=2, seq=3))
    put("peer_msg", "resign", b"\0" + advert(prio=0, state=3, seq=9, node=b"x" * 32))
    put("peer_msg", "bad_mac", b"\0" + a[:-1] + bytes([a[-1] ^ 1]))
    put("peer_msg", "truncated", b"\0" + a[:60])
    put("peer_msg", "oversized", b"\0" + a + b"\0")
    put("peer_msg", "old_version", b"\0" + advert(version=1))
    put("peer_msg", "resign_v1", b"\1" + a[:2] + b"\1" + a[3:])
    put("peer_msg", "boot_zero", b"\1" + advert(boot=0))
    put("peer_msg", "bad_state", b"\1" + a[:6] + b"\7" + a[7:])


def reply_http():
    def seed(name, needle, piece, reply):
        put("reply_http", name, bytes([len(needle)]) + needle + bytes([piece]) + reply)
    seed("ok_length", b"OK", 7, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 12\r\n\r\nstatus: OK\r\n")
    seed("ok_chunked", b"healthy", 3, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"7\r\nhealthy\r\n3;ext=1\r\n!!!\r\n0\r\nX-Trailer: 1\r\n\r\n")
    seed("unavailable", b"", 255, b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"
         b"Content-Length: 0\r\n\r\n")
    seed("no_content", b"x", 1, b"HTTP/1.0 204 No Content\n\n")
    seed("close_framed", b"</html>", 16, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
         b"<html><body>up</body></html>")
    seed("gzip_chunked", b"ok", 2, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
         b"A\r\n0123456789\r\n0\r\n\r\n")
    seed("bad_length", b"", 4, b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n")


def mail():
    smtp = {
        "banner": b"220 mx1.example.com ESMTP Postfix (Debian/GNU)\r\n",
        "ehlo": b"250-mx1.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                b"250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n",
        "busy": b"421 4.3.2 Service not available, closing transmission channel\r\n",
        "starttls": b"220 2.0.0 Ready to start TLS\r\n",
        "mixed": b"250-a\r\n251 b\r\n",
        "injection": b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n",
    }
    imap = {
        "greeting": b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
                    b"LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
        "capability": b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK Pre-login capabilities "
                      b"listed, post-login capabilities have more.\r\n",
        "logout": b"* BYE Logging out\r\na2 OK Logout completed (0.001 + 0.000 secs).\r\n",
        "starttls": b"a1 OK Begin TLS negotiation now.\r\n",
        "preauth": b"* PREAUTH IMAP4rev1 server logged in as user\r\n",
        "bad": b"a1 BAD Error in IMAP command received by server.\r\n+ go ahead\r\n",
    }
    pop3 = {
        "greeting": b"+OK Dovecot (Debian) ready.\r\n",
        "stls": b"+OK Begin TLS negotiation now.\r\n",
        "err": b"-ERR [SYS/TEMP] Temporary failure\r\n",
        "bare": b"+OK\n-ERR\n",
    }
    for target, seeds in (("reply_smtp", smtp), ("reply_imap", imap), ("reply_pop3", pop3)):
        for name, data in seeds.items():
            put(target, name, data)


def ctl():
    for name, line in {
        "status": b"status\n", "status_json": b"status json\r\n",
        "drain": b"drain smtp mx1\n", "disable": b'disable "my svc" "be \\"1\\""\n',
        "enable": b"enable imap be-2", "weight": b"weight smtp mx1 256\n",
        "standby": b"standby\n", "takeover": b"takeover\n", "reload": b"reload\n",
        "bad_weight": b"weight smtp mx1 0257\n", "two_lines": b"status\nreload\n",
    }.items():
        put("ctl_parse", name, line)


def http_request():
    for name, req in {
        "status": b"GET /status HTTP/1.1\r\nHost: 127.0.0.1:8404\r\nUser-Agent: curl/7.88.1\r\n"
                  b"Accept: */*\r\n\r\n",
        "metrics": b"GET /metrics?x=1 HTTP/1.0\n\n",
        "dashboard": b"HEAD / HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n",
        "post": b"POST /status HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        "bad": b"GET status HTTP/2\r\n\r\n",
    }.items():
        put("http_request", name, req)


def garp():
    other = bytes([0x02, 0, 0, 0, 0, 0x99])
    arp = (struct.pack(">HHBBH", 1, 0x0800, 6, 4, 2) + other + bytes([192, 0, 2, 10])
           + bytes(6) + bytes([192, 0, 2, 10]))
    put("garp", "arp_reply_vip", b"\0" + arp)
    put("garp", "arp_own_mac", b"\0" + arp[:8] + bytes([2, 0, 0, 0, 0, 1]) + arp[14:])
    vip6 = bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [0x10])
    icmp = bytes([136, 0, 0, 0, 0x20, 0, 0, 0]) + vip6 + bytes([2, 1]) + other
    ip6 = (bytes([0x60, 0, 0, 0]) + struct.pack(">HBB", len(icmp), 58, 255)
           + bytes([0xfe, 0x80] + [0] * 13 + [0x99]) + bytes([0xff, 0x02] + [0] * 13 + [1]))
    put("garp", "na_vip", b"\1" + ip6 + icmp)
    put("garp", "na_short", b"\1" + (ip6 + icmp)[:63])


if __name__ == "__main__":
    os.makedirs(os.path.join(CORPUS, "config"), exist_ok=True)
    config()
    peer_msg()
    reply_http()
    mail()
    ctl()
    http_request()
    garp()
