#!/usr/bin/env python3
"""Daemon throughput without a writer on the same cores: how fast `hubble-ingest run` drains a backlog.

`scripts/bench-follow.py` and `examples/follow-bench` write the followed file while the daemon runs, so on a
2-core machine the writer takes CPU from the daemon and, above ~150 k flows/s, cannot keep its own rate. This
script writes the whole backlog first (untimed): `--flows` CRI-framed exporter lines from `--lines` (cycled, a
fresh uuid each, rotated at `--rotate-bytes` like the kubelet: `0.log.<n>` files and a last `0.log`). Then it
starts `run --read-from-head` on `0.log*` and polls `/metrics` until `sink_records_total` reaches `--flows`. The
rate, flows per second from the daemon's start to the last record delivered, is the highest rate the daemon
sustains: a writer slower than that never builds a backlog. Prints one JSON line (rate, CPU in cores, per thread
and in all, peak RSS).

    TMPDIR=/dev/shm scripts/bench-drain.py --lines FILE [--flows 1000000] [--sink file:/dev/null]
        [--daemon-arg=--allowlist --daemon-arg='{}'] [--bin target/release/hubble-ingest]

The backlog (about 1.6 GB for a million realistic flows) is removed at the end.
"""
import argparse, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

from flowlines import uuid_pieces
from procstat import cpu_seconds, peak_rss_kib

p = argparse.ArgumentParser()
p.add_argument("--bin", default="target/release/hubble-ingest")
p.add_argument("--lines", required=True, help="exporter lines (cycled, uuid replaced or added)")
p.add_argument("--flows", type=int, default=1_000_000)
p.add_argument("--rotate-bytes", type=int, default=10 * 1024 * 1024, help="kubelet containerLogMaxSize")
p.add_argument("--sink", default="file:/dev/null")
p.add_argument("--daemon-arg", action="append", default=[], help="extra argument for `run` (repeatable)")
p.add_argument("--timeout", type=float, default=120.0)
a = p.parse_args()

pieces = uuid_pieces(a.lines)

root = tempfile.mkdtemp(prefix="hi-drain-")
try:
    logdir = os.path.join(root, "pods")
    os.makedirs(logdir)
    ts = "2026-12-06T00:00:00.000000000Z"
    rotated, size, flow_bytes, buf = 0, 0, 0, []
    f = open(os.path.join(logdir, "0.log"), "w")
    for seq in range(a.flows):
        pre, post = pieces[seq % len(pieces)]
        line = f"{ts} stdout F {pre}{seq:08x}-0000-4000-8000-000000000000{post}\n"
        buf.append(line)
        size += len(line)
        flow_bytes += len(pre) + 36 + len(post)
        if size >= a.rotate_bytes:
            f.write("".join(buf))
            buf = []
            f.close()
            os.rename(os.path.join(logdir, "0.log"), os.path.join(logdir, f"0.log.{rotated:05d}"))
            rotated += 1
            f = open(os.path.join(logdir, "0.log"), "w")
            size = 0
    f.write("".join(buf))
    f.close()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [a.bin, "run", "--input", os.path.join(logdir, "0.log*"), "--read-from-head", "--format", "cri",
           "--state-dir", os.path.join(root, "state"), "--sink", a.sink,
           "--metrics-addr", f"127.0.0.1:{port}"] + a.daemon_arg
    if "--flush-interval" not in a.daemon_arg:
        # The last partial batch would otherwise wait the default 1 s once the backlog is read: a writer that
        # keeps writing never leaves one waiting, so that second is not part of the rate.
        cmd += ["--flush-interval", "20ms"]
    start = time.time()
    daemon = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(root, "daemon.log"), "w"))
    pattern = re.compile(rb"^hubble_ingest_sink_records_total\{[^}]*\} (\d+)", re.M)
    delivered, done = 0, None
    while time.time() - start < a.timeout and daemon.poll() is None:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read()
            delivered = sum(int(m) for m in pattern.findall(body))
        except OSError:
            pass
        if delivered >= a.flows:
            done = time.time()
            break
        time.sleep(0.02)
    cpu_s = cpu_seconds(f"/proc/{daemon.pid}/stat")
    threads = {}
    for tid in os.listdir(f"/proc/{daemon.pid}/task"):
        try:
            with open(f"/proc/{daemon.pid}/task/{tid}/comm") as c:
                name = c.read().strip()
            threads[name] = threads.get(name, 0) + cpu_seconds(f"/proc/{daemon.pid}/task/{tid}/stat")
        except OSError:
            pass
    rss = peak_rss_kib(daemon.pid)
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=30)
    elapsed = (done or time.time()) - start
    print(json.dumps({
        "flows": a.flows, "delivered": delivered, "mean_flow_line_bytes": round(flow_bytes / a.flows),
        "files": rotated + 1, "seconds": round(elapsed, 3),
        "flows_per_s": round(delivered / elapsed), "cpu_cores": round(cpu_s / elapsed, 2),
        "cpu_us_per_flow": round(cpu_s * 1e6 / max(delivered, 1), 2), "peak_rss_kib": rss,
        "complete": done is not None,
        "thread_cores": {k: round(v / elapsed, 2) for k, v in sorted(threads.items()) if v > 0},
    }))
    sys.exit(0 if done is not None else 1)
finally:
    shutil.rmtree(root, ignore_errors=True)
