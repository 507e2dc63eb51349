#!/usr/bin/env python3
"""Generate a deterministic nested file tree with awkward names for the sync suites.

usage: gen_tree.py DEST [--count N] [--seed S] [--big-mib M]

Names contain spaces, unicode (é, 日本), '+', '%', '=' and escapes-looking
sequences like '%41' (which a server that decodes twice turns into 'A').
One file is empty; a few are 64 KiB; with --big-mib one file of that size is
added at the top (used to make sync tools go multipart).
"""
import argparse
import os
import random

DIRS = [
    "plain",
    "with space",
    "café",
    "日本",
    "plus+sign",
    "pct%25dir",
    "eq=sign",
    "mixed é+ %=日本",
]
SUBDIRS = ["", "sub dir", "深い/more", "a+b", "x=1/y%41"]
SUFFIXES = ["", " é", "+plus", "%41", "=eq", " two  spaces", "%2F"]  # 7: coprime with 8 dirs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dest")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--big-mib", type=int, default=0)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.dest, exist_ok=True)
    for i in range(a.count):
        d = DIRS[i % len(DIRS)]
        s = SUBDIRS[(i // len(DIRS)) % len(SUBDIRS)]
        name = f"file {i:03d}{SUFFIXES[i % len(SUFFIXES)]}.bin"
        rel = os.path.join(d, s, name) if s else os.path.join(d, name)
        path = os.path.join(a.dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if i == 0:
            size = 0
        elif i % 97 == 0:
            size = 64 * 1024
        else:
            size = rnd.randint(1, 4096)
        with open(path, "wb") as f:
            f.write(rnd.randbytes(size))
    if a.big_mib:
        with open(os.path.join(a.dest, "big file+ é.bin"), "wb") as f:
            for _ in range(a.big_mib):
                f.write(rnd.randbytes(1 << 20))


if __name__ == "__main__":
    main()
