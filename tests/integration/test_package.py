"""Package and service (issue 11): make install, the man pages (one source with
docs/configuration.md), the systemd unit, the version's one source, vigild run
the way the unit runs it, and make deb + lintian.

The .deb is built and inspected but not installed: dpkg -i on a development
machine or CI host would add a user and start a service.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from vigil import (BUILD, ROOT, SANITIZED, SLOW, VIGILCTL, VIGILD, Backend, free_port, proc_status,
                   run_vigild, wait_for)

sys.path.insert(0, str(ROOT / "scripts"))
import md2man  # noqa: E402

from notify_sock import NotifySocket  # noqa: E402

DOC = ROOT / "docs" / "configuration.md"
MAN_PAGES = ["vigild.8", "vigilctl.8", "vigil.yaml.5"]
UNIT_CAPS = "CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE"


def make(*args, timeout=300, **env):
    r = subprocess.run(["make", "-s", f"BUILD={BUILD}", *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout * SLOW, env=dict(os.environ, **env),
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"make {' '.join(args)}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def header_version():
    for h in sorted((ROOT / "common").glob("*.h")) + sorted((ROOT / "daemon").glob("*.h")):
        m = re.search(r'^#define[ \t]+VIGIL_VERSION[ \t]+"([^"]+)"', h.read_text(), re.M)
        if m:
            return m.group(1)
    raise AssertionError("no #define VIGIL_VERSION in common/ or daemon/")


# ---------------------------------------------------------------- the version

def test_version_has_one_source():
    """VIGIL_VERSION (the header), both binaries and debian/changelog agree."""
    v = header_version()
    assert run_vigild("--version").stdout.strip() == f"vigild {v}"
    r = subprocess.run([str(VIGILCTL), "--version"], capture_output=True, text=True, timeout=10)
    assert r.stdout.strip() == f"vigilctl {v}"
    first = (ROOT / "debian" / "changelog").read_text().splitlines()[0]
    m = re.match(r"vigil \(([^)]+)\) ", first)
    assert m and m.group(1) == v, f"debian/changelog {first!r} != VIGIL_VERSION {v}"


# ---------------------------------------------------------------- make install

def test_make_install_layout_with_destdir(tmp_path):
    dest = tmp_path / "root"
    make("install", f"DESTDIR={dest}", "PREFIX=/usr", "UNITDIR=/lib/systemd/system")
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == ["etc/vigil/vigil.yaml", "lib/systemd/system/vigil.service",
                     "usr/bin/vigilctl", "usr/sbin/vigild", "usr/share/man/man5/vigil.yaml.5",
                     "usr/share/man/man8/vigilctl.8", "usr/share/man/man8/vigild.8"]
    for exe in ("usr/sbin/vigild", "usr/bin/vigilctl"):
        assert os.access(dest / exe, os.X_OK)
    unit = (dest / "lib/systemd/system/vigil.service").read_text()
    assert "ExecStart=/usr/sbin/vigild -c /etc/vigil/vigil.yaml" in unit
    assert "ExecReload=/usr/bin/vigilctl -c /etc/vigil/vigil.yaml reload" in unit
    assert not re.search(r"@[A-Z]+@", unit), "a placeholder left in the unit"
    # the installed default configuration is valid, and has no service
    r = subprocess.run([str(dest / "usr/sbin/vigild"), "-t", "-c", str(dest / "etc/vigil/vigil.yaml")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "(0 services)" in r.stdout, r.stdout + r.stderr
    # a second install keeps the operator's file
    (dest / "etc/vigil/vigil.yaml").write_text("services: []\n")
    r = make("install", f"DESTDIR={dest}", "PREFIX=/usr", "UNITDIR=/lib/systemd/system")
    assert (dest / "etc/vigil/vigil.yaml").read_text() == "services: []\n"
    assert "keeping" in r.stdout


def test_make_install_default_prefix(tmp_path):
    make("install", f"DESTDIR={tmp_path}")
    for f in ("usr/local/sbin/vigild", "usr/local/bin/vigilctl",
              "usr/local/share/man/man5/vigil.yaml.5", "usr/local/share/man/man8/vigild.8",
              "usr/local/lib/systemd/system/vigil.service", "etc/vigil/vigil.yaml"):
        assert (tmp_path / f).is_file(), f
    assert "ExecStart=/usr/local/sbin/vigild " in \
        (tmp_path / "usr/local/lib/systemd/system/vigil.service").read_text()


# ---------------------------------------------------------------- man pages

@pytest.fixture(scope="module")
def man_pages():
    make("man")
    return {p: BUILD / "man" / p for p in MAN_PAGES}


@pytest.mark.parametrize("page", MAN_PAGES)
def test_man_page_renders_without_warnings(man_pages, page):
    r = subprocess.run(["groff", "-man", "-ww", "-z", str(man_pages[page])], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # man-db as lintian runs it (UTF-8 device, warnings on)
    r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z",
                        str(man_pages[page])], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def rendered(path):
    r = subprocess.run(["groff", "-man", "-Tascii", "-P-cbou", str(path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def doc_tables():
    """{section heading: [first-column keys]} of docs/configuration.md's tables."""
    out, section = {}, "(top)"
    for line in DOC.read_text().splitlines():
        if line.startswith("## ") or line.startswith("### "):
            section = line.lstrip("#").strip()
        m = re.match(r"\| `([^`]+)`", line)
        if m:
            out.setdefault(section, []).append(m.group(1))
    return out


