"""A simulated Exchange server on one loopback address, for test_pool.py:
nginx serving each virtual directory's healthcheck.htm over HTTPS (each one
switchable to 503 on its own by a flag file), postfix with STARTTLS on the
SMTP ports, dovecot with IMAP/POP (STARTTLS and implicit TLS). Every server
is the test's own instance in a private directory, stopped by PID (see
realservers.py, whose process handling this reuses).

    ex = ExchangeHost("ex1", "127.0.0.2", ports, certs).start()
    ex.set_vdir_failing("/ecp", True)      # /ecp/healthcheck.htm -> 503
    ex.stop()
"""
import os
import shutil
import subprocess

from realservers import DOVECOT, HOST, NGINX, POSTFIX, POSTFIX_MASTER, _private_dir, _Server

VDIRS = ["/owa", "/ews", "/mapi", "/Microsoft-Server-ActiveSync", "/oab", "/ecp",
         "/autodiscover"]
VDIRS_2010 = [("/owa/auth/logon.aspx", "/owa", 200), ("/ews/exchange.asmx", "/ews", 401),
              ("/Microsoft-Server-ActiveSync", "/Microsoft-Server-ActiveSync", 401),
              ("/autodiscover/autodiscover.xml", "/autodiscover", 401)]


class PoolNginx(_Server):
    name = "nginx"

    def __init__(self, label, host, port, certs):
        super().__init__()
        self.dir = _private_dir("vpn")
        (self.dir / "logs").mkdir()
        (self.dir / "flags").mkdir()
        self.host, self.port, self.label = host, port, label
        locs = "".join(
            f"        location = {v}/healthcheck.htm {{\n"
            f"            if (-f {self.dir}/flags/{v.strip('/')}) {{ return 503 \"down\\n\"; }}\n"
            f"            return 200 \"<html><body>200 OK {label}</body></html>\\n\";\n"
            f"        }}\n" for v in VDIRS)
        # Exchange 2010 has no healthcheck.htm: its checks GET the OWA logon
        # page (200 anonymously) and the Windows-authenticated endpoints
        # (401 anonymously); each fails (503) with its virtual directory.
        locs += "".join(
            f"        location = {path} {{\n"
            f"            if (-f {self.dir}/flags/{vdir.strip('/')}) {{ return 503 \"down\\n\"; }}\n"
            f"            return {code} \"{label}\\n\";\n"
            f"        }}\n" for path, vdir, code in VDIRS_2010)
        (self.dir / "nginx.conf").write_text(f"""
daemon off;
master_process on;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {self.dir}/access.log;
    client_body_temp_path {self.dir}/tmp_body;
    proxy_temp_path {self.dir}/tmp_proxy;
    fastcgi_temp_path {self.dir}/tmp_fcgi;
    uwsgi_temp_path {self.dir}/tmp_uwsgi;
    scgi_temp_path {self.dir}/tmp_scgi;
    default_type text/html;
    keepalive_timeout 600s;
    server {{
        listen {host}:{port} ssl;
        server_name {HOST};
        ssl_certificate {certs.cert};
        ssl_certificate_key {certs.key};
{locs}        location / {{ return 200 "{label}\\n"; }}
    }}
}}
""")

    def start(self):
        return self._spawn([NGINX, "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir),
                            "-e", str(self.dir / "error.log")], [], timeout=20)

    def set_failing(self, vdir, failing):
        """Managed Availability takes vdir out (503) or puts it back: no reload needed."""
        flag = self.dir / "flags" / vdir.strip("/")
        if failing:
            flag.write_text("down\n")
        elif flag.exists():
            flag.unlink()


class PoolPostfix(_Server):
    name = "postfix"

    def __init__(self, label, host, ports, certs):
        super().__init__()
        self.dir = _private_dir("vpp")
        for sub in ("conf", "queue", "data"):
            (self.dir / sub).mkdir()
        shutil.chown(self.dir / "data", "postfix")
        (self.dir / "conf" / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {self.dir}/queue
data_directory = {self.dir}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = all
inet_protocols = ipv4
myhostname = {label}.test.example
mydestination =
alias_maps =
alias_database =
maillog_file_prefixes = /var, /dev/stdout, /tmp
maillog_file = {self.dir}/maillog
smtpd_tls_cert_file = {certs.cert}
smtpd_tls_key_file = {certs.key}
smtpd_tls_security_level = may
""")
        master = [f"{host}:{p} inet n - n - - smtpd" for p in ports]
        master += ["tlsmgr unix - - n 1000? 1 tlsmgr", "rewrite unix - - n - - trivial-rewrite",
                   "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
                   "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
                   "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify",
                   "proxymap unix - - n - - proxymap", "anvil unix - - n - 1 anvil",
                   "scache unix - - n - 1 scache", "error unix - - n - - error",
                   "postlog unix-dgram n - n - 1 postlogd"]
        (self.dir / "conf" / "master.cf").write_text("\n".join(master) + "\n")
        subprocess.run([POSTFIX, "-c", str(self.dir / "conf"), "check"], capture_output=True,
                       timeout=60)

    def start(self):
        return self._spawn([POSTFIX_MASTER, "-c", str(self.dir / "conf"), "-d"], [], timeout=20)


class PoolDovecot(_Server):
    name = "dovecot"

    def __init__(self, host, imap, imaps, pop3, pop3s, certs):
        super().__init__()
        self.dir = _private_dir("vpd")
        for sub in ("run", "state", "mail"):
            (self.dir / sub).mkdir()
        dh = "ssl_dh = </usr/share/dovecot/dh.pem\n" if os.path.exists(
            "/usr/share/dovecot/dh.pem") else ""
        (self.dir / "dovecot.conf").write_text(f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = imap pop3
listen = {host}
ssl = yes
ssl_cert = <{certs.cert}
ssl_key = <{certs.key}
{dh}default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{self.dir}/mail/%u
passdb {{
  driver = static
  args = password=not-used
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {imap}
  }}
  inet_listener imaps {{
    address = {host}
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {host}
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = {host}
    port = {pop3s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")

    def start(self):
        return self._spawn([DOVECOT, "-c", str(self.dir / "dovecot.conf"), "-F"], [],
                           timeout=20)


class ExchangeHost:
    """One simulated Exchange server: ports maps the template's port numbers
    (443, 25, 587, 143, 993, 110, 995) to the test's."""

    def __init__(self, label, host, ports, certs):
        self.label, self.host = label, host
        self.nginx = PoolNginx(label, host, ports[443], certs)
        self.postfix = PoolPostfix(label, host, [ports[25], ports[587]], certs)
        self.dovecot = PoolDovecot(host, ports[143], ports[993], ports[110], ports[995], certs)
        self.servers = [self.nginx, self.postfix, self.dovecot]
        self.ports = ports

    def start(self):
        from realservers import _port_open
        from vigil import wait_for
        for s in self.servers:
            s.start()
        wait_for(lambda: all(_port_open(self.ports[p], self.host)
                             for p in (443, 25, 587, 143, 993, 110, 995)), 20, 0.05,
                 f"{self.label} to listen")
        return self

    def set_vdir_failing(self, vdir, failing):
        self.nginx.set_failing(vdir, failing)

    def cleanup(self):
        for s in self.servers:
            s.cleanup()
