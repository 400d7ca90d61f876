#!/usr/bin/env python3
"""Follow-mode benchmark: a writer appends CRI-framed kept flows to a file at a fixed rate (rotating it like the
kubelet does), `hubble-ingest run` follows it into a file sink, and a monitor tails the sink. Reports the daemon's
CPU (share of one core, from /proc/<pid>/stat), peak RSS, and delivery latency (line written -> record in the sink)
percentiles. Reproducible: `scripts/bench-follow.py [--rate 50000] [--seconds 20] [--cidr-groups FILE]
[--lines FILE]`. With `--lines`, the flows are that file's exporter lines (e.g. `gen-flows logs --lines 20000
--flow-share 1 --kept-share 1`, realistic 1.6 KB flows), each written with a fresh uuid; without it, one compact
~0.8 KB template.
"""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time

from flowlines import uuid_pieces
from procstat import cpu_seconds, peak_rss_kib

p = argparse.ArgumentParser()
p.add_argument("--rate", type=int, default=50000, help="flows per second")
p.add_argument("--seconds", type=int, default=20)
p.add_argument("--bin", default="target/release/hubble-ingest")
p.add_argument("--cidr-groups", default=None)
p.add_argument("--lines", default=None, help="exporter lines to write (cycled, uuid replaced; a flow without one "
               "gets one as its first field, as Cilium >= 1.11 writes it)")
p.add_argument("--daemon-arg", action="append", default=[],
               help="extra argument for `run` (repeatable), e.g. --daemon-arg=--allowlist --daemon-arg='{}' to keep "
                    "every flow of captures that are not policy-deny drops")
p.add_argument("--sink", choices=["file", "pipe"], default="file",
               help="file: a file sink the monitor tails; pipe: the stdout sink, read by the monitor from a pipe. A growing "
                    "file takes fresh page-cache pages for every record written, whose cost depends on the machine (a VM "
                    "whose free memory goes back to the host pays a host fault per page); a pipe reuses its buffer.")
p.add_argument("--rotate-bytes", type=int, default=10 * 1024 * 1024, help="kubelet containerLogMaxSize")
p.add_argument("--reopen-delay-ms", type=float, default=0.0,
               help="time between renaming the full file and creating the new one (the kubelet renames, then asks "
                    "the runtime over CRI to reopen the log)")
a = p.parse_args()

root = tempfile.mkdtemp(prefix="hi-follow-")
logdir = os.path.join(root, "pods")
os.makedirs(logdir)
log = os.path.join(logdir, "0.log")
sink = os.path.join(root, "out.ndjson")
open(log, "w").close()
cmd = [a.bin, "run", "--input", os.path.join(logdir, "0.log*"), "--state-dir", os.path.join(root, "state"),
       "--sink", "file:" + sink if a.sink == "file" else "stdout", "--format", "cri"]
if a.cidr_groups:
    cmd += ["--cidr-groups", a.cidr_groups]
cmd += a.daemon_arg
daemon = subprocess.Popen(cmd, stderr=open(os.path.join(root, "daemon.log"), "w"),
                          stdout=subprocess.PIPE if a.sink == "pipe" else None)