def test_man_page_has_every_documented_key(man_pages):
    text = rendered(man_pages["vigil.yaml.5"])
    keys = {k for ks in doc_tables().values() for k in ks}
    assert len(keys) > 60
    missing = sorted(k for k in keys if not re.search(r"(^|\s)" + re.escape(k) + r"(\s|,|$)", text, re.M))
    assert not missing, f"keys of docs/configuration.md not in vigil.yaml(5): {missing}"
    for section in ("GLOBAL", "SERVICES", "FAILOVER", "ERRORS"):
        assert re.search(rf"^{section}$", text, re.M), section


# Where each map of the parser is documented, and the doc-table prefix of its keys.
MAPS = {
    "": ("(top)", ""), "global": ("global", ""), "defaults": ("defaults", ""),
    "services[0]": ("services", ""), "services[0].backends[0]": ("backends", ""),
    "services[0].timeouts": ("timeouts", ""), "services[0].check": ("check", ""),
    "failover": ("failover", ""), "failover.garp": ("failover", "garp."),
    "failover.track": ("failover", "track."), "failover.notify": ("failover", "notify."),
    "failover.notify.email": ("failover", "notify.email."),
    "alerts": ("alerts", ""), "alerts.email": ("alerts", "email."),
}
PROBE = """\
zz_unknown: 1
global: {zz_unknown: 1}
defaults: {zz_unknown: 1}
services:
  - name: a
    vip: 127.0.0.1
    ports: [1]
    zz_unknown: 1
    timeouts: {zz_unknown: 1}
    check: {zz_unknown: 1}
    backends: [{name: b, address: 127.0.0.2, zz_unknown: 1}]
failover:
  zz_unknown: 1
  garp: {zz_unknown: 1}
  track: {zz_unknown: 1}
  notify: {zz_unknown: 1, email: {zz_unknown: 1}}
alerts: {zz_unknown: 1, email: {zz_unknown: 1}}
"""


