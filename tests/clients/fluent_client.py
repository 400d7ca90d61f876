"""Real Fluentd-protocol clients for tests/network.rs, run with the venv that scripts/pyenv.sh creates.

Every subcommand prints one JSON object on stdout (what happened) and exits 0, or exits 1 with a message on
stderr when the server misbehaved (wrong ack bytes, missing PONG, ...).

  logger HOST PORT LINES            fluent-logger (Fluentd's own client) emits one record {"log": line} per line
  send   --target T --mode M ...    hand-built Forward messages (msgpack) with chunk ids, optional handshake/TLS
  resend --target T ...             at-least-once sender: resends each chunk until acked (survives restarts)
  raw    --target T HEX             sends raw bytes, reports whether the server closed the connection
  hold   --target T N SECS          opens N connections and reports which the server closed at once
  http   URL LINES --format F       POSTs the lines as Fluent Bit out_http would (json, json_lines, msgpack)
"""
import argparse
import base64
import gzip
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import time
import urllib.error
import urllib.request

import msgpack


def lines_of(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def connect(target, cafile=None, timeout=10.0):
    if target.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(target[5:])
        return s
    host, port = target.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
        s = ctx.wrap_socket(s, server_hostname=host)
    return s


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)

    def read(self, timeout=10.0):
        self.sock.settimeout(timeout)
        while True:
            for obj in self.unpacker:
                return obj
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by server")
            self.unpacker.feed(data)

    def read_raw(self, timeout=10.0):
        """Reads one msgpack value and returns its exact bytes."""
        self.sock.settimeout(timeout)
        buf = b""
        while True:
            try:
                up = msgpack.Unpacker(raw=True)
                up.feed(buf)
                up.unpack()
                n = up.tell()
                return buf[:n]
            except msgpack.OutOfData:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("closed by server")
                buf += data


def sha512_hex(*parts):
    h = hashlib.sha512()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
    return h.hexdigest()


def handshake(conn, key, hostname="test-client", user="", password=""):
    helo = conn.read()
    if helo[0] != "HELO":
        raise SystemExit(f"expected HELO, got {helo!r}")
    opts = helo[1]
    nonce = opts["nonce"]
    nonce = nonce if isinstance(nonce, bytes) else nonce.encode()
    auth = opts.get("auth", b"")
    auth = auth if isinstance(auth, bytes) else auth.encode()
    salt = os.urandom(16)
    ping = ["PING", hostname, salt, sha512_hex(salt, hostname, nonce, key), user,
            sha512_hex(auth, user, password) if auth else ""]
    conn.sock.sendall(msgpack.packb(ping, use_bin_type=True))
    pong = conn.read()
    if pong[0] != "PONG":
        raise SystemExit(f"expected PONG, got {pong!r}")
    ok = pong[1]
    if ok and pong[4] != sha512_hex(salt, pong[3], nonce, key):
        raise SystemExit("PONG digest does not prove the server knows the key")
    return ok, pong[2]


def event_time(t):
    sec = int(t)
    return msgpack.ExtType(0, struct.pack(">II", sec, int((t - sec) * 1e9)))


def message(mode, tag, lines, chunk, key="log"):
    now = time.time()
    records = [{key: l, "stream": "stdout", "_p": "F"} for l in lines]
    entries = [[event_time(now), r] for r in records]
    opt = {"chunk": chunk} if chunk is not None else None
    if mode == "message":
        assert len(records) == 1
        m = [tag, event_time(now), records[0]]
    elif mode == "message-int":
        assert len(records) == 1
        m = [tag, int(now), records[0]]
    elif mode == "forward":
        m = [tag, entries]
    elif mode == "packed":
        m = [tag, b"".join(msgpack.packb(e, use_bin_type=True) for e in entries)]
        if opt is not None:
            opt["size"] = len(entries)
    elif mode == "gzip":
        packed = b"".join(msgpack.packb(e, use_bin_type=True) for e in entries)
        m = [tag, gzip.compress(packed)]
        opt = dict(opt or {}, size=len(entries), compressed="gzip")
    else:
        raise SystemExit(f"unknown mode {mode}")
    if opt is not None:
        m.append(opt)
    return msgpack.packb(m, use_bin_type=True)


