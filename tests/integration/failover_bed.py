"""Shared set-up of the failover tests: a netns testbed with two vigild nodes.

lb1 (192.0.2.1, priority 150) and lb2 (192.0.2.2, priority 100) serve the VIP
192.0.2.10:8080, proxying to who-servers on be1 / be2 that greet each
connection with the address it came from - so the client's prober learns
which load balancer answered.
"""
import json
import os
import subprocess

from netns import Testbed, wait_until
from vigil import VIGILD, Vigild, base_config

VIP = "192.0.2.10"
PORT = 8080
ADV_MS = 100
GROUP = 51
KEY = "test-key-0123456789abcdef-0123456789"


def skew_ms(prio, adv=ADV_MS):
    return (256 - prio) / 256 * adv


def master_down_ms(prio, adv=ADV_MS):
    return 3 * adv + skew_ms(prio, adv)


class NsVigild(Vigild):
    """vigild running inside a testbed namespace (its control socket is a file,
    so vigilctl works from anywhere)."""

    def __init__(self, tmp_path, config, node, name, env=None):
        super().__init__(tmp_path, config, name=name)
        self.node = node
        self.extra_env = env or {}

    def argv(self, args):
        """The command line that starts this vigild."""
        return ["ip", "netns", "exec", self.node.ns, str(VIGILD), "-c", str(self.cfg_path),
                *args]

    def start(self, wait=True, timeout=10.0, args=()):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(args), stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=dict(os.environ, **self.extra_env))
        self.node.bed.procs.append(self.proc)
        if wait:
            wait_until(lambda: self.proc.poll() is not None or self.ctl("status").returncode == 0,
                       timeout, "vigild control socket")
            if self.proc.poll() is not None:
                raise AssertionError(f"vigild exited with {self.proc.returncode}:\n{self.log()}")
        return self

    def fo(self):
        return self.status()["failover"]

    def state(self):
        try:
            return self.fo()["state"]
        except (AssertionError, ValueError, KeyError):
            return None

    def wait_state(self, state, timeout=5.0):
        return wait_until(lambda: self.state() == state, timeout,
                          f"{self.dir.name} to be {state} (is {self.state()})")


class PairNode(NsVigild):
    """vigild -n NAME on the pair's one file, in a mount namespace of its own
    (`unshare -m`) where run_dir (this node's) is bind-mounted over shared_run
    (the directory the file names for the control socket), so each node has
    its own socket at the same path.

    own_file: the file itself lives in the run directory too, so both nodes
    read shared_run/vigil.yaml, each its own copy, as two machines would
    (failover.sync replaces it there, with its .prev); cfg_path is then this
    node's copy as the test sees it. Else both read shared_cfg itself."""

    def __init__(self, tmp_path, node, name, shared_cfg, shared_run, env=None, own_file=False):
        super().__init__(tmp_path, "", node, name, env=env)
        self.run_dir = tmp_path / f"{name}-run"
        self.run_dir.mkdir(exist_ok=True)
        self.shared_run = shared_run
        self.sock = str(self.run_dir / "control.sock")
        self.name = name
        if own_file:
            self.cfg_path = self.run_dir / "vigil.yaml"
            self.write_config(shared_cfg.read_text())
            self.node_cfg = shared_run / "vigil.yaml"
        else:
            self.cfg_path = self.node_cfg = shared_cfg

    def argv(self, args):
        script = 'mount --bind "$1" "$2" && exec "$3" -c "$4" -n "$5" "${@:6}"'
        return ["ip", "netns", "exec", self.node.ns, "unshare", "-m", "--propagation", "private",
                "bash", "-c", script, "bash", str(self.run_dir), str(self.shared_run),
                str(VIGILD), str(self.node_cfg), self.name, *args]

    def group(self, gid):
        for g in self.fo()["groups"]:
            if g["id"] == gid:
                return g
        raise KeyError(gid)

    def gstate(self, gid):
        try:
            return self.group(gid)["state"]
        except (AssertionError, ValueError, KeyError):
            return None

    def wait_group(self, gid, state, timeout=5.0):
        return wait_until(lambda: self.gstate(gid) == state, timeout,
                          f"{self.name} group {gid} to be {state} (is {self.gstate(gid)})")


