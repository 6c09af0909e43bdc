"""A file-data integrity run: random operations on one file, checked against a model.

``run_ops(path, n, seed)`` drives one file with ``n`` operations chosen at random (seeded,
so a failure repeats): ``pread`` at random places (compared with the model at once),
``pwrite`` of random bytes, ``ftruncate`` up and down, writes through a shared ``mmap`` of
the whole file (flushed with msync), and now and then a close and reopen (which exercises
the view's page-cache rule: pages kept while qid.vers is unchanged).  The model is a
``bytearray`` changed the same way.  Every 500 operations and at the end the whole file is
read back through a fresh descriptor and compared.  Returns the counts per operation.

Used by tests/test_fuse_integrity.py (a few thousand operations) and bench/fuse_integrity.py
(50,000, with the same run on the host's tmpfs as the baseline).
"""

from __future__ import annotations

import mmap
import os
import random
from collections import Counter

MAXSIZE = 256 * 1024  # the file stays below this
MAXIO = 64 * 1024  # longest single read or write
OPS = ("read", "write", "truncate", "mmap", "reopen")
WEIGHTS = (35, 35, 10, 15, 5)


def _whole(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = []
        while chunk := os.read(fd, 1 << 20):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def _check(path: str, model: bytearray, i: int) -> None:
    data = _whole(path)
    if data != model:
        at = next((k for k, (a, b) in enumerate(zip(data, model, strict=False)) if a != b),
                  min(len(data), len(model)))  # fmt: skip
        raise AssertionError(
            f"op {i}: file differs from the model at byte {at} "
            f"(file {len(data)} bytes, model {len(model)})"
        )


def run_ops(path: str, n: int, seed: int) -> Counter[str]:
    """Run ``n`` random operations on the file at ``path`` (created empty); see above."""
    rng = random.Random(seed)
    model = bytearray()
    done: Counter[str] = Counter()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for i in range(n):
            op = rng.choices(OPS, WEIGHTS)[0]
            size = len(model)
            if op == "read":
                off = rng.randrange(size + 100)
                count = rng.randrange(1, MAXIO)
                got = os.pread(fd, count, off)
                want = bytes(model[off : off + count])
                assert got == want, f"op {i}: pread({count}, {off}) of a {size}-byte file"
            elif op == "write":
                off = rng.randrange(min(size + 4096, MAXSIZE - 1))
                data = rng.randbytes(rng.randrange(1, min(MAXIO, MAXSIZE - off) + 1))
                assert os.pwrite(fd, data, off) == len(data)
                if off > size:
                    model.extend(bytes(off - size))
                model[off : off + len(data)] = data
            elif op == "truncate":
                new = rng.randrange(MAXSIZE)
                os.ftruncate(fd, new)
                del model[new:]
                model.extend(bytes(new - len(model)))
            elif op == "mmap":
                if size == 0:
                    continue
                off = rng.randrange(size)
                data = rng.randbytes(rng.randrange(1, min(4 * 4096, size - off) + 1))
                with mmap.mmap(fd, size) as m:  # shared, read-write
                    m[off : off + len(data)] = data
                    m.flush()
                model[off : off + len(data)] = data
            else:
                os.close(fd)
                fd = os.open(path, os.O_RDWR)
            done[op] += 1
            if i % 500 == 499:
                _check(path, model, i)
        _check(path, model, n)
    finally:
        os.close(fd)
    return done