piped = []  # chunks read from the daemon's stdout by the thread below, taken by drain_sink()
if a.sink == "pipe":
    import fcntl, threading
    try:
        fcntl.fcntl(daemon.stdout.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ: fewer wake-ups on both ends
    except OSError:
        pass
    def pump():
        while True:
            chunk = os.read(daemon.stdout.fileno(), 1 << 22)
            if not chunk:
                return
            piped.append(chunk)
    threading.Thread(target=pump, daemon=True).start()
time.sleep(1.0)

TEMPLATE = ('{{"flow":{{"time":"2026-11-25T12:00:00.000000000Z","uuid":"{uuid}","verdict":"DROPPED",'
            '"IP":{{"source":"10.244.1.7","destination":"203.0.113.{d}","ipVersion":"IPv4"}},'
            '"l4":{{"TCP":{{"source_port":40000,"destination_port":443,"flags":{{"SYN":true}}}}}},'
            '"source":{{"ID":1200,"identity":48213,"namespace":"payments","labels":["k8s:app=api"],"pod_name":"api-1"}},'
            '"destination":{{"identity":2,"labels":["reserved:world"]}},"Type":"L3_L4","node_name":"aks/n1",'
            '"event_type":{{"type":1,"sub_type":181}},"traffic_direction":"EGRESS","drop_reason":181,'
            '"drop_reason_desc":"POLICY_DENY","Summary":"TCP Flags: SYN"}},"node_name":"aks/n1","time":"2026-11-25T12:00:00Z"}}')

# With --lines: each line split around its uuid value, so a write is pre + fresh uuid + post.
PIECES = uuid_pieces(a.lines) if a.lines else []
mean_line = (sum(len(p) + len(q) + 36 for p, q in PIECES) / len(PIECES)) if PIECES else None

t0_cpu = cpu_seconds(f"/proc/{daemon.pid}/stat")
written = {}
latencies = []
sink_pos = 0
sink_buf = b""
seq = 0
start = time.time()
f = open(log, "a")
size = 0
rotations = 0

def read_sink():
    global sink_pos
    if a.sink == "pipe":
        n = len(piped)
        data = b"".join(piped[:n])
        del piped[:n]
        return data
    if not os.path.exists(sink):
        return b""
    with open(sink, "rb") as s:
        s.seek(sink_pos)
        return s.read()

def drain_sink():
    global sink_pos, sink_buf
    data = read_sink()
    sink_pos += len(data)
    sink_buf += data
    now = time.time()
    *lines, sink_buf = sink_buf.split(b"\n")
    for l in lines:
        i = l.find(b'"Uuid":"') + 8
        u = l[i:l.index(b'"', i)].decode()
        w = written.pop(u, None)
        if w is not None:
            latencies.append(now - w)

while time.time() - start < a.seconds:
    tick = time.time()
    due = int((tick - start) * a.rate)
    batch = []
    while seq < due:
        u = f"{seq:08x}-0000-4000-8000-000000000000"
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(tick)) + ".000000000Z"
        if PIECES:
            pre, post = PIECES[seq % len(PIECES)]
            batch.append(f"{ts} stdout F {pre}{u}{post}\n")
        else:
            batch.append(f"{ts} stdout F " + TEMPLATE.format(uuid=u, d=seq % 250 + 1) + "\n")
        written[u] = tick
        seq += 1
    data = "".join(batch)
    f.write(data)
    f.flush()
    size += len(data)
    if size >= a.rotate_bytes:
        f.close()
        os.rename(log, log + time.strftime(".%Y%m%d-%H%M%S", time.gmtime()) + f"{rotations}")
        rotations += 1
        if a.reopen_delay_ms:
            time.sleep(a.reopen_delay_ms / 1000)
        f = open(log, "a")
        size = 0
    drain_sink()
    time.sleep(0.01)

f.close()
deadline = time.time() + 10
while written and time.time() < deadline:
    drain_sink()
    time.sleep(0.05)
elapsed = time.time() - start
cpu = cpu_seconds(f"/proc/{daemon.pid}/stat") - t0_cpu
peak = peak_rss_kib(daemon.pid)
daemon.send_signal(signal.SIGTERM)
daemon.wait(timeout=30)
latencies.sort()
def pct(q):
    return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
print(json.dumps({
    "rate_flows_per_s": a.rate, "mean_flow_line_bytes": round(mean_line) if mean_line else "template", "seconds": a.seconds, "flows_written": seq, "flows_delivered": len(latencies),
    "missing": len(written), "rotations": rotations,
    "cpu_share_of_one_core": round(cpu / elapsed, 3), "peak_rss_kib": peak,
    "latency_p50_s": round(pct(0.5), 3), "latency_p99_s": round(pct(0.99), 3), "latency_max_s": round(pct(1.0), 3),
}))
shutil.rmtree(root, ignore_errors=True)
