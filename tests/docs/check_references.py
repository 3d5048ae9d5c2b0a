#!/usr/bin/env python3
"""tests/docs/check_references.py — the repository stands alone: no file
cites the design notes it was built from (API.md, DESIGN.md, STYLE.md, a
../shared folder), and every relative link in a Markdown file resolves to a
file or folder inside the repository. Usage: check_references.py REPO_ROOT.
Prints each offence as path:line: why, and exits 1 when there is any."""
import os
import re
import sys

ROOT = os.path.realpath(sys.argv[1] if len(sys.argv) > 1 else ".")
SKIP_DIRS = {".git", "node_modules", "__pycache__"}
TEXT_EXT = {".c", ".h", ".md", ".yaml", ".yml", ".json", ".sh", ".py", ".mjs", ".js",
            ".txt", ".cmake", ".in", ".html", ".css", ".service", ".sql", ".pc"}
OUTSIDE = re.compile(r"\b(API|DESIGN|STYLE)\.md\b|\.\./shared\b")
# [text](target) and [text]: target, skipping URLs, anchors and mail links.
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|^\s*\[[^\]]+\]:\s*(\S+)")


def walk():
    for d, dirs, files in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith("build")]
        for f in files:
            if os.path.splitext(f)[1] in TEXT_EXT or f in ("CMakeLists.txt", "LICENSE", "run"):
                yield os.path.join(d, f)


def main():
    bad = []
    for path in walk():
        rel = os.path.relpath(path, ROOT)
        if rel == os.path.join("tests", "docs", "check_references.py"):
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().split("\n")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(lines, 1):
            m = OUTSIDE.search(line)
            if m:
                bad.append(f"{rel}:{n}: cites {m.group(0)}, which is not in the repository")
            if not rel.endswith(".md"):
                continue
            for m in LINK.finditer(line):
                target = m.group(1) or m.group(2)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue
                target = target.split("#", 1)[0]
                if not target:
                    continue
                full = os.path.realpath(os.path.join(os.path.dirname(path), target))
                if not (full == ROOT or full.startswith(ROOT + os.sep)):
                    bad.append(f"{rel}:{n}: links to {target}, outside the repository")
                elif not os.path.exists(full):
                    bad.append(f"{rel}:{n}: links to {target}, which does not exist")
    for b in bad:
        print(b)
    if bad:
        print(f"{len(bad)} reference(s) to fix", file=sys.stderr)
        return 1
    print("every reference stays inside the repository and resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