def expect_ack(conn, chunk):
    want = msgpack.packb({"ack": chunk}, use_bin_type=True)
    got = conn.read_raw(timeout=20.0)
    if got != want:
        raise SystemExit(f"ack bytes differ: got {got.hex()} want {want.hex()}")


def chunk_id(i, binary=False):
    raw = os.urandom(12) + struct.pack(">I", i)
    return raw if binary else base64.b64encode(raw).decode()


def cmd_logger(a):
    from fluent import sender
    s = sender.FluentSender("cilium", host=a.host, port=int(a.port), nanosecond_precision=True,
                            timeout=10.0)
    n = 0
    for line in lines_of(a.lines):
        if not s.emit("flow", {"log": line, "stream": "stdout"}):
            raise SystemExit(f"fluent-logger failed: {s.last_error}")
        n += 1
    s.close()
    print(json.dumps({"sent": n}))


def cmd_send(a):
    lines = lines_of(a.lines)
    conn = Conn(connect(a.target, a.cafile))
    if a.shared_key_file:
        key = open(a.shared_key_file).read().strip()
        ok, reason = handshake(conn, key, a.hostname, a.user or "", a.password or "")
        if not ok:
            # The server must close without reading data: try to send and see the close.
            try:
                conn.sock.sendall(message("forward", "t", lines[:1], None))
                conn.read(timeout=5.0)
                closed = False
            except (ConnectionError, OSError, socket.timeout):
                closed = True
            print(json.dumps({"auth": False, "reason": reason, "closed": closed}))
            return
    acked = 0
    per = 1 if a.mode.startswith("message") else a.per_message
    for i in range(0, len(lines), per):
        chunk = None if a.no_ack else chunk_id(i, binary=a.binary_chunk)
        conn.sock.sendall(message(a.mode, "cilium.flow", lines[i:i + per], chunk, a.record_key))
        if chunk is not None:
            expect_ack(conn, chunk)
            acked += 1
    conn.sock.close()
    print(json.dumps({"auth": True, "acked": acked}))


def cmd_resend(a):
    """Fluent Bit's retry behaviour: a chunk is resent (on a new connection) until its ack arrives."""
    lines = lines_of(a.lines)
    chunks = [lines[i:i + a.per_message] for i in range(0, len(lines), a.per_message)]
    deadline = time.time() + a.deadline
    conn = None
    resends = 0
    pause_file = a.pause_after_file
    for i, chunk_lines in enumerate(chunks):
        chunk = chunk_id(i)
        attempt = 0
        while True:
            if time.time() > deadline:
                raise SystemExit(f"chunk {i} not acked before the deadline")
            try:
                if conn is None:
                    conn = Conn(connect(a.target, timeout=5.0))
                conn.sock.sendall(message("gzip", "cilium.flow", chunk_lines, chunk))
                expect_ack(conn, chunk)
                break
            except (ConnectionError, OSError, socket.timeout):
                attempt += 1
                resends += 1
                if conn is not None:
                    conn.sock.close()
                conn = None
                time.sleep(0.2)
        if pause_file:
            with open(pause_file, "a") as f:
                f.write(f"{i}\n")
        if a.sleep:
            time.sleep(a.sleep)
    print(json.dumps({"chunks": len(chunks), "resends": resends}))


def cmd_raw(a):
    conn = Conn(connect(a.target))
    data = bytes.fromhex(open(a.hexfile).read().strip())
    closed = False
    try:
        conn.sock.sendall(data)
        conn.sock.settimeout(10.0)
        while True:
            d = conn.sock.recv(65536)
            if not d:
                closed = True
                break
    except (ConnectionError, OSError):
        closed = True
    except socket.timeout:
        closed = False
    print(json.dumps({"closed": closed}))


