#!/usr/bin/env python3
"""Replace (or append) one "## Heading" section of BENCHMARKS.md with stdin.

Usage: python3 bench/section.py "## Heading" < body.md
Each benchmark writes only its own section, so they can run separately or together.
"""
import pathlib
import sys

heading = sys.argv[1].strip()
body = sys.stdin.read().strip() + "\n"
path = pathlib.Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
text = path.read_text() if path.exists() else "# Benchmarks\n\nEvery figure here is written by `make bench` (bench/run.sh); rerun it to refresh them.\n"
lines = text.splitlines(keepends=True)
out, i, found = [], 0, False
while i < len(lines):
    if lines[i].strip() == heading:
        found = True
        out.append(heading + "\n\n" + body + "\n")
        i += 1
        while i < len(lines) and not lines[i].startswith("## "):
            i += 1
        continue
    out.append(lines[i])
    i += 1
if not found:
    if out and not out[-1].endswith("\n\n"):
        out.append("\n")
    out.append(heading + "\n\n" + body)
path.write_text("".join(out).rstrip("\n") + "\n")
