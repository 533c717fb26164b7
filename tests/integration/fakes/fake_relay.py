"""A hostile or broken SMTP relay for the notification mail tests.

    fake_relay.py IP PORT MODE OUT [CERT KEY]

Every command the client sends is appended to OUT as one JSON line
{"session": N, "tls": bool, "cmd": "..."} ("<text N bytes>" for the mail text),
so a test sees exactly what the client did. Modes:

  inject   offers STARTTLS; its 220 to STARTTLS comes with a pipelined, forged
           plaintext dialogue (250 / 250 / 250 / 354 / 250 / 221: enough for
           one recipient) in the same segment, then TLS (CERT KEY); after TLS
           it answers the EHLO and nothing else, so a MAIL FROM over TLS can
           only have followed the forged replies.
  bare     every reply is a bare code line ("220", "250", "354", "221"):
           a well-formed, minimal relay that accepts the mail.
  bareext  answers EHLO with a bare "250" line followed, in the same segment,
           by the unterminated bytes "STARTTLS": a client that reads the
           line past its end thinks STARTTLS was offered.
  refuse   accepts EHLO, refuses MAIL FROM with 550.
  silent   accepts the connection and never says anything.
"""
import json
import socket
import ssl
import sys
import threading

FORGED = b"250 forged\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n"


def main(ip, port, mode, out, cert=None, key=None):
    ctx = None
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, int(port)))
    srv.listen(16)
    lock = threading.Lock()
    count = [0]

    def record(session, tls, cmd):
        with lock, open(out, "a") as o:
            o.write(json.dumps({"session": session, "tls": tls, "cmd": cmd}) + "\n")

    def session(c, n):
        if mode == "silent":
            c.recv(1)                 # until the client gives up
            return
        f = c.makefile("rb")
        tls = False

        def say(b):
            c.sendall(b)

        say(b"220\r\n" if mode == "bare" else b"220 fake ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            record(n, tls, cmd)
            up = cmd.upper()
            if mode == "inject" and tls and not up.startswith("EHLO"):
                continue              # no honest answer after the EHLO
            if up.startswith("EHLO"):
                if mode == "bare":
                    say(b"250\r\n")
                elif mode == "bareext":
                    say(b"250\nSTARTTLS")
                elif mode == "inject" and not tls:
                    say(b"250-fake\r\n250 STARTTLS\r\n")
                else:
                    say(b"250 fake\r\n")
            elif up == "STARTTLS" and mode == "inject" and ctx:
                say(b"220 go ahead\r\n" + FORGED)
                c = ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rb")
                tls = True
            elif up.startswith("MAIL FROM:"):
                say(b"550 5.7.1 relaying denied\r\n" if mode == "refuse" else b"250\r\n")
            elif up.startswith("RCPT TO:"):
                say(b"250\r\n")
            elif up == "DATA":
                say(b"354\r\n")
                size = 0
                while True:
                    l = f.readline()
                    if l in (b".\r\n", b".\n", b""):
                        break
                    size += len(l)
                record(n, tls, f"<text {size} bytes>")
                say(b"250\r\n")
            elif up == "QUIT":
                say(b"221\r\n")
                return
            else:
                say(b"500 what\r\n")

    def safe(c, n):
        try:
            session(c, n)
        except (OSError, ssl.SSLError):
            pass
        finally:
            c.close()

    while True:
        c, _ = srv.accept()
        count[0] += 1
        threading.Thread(target=safe, args=(c, count[0]), daemon=True).start()


if __name__ == "__main__":
    main(*sys.argv[1:])
