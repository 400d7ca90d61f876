"""CPU time and peak memory of a process (or one of its threads) from /proc, for the benchmark scripts."""
import os

_HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat_path):
    """User + system CPU seconds from a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` file."""
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _HZ


def peak_rss_kib(pid):
    """The process's peak resident set (`VmHWM`), in KiB; 0 when not reported."""
    with open(f"/proc/{pid}/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
