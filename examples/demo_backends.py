#!/usr/bin/env python3
"""Demo backends for examples/demo.yaml: three small web servers, the "sorry"
page that the web service falls back to when none of them is up, and two SMTP
servers, all on 127.0.0.1, each saying who it is. Stops on SIGINT/SIGTERM."""
import signal
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WEB = [("web1", 9001), ("web2", 9002), ("web3", 9003), ("sorry", 9009)]
SMTP = [("mx1", 9025), ("mx2", 9026)]


def web_handler(name):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if name == "sorry" and self.path != "/health":
                body = b"sorry: the web service is down for maintenance (served by sorry)\n"
            else:
                body = f"hello from {name} ({self.path})\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    return Handler


def smtp_handler(name):
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(f"220 {name}.demo ESMTP demo\r\n".encode())
            for line in self.rfile:
                cmd = line.decode(errors="replace").strip().upper()
                if cmd.startswith(("EHLO", "HELO")):
                    self.wfile.write(f"250-{name}.demo Hello\r\n250 8BITMIME\r\n".encode())
                elif cmd == "QUIT":
                    self.wfile.write(b"221 2.0.0 Bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 2.0.0 OK\r\n")
    return Handler


class SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    servers = [ThreadingHTTPServer(("127.0.0.1", p), web_handler(n)) for n, p in WEB]
    servers += [SmtpServer(("127.0.0.1", p), smtp_handler(n)) for n, p in SMTP]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    names = ", ".join(f"{n} 127.0.0.1:{p}" for n, p in WEB + SMTP)
    print(f"demo backends up: {names}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    for s in servers:
        s.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
