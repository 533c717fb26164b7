"""Real Debian servers for the health-check tests: nginx, postfix and dovecot,
each run as the test's own instance from a private directory on 127.0.0.1
ports (no system service is touched), and stopped by PID.

    certs = make_certs(dir)                 # CA, server cert signed by it, a rogue cert
    n = Nginx(dir, certs).start()           # n.http_port, n.https_port; n.set_failing(True)
    p = Postfix(dir, certs).start()         # p.port (SMTP + STARTTLS); p.set_rejecting(True)
    d = Dovecot(dir, certs).start()         # d.imap, d.imaps, d.pop3, d.pop3s
    f = Vsftpd().start()                    # f.port: FTP banner "220 vigil test FTP"
    x.stop()

The binaries come from the Debian packages nginx-light, postfix and
dovecot-imapd/dovecot-pop3d, vsftpd; `missing()` names those that are not installed.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from vigil import free_port, wait_for

NGINX = "/usr/sbin/nginx"
POSTFIX = "/usr/sbin/postfix"
POSTFIX_MASTER = "/usr/lib/postfix/sbin/master"
DOVECOT = "/usr/sbin/dovecot"
HOST = "mail.test.example"


def missing():
    """Names of the real servers whose binaries are absent."""
    need = {"nginx": [NGINX], "postfix": [POSTFIX, POSTFIX_MASTER], "dovecot": [DOVECOT],
            "vsftpd": ["/usr/sbin/vsftpd"]}
    return [name for name, paths in need.items() if not all(os.path.exists(p) for p in paths)]


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Certs:
    def __init__(self, d):
        self.dir = d
        self.ca = str(d / "ca.pem")
        self.cert = str(d / "server.pem")
        self.key = str(d / "server.key")
        self.rogue_cert = str(d / "rogue.pem")
        self.rogue_key = str(d / "rogue.key")


def make_certs(base):
    """A CA, a server certificate it signs for mail.test.example and
    127.0.0.1, and a self-signed 'rogue' certificate for the same names."""
    d = Path(base) / "certs"
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    san = f"subjectAltName=DNS:{HOST},IP:127.0.0.1"
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3",
             "-subj", "/CN=vigil test CA", cwd=d)
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={HOST}",
             cwd=d)
    (d / "ext.cnf").write_text(san + "\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "3", "-extfile", "ext.cnf", cwd=d)
    _openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "3",
             "-subj", f"/CN={HOST}", "-addext", san, cwd=d)
    for f in d.iterdir():
        f.chmod(0o644)
    return Certs(d)


def _port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _private_dir(prefix):
    """A short, world-traversable directory (server users must reach it and
    UNIX socket paths must stay short)."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d


