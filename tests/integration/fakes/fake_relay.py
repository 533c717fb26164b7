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
  accept   an honest relay without extensions; records each mail's text
           ({"cmd": "<text N bytes>", "text": "..."}).
  auth     offers STARTTLS (CERT KEY) and, only after TLS, AUTH PLAIN LOGIN;
           demands AUTH (530 to MAIL FROM without it). Credentials are checked
           against $FAKE_RELAY_USER / $FAKE_RELAY_PASS (235, or 535); each
           AUTH is recorded decoded ({"auth": [mechanism, user, password]}).
  authlogin  the same, offering only AUTH LOGIN.
  authclear  offers AUTH PLAIN LOGIN without STARTTLS (credentials would go
           in clear text) and demands it.
  authimplicit  TLS from the first byte (SMTPS), then as auth.
"""
import base64
import os
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

    def record(session, tls, cmd, **extra):
        with lock, open(out, "a") as o:
            o.write(json.dumps({"session": session, "tls": tls, "cmd": cmd, **extra}) + "\n")

    want = (os.environ.get("FAKE_RELAY_USER", ""), os.environ.get("FAKE_RELAY_PASS", ""))
    auth_modes = ("auth", "authlogin", "authclear", "authimplicit")

    def b64(line):
        try:
            return base64.b64decode(line.strip(), validate=True).decode()
        except ValueError:
            return None

    def session(c, n):
        if mode == "silent":
            c.recv(1)                 # until the client gives up
            return
        tls = False
        if mode == "authimplicit":
            c = ctx.wrap_socket(c, server_side=True)
            tls = True
        f = c.makefile("rb")

        def say(b):
            c.sendall(b)

        say(b"220\r\n" if mode == "bare" else b"220 fake ESMTP\r\n")
        authed = False
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
                elif mode in ("auth", "authlogin") and not tls:
                    say(b"250-fake\r\n250-8BITMIME\r\n250 STARTTLS\r\n")
                elif mode in ("auth", "authclear", "authimplicit"):
                    say(b"250-fake\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
                elif mode == "authlogin":
                    say(b"250-fake\r\n250 AUTH=LOGIN\r\n")
                else:
                    say(b"250 fake\r\n")
            elif up == "STARTTLS" and mode == "inject" and ctx:
                say(b"220 go ahead\r\n" + FORGED)
                c = ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rb")
                tls = True
            elif up == "STARTTLS" and mode in ("auth", "authlogin") and ctx and not tls:
                say(b"220 go ahead\r\n")
                c = ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rb")
                tls = True
            elif up.startswith("AUTH PLAIN ") and mode in auth_modes:
                parts = (b64(cmd[11:]) or "").split("\0")
                got = tuple(parts[1:3]) if len(parts) == 3 else None
                record(n, tls, "<auth>", auth=["PLAIN", *(got or ("?", "?"))])
                authed = got == want
                say(b"235 2.7.0 ok\r\n" if authed else b"535 5.7.8 bad credentials\r\n")
            elif up == "AUTH LOGIN" and mode in auth_modes:
                say(b"334 VXNlcm5hbWU6\r\n")
                user = b64(f.readline().decode(errors="replace"))
                say(b"334 UGFzc3dvcmQ6\r\n")
                pw = b64(f.readline().decode(errors="replace"))
                record(n, tls, "<auth>", auth=["LOGIN", user, pw])
                authed = (user, pw) == want
                say(b"235 2.7.0 ok\r\n" if authed else b"535 5.7.8 bad credentials\r\n")
            elif up.startswith("MAIL FROM:") and mode in auth_modes and not authed:
                say(b"530 5.7.0 Authentication required\r\n")
            elif up.startswith("MAIL FROM:"):
                say(b"550 5.7.1 relaying denied\r\n" if mode == "refuse" else b"250\r\n")
            elif up.startswith("RCPT TO:"):
                say(b"250\r\n")
            elif up == "DATA":
                say(b"354\r\n")
                size, text = 0, []
                while True:
                    l = f.readline()
                    if l in (b".\r\n", b".\n", b""):
                        break
                    size += len(l)
                    text.append(l.decode(errors="replace"))
                record(n, tls, f"<text {size} bytes>", text="".join(text))
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