def cmd_hold(a):
    socks = [connect(a.target) for _ in range(a.n)]
    time.sleep(0.5)
    closed = []
    for i, s in enumerate(socks):
        s.settimeout(0.5)
        try:
            closed.append(s.recv(1) == b"")
        except socket.timeout:
            closed.append(False)
        except OSError:
            closed.append(True)
    if a.hold_file:
        # Keep the connections open until the test removes the file.
        end = time.time() + a.secs
        while os.path.exists(a.hold_file) and time.time() < end:
            time.sleep(0.05)
    print(json.dumps({"closed": closed}))


def cmd_http(a):
    lines = lines_of(a.lines)
    now = time.time()
    if a.format == "json":
        body = json.dumps([{"date": now, "log": l} for l in lines]).encode()
        ctype = "application/json"
    elif a.format == "json_lines":
        body = "".join(json.dumps({"date": now, "log": l}) + "\n" for l in lines).encode()
        ctype = "application/x-ndjson"
    elif a.format == "ndjson-raw":
        body = "".join(l + "\n" for l in lines).encode()
        ctype = "application/x-ndjson"
    elif a.format == "msgpack":
        body = b"".join(msgpack.packb([event_time(now), {"log": l}], use_bin_type=True) for l in lines)
        ctype = "application/msgpack"
    elif a.format == "garbage":
        body = b"\x00\x01 this is not json {"
        ctype = "application/json"
    else:
        raise SystemExit(f"unknown format {a.format}")
    headers = {"Content-Type": ctype}
    if a.encoding == "gzip":
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    elif a.encoding == "zstd":
        import zstandard
        body = zstandard.ZstdCompressor().compress(body)
        headers["Content-Encoding"] = "zstd"
    req = urllib.request.Request(a.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            print(json.dumps({"status": r.status, "retry_after": r.headers.get("Retry-After")}))
    except urllib.error.HTTPError as e:
        print(json.dumps({"status": e.code, "retry_after": e.headers.get("Retry-After")}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("logger")
    s.add_argument("host")
    s.add_argument("port")
    s.add_argument("lines")
    s = sub.add_parser("send")
    s.add_argument("--target", required=True)
    s.add_argument("--mode", default="packed")
    s.add_argument("--per-message", type=int, default=50)
    s.add_argument("--no-ack", action="store_true")
    s.add_argument("--binary-chunk", action="store_true")
    s.add_argument("--record-key", default="log")
    s.add_argument("--shared-key-file")
    s.add_argument("--hostname", default="test-client")
    s.add_argument("--user")
    s.add_argument("--password")
    s.add_argument("--cafile")
    s.add_argument("lines")
    s = sub.add_parser("resend")
    s.add_argument("--target", required=True)
    s.add_argument("--per-message", type=int, default=50)
    s.add_argument("--deadline", type=float, default=120.0)
    s.add_argument("--sleep", type=float, default=0.0)
    s.add_argument("--pause-after-file")
    s.add_argument("lines")
    s = sub.add_parser("raw")
    s.add_argument("--target", required=True)
    s.add_argument("hexfile")
    s = sub.add_parser("hold")
    s.add_argument("--target", required=True)
    s.add_argument("--hold-file")
    s.add_argument("n", type=int)
    s.add_argument("secs", type=float)
    s = sub.add_parser("http")
    s.add_argument("url")
    s.add_argument("lines")
    s.add_argument("--format", default="json")
    s.add_argument("--encoding", default="none")
    a = p.parse_args()
    {"logger": cmd_logger, "send": cmd_send, "resend": cmd_resend, "raw": cmd_raw, "hold": cmd_hold,
     "http": cmd_http}[a.cmd](a)


if __name__ == "__main__":
    main()
