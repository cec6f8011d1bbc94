#!/usr/bin/env python3
"""Deterministic trees for bench/scale.sh: many small files, so per-file costs dominate.

  scale-tree.py flat ROOT FILES [SEED]   FILES files of 512 B - 8 KiB (uniform, ~4.3 KiB mean),
                                         100 to a directory, two levels (d0000/d000042/f...)
  scale-tree.py deep ROOT FILES [SEED]   the same files with long names (100-200 bytes, every
                                         component) in directories 12 levels deep: every entry
                                         needs a GNU long-name header, paths run to ~2,500 bytes

Two thirds of the files are text (slices of a 32 MiB pool of words), one third random bytes
(slices of a 32 MiB random pool): slices start at random offsets, so zstd's window rarely sees
one repeated. Every byte, name and mtime follows from SEED. ROOT/.done records the arguments;
a tree that is already complete is kept.
"""
import os
import random
import sys

POOL = 32 << 20
MTIME = 1700000000
WORDS = (
    "INSERT INTO events VALUES select from where order by group id name value error warning "
    "info debug request response user session token backup restore snapshot server client "
    "config json log line {} [] () = , ; : 0 1 2 3 4 5 6 7 8 9 2026-12-03T02:00:00Z GET POST"
).split()


def pools(rng):
    text = bytearray()
    while len(text) < POOL:
        text += (" ".join(rng.choices(WORDS, k=4096)) + "\n").encode()
    return bytes(text[:POOL]), rng.randbytes(POOL)


def long_name(rng, i):
    n = rng.randint(100, 200)
    stem = f"{i:07d}-"
    return stem + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789_-", k=n - len(stem)))


def main():
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in ("flat", "deep"):
        sys.exit(__doc__)
    kind, root, files = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) == 5 else 1
    stamp = f"{kind} {files} {seed}\n"
    done = os.path.join(root, ".done")
    if os.path.exists(done) and open(done).read() == stamp:
        return
    if os.path.exists(root):
        sys.exit(f"{root} exists and is not this tree: remove it first")
    rng = random.Random(seed)
    text, noise = pools(rng)
    made = set()
    for i in range(files):
        if kind == "flat":
            d = os.path.join(root, f"d{i // 100000:04d}", f"d{i // 100:06d}")
            name = f"f{i:07d}.{('log', 'json', 'bin')[i % 3]}"
        else:
            # 12 levels: a new branch every 100 files, so directories hold few entries.
            branch = random.Random(seed * 7919 + i // 100)
            parts = [long_name(branch, i // 100 * 12 + k) for k in range(12)]
            d = os.path.join(root, *parts)
            name = long_name(rng, i)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        size = rng.randint(512, 8192)
        pool = noise if i % 3 == 2 else text
        at = rng.randrange(0, POOL - size)
        path = os.path.join(d, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, pool[at : at + size])
        os.close(fd)
        os.utime(path, (MTIME, MTIME))
    for d in made:
        os.utime(d, (MTIME, MTIME))
    with open(done, "w") as f:
        f.write(stamp)


if __name__ == "__main__":
    main()