def stop_nodes(vig):
    """Stop every started vigild of vig (name -> NsVigild): the problems seen
    (an exit code other than 0 from a live one, sanitizer reports)."""
    problems = []
    for name, v in vig.items():
        if v.proc is None:
            continue
        alive = v.alive()
        try:
            rc = v.stop()
        except AssertionError as e:
            problems.append(str(e)[:500])
            continue
        if alive and rc != 0:
            problems.append(f"{name} exited {rc}")
        problems += [f"{name}: {r}" for r in v.sanitizer_reports()[:5]]
    return problems


def logs(vig):
    return "\n".join(f"==== {n}\n{v.log()[-3000:]}" for n, v in vig.items())


class NodesBed:
    """What the pair test beds share: the testbed (bed), the vigild nodes by
    name (vig) and the client's probers (probers, by any key: stopped first
    on close)."""

    def __init__(self, bed):
        self.bed = bed
        self.vig = {}
        self.probers = {}

    def __getitem__(self, name):
        return self.vig[name]

    def close(self):
        """Stop probers and nodes, remove the testbed: the problems seen."""
        for p in self.probers.values():
            p.stop()
        problems = stop_nodes(self.vig)
        self.bed.close()
        return problems

    def logs(self):
        return logs(self.vig)


def bed_fixture(p):
    """The body of a pytest fixture for NodesBed p: yield it, print the logs
    when the test fails, close it and fail on problems."""
    try:
        yield p
    except BaseException:
        print(p.logs())
        raise
    finally:
        problems = p.close()
    assert not problems, problems


def key_file(tmp_path):
    """The pair's auth_key_file (written once)."""
    key = tmp_path / "peer.key"
    if not key.exists():
        key.write_text(KEY + "\n")
        os.chmod(key, 0o600)
    return key


def node_config(bed, tmp_path, node, prio, peer_nodes, **fo):
    key = key_file(tmp_path)
    cfg = base_config([{
        "name": "web", "vip": VIP, "ports": [PORT],
        "backends": [{"name": "be1", "address": bed["be1"].ip},
                     {"name": "be2", "address": bed["be2"].ip}],
        "check": {"type": "tcp", "interval": "100ms", "timeout": "100ms", "rise": 1, "fall": 1},
    }])
    f = {"node": node, "group": GROUP, "priority": prio, "interface": "eth0",
         "peers": [bed[p].ip for p in peer_nodes], "advert_interval": f"{ADV_MS}ms",
         "auth_key_file": str(key), "garp": {"count": 3, "interval": "100ms"},
         "track": {"services": True, "weight": 60}}
    f.update(fo)
    cfg["failover"] = {k: v for k, v in f.items() if v is not None}
    return cfg


class Pair(NodesBed):
    """The testbed, both nodes' vigild objects, and the client's prober."""

    def __init__(self, tmp_path, lb1_fo=None, lb2_fo=None, start=True):
        super().__init__(Testbed())
        self.tmp = tmp_path
        self.prober = None
        try:
            self.bed.who_server("be1", PORT)
            self.bed.who_server("be2", PORT)
            self.vig["lb1"] = NsVigild(tmp_path, node_config(self.bed, tmp_path, "lb1", 150,
                                                             ["lb2"], **(lb1_fo or {})),
                                       self.bed["lb1"], "lb1")
            self.vig["lb2"] = NsVigild(tmp_path, node_config(self.bed, tmp_path, "lb2", 100,
                                                             ["lb1"], **(lb2_fo or {})),
                                       self.bed["lb2"], "lb2")
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    def start(self):
        """lb1 first (becomes master), then lb2 (backup), then the prober."""
        self["lb1"].start()
        self["lb1"].wait_state("master", 5)
        self["lb2"].start()
        self["lb2"].wait_state("backup", 5)
        wait_until(lambda: (self["lb2"].fo()["peers"] or [{}])[0].get("state") == "master", 3,
                   "lb2 to hear lb1")
        self.start_prober()
        self.prober.wait_answer(self.bed["lb1"].ip, 5)

    def start_prober(self):
        self.prober = self.bed.prober("client", VIP, PORT, self.tmp / "probe.log")
        self.probers[VIP] = self.prober


def record(name, **values):
    """Append a measurement to $VIGIL_FAILOVER_RESULTS (JSON lines) if set."""
    path = os.environ.get("VIGIL_FAILOVER_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"test": name, **values}) + "\n")
    print(name, values)
