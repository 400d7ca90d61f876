#!/usr/bin/env python3
"""Interleaved timing of shell commands, for comparisons on a noisy machine (BENCHMARKS.md).

    scripts/ab.py ROUNDS 'CMD0' 'CMD1' ['CMD2' 'CMD3' ...]

Each round runs every command once, in order, through `bash -c`, with its output discarded. A command written
`PRE ;; CMD` runs PRE first, untimed (e.g. `rm -f out.ndjson; sync ;; hubble-ingest replay ...`). Prints per
command the median and minimum wall time and the median CPU time (user + system of the child), then for each
pair (CMD1 against CMD0, CMD3 against CMD2, ...) the median of the per-round ratios: both commands of a round ran
within seconds of each other, so the ratio cancels most of the machine's drift. A command that exits non-zero is
reported on stderr.
"""
import resource
import statistics
import subprocess
import sys
import time


def main() -> None:
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    cmds = sys.argv[2:]
    walls: list[list[float]] = [[] for _ in cmds]
    cpus: list[list[float]] = [[] for _ in cmds]
    for _ in range(rounds):
        for i, c in enumerate(cmds):
            pre, _, timed = c.rpartition(" ;; ")
            if pre:
                subprocess.run(["bash", "-c", pre], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            p = subprocess.run(["bash", "-c", timed], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if p.returncode != 0:
                print(f"command {i} exited {p.returncode}", file=sys.stderr)
            walls[i].append(wall)
            cpus[i].append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    for i, c in enumerate(cmds):
        print(
            f"[{i}] wall median {statistics.median(walls[i]):.3f} s, min {min(walls[i]):.3f} s; "
            f"CPU median {statistics.median(cpus[i]):.3f} s :: {c}"
        )
    for i in range(0, len(cmds) - 1, 2):
        rw = [b / a for a, b in zip(walls[i], walls[i + 1])]
        rc = [b / a for a, b in zip(cpus[i], cpus[i + 1])]
        print(
            f"[{i + 1}]/[{i}] median per-round ratio: wall {statistics.median(rw):.4f}, "
            f"CPU {statistics.median(rc):.4f} (wall ratios {min(rw):.3f}-{max(rw):.3f})"
        )


if __name__ == "__main__":
    main()
