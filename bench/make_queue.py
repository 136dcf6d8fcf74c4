#!/usr/bin/env python3
"""Clones one real deferred Postfix message into N deferred messages, fast and bounded.

usage: make_queue.py QUEUE_DIR N

QUEUE_DIR/deferred must hold exactly one message (its defer log in QUEUE_DIR/defer).
Each clone gets a unique short queue id (hex), sits in the hash directory Postfix
expects (first character of the id, hash_queue_depth = 1), keeps the owner and mode
of the original, and gets an mtime (= next retry time) three days ahead so the
queue manager leaves the clones alone while the benchmark runs. Run with Postfix
stopped."""
import os
import sys
import time

qdir, n = sys.argv[1], int(sys.argv[2])
found = []
for root, _dirs, files in os.walk(os.path.join(qdir, "deferred")):
    found += [os.path.join(root, f) for f in files]
if len(found) != 1:
    sys.exit(f"expected one deferred message to clone, found {len(found)}")
src = found[0]
qid = os.path.basename(src)
st = os.stat(src)
body = open(src, "rb").read()
defer_src = os.path.join(qdir, "defer", qid[0], qid)
defer_body = open(defer_src, "rb").read() if os.path.exists(defer_src) else None
later = time.time() + 3 * 86400
os.utime(src, (later, later))
# i * odd constant mod 16**11 is a bijection: unique 11-digit hex ids, spread over
# all 16 hash directories.
made = 0
for i in range(1, n + 1):
    new = format((i * 0x9E3779B1) % (16**11), "011X")
    if new == qid:
        continue
    for sub, data in (("deferred", body), ("defer", defer_body)):
        if data is None:
            continue
        d = os.path.join(qdir, sub, new[0])
        os.makedirs(d, mode=0o700, exist_ok=True)
        os.chown(d, st.st_uid, st.st_gid)
        p = os.path.join(d, new)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, st.st_mode & 0o7777)
        os.close(fd)
        os.utime(p, (later, later))
    made += 1
    if made == n:
        break
print(f"cloned {qid} into {made} messages")
