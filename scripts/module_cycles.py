#!/usr/bin/env python3
"""Lists dependency cycles among the engine's modules (make lint fails on any).

A module is a top-level file or folder of src/ (`config`, `mta`, ...) and, inside a
folder, each of its files (`mta::procfs`). An edge A -> B is a `crate::B` path in A's
non-test code (or `super::B` between siblings). Test code (`#[cfg(test)]` modules and
tests.rs files) may use anything and is left out.
"""
import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "src-tauri/crates/engine/src"


def strip_comments(text):
    # `//` comments (docs and links in them are not dependencies); strings are rare
    # enough in paths that a `//` inside one does not matter here.
    return re.sub(r"//[^\n]*", "", text)


def strip_tests(text):
    # Drops `#[cfg(test)] mod x { ... }` blocks (brace-matched) and `mod tests;` lines.
    out, i = [], 0
    pat = re.compile(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{")
    while True:
        m = pat.search(text, i)
        if not m:
            out.append(text[i:])
            break
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    return "".join(out)


def module_of(rel):
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts


files = {}
for root, _, names in os.walk(SRC):
    for n in names:
        if not n.endswith(".rs") or n == "tests.rs" or "testdata" in root:
            continue
        rel = os.path.relpath(os.path.join(root, n), SRC)
        if rel == "lib.rs":
            continue
        files[rel] = strip_tests(strip_comments(open(os.path.join(root, n)).read()))

edges = {}
for rel, text in files.items():
    parts = module_of(rel)
    top = parts[0]
    # `use crate::{a, b::c}` groups
    refs = set(re.findall(r"crate::(\w+)", text))
    for group in re.findall(r"crate::\{([^}]*)\}", text):
        refs |= set(re.findall(r"(?:^|,)\s*(\w+)", group))
    for r in refs:
        if r != top:
            edges.setdefault(top, set()).add(r)
    # Siblings inside a folder: `super::x` and `crate::top::x`.
    if len(parts) >= 2:
        me = "::".join(parts[:2])
        sib = set(re.findall(r"super::(\w+)", text)) | set(re.findall(r"crate::%s::(\w+)" % top, text))
        for s in sib:
            if s != parts[1]:
                edges.setdefault(me, set()).add(top + "::" + s)

nodes = set(edges) | {d for ds in edges.values() for d in ds}
# Only edges between real modules (files or folders that exist).
real = {"::".join(module_of(r)[:2]) for r in files} | {module_of(r)[0] for r in files}
graph = {n: {d for d in edges.get(n, ()) if d in real} for n in nodes if n in real}

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(graph.get(v, ())):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))


sys.setrecursionlimit(10000)
for v in sorted(graph):
    if v not in index:
        visit(v)
if sccs:
    for c in sccs:
        print("module cycle:", " <-> ".join(c))
        for a in c:
            print("   ", a, "->", ", ".join(sorted(d for d in graph[a] if d in c)))
    sys.exit(1)
print(f"no module cycles among {len(graph)} engine modules")
