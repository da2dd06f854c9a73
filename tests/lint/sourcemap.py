#!/usr/bin/env python3
"""Check that the source map in docs/DEVELOPING.md matches the tree.

The map (between the "source map" markers) names every folder of product
code and, under each, its .c and .def files and PROTOCOL.md. Every such
file in git must be in the map, and every file the map names must exist.
Exit 1, with the differences, when they do not match.

usage: tests/lint/sourcemap.py
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FOLDERS = ['common', 'wire', 'nodeconf', 'store', 'store/query', 'node',
           'node/decode', 'controller', 'controller/cli']


def mapped():
    text = open(os.path.join(ROOT, 'docs', 'DEVELOPING.md'),
                encoding='utf-8').read()
    m = re.search(r'<!-- source map: regenerate -->(.*?)<!-- /source map -->',
                  text, re.S)
    if not m:
        sys.exit('sourcemap: no source map markers in docs/DEVELOPING.md')
    files, folder = set(), None
    for line in m.group(1).splitlines():
        f = re.match(r'^(\S+)/\s', line)
        if f:
            folder = f.group(1)
            continue
        e = re.match(r'^  (\S+\.(?:c|def|md|h))\s', line)
        if e and folder in FOLDERS:
            files.add(folder + '/' + e.group(1))
    return files


def tracked():
    out = subprocess.run(['git', 'ls-files'] + FOLDERS, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return {f for f in out.split()
            if os.path.dirname(f) in FOLDERS and
            (f.endswith(('.c', '.def')) or f.endswith('PROTOCOL.md'))}


def main():
    m, t = mapped(), tracked()
    missing, stale = sorted(t - m), sorted(
        f for f in m - t if not f.endswith('.h'))
    for f in missing:
        print('sourcemap: %s is not in docs/DEVELOPING.md' % f)
    for f in stale:
        print('sourcemap: docs/DEVELOPING.md names %s, which is not in '
              'the tree' % f)
    if missing or stale:
        return 1
    print('sourcemap: ok (%d files, every one in the map)' % len(t))
    return 0


if __name__ == '__main__':
    sys.exit(main())
