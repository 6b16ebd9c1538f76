#!/usr/bin/env python3
"""`just readme-check`: every file path README.md names exists, and every `just <recipe>` it shows is a
recipe of the justfile. Prints one line per miss (README.md:LINE: ...) and exits 1 if there is one.

What counts as a path:
- in an inline code span, a link's target, or a word of a shell block: a word without spaces whose first
  segment is a top-level entry of the repository (`scripts/stack.sh`, `crates/{cart,loms}/tests/`), or a
  shorter one with a file ending or a trailing slash (`src/adapters/postgres.rs`, `lib/kafka.sh`,
  `pool.rs`), which must then end some path of the repository;
- in a plain code block laid out as a tree (the "Where things live" map): the first column of each line,
  where `a, b` are two entries, `{x,y}` alternatives (`{…}` repeats the line's previous ones), a name
  without a slash after a path sits in that path's folder, and an indented line is inside each entry of
  the line above it (or only in the one its description begins with, as in `loms: …`).
`<placeholder>` and `*` match anything. Paths under what git ignores (target/, third_party/) are made
by a run, not kept in the repository: not checked. Absolute and home paths, URLs and HTTP routes
(`/user/{user}/cart`) are not the repository's.
"""
import glob
import itertools
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILE_ENDINGS = ("rs", "sh", "py", "toml", "yaml", "yml", "json", "md", "proto", "sql", "mjs", "xml",
                "lock", "binpb", "pgbench", "png", "ini", "txt", "html")


def git(*args):
    return subprocess.run(["git", "-C", ROOT, *args], check=True, capture_output=True, text=True).stdout


TRACKED = git("ls-files", "--cached", "--others", "--exclude-standard").splitlines()
TOP_LEVEL = {path.split("/")[0] for path in TRACKED} | {
    line.strip().strip("/").split("/")[0] for line in open(os.path.join(ROOT, ".gitignore"))
    if line.strip() and not line.startswith("#")}


def recipes():
    out = subprocess.run(["just", "--justfile", os.path.join(ROOT, "justfile"), "--summary"],
                         check=True, capture_output=True, text=True).stdout
    return set(out.split())


def expand(path):
    """The alternatives of `{a,b}` groups, `<x>` as `*`."""
    path = re.sub(r"<[^>]*>", "*", path)
    options = [group.split(",") for group in re.findall(r"\{([^{}]*)\}", path)]
    template = re.sub(r"\{[^{}]*\}", "{}", path)
    return [template.format(*choice) for choice in itertools.product(*options)]


def ignored(path):
    check = path.replace("*", "x").rstrip("/")
    return subprocess.run(["git", "-C", ROOT, "check-ignore", "-q", "--no-index", check]).returncode == 0


def exists(path):
    """A repository path (with globs): it exists, or git ignores where it would be."""
    if ignored(path):
        return True
    return bool(glob.glob(os.path.join(ROOT, path.rstrip("/"))))


def ends_some_path(tail):
    """A path relative to somewhere: some file of the repository ends with it (a folder: contains it)."""
    pattern = re.escape(tail.rstrip("/")).replace(r"\*", "[^/]*")
    pattern = "(^|/)" + pattern + ("/" if tail.endswith("/") else "$")
    return any(re.search(pattern, path) for path in TRACKED)


def repo_path(word):
    """Whether `word` names a path of this repository, and how to check it: 'root', 'tail' or None."""
    word = word.strip().rstrip(".,;:)")
    if not word or re.search(r"\s", word) or word.startswith(("/", "~", "$", "-", "http:", "https:", ".:")):
        return None
    if "://" in word or not re.fullmatch(r"[\w.\-/{}*<>,…]+", word):
        return None
    if word.split("/")[0] in TOP_LEVEL:
        return "root"
    if re.fullmatch(r"\.\w+", word):  # a file ending (`.proto`), not a file
        return None
    if word.endswith("/") or re.search(r"\.(%s)$" % "|".join(FILE_ENDINGS), word):
        return "tail"
    return None


