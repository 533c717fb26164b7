"""Scripted fake servers for the health-check tests and the probe benchmark.

Each FakeServer listens on 127.0.0.1 and answers every connection according to
its current `mode` (it can be switched while running), speaking just enough
SMTP / IMAP / POP3 / HTTP to exercise vigil's probes, including what a real
server will not do on demand: slow banners, 421 / 554 / * BYE replies, garbage,
one byte per packet, a 100 KiB line, a reset mid-dialogue, TLS failures.

All servers of one process share one asyncio loop in a background thread.
Every connection is recorded: how the client ended it ('fin' for an orderly
close, 'rst' for a reset, 'open' while still connected) and its first client line,
so a test can tell probes from client traffic and prove probes never reset.
('fin' is recorded whether the client or the server closed first.)

Run standalone for the benchmark:
    fakeserver.py --ports-file F --count N --mode smtp [--tls CERT KEY] [--stats-file S]
starts N servers and writes their ports, one per line, to F; on SIGTERM it
writes {port: [connection start times (CLOCK_MONOTONIC)]} as JSON to S.
"""
import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import ssl
import struct
import sys
import threading
import time

_loop = None
_loop_lock = threading.Lock()

MODES = (
    "tcp", "hang", "smtp", "smtp-421", "smtp-554-ehlo", "smtp-slow-banner", "smtp-split",
    "smtp-longline", "smtp-reset", "smtp-quit-500", "garbage", "imap", "imap-bye", "pop3",
    "pop3-err", "http", "http-503", "http-wrongbody", "http-chunked", "http-nobody",
    "http-close", "tls-garbage", "refuse", "http-sized", "smtp-sized", "imap-sized",
)