def test_every_key_the_parser_accepts_is_documented(tmp_path):
    """vigild names the keys each map allows in its unknown-key error: every one of
    them is in the right table of docs/configuration.md (and so in vigil.yaml(5))."""
    f = tmp_path / "probe.yaml"
    f.write_text(PROBE)
    r = run_vigild("-t", "-c", f)
    allowed = {}
    for m in re.finditer(r": (\S*?)\.?zz_unknown: unknown key \(expected one of: ([^)]*)\)",
                         r.stderr):
        allowed[m.group(1)] = [k.strip() for k in m.group(2).split(",")]
    assert set(allowed) == set(MAPS), f"maps seen: {sorted(allowed)}\n{r.stderr}"
    tables = doc_tables()
    missing = []
    for path, keys in allowed.items():
        section, prefix = MAPS[path]
        documented = tables.get(section, [])
        for k in keys:
            full = prefix + k
            if full not in documented and not any(d.startswith(full + ".") for d in documented):
                missing.append(f"{path or '(top)'}: {k} (table '{section}')")
    assert not missing, "accepted by the parser, missing in docs/configuration.md:\n" + \
        "\n".join(missing)


def test_md2man_converts_and_escapes():
    md = ("# t\n\nintro `a-b` and \\back\n.starts with a dot\n\n## Keys\n\n| key | type |\n"
          "| --- | --- |\n| `x` | int — **req** |\n\n### Sub\n\n- one\n  two\n\n```\n.code\n```\n")
    out = md2man.convert(md, "p", "5", "sum", "1.0", "2026-01-01", "**q**(8)")
    lines = out.splitlines()
    assert lines[0] == '.TH "P" "5" "2026-01-01" "vigil 1.0" "vigil manual"'
    assert ".SH DESCRIPTION" in lines and '.SH "KEYS"' in lines and '.SS "Sub"' in lines
    assert r"intro \fBa\-b\fR and \eback" in lines
    assert r"\&.starts with a dot" in lines and r"\&.code" in lines
    assert lines[lines.index(".TP") + 1:lines.index(".TP") + 3] == [r"\fBx\fR", r"int \(em \fBreq\fR"]
    assert r"one two" in out and lines[-1] == r"\fBq\fR(8)"


@pytest.mark.parametrize("md", ["#### too deep\n", "| a | b |\n| c | d |\n",
                                "| a | b |\n| --- | --- |\n| 1 |\n", "```\nnever closed\n"])
def test_md2man_refuses_what_it_does_not_know(md):
    with pytest.raises(md2man.DocError):
        md2man.convert(md, "p", "5", "s", "1", "", "")


# ---------------------------------------------------------------- the unit

def test_unit_passes_systemd_analyze_verify(tmp_path):
    """The unit as installed, with PREFIX in tmp so that its programs (and man
    pages, for Documentation=) resolve; no warning at all."""
    make("install", f"PREFIX={tmp_path}/usr", f"SYSCONFDIR={tmp_path}/etc",
         f"UNITDIR={tmp_path}/lib/systemd/system")
    unit = tmp_path / "lib/systemd/system/vigil.service"
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, MANPATH=f"{tmp_path}/usr/share/man"))
    assert r.returncode == 0 and r.stderr.strip() == "" and r.stdout.strip() == "", \
        r.stdout + r.stderr
    text = unit.read_text()
    want = ["Type=notify", "User=vigil", f"AmbientCapabilities={UNIT_CAPS}",
            f"CapabilityBoundingSet={UNIT_CAPS}", "Restart=on-failure", "NoNewPrivileges=yes",
            "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "RuntimeDirectory=vigil",
            "LimitRTPRIO=10",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK AF_PACKET",
            f"ExecStartPre={tmp_path}/usr/sbin/vigild -t -c {tmp_path}/etc/vigil/vigil.yaml",
            f"ExecReload={tmp_path}/usr/bin/vigilctl -c {tmp_path}/etc/vigil/vigil.yaml reload"]
    for w in want:
        assert re.search(rf"^{re.escape(w)}$", text, re.M), w
    # systemd's own exposure score of the sandbox ("OK" is below 5)
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for vigil.service: ([\d.]+)", r.stdout)
    assert m and float(m.group(1)) < 3.0, r.stdout[-2000:] + r.stderr


