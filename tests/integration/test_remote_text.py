"""Remote text is cleaned before it reaches the status JSON, the dashboard, the
table or the log (issue 13): a server whose reply carries control characters
(a terminal escape, a bell, a forged second line) shows up escaped and bounded.
(A guard: the check's reply parser already replaced control bytes before
this issue; ctl/ now cleans the detail again at the edge with text_clean().)"""
import socket
import threading

from vigil import base_config, free_port, service

VIP = "127.0.0.14"
NASTY = b"421 4.3.2 busy\x1b[2J\x07 \xff now\rvigild[1]: failover: master -> backup\r\n"


def nasty_smtp(stop):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)

    def serve():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            try:
                c.sendall(NASTY)
                c.settimeout(1)
                c.recv(512)
            except OSError:
                pass
            finally:
                c.close()
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


def test_check_detail_cleaned(vigild_factory):
    stop = threading.Event()
    port = nasty_smtp(stop)
    try:
        chk = {"type": "smtp", "interval": "300ms", "timeout": "300ms", "rise": 1, "fall": 1}
        v = vigild_factory(base_config([service(
            "mail", VIP, [free_port(VIP)],
            [{"name": "mx", "address": "127.0.0.1", "port": port}], check=chk)]))
        b = v.wait_for(lambda: (lambda b: b["check"]["last"] == "protocol" and b)(
            v.backend("mail", "mx")), 10, "the check to fail on the 421")
        detail = b["check"]["detail"]
        assert detail.startswith("421 4.3.2 busy"), detail
        assert all(0x20 <= ord(ch) < 0x7f for ch in detail), repr(detail)
        assert "[2J" in detail and "master -> backup" in detail, repr(detail)
        assert len(detail) <= 200
        text = v.ctl("status").stdout
        assert "\x1b" not in text and "\x07" not in text
        # nor in the log: no forged line, no terminal escape
        log = v.log()
        assert "\x1b" not in log and "\x07" not in log, log[-2000:]
        assert not any(l.startswith("vigild[1]: failover") for l in log.splitlines())
    finally:
        stop.set()
