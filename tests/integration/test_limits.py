"""maxconn against the open file limit (issue 13): each connection costs two
descriptors, so vigild never runs with a maxconn the fd limit cannot carry -
it clamps it, says so at start-up and shows the effective value."""
import resource
import subprocess

from vigil import VIGILD, Vigild, base_config, free_port, service, wait_for

NOFILE = 512


class LimitedVigild(Vigild):
    """vigild started with RLIMIT_NOFILE soft = hard = NOFILE."""

    def start(self, wait=True, timeout=10.0, args=()):
        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))

        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(VIGILD), "-c", str(self.cfg_path), *args],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env, stdin=subprocess.DEVNULL,
                                     preexec_fn=limit)
        wait_for(lambda: self.proc.poll() is not None or self.ctl("status").returncode == 0,
                 timeout, 0.02, "vigild control socket")
        assert self.proc.poll() is None, self.log()
        return self


def config(**global_keys):
    port = free_port("127.0.0.1")
    cfg = base_config([service("web", "127.0.0.10", [port],
                               [{"name": "b1", "address": "127.0.0.1"},
                                {"name": "b2", "address": "127.0.0.2"}])])
    cfg["global"].pop("maxconn", None)
    cfg["global"].update(global_keys)
    return cfg


def test_maxconn_clamped_to_fd_limit(tmp_path):
    v = LimitedVigild(tmp_path, config(maxconn=5000), name="explicit")
    v.start()
    try:
        st = v.status()
        fit = (NOFILE - 2 - 64) // 2
        assert st["fd_limit"] == NOFILE and st["maxconn"] == fit, st
        log = v.log()
        assert "global.maxconn 5000 needs 10066 file descriptors" in log, log
        assert f"open file limit is {NOFILE}: using maxconn {fit}" in log, log
        # a reload re-applies it (and says it again)
        assert v.ctl("reload").returncode == 0
        wait_for(lambda: v.log().count("needs 10066 file descriptors") == 2, 5, 0.02, "reload")
        assert v.status()["maxconn"] == fit
    finally:
        assert v.stop() == 0


def test_maxconn_default_fits(tmp_path):
    v = LimitedVigild(tmp_path, config(), name="default")
    v.start()
    try:
        assert v.status()["maxconn"] == (NOFILE - 2 - 64) // 2
        assert "(the default; set global.maxconn to choose)" in v.log()
    finally:
        assert v.stop() == 0


def test_maxconn_that_fits_is_kept(tmp_path):
    v = LimitedVigild(tmp_path, config(maxconn=100), name="fits")
    v.start()
    try:
        assert v.status()["maxconn"] == 100
        assert "file descriptors" not in v.log()
    finally:
        assert v.stop() == 0