def unit_caps_cmd(user):
    """setpriv doing what the unit's User=, AmbientCapabilities=,
    CapabilityBoundingSet= and NoNewPrivileges= do."""
    caps = ",".join("+" + c.lower().removeprefix("cap_") for c in UNIT_CAPS.split())
    pw = pwd.getpwnam(user)
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
            f"--inh-caps=-all,{caps}", f"--ambient-caps=-all,{caps}",
            f"--bounding-set=-all,{caps}", "--no-new-privs"]


CAP_BITS = (1 << 12) | (1 << 13) | (1 << 10)     # net_admin, net_raw, net_bind_service


def free_low_port(host):
    for p in range(1000, 900, -1):
        with socket.socket() as s:
            try:
                s.bind((host, p))
            except OSError:
                continue
            return p
    raise AssertionError("no free port below 1024")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start vigild as another user")
def test_vigild_runs_as_the_unit_runs_it():
    """User vigil (here: a test user) with the three capabilities as ambient ones and
    global.user naming that same user: vigild starts (it used to fail dropping the
    bounding set it has no right to change), binds ports below 1024, keeps exactly
    the three capabilities, reports READY=1 and stops on SIGTERM with STOPPING=1."""
    user = "nobody"
    vip = "127.0.0.33"
    d = Path(tempfile.mkdtemp(prefix="vigil-unit-", dir="/tmp"))
    proc = None
    be = Backend("be1")
    try:
        os.chmod(d, 0o755)
        run = d / "run"
        run.mkdir()
        shutil.chown(run, user)
        ns = NotifySocket(d / "notify.sock")
        os.chmod(ns.path, 0o666)
        port, sport = free_low_port(vip), free_port("127.0.0.1")
        cfg = d / "vigil.yaml"
        cfg.write_text(
            f"global: {{user: {user}, control_socket: {run}/control.sock,"
            f" status_listen: '127.0.0.1:{sport}'}}\n"
            f"services:\n  - {{name: low, vip: {vip}, ports: [{port}],"
            f" backends: [{{name: be1, address: 127.0.0.1, port: {be.port}}}],"
            " check: {interval: 200ms, timeout: 150ms}}\n")
        cfg.chmod(0o644)
        log = open(d / "vigild.log", "wb")
        proc = subprocess.Popen(unit_caps_cmd(user) + [str(VIGILD), "-c", str(cfg)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, NOTIFY_SOCKET=ns.path))
        try:
            ns.wait("READY", "1", timeout=10)
        except AssertionError:
            raise AssertionError((d / "vigild.log").read_text())
        st = proc_status(proc.pid)
        assert st["Uid"].split()[0] == str(pwd.getpwnam(user).pw_uid)
        assert int(st["CapEff"], 16) == CAP_BITS and int(st["CapBnd"], 16) == CAP_BITS
        with socket.create_connection((vip, port), timeout=5 * SLOW) as s:
            assert s.recv(64).startswith(b"be1")
        r = subprocess.run([str(VIGILCTL), "-s", f"{run}/control.sock", "status"],
                           capture_output=True, text=True, timeout=10 * SLOW)
        assert r.returncode == 0 and "be1" in r.stdout, r.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15 * SLOW) == 0, (d / "vigild.log").read_text()
        ns.wait("STOPPING", "1", timeout=2)
        ns.close()
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        be.close()
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- make deb

@pytest.mark.package
@pytest.mark.skipif(SANITIZED, reason="the package builds its own binaries; the plain run "
                    "of the suite covers it")
