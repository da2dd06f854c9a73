#!/usr/bin/env python3
"""Check that the modules depend on each other one way only.

A module is a folder of product code (common, wire, nodeconf, store,
store/query, node, node/decode, controller, controller/cli). Two kinds
of dependency are read:

  includes  every `#include "..."` of the module's .c and .h files;
  calls     every global symbol a module's object file uses (nm: U) and
            another file defines (nm: T, D, B, R), from the objects of
            a build (make puts them under BUILD/obj).

The check fails (exit 1) when
  - a module depends on a module that ALLOWED below does not list for it
    (this table is the layering, lowest first; docs/DEVELOPING.md draws
    the same picture);
  - the modules' dependencies form a cycle (reported as the strongly
    connected set), whatever the table says;
  - two files of one module call each other both ways (a.c uses a symbol
    of b.c and b.c one of a.c): one of them must register a callback
    instead.

usage: tests/lint/layering.py BUILD_DIR
"""
import collections
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))

# What each module may use, lowest layer first.
ALLOWED = {
    'common': [],
    'wire': ['common'],
    'nodeconf': ['wire', 'common'],
    'store': ['common'],
    'store/query': ['store', 'wire', 'common'],
    'node/decode': ['store', 'common'],
    'node': ['node/decode', 'nodeconf', 'store/query', 'store', 'wire',
             'common'],
    'controller': ['nodeconf', 'store/query', 'store', 'wire', 'common'],
    'controller/cli': ['store/query', 'store', 'wire', 'common'],
}
MODULES = list(ALLOWED)

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path):
    """The module a root-relative path belongs to, or None."""
    d = os.path.dirname(path)
    return d if d in ALLOWED else None


def sources():
    out = []
    for m in MODULES:
        d = os.path.join(ROOT, m)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith(('.c', '.h', '.def')):
                out.append(os.path.join(m, f))
    return out


def include_edges(files):
    """(from_file, to_file) for every include between product files."""
    edges = []
    for f in files:
        text = open(os.path.join(ROOT, f), encoding='utf-8').read()
        for name in INCLUDE.findall(text):
            local = os.path.normpath(os.path.join(os.path.dirname(f), name))
            if os.path.exists(os.path.join(ROOT, local)):
                edges.append((f, local))
            elif os.path.exists(os.path.join(ROOT, name)):
                edges.append((f, os.path.normpath(name)))
    return edges


def nm(obj):
    """(defined, undefined) global symbols of an object file."""
    out = subprocess.run(['nm', obj], capture_output=True, text=True,
                         check=True).stdout
    defined, undef = set(), set()
    for line in out.splitlines():
        p = line.split()
        if len(p) == 2 and p[0] == 'U':
            undef.add(p[1])
        elif len(p) == 3 and p[1] in 'TDBRGSVW':
            defined.add(p[2])
    return defined, undef


def call_edges(files, build):
    """(from_file, to_file, symbol) for every call between product files."""
    objs = {}
    for f in files:
        if f.endswith('.c'):
            o = os.path.join(build, 'obj', f[:-2] + '.o')
            if not os.path.exists(o):
                sys.exit('layering: %s is missing: build first (make)' % o)
            objs[f] = nm(o)
    owners = collections.defaultdict(list)
    for f, (defined, _) in objs.items():
        for s in defined:
            owners[s].append(f)
    edges = []
    for f, (_, undef) in objs.items():
        m = module_of(f)
        # a name two programs both define (each its own cmd_query, say)
        # resolves as the linker of f's program would: its own module
        # first, then the modules it may use
        rank = [m] + ALLOWED[m]
        for s in sorted(undef):
            defs = [d for d in owners.get(s, ()) if d != f]
            if not defs:
                continue
            defs.sort(key=lambda d: rank.index(module_of(d))
                      if module_of(d) in rank else len(rank))
            edges.append((f, defs[0], s))
    return edges


def sccs(graph):
    """Strongly connected components of size > 1 (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    files = sources()
    incs = include_edges(files)
    calls = call_edges(files, build)
    problems = []

    why = collections.defaultdict(list)	# (mod, mod) -> evidence
    for a, b in incs:
        ma, mb = module_of(a), module_of(b)
        if ma and mb and ma != mb:
            why[(ma, mb)].append('%s includes %s' % (a, b))
    for a, b, s in calls:
        ma, mb = module_of(a), module_of(b)
        if ma and mb and ma != mb:
            why[(ma, mb)].append('%s calls %s (%s)' % (a, s, b))

    graph = collections.defaultdict(set)
    for (ma, mb), ev in sorted(why.items()):
        graph[ma].add(mb)
        if mb not in ALLOWED[ma]:
            problems.append('%s -> %s is not allowed: %s' %
                            (ma, mb, '; '.join(ev[:3])))
    for comp in sccs(graph):
        problems.append('module cycle: %s' % ' <-> '.join(comp))

    fcalls = collections.defaultdict(set)
    for a, b, s in calls:
        fcalls[(a, b)].add(s)
    seen = set()
    for (a, b), syms in sorted(fcalls.items()):
        if module_of(a) != module_of(b) or (b, a) in seen:
            continue
        back = fcalls.get((b, a))
        if back:
            seen.add((a, b))
            problems.append('%s and %s call each other: %s / %s' % (
                a, b, ', '.join(sorted(syms)[:4]),
                ', '.join(sorted(back)[:4])))

    mods = sorted({module_of(f) for f in files})
    print('layering: %d modules, %d files, %d include and %d call edges '
          'between files' % (len(mods), len(files), len(incs), len(calls)))
    for m in MODULES:
        if m in mods:
            used = sorted(graph.get(m, ()), key=MODULES.index)
            print('  %-15s uses %s' % (m, ', '.join(used) or '-'))
    for p in problems:
        print('layering: ' + p)
    if problems:
        print('layering: %d problem(s)' % len(problems))
        return 1
    print('layering: ok (no cycle, every dependency allowed, no two files '
          'of a module call each other both ways)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
