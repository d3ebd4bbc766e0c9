#!/usr/bin/env python3
"""Import cycles between the modules of a crate: `python3 scripts/module_cycles.py crates/cli`.

A module uses another when its code (tests left out: everything from `#[cfg(test)]` on) names
a path through it: `crate::a::b::Item` uses the deepest module the path names (`a::b`),
`crate::Item` uses the crate root, `super::x` and `self::x` resolve from the module itself,
and `use crate::{a, b::c}` names each path of the group; an item a module re-exports
(`pub use error::Error;`) counts as a use of the module defining it. Declaring a child (`mod a;`)
is not a use. Prints every use edge with `-v`, then each cycle (a strongly connected set of two or more
modules); exits 1 when there is one.
"""
import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def modules(src: Path):
    """Module path (tuple of names; () is the root) -> file text, tests cut off."""
    out = {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts in (["lib"], ["main"]):
            parts = []
        elif parts[-1] == "mod":
            parts = parts[:-1]
        if f.name == "main.rs" and (src / "lib.rs").exists():
            continue  # the binary is its own crate over the library
        text = f.read_text()
        cut = text.find("#[cfg(test)]")
        text = text if cut < 0 else text[:cut]
        # Comments (doc links included) are not uses.
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        out[tuple(parts)] = re.sub(r"(?m)^\s*//.*$", "", text)
    return out


def group_paths(body: str):
    """The paths of a `{a, b::c, d::{e, f}}` group, each as a list of segments."""
    paths, depth, item = [], 0, ""
    for ch in body + ",":
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            item = item.strip()
            if item:
                head = item.split("{", 1)[0]
                paths.append([s for s in head.split("::") if s and re.fullmatch(IDENT, s)])
            item = ""
        else:
            item += ch
    return paths


def reexports(module, text, known):
    """Items `module` re-exports (`pub use a::b::{C, D};`): name -> the module defining it."""
    out = {}
    for m in re.finditer(r"(?m)^pub use ([^;]+);", text):
        path = m.group(1).strip()
        if "{" in path:
            head, body = path.split("{", 1)
            items = group_paths(body.rsplit("}", 1)[0])
        else:
            head, items = path, [[]]
        head = [x for x in head.split("::") if x]
        if head and head[0] == "crate":
            base, head = (), head[1:]
        else:
            base = module
        for item in items:
            segs = head + item
            target = base
            for x in segs[:-1]:
                if target + (x,) in known:
                    target = target + (x,)
            if segs and target != module:
                out[segs[-1]] = target
    return out


def inline_modules(text):
    """(start, end, name) of every inline `mod name { … }` block."""
    out = []
    for m in re.finditer(r"\bmod (" + IDENT + r")\s*\{", text):
        depth, j = 0, m.end() - 1
        while j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        out.append((m.start(), j, m.group(1)))
    return out


def aliases(module, text, known):
    """Modules brought into scope by name: `use crate::a::b;`, `use crate::a::{self, …}`,
    `use super::x;` -> {"b": ("a", "b"), …}."""
    out = {}
    for m in re.finditer(r"\buse (crate|super|self)::([^;]+);", text):
        start = {"crate": (), "self": module, "super": module[:-1]}[m.group(1)]
        body = m.group(2).strip()
        if "{" in body:
            head, inner = body.split("{", 1)
            items = group_paths(inner.rsplit("}", 1)[0])
            head = [x for x in head.split("::") if x]
        else:
            head, items = [], [[x for x in body.split("::") if x]]
        for item in items:
            segs = head + item if item else head
            if item == ["self"] or item == []:
                segs = head
            target = start + tuple(segs)
            if segs and target in known:
                out[segs[-1]] = target
    return out


def uses(module, text, known, exported=None):
    found = set()
    children = [k[-1] for k in known if k[:-1] == module and k]
    named = aliases(module, text, known)
    inline = inline_modules(text)
    bases = ["crate", "super", "self"] + children + list(named)
    pattern = r"(?<![:\w])(" + "|".join(bases) + r")((?:::(?:" + IDENT + r"|\{))+)"
    for m in re.finditer(pattern, text):
        base, rest = m.group(1), m.group(2)
        # Inside an inline `mod x { … }`, `super` is the file's module itself.
        here = module + tuple(n for (a, b, n) in inline if a < m.start() < b)
        if base in ("crate", "self", "super"):
            start = {"crate": (), "self": here, "super": here[:-1]}[base]
        elif base in named and base not in children:
            start, rest = named[base][:-1], "::" + base + rest
        else:
            # A path relative to this module through its child `base`.
            start = module
            rest = "::" + base + rest
        rest = rest.lstrip(":")
        while rest.startswith("super::"):
            start, rest = start[:-1], rest[len("super::"):]
        if rest.startswith("{"):
            # Find the matching brace in the text after the match.
            i = m.end() - 1
            depth, j = 0, i
            while j < len(text):
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            candidates = [p for p in group_paths(text[i + 1:j])]
        else:
            candidates = [[s for s in rest.split("::") if s]]
        for segs in candidates:
            target = start
            for s in segs:
                if target + (s,) in known:
                    target = target + (s,)
                else:
                    # An item the module re-exports: the use is of the module defining it.
                    target = (exported or {}).get(target, {}).get(s, target)
                    break
            # A path into an inline module (not a file) is a use of the file's module.
            while target not in known and target:
                target = target[:-1]
            if target != module:
                found.add(target)
    return found


def sccs(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

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
            out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(("crate",) + m)


def main():
    args = [a for a in sys.argv[1:] if a != "-v"]
    verbose = "-v" in sys.argv[1:]
    failed = False
    for crate in args:
        mods = modules(Path(crate) / "src")
        known = set(mods)
        exported = {m: reexports(m, t, known) for m, t in mods.items()}
        graph = {m: uses(m, t, known, exported) for m, t in mods.items()}
        edges = sum(len(v) for v in graph.values())
        if verbose:
            for m in sorted(graph):
                for t in sorted(graph[m]):
                    print(f"  {name(m)} -> {name(t)}")
        cycles = [c for c in sccs(graph) if len(c) > 1]
        for c in cycles:
            failed = True
            print(f"{crate}: cycle: {', '.join(sorted(name(m) for m in c))}")
        if not cycles:
            print(f"{crate}: {len(mods)} modules, {edges} use edges, no cycle")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