def test_make_deb_builds_a_lintian_clean_package():
    """make deb (dpkg-buildpackage, ~90 s) -> build/vigil_VERSION_ARCH.deb with the
    expected files, the conffile, the user-creating postinst; lintian: no error,
    no warning."""
    v = header_version()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    deb = BUILD / f"vigil_{v}_{arch}.deb"
    if deb.exists():
        deb.unlink()
    make("deb", timeout=900)
    assert deb.is_file()
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout
    files = {l.split()[-1].lstrip(".") for l in listing.splitlines()}
    for f in ("/usr/sbin/vigild", "/usr/bin/vigilctl", "/lib/systemd/system/vigil.service",
              "/etc/vigil/vigil.yaml", "/usr/share/man/man8/vigild.8.gz",
              "/usr/share/man/man8/vigilctl.8.gz", "/usr/share/man/man5/vigil.yaml.5.gz",
              "/usr/share/doc/vigil/copyright", "/usr/share/doc/vigil/examples/vigil.yaml"):
        assert f in files, f"{f} not in the package:\n{listing}"
    info = subprocess.run(["dpkg-deb", "-I", str(deb), "control"], capture_output=True,
                          text=True, check=True).stdout
    assert re.search(rf"^Version: {re.escape(v)}$", info, re.M), info
    assert re.search(r"^Depends:.*\badduser\b.*\blibsystemd0\b", info, re.M), info
    conf = subprocess.run(["dpkg-deb", "-I", str(deb), "conffiles"], capture_output=True,
                          text=True, check=True).stdout
    assert conf.split() == ["/etc/vigil/vigil.yaml"]
    postinst = subprocess.run(["dpkg-deb", "-I", str(deb), "postinst"], capture_output=True,
                              text=True, check=True).stdout
    assert "adduser --system" in postinst and "deb-systemd-helper enable 'vigil.service'" in postinst
    # the packaged binary is this version, and the packaged default config is valid
    with tempfile.TemporaryDirectory() as x:
        subprocess.run(["dpkg-deb", "-x", str(deb), x], check=True)
        r = subprocess.run([f"{x}/usr/sbin/vigild", "-t", "-c", f"{x}/etc/vigil/vigil.yaml"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        assert subprocess.run([f"{x}/usr/sbin/vigild", "--version"], capture_output=True,
                              text=True).stdout.strip() == f"vigild {v}"
        # built here with Debian's hardening flags, not copied from the suite's build
        for exe in (f"{x}/usr/sbin/vigild", f"{x}/usr/bin/vigilctl"):
            dyn = subprocess.run(["readelf", "-d", exe], capture_output=True, text=True,
                                 check=True).stdout
            assert re.search(r"FLAGS.*\bNOW\b", dyn), f"{exe}: not linked with -z now"
            syms = subprocess.run(["nm", "-D", exe], capture_output=True, text=True,
                                  check=True).stdout
            assert re.search(r"__\w+_chk\b", syms), f"{exe}: not built with _FORTIFY_SOURCE"
    r = subprocess.run(["lintian", "--fail-on", "error,warning", str(deb)], capture_output=True,
                       text=True, timeout=600)
    tags = [l for l in r.stdout.splitlines() if re.match(r"[EW]: ", l)]
    assert r.returncode == 0 and not tags, r.stdout + r.stderr


def test_vigilctl_man_page_has_every_command_and_option():
    """Each command and option of `vigilctl --help` has its row in docs/man/vigilctl.8.md."""
    usage = subprocess.run([str(VIGILCTL), "--help"], capture_output=True, text=True,
                           timeout=10).stdout
    block = usage.split("commands:", 1)[1].split("options:", 1)
    commands = re.findall(r"^  ([a-z]+)\b", block[0], re.M)
    options = re.findall(r"--[a-z]+", block[1])
    assert "reload" in commands and "--socket" in options
    page = (ROOT / "docs" / "man" / "vigilctl.8.md").read_text()
    rows = re.findall(r"^\| `([^`]+)`", page, re.M)
    first_cells = re.findall(r"^\| ([^|]+) \|", page, re.M)
    missing = [c for c in commands if not any(r.split()[0] == c for r in rows)]
    missing += [o for o in options if not any(f"`{o}" in c for c in first_cells)]
    assert not missing, f"in vigilctl --help but not in docs/man/vigilctl.8.md: {missing}"
