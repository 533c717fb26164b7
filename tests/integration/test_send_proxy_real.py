"""send_proxy against real servers that require the PROXY header (issue 8):
nginx (`listen ... proxy_protocol`, logging $proxy_protocol_addr, over HTTP
and HTTPS), postfix (`smtpd_upstream_proxy_protocol = haproxy`) and dovecot
(`haproxy = yes`). Each logs the client's address, not the balancer's, and
stays up under vigil's probes (v2 LOCAL / v1 PROXY UNKNOWN before the
protocol and before TLS)."""
import re
import ssl
import time

import pytest

from realservers import HOST, Dovecot, Nginx, Postfix, make_certs, missing
from vigil import (base_config, connect_from, free_port, recv_line, service, wait_all_state,
                   wait_for)

pytestmark = pytest.mark.realservers

VIP = "127.0.0.15"
SOURCES = ["127.0.0.31", "127.0.0.32", "127.2.3.4"]


def need(name):
    if name in missing():
        pytest.skip(f"{name} is not installed")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("proxycerts"))


@pytest.fixture
def servers():
    made = []

    def make(cls, certs):
        s = cls(certs)
        made.append(s)
        return s.start()

    yield make
    for s in made:
        s.cleanup()


class ProxyNginx(Nginx):
    """nginx whose HTTP and HTTPS listeners require the PROXY header; the
    access log shows $proxy_protocol_addr beside $remote_addr."""

    def _write(self, failing):
        d = self.dir
        (d / "nginx.conf").write_text(f"""
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 512; }}
http {{
    log_format px 'pp=$proxy_protocol_addr:$proxy_protocol_port ra=$remote_addr "$request"';
    access_log {d}/access.log px;
    client_body_temp_path {d}/tmp_body;
    proxy_temp_path {d}/tmp_proxy;
    fastcgi_temp_path {d}/tmp_fcgi;
    uwsgi_temp_path {d}/tmp_uwsgi;
    scgi_temp_path {d}/tmp_scgi;
    default_type text/plain;
    server {{
        listen 127.0.0.1:{self.http_port} proxy_protocol;
        listen 127.0.0.1:{self.https_port} ssl proxy_protocol;
        server_name {HOST};
        ssl_certificate {self.certs.cert};
        ssl_certificate_key {self.certs.key};
        location = /health {{ return 200 "ok\\n"; }}
        location / {{ return 200 "client $proxy_protocol_addr\\n"; }}
    }}
}}
""")

    def access_log(self):
        try:
            return (self.dir / "access.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""


class ProxyPostfix(Postfix):
    """postfix whose smtpd expects the HAProxy PROXY header (v1 or v2)."""

    def _write(self, rejecting):
        super()._write(rejecting)
        with open(self.dir / "conf" / "main.cf", "a") as f:
            f.write("smtpd_upstream_proxy_protocol = haproxy\n"
                    "smtpd_upstream_proxy_timeout = 5s\n")


class ProxyDovecot(Dovecot):
    """dovecot whose IMAP and IMAPS listeners expect the PROXY header."""

    def __init__(self, certs):
        super().__init__(certs)
        conf = self.dir / "dovecot.conf"
        text = conf.read_text()
        for port in (self.imap, self.imaps):
            text = text.replace(f"    port = {port}\n", f"    port = {port}\n    haproxy = yes\n")
        text += "haproxy_trusted_networks = 127.0.0.0/8\nlog_debug =\n"
        conf.write_text(text)


def http_get_from(src, port, path, tls=None):
    with connect_from(src, VIP, port) as s:
        if tls:
            s = tls.wrap_socket(s, server_hostname=HOST)
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_nginx_logs_the_client(vigild_factory, servers, certs, version):
    need("nginx")
    n = servers(ProxyNginx, certs)
    http, https = free_port(VIP), free_port(VIP)
    be = {"name": "web1", "address": "127.0.0.1", "port": n.http_port}
    bes = {"name": "web1", "address": "127.0.0.1", "port": n.https_port}
    chk = {"interval": "200ms", "timeout": "150ms", "rise": 1, "fall": 1, "path": "/health"}
    cfg = base_config([
        service("http", VIP, [http], [be], send_proxy=version, check=dict(chk, type="http")),
        service("https", VIP, [https], [bes], send_proxy=version,
                check=dict(chk, type="https", timeout="190ms")),
    ])
    v = vigild_factory(cfg)
    wait_all_state(v, "http", ["web1"])
    wait_all_state(v, "https", ["web1"])
    tls = ssl.create_default_context(cafile=certs.ca)
    for src in SOURCES:
        assert http_get_from(src, http, "/who").endswith(f"client {src}\n")
        assert http_get_from(src, https, "/who", tls).endswith(f"client {src}\n")
    log = n.access_log()
    for src in SOURCES:      # the TCP peer is the balancer, the header names the client
        assert len(re.findall(rf'pp={re.escape(src)}:\d+ ra=127.0.0.1 "GET /who', log)) == 2, log
    # probes: many passed, each with a header nginx accepted; still up
    time.sleep(1.0)
    log = n.access_log()
    probes = log.count('"GET /health')
    assert probes >= 6, log
    for name in ("http", "https"):
        b = v.backend(name, "web1")
        assert b["state"] == "up" and b["check"]["last"] == "ok", b
    # (the readiness check of the test harness connects without a header and
    # closes: an empty "broken header"; a header nginx disliked is not empty)
    errs = (n.dir / "error.log").read_text(errors="replace")
    assert not re.search(r'broken header: "[^"]', errs), errs


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_postfix_logs_the_client(vigild_factory, servers, certs, version):
    need("postfix")
    p = servers(ProxyPostfix, certs)
    port = free_port(VIP)
    be = {"name": "mx1", "address": "127.0.0.1", "port": p.port}
    chk = {"type": "smtp", "interval": "300ms", "timeout": "250ms", "rise": 1, "fall": 2}
    v = vigild_factory(base_config([service("smtp", VIP, [port], [be], send_proxy=version,
                                            check=chk)]))
    wait_all_state(v, "smtp", ["mx1"], timeout=20)
    for src in SOURCES[:2]:
        with connect_from(src, VIP, port, timeout=10) as s:
            assert recv_line(s).startswith("220 ")
            s.sendall(b"EHLO client.example\r\n")
            while not recv_line(s).startswith("250 "):
                pass
            s.sendall(b"QUIT\r\n")
            assert recv_line(s).startswith("221")
    wait_for(lambda: all(f"connect from unknown[{src}]" in p.maillog() for src in SOURCES[:2]),
             10, what="postfix logging the clients")
    time.sleep(1.0)
    assert v.backend("smtp", "mx1")["state"] == "up", p.maillog()[-2000:]
    # (the harness's readiness check sends no header: "haproxy read: EOF")
    warnings = [line for line in p.maillog().splitlines()
                if "warning" in line and "haproxy read: EOF" not in line]
    assert warnings == [], warnings


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_dovecot_sees_the_client(vigild_factory, servers, certs, version):
    need("dovecot")
    d = servers(ProxyDovecot, certs)
    imap, imaps = free_port(VIP), free_port(VIP)
    chk = {"interval": "300ms", "timeout": "250ms", "rise": 1, "fall": 2}
    cfg = base_config([
        service("imap", VIP, [imap], [{"name": "mb1", "address": "127.0.0.1", "port": d.imap}],
                send_proxy=version, check=dict(chk, type="imap")),
        service("imaps", VIP, [imaps],
                [{"name": "mb1", "address": "127.0.0.1", "port": d.imaps}],
                send_proxy=version, check=dict(chk, type="imaps")),
    ])
    v = vigild_factory(cfg)
    wait_all_state(v, "imap", ["mb1"], timeout=20)
    wait_all_state(v, "imaps", ["mb1"], timeout=20)
    tls = ssl.create_default_context(cafile=certs.ca)
    for src in SOURCES[:2]:
        with connect_from(src, VIP, imap, timeout=10) as s:
            assert recv_line(s).startswith("* OK")
            s.sendall(b"a LOGOUT\r\n")
            recv_line(s)
        with connect_from(src, VIP, imaps, timeout=10) as raw:
            s = tls.wrap_socket(raw, server_hostname=HOST)
            assert recv_line(s).startswith("* OK")
            s.sendall(b"a LOGOUT\r\n")
            recv_line(s)
    wait_for(lambda: all(len(re.findall(rf"rip={re.escape(src)},", d.log())) >= 2
                         for src in SOURCES[:2]), 10, what="dovecot logging the clients")
    time.sleep(1.0)
    for name in ("imap", "imaps"):
        assert v.backend(name, "mb1")["state"] == "up", d.log()[-2000:]
    assert "haproxy" not in d.log().lower() or "invalid" not in d.log().lower(), d.log()[-2000:]