def _raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def loop():
    """The shared event loop (started on first use)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _raise_fd_limit()
            _loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run():
                asyncio.set_event_loop(_loop)
                _loop.call_soon(ready.set)
                _loop.run_forever()
            threading.Thread(target=run, daemon=True, name="fakeserver").start()
            ready.wait(5)
    return _loop


def _call(coro, timeout=10):
    return asyncio.run_coroutine_threadsafe(coro, loop()).result(timeout)


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


class Conn:
    """What one connection did."""
    __slots__ = ("t", "first", "end")

    def __init__(self):
        self.t = time.monotonic()
        self.first = None     # first line the client sent (bytes), if any
        self.end = "open"


class FakeServer:
    """A scripted server on 127.0.0.1:port.

    mode: one of MODES. tls: an ssl.SSLContext for STARTTLS / STLS (and for
    implicit TLS when implicit=True). body: the HTTP body served as healthy.
    slow: seconds the slow banner waits. size: bytes of the one reply the
    *-sized modes send in one write (HTTP response, SMTP banner, IMAP greeting).
    """

    def __init__(self, mode, port=None, tls=None, implicit=False, body=b"<h1>Happy</h1>\n",
                 slow=5.0, name="fake", size=512):
        assert mode in MODES, mode
        self.mode = mode
        self.tls = tls
        self.implicit = implicit
        self.body = body
        self.slow = slow
        self.size = size
        self.name = name
        self.host = "127.0.0.1"
        self.conns = []
        self.tasks = set()
        self.server = None
        self.port = port
        self._start(port)

    # -- control from the test thread --
    def _start(self, port):
        async def start():
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, port or 0))
            sock.listen(1024)
            self.port = sock.getsockname()[1]
            self.server = await asyncio.start_server(
                self._handle, sock=sock, ssl=self.tls if self.implicit else None,
                ssl_handshake_timeout=5 if self.implicit else None)
        _call(start())

    def close(self):
        """Stop listening and end every connection."""
        self.stop_listening()

        async def stop():
            for t in list(self.tasks):
                t.cancel()
        _call(stop())

    def stop_listening(self):
        """Close the listening socket (new connects are refused); connections go on."""
        async def stop():
            if self.server:
                self.server.close()
                self.server = None
        _call(stop())

    def listen_again(self):
        self._start(self.port)

    def conf(self, name, **extra):
        d = {"name": name, "address": self.host, "port": self.port}
        d.update(extra)
        return d

    def count(self, pred=lambda c: True):
        return sum(1 for c in list(self.conns) if pred(c))

    def ends(self):
        """{end: count} over finished connections."""
        out = {}
        for c in list(self.conns):
            out[c.end] = out.get(c.end, 0) + 1
        return out

    # -- the server side --
    async def _handle(self, reader, writer):
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()
        finally:
            self.tasks.discard(task)

    async def _serve(self, reader, writer):
        rec = Conn()
        self.conns.append(rec)
        mode = self.mode
        sock = writer.get_extra_info("socket")
        try:
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            handler = getattr(self, "_m_" + mode.replace("-", "_"))
            closed_by_server = await handler(reader, writer, rec)
            await self._finish(reader, writer, rec, closed_by_server)
        except (ConnectionResetError, BrokenPipeError):
            rec.end = "rst"
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            rec.end = "error"
        finally:
            try:
                writer.transport.abort() if rec.end == "rst-sent" else writer.close()
            except Exception:
                pass

    async def _finish(self, reader, writer, rec, closed_by_server):
        """Read until the client closes; note whether it ended with FIN or RST."""
        if closed_by_server == "reset":
            rec.end = "rst-sent"
            return
        if closed_by_server:
            if writer.can_write_eof() and not writer.transport.is_closing():
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    pass
        try:
            while True:
                data = await asyncio.wait_for(reader.read(65536), 10)
                if not data:
                    rec.end = "fin"
                    return
                if rec.first is None:
                    rec.first = data.split(b"\n")[0]
        except (ConnectionResetError, BrokenPipeError):
            rec.end = "rst"
        except ssl.SSLError:
            rec.end = "tls-error"
        except asyncio.TimeoutError:
            rec.end = "stuck"

    async def _line(self, reader, rec, timeout=10):
        line = await asyncio.wait_for(reader.readline(), timeout)
        if rec.first is None and line:
            rec.first = line.rstrip(b"\r\n")
        return line

    async def _upgrade(self, writer):
        await writer.start_tls(self.tls)

    # tcp: accept, send nothing, wait for the client to close
    async def _m_tcp(self, reader, writer, rec):
        return False

    async def _m_hang(self, reader, writer, rec):
        await asyncio.sleep(3600)

    async def _m_refuse(self, reader, writer, rec):
        return "reset"

    async def _m_garbage(self, reader, writer, rec):
        writer.write(b"\x16\x03\x01garbage\xff\xfe\x00 here\r\n")
        await writer.drain()
        return True

    async def _m_tls_garbage(self, reader, writer, rec):
        await asyncio.sleep(0.05)
        writer.write(b"this is not TLS at all\r\n" * 4)
        await writer.drain()
        return True

    # ---------------------------------------------------------------- smtp
    async def _smtp_dialogue(self, reader, writer, rec, banner=b"220 fake.test ESMTP\r\n",
                             ehlo_reply=None, quit_reply=b"221 2.0.0 Bye\r\n", split=False):
        async def say(data):
            if split:
                for i in range(len(data)):
                    writer.write(data[i:i + 1])
                    await writer.drain()
                    await asyncio.sleep(0.001)
            else:
                writer.write(data)
                await writer.drain()
        await say(banner)
        tls_up = False
        for _ in range(20):
            line = await self._line(reader, rec)
            if not line:
                return False
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                if ehlo_reply:
                    await say(ehlo_reply)
                    continue
                ext = b"250-STARTTLS\r\n" if self.tls and not tls_up else b""
                await say(b"250-fake.test Hello\r\n250-PIPELINING\r\n" + ext + b"250 8BITMIME\r\n")
            elif cmd == b"STARTTLS" and self.tls and not tls_up:
                await say(b"220 2.0.0 Ready to start TLS\r\n")
                await self._upgrade(writer)
                tls_up = True
            elif cmd == b"QUIT":
                await say(quit_reply)
                return True
            else:
                await say(b"502 5.5.2 Error: command not recognized\r\n")
        return True

    async def _m_smtp(self, reader, writer, rec):
        return await self._smtp_dialogue(reader, writer, rec)

    async def _m_smtp_split(self, reader, writer, rec):
        return await self._smtp_dialogue(reader, writer, rec, split=True,
                                         banner=b"220-fake.test\r\n220 split ESMTP\r\n")

    async def _m_smtp_sized(self, reader, writer, rec):
        return await self._smtp_dialogue(reader, writer, rec,
                                         banner=sized(b"220 ", b"\r\n", self.size))

    async def _m_smtp_421(self, reader, writer, rec):
        writer.write(b"421 4.3.2 Service not available\r\n")
        await writer.drain()
        return True

    async def _m_smtp_554_ehlo(self, reader, writer, rec):
        return await self._smtp_dialogue(reader, writer, rec,
                                         ehlo_reply=b"554 5.7.1 Access denied\r\n")

    async def _m_smtp_quit_500(self, reader, writer, rec):
        return await self._smtp_dialogue(reader, writer, rec,
                                         quit_reply=b"500 5.5.1 what\r\n")

    async def _m_smtp_slow_banner(self, reader, writer, rec):
        await asyncio.sleep(self.slow)
        return await self._smtp_dialogue(reader, writer, rec)

    async def _m_smtp_longline(self, reader, writer, rec):
        writer.write(b"220 " + b"x" * (100 * 1024))
        await writer.drain()
        await asyncio.sleep(2)
        writer.write(b"\r\n")
        return True

    async def _m_smtp_reset(self, reader, writer, rec):
        writer.write(b"220 fake.test ESMTP\r\n")
        await writer.drain()
        await self._line(reader, rec)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return "reset"

    # ---------------------------------------------------------------- imap, pop3
    async def _m_imap(self, reader, writer, rec):
        caps = b" STARTTLS" if self.tls and not self.implicit else b""
        writer.write(b"* OK [CAPABILITY IMAP4rev1" + caps + b"] fake ready.\r\n")
        await writer.drain()
        for _ in range(20):
            line = await self._line(reader, rec)
            if not line:
                return False
            parts = line.strip().split(None, 1)
            if len(parts) < 2:
                writer.write(b"* BAD what\r\n")
                continue
            tag, cmd = parts[0], parts[1].upper()
            if cmd == b"STARTTLS" and self.tls and not self.implicit:
                writer.write(tag + b" OK Begin TLS negotiation now.\r\n")
                await writer.drain()
                await self._upgrade(writer)
            elif cmd == b"LOGOUT":
                writer.write(b"* BYE Logging out\r\n" + tag + b" OK Logout completed.\r\n")
                await writer.drain()
                return True
            else:
                writer.write(tag + b" BAD Error in IMAP command\r\n")
            await writer.drain()
        return True

    async def _m_imap_sized(self, reader, writer, rec):
        writer.write(sized(b"* OK [CAPABILITY IMAP4rev1 X", b"] ready\r\n", self.size))
        await writer.drain()
        line = await self._line(reader, rec)
        tag = line.split(None, 1)[0] if line.strip() else b"a2"
        writer.write(b"* BYE Logging out\r\n" + tag + b" OK Logout completed.\r\n")
        await writer.drain()
        return True

    async def _m_imap_bye(self, reader, writer, rec):
        writer.write(b"* BYE Too many connections, try again later\r\n")
        await writer.drain()
        return True

    async def _m_pop3(self, reader, writer, rec):
        writer.write(b"+OK fake POP3 ready.\r\n")
        await writer.drain()
        for _ in range(20):
            line = await self._line(reader, rec)
            if not line:
                return False
            cmd = line.strip().upper()
            if cmd == b"STLS" and self.tls and not self.implicit:
                writer.write(b"+OK Begin TLS negotiation now.\r\n")
                await writer.drain()
                await self._upgrade(writer)
            elif cmd == b"QUIT":
                writer.write(b"+OK Logging out.\r\n")
                await writer.drain()
                return True
            else:
                writer.write(b"-ERR Unknown command.\r\n")
                await writer.drain()
        return True

    async def _m_pop3_err(self, reader, writer, rec):
        writer.write(b"-ERR [SYS/TEMP] Server busy\r\n")
        await writer.drain()
        return True

    # ---------------------------------------------------------------- http
    async def _http_request(self, reader, rec):
        for _ in range(100):
            line = await self._line(reader, rec)
            if not line or line in (b"\r\n", b"\n"):
                return

    async def _http_reply(self, reader, writer, rec, head, body=b""):
        await self._http_request(reader, rec)
        writer.write(head + body)
        await writer.drain()
        return True

    async def _m_http(self, reader, writer, rec):
        return await self._http_reply(reader, writer, rec, b"HTTP/1.1 200 OK\r\nContent-Length: "
                                      + str(len(self.body)).encode()
                                      + b"\r\nConnection: close\r\n\r\n", self.body)

    async def _m_http_503(self, reader, writer, rec):
        body = b"<h1>down for maintenance</h1>\n"
        return await self._http_reply(reader, writer, rec,
                                      b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: "
                                      + str(len(body)).encode() + b"\r\n\r\n", body)

    async def _m_http_wrongbody(self, reader, writer, rec):
        body = b"<h1>Sad</h1>\n"
        return await self._http_reply(reader, writer, rec, b"HTTP/1.1 200 OK\r\nContent-Length: "
                                      + str(len(body)).encode() + b"\r\n\r\n", body)

    async def _m_http_chunked(self, reader, writer, rec):
        b = self.body
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(b[i:i + 3]), b[i:i + 3]) for i in range(0, len(b), 3))
        return await self._http_reply(reader, writer, rec,
                                      b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                                      chunks + b"0\r\n\r\n")

    async def _m_http_nobody(self, reader, writer, rec):
        return await self._http_reply(reader, writer, rec,
                                      b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    async def _m_http_sized(self, reader, writer, rec):
        """A response of exactly self.size bytes whose body ends with 'Happy'."""
        head = b""
        while True:
            body_len = self.size - len(head)
            new = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % body_len
            if new == head:
                break
            head = new
        return await self._http_reply(reader, writer, rec, head,
                                      sized(b"", b"Happy", self.size - len(head)))

    async def _m_http_close(self, reader, writer, rec):
        return await self._http_reply(reader, writer, rec, b"HTTP/1.0 200 OK\r\n\r\n", self.body)


def sized(prefix, suffix, n, pad=b"x"):
    """prefix + padding + suffix, exactly n bytes."""
    assert n >= len(prefix) + len(suffix)
    return prefix + pad * (n - len(prefix) - len(suffix)) + suffix


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", default="smtp", choices=MODES)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--ports-file", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--implicit", action="store_true")
    ap.add_argument("--stats-file")
    args = ap.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    ctx = tls_context(*args.tls) if args.tls else None
    servers = [FakeServer(args.mode, tls=ctx, implicit=args.implicit) for _ in range(args.count)]
    tmp = args.ports_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(f"{s.port}\n" for s in servers))
    os.replace(tmp, args.ports_file)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    if args.stats_file:
        stats = {str(s.port): [c.t for c in list(s.conns)] for s in servers}
        with open(args.stats_file + ".tmp", "w") as f:
            json.dump(stats, f)
        os.replace(args.stats_file + ".tmp", args.stats_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