class _Server:
    name = "server"

    def __init__(self):
        self.proc = None
        self.log_file = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _spawn(self, argv, ports, timeout=20):
        self.log_file = open(self.dir / f"{self.name}.out", "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for(lambda: self.proc.poll() is not None or all(_port_open(p) for p in ports),
                     timeout, 0.05, f"{self.name} to listen")
        except AssertionError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.proc.returncode}: {self.log()[-2000:]}")
        return self

    def stop(self, timeout=10):
        """Stop the server by PID (its process group: the workers it forked)."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:      # workers of the group
                try:
                    os.killpg(self.proc.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        if self.log_file:
            self.log_file.close()
            self.log_file = None
        return self

    def reload(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def log(self):
        out = ""
        for f in sorted(self.dir.glob("*.log")) + sorted(self.dir.glob("*.out")) + \
                sorted(self.dir.glob("maillog")):
            out += f.read_text(errors="replace")
        return out

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Nginx(_Server):
    """nginx with an HTTP and an HTTPS port; /health answers 200 "Happy" or,
    after set_failing(True), 503."""
    name = "nginx"

    def __init__(self, certs):
        super().__init__()
        self.dir = _private_dir("vng")
        self.certs = certs
        self.http_port = free_port()
        self.https_port = free_port()
        (self.dir / "logs").mkdir()
        self._write(False)

    def _write(self, failing):
        d = self.dir
        health = "return 503 \"down\\n\";" if failing else "return 200 \"<h1>Happy</h1>\\n\";"
        (d / "nginx.conf").write_text(f"""
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp_body;
    proxy_temp_path {d}/tmp_proxy;
    fastcgi_temp_path {d}/tmp_fcgi;
    uwsgi_temp_path {d}/tmp_uwsgi;
    scgi_temp_path {d}/tmp_scgi;
    default_type text/html;
    server {{
        listen 127.0.0.1:{self.http_port};
        listen 127.0.0.1:{self.https_port} ssl;
        server_name {HOST};
        ssl_certificate {self.certs.cert};
        ssl_certificate_key {self.certs.key};
        location = /health {{ {health} }}
        location = /chunked {{ chunked_transfer_encoding on; return 200 "<h1>Happy</h1>\\n"; }}
        location / {{ return 200 "root\\n"; }}
    }}
}}
""")

    def start(self):
        return self._spawn([NGINX, "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir),
                            "-e", str(self.dir / "error.log")],
                           [self.http_port, self.https_port])

    def set_failing(self, failing):
        """Rewrite /health to 503 (or back to 200) and reload."""
        self._write(failing)
        self.reload()


class Postfix(_Server):
    """postfix master in the foreground with a private config and queue
    directory: SMTP with STARTTLS on self.port. set_rejecting(True) makes
    smtpd answer EHLO with 554."""
    name = "postfix"

    def __init__(self, certs):
        super().__init__()
        self.dir = _private_dir("vpf")
        self.certs = certs
        self.port = free_port()
        for sub in ("conf", "queue", "data"):
            (self.dir / sub).mkdir()
        shutil.chown(self.dir / "data", "postfix")
        self._write(False)
        master = [f"127.0.0.1:{self.port} inet n - n - - smtpd -o max_use=1"]
        for svc in ("tlsmgr unix - - n 1000? 1 tlsmgr", "rewrite unix - - n - - trivial-rewrite",
                    "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
                    "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
                    "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify",
                    "proxymap unix - - n - - proxymap", "anvil unix - - n - 1 anvil",
                    "scache unix - - n - 1 scache", "error unix - - n - - error",
                    "postlog unix-dgram n - n - 1 postlogd"):
            master.append(svc)
        (self.dir / "conf" / "master.cf").write_text("\n".join(master) + "\n")
        subprocess.run([POSTFIX, "-c", str(self.dir / "conf"), "check"], capture_output=True,
                       timeout=60)

    def _write(self, rejecting):
        d = self.dir
        reject = ("smtpd_delay_reject = no\nsmtpd_helo_required = yes\n"
                  "smtpd_helo_restrictions = reject\n") if rejecting else ""
        (d / "conf" / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx1.test.example
mydestination =
alias_maps =
alias_database =
maillog_file_prefixes = /var, /dev/stdout, /tmp
maillog_file = {d}/maillog
smtpd_tls_cert_file = {self.certs.cert}
smtpd_tls_key_file = {self.certs.key}
smtpd_tls_security_level = may
{reject}""")

    def start(self):
        return self._spawn([POSTFIX_MASTER, "-c", str(self.dir / "conf"), "-d"], [self.port])

    def set_rejecting(self, rejecting):
        """Switch EHLO to 554 (or back) and reload. postfix restarts its
        services on reload: for about 1.5 s new sessions get no banner."""
        self._write(rejecting)
        self.reload()

    def wait_banner(self, timeout=10):
        """Wait until a new session gets its 220 banner quickly again."""
        def quick_banner():
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                ok = s.recv(512).startswith(b"220") and time.monotonic() - t0 < 0.1
                s.sendall(b"QUIT\r\n")
                s.recv(512)
            return ok
        wait_for(quick_banner, timeout, 0.1, "postfix banner")

    def maillog(self):
        try:
            return (self.dir / "maillog").read_text(errors="replace")
        except FileNotFoundError:
            return ""


class Dovecot(_Server):
    """dovecot in the foreground with a private config: IMAP and POP3 with
    STARTTLS, IMAPS and POP3S."""
    name = "dovecot"

    def __init__(self, certs):
        super().__init__()
        self.dir = _private_dir("vdc")
        self.certs = certs
        self.imap, self.imaps, self.pop3, self.pop3s = (free_port() for _ in range(4))
        for sub in ("run", "state", "mail"):
            (self.dir / sub).mkdir()
        dh = "ssl_dh = </usr/share/dovecot/dh.pem\n" if os.path.exists(
            "/usr/share/dovecot/dh.pem") else ""
        (self.dir / "dovecot.conf").write_text(f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
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
    address = 127.0.0.1
    port = {self.imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {self.pop3s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")

    def start(self):
        return self._spawn([DOVECOT, "-c", str(self.dir / "dovecot.conf"), "-F"],
                           [self.imap, self.imaps, self.pop3, self.pop3s])


VSFTPD = "/usr/sbin/vsftpd"


class Vsftpd(_Server):
    """vsftpd (Debian package vsftpd) in the foreground on a 127.0.0.1 port:
    the FTP banner "220 vigil test FTP"; set_banner() changes it (restart)."""
    name = "vsftpd"

    def __init__(self, banner="vigil test FTP"):
        super().__init__()
        self.dir = _private_dir("vigil-ftp-")
        self.port = free_port()
        self.banner = banner
        (self.dir / "empty").mkdir()

    def _write(self):
        conf = self.dir / "vsftpd.conf"
        conf.write_text(f"""listen=YES
listen_ipv6=NO
background=NO
listen_address=127.0.0.1
listen_port={self.port}
anonymous_enable=YES
ftp_username=nobody
anon_root={self.dir / "empty"}
no_anon_password=YES
local_enable=NO
write_enable=NO
seccomp_sandbox=NO
secure_chroot_dir={self.dir / "empty"}
ftpd_banner={self.banner}
xferlog_enable=NO
vsftpd_log_file={self.dir / "vsftpd.log"}
""")
        conf.chmod(0o600)
        return conf

    def start(self):
        return self._spawn([VSFTPD, str(self._write())], [self.port])

    def set_banner(self, banner):
        self.stop()
        self.banner = banner
        return self.start()