class Checker:
    def __init__(self, recipe_names):
        self.recipes = recipe_names
        self.misses = []

    def miss(self, line, text):
        self.misses.append(f"README.md:{line}: {text}")

    def path(self, line, word):
        kind = repo_path(word)
        if kind is None:
            return
        word = word.strip().rstrip(".,;:)")
        for path in expand(word):
            found = exists(path) if kind == "root" else ends_some_path(path)
            if not found:
                self.miss(line, f"`{path}` does not exist" + ("" if kind == "root" else " (no path of the repository ends so)"))

    def just(self, line, text):
        # `just RECIPE` where a command begins: at the start, after a variable setting, ;, &&, || or |.
        for match in re.finditer(r"(?:^|&&|\|\||[;|(]|\b[A-Z_]+=\S*)\s*just\s+([a-z][\w-]*)", text):
            if match.group(1) not in self.recipes:
                self.miss(line, f"`just {match.group(1)}`: the justfile has no recipe {match.group(1)}")

    def tree(self, block):
        """A plain code block laid out as a tree: first column entries, indented lines inside them."""
        parents = []
        for line, text in block:
            if not text.strip():
                continue
            indent = len(text) - len(text.lstrip())
            column, description = (re.split(r"\s{2,}", text.strip(), maxsplit=1) + [""])[:2]
            entries = self.entries(column)
            if indent == 0:
                if entries and all(repo_path(e) == "root" for e in entries):
                    parents = entries
                    for entry in entries:
                        self.path(line, entry)
                else:
                    parents = []
            elif indent <= 8 and parents and entries:
                owner = re.match(r"(\S+):", description.strip())
                inside = [p for p in parents if owner and os.path.basename(p.rstrip("/")) == owner.group(1)] or parents
                for parent in inside:
                    for entry in entries:
                        self.path(line, parent.rstrip("/") + "/" + entry)

    @staticmethod
    def entries(column):
        """`a/b, c` → [`a/b`, `a/c`]; braces kept whole; `{…}` repeats the previous group."""
        parts = [p.strip() for p in re.split(r",\s+(?![^{]*\})", column) if p.strip()]
        entries, folder, previous = [], "", None
        for part in parts:
            if "/" not in part.rstrip("/") and folder:
                part = folder + "/" + part
            groups = re.findall(r"\{([^{}]*)\}", part)
            for group in groups:
                if group in ("…", "..."):
                    part = part.replace("{" + group + "}", "{" + ",".join(previous or ["*"]) + "}")
                else:
                    previous = group.split(",")
            if "/" in part.rstrip("/"):
                folder = os.path.dirname(part.rstrip("/"))
            entries.append(part)
        return entries

    def readme(self, text):
        lines = text.split("\n")
        fence, block = None, []
        for number, line in enumerate(lines, start=1):
            marker = re.match(r"^\s*```(\S*)", line)
            if marker and fence is None:
                fence, block = marker.group(1), []
                continue
            if marker and fence is not None:
                if fence == "":
                    self.tree(block)
                fence = None
                continue
            if fence is not None:
                block.append((number, line))
                if fence in ("sh", "bash", "shell", "console"):
                    self.just(number, line.split(" #")[0])
                    for word in re.split(r"[\s;&|()]+", line.split(" #")[0]):
                        if "/" in word and "=" not in word and ":" not in word:
                            self.path(number, word)
                continue
            for span in re.findall(r"`([^`]+)`", line):
                self.just(number, span)
                self.path(number, span)
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if not re.match(r"[a-z]+:", target):
                    self.path(number, target.split("#")[0])


def main():
    checker = Checker(recipes())
    checker.readme(open(os.path.join(ROOT, "README.md"), encoding="utf-8").read())
    for miss in checker.misses:
        print(miss)
    if checker.misses:
        print(f"readme-check: {len(checker.misses)} path(s) or recipe(s) README.md names do not exist", file=sys.stderr)
        return 1
    print("readme-check: every path and recipe README.md names exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
