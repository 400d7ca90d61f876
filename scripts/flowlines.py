"""Exporter lines for the benchmark writers (`bench-follow.py`, `bench-drain.py`), split around their uuid."""
import sys


def uuid_pieces(path):
    """Each flow line of `path` as (before, after) its uuid's value, so that a write is before + a fresh uuid +
    after. A flow without a uuid (captures of Cilium before 1.11) gets one as its first field, as Cilium writes
    it. Exits when `path` has no flow line."""
    pieces = []
    with open(path) as lines:
        for line in lines:
            line = line.rstrip("\n")
            i = line.find('"uuid":"')
            if i >= 0:
                i += 8
                pieces.append((line[:i], line[line.index('"', i):]))
            elif line.startswith('{"flow":{'):
                pieces.append(('{"flow":{"uuid":"', '",' + line[len('{"flow":{'):]))
    if not pieces:
        sys.exit(f"no flow lines in {path}")
    return pieces
