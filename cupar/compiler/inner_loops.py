"""Kernel-IR rewrites of the sequential loops inside kernels, run after `lower_to_kernels`.

`hoist_range_flags`: a read at an index of an index range (`gather(values, bounded_range(lo,
hi))`, or `values[k]` for k in it: an SpMV row) tests the whole range into a flag, and the
element only `if not <flag>` (lower.py, `checked`). The flag is the same for every element:
its assignment moves out of every loop that assigns none of the names it reads.

`unswitch_range_checks`: that test is loop-invariant, but LLVM does not hoist it, and in a
short gather-bound loop it costs as much as the reads. So every sequential loop testing
such flags, set before it, becomes

    if inside_1 and inside_2:
        <the loop without those tests>
    else:
        <the loop as it was>

`unsigned_inner_reads`: inside sequential loops, reads at checked indices (known to be in
range by then) use an unsigned index, for which Numba emits no negative-index wrap: in
SpMV's row loop the wrap cost a quarter of the time. Parallel loops keep signed indices:
there LLVM vectorises random reads into vector gathers, which take signed indices (unsigned
made a gather 2x slower).

Parallel loops are never made twice: a kernel would be compiled twice, and the structure
tests count kernels. Both rewrites keep the meaning: a check is removed only where its flag
says it would pass.
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass, replace

from .kernel_ir import Alloc, Assign, Histogram, If, KernelProgram, Loop, Reduce, Store
from .siblings import assigned, names_in


def hoist_range_flags(program: KernelProgram, flags: frozenset,
                      divided: frozenset = frozenset()) -> KernelProgram:
    """`flags`: the names of the range flags (pure expressions of names set before);
    `divided`: names whose assignments divide, but by a positive divisor, so that they may
    move too."""
    if not flags:
        return program
    return _each_function(program, lambda body: _hoist(body, flags, _assigned_once(body),
                                                        divided))


def unswitch_range_checks(program: KernelProgram, flags: frozenset) -> KernelProgram:
    """`flags`: the names of the range flags, each tested only as `not <flag>`."""
    return _each_function(program, lambda body: _unswitch(body, flags, frozenset()))


def unsigned_inner_reads(program: KernelProgram, checked: frozenset) -> KernelProgram:
    """`checked`: the names of the checked indices."""
    if not checked:
        return program
    read = re.compile(r"\[(" + "|".join(map(re.escape, sorted(checked))) + r")\]")
    unsigned = lambda text: read.sub(r"[np.uint64(\1)]", text)  # noqa: E731
    return _each_function(program, lambda body: _inner(body, lambda s: _texts(s, unsigned)))


def _each_function(program: KernelProgram, change) -> KernelProgram:
    return replace(program, functions=tuple(replace(f, body=change(f.body))
                                            for f in program.functions))


def _sequential(s) -> bool:
    return isinstance(s, (Loop, Reduce, Histogram)) and not s.parallel


# -- unswitching ---------------------------------------------------------------------------
def _unswitch(stmts: tuple, flags: frozenset, decided: frozenset) -> tuple:
    out = []
    for s in stmts:
        tested = _tested(s.body, flags) - _assigned(s.body) - decided if _sequential(s) else ()
        if tested:
            fast = _assume(s.body, tested)
            now = decided | tested
            s = If(" and ".join(sorted(tested)),
                   (replace(s, body=_unswitch(fast, flags, now)),),
                   (replace(s, body=_unswitch(s.body, flags, now)),))
        else:
            s = _map_bodies(s, lambda body: _unswitch(body, flags, decided))
        out.append(s)
    return tuple(out)


def _flag_test(s, flags: frozenset) -> str | None:
    """The flag `s` tests, if it is `if not <flag>:` (with no else) for one of `flags`."""
    if isinstance(s, If) and not s.orelse and s.cond.startswith("not "):
        return s.cond[4:] if s.cond[4:] in flags else None
    return None


def _assume(stmts: tuple, true: frozenset) -> tuple:
    """`stmts` with every `if not <flag>:` of the flags in `true` removed."""
    return tuple(_map_bodies(s, lambda body: _assume(body, true)) for s in stmts
                 if _flag_test(s, true) is None)


def _tested(stmts: tuple, flags: frozenset) -> frozenset:
    return frozenset(filter(None, (_flag_test(s, flags) for s in _walk(stmts))))


def _assigned(stmts: tuple) -> frozenset:
    return frozenset(s.target for s in _walk(stmts) if isinstance(s, Assign))


# -- hoisting ------------------------------------------------------------------------------
def _hoist(stmts: tuple, flags: frozenset, once: frozenset,
           divided: frozenset = frozenset()) -> tuple:
    """Innermost loops first, so a flag moves out as far as it can. A flag of a shifted
    range (`lower.offset_range_element`) reads the shift, computed in the loop (`2 *
    hidden`): such an assignment, pure and the only one of its name, moves out with it."""
    out = []
    for s in stmts:
        s = _map_bodies(s, lambda body: _hoist(body, flags, once, divided))
        if hasattr(s, "index") and isinstance(getattr(s, "body", None), tuple):  # a loop
            moved = _invariant(s, flags, once, divided)
            if moved:
                out += moved
                s = _map_bodies(s, lambda body: _without(body, set(moved)))
        out.append(s)
    return tuple(out)


def _invariant(loop, flags: frozenset, once: frozenset, divided: frozenset) -> tuple:
    """The flags' assignments in `loop` that read nothing it assigns, with the pure
    assignments at the top of its body that they read (directly or not), in their order."""
    inner = assigned(loop)
    pure = {x.target: x for x in loop.body if isinstance(x, Assign) and x.target in once
            and x.target not in flags and (x.target in divided or _pure(x.expr))}
    flagged = {x.target: x for x in _walk(loop.body)
               if isinstance(x, Assign) and x.target in flags}
    needed, stack = set(), [n for x in flagged.values() for n in names_in(x.expr)]
    while stack:
        name = stack.pop()
        if name in pure and name not in needed:
            needed.add(name)
            stack += names_in(pure[name].expr)
    candidates = {**{n: pure[n] for n in needed}, **flagged}
    moved: set[str] = set()
    changed = True
    while changed:  # moving one may let those reading it move
        changed = False
        for name, x in candidates.items():
            if name not in moved and not names_in(x.expr) & (inner - moved):
                moved.add(name)
                changed = True
    return tuple(x for x in _walk(loop.body) if isinstance(x, Assign)
                 and x.target in moved and candidates[x.target] is x)


PURE_CALLS = {"np.int64", "np.uint64", "np.int32", "max", "min", "abs"}


def _pure(expr: str) -> bool:
    """Integer arithmetic on names and shapes: no element reads, calls other than casts
    and max/min, nor divisions (which may fail where the loop would not have run)."""
    text = re.sub(r"\.shape\[\d+\]", "", expr)
    calls = set(re.findall(r"([A-Za-z_][\w.]*)\s*\(", text))
    return not re.search(r"[\[/%]", text) and calls <= PURE_CALLS


def _assigned_once(body: tuple) -> frozenset:
    """The names one statement of `body` assigns, and no other."""
    counts: dict[str, int] = {}
    for s in _walk(body):
        for name in assigned(s) - _nested_assigned(s):
            counts[name] = counts.get(name, 0) + 1
    return frozenset(n for n, c in counts.items() if c == 1)


def _nested_assigned(s) -> set:
    bodies = [getattr(s, a) for a in ("body", "then", "orelse")
              if isinstance(getattr(s, a, None), tuple)]
    return set().union(*(assigned(b) for b in bodies)) if bodies else set()


def _without(stmts: tuple, drop: set) -> tuple:
    return tuple(_map_bodies(s, lambda body: _without(body, drop)) for s in stmts
                 if s not in drop)


# -- unsigned reads ------------------------------------------------------------------------
def _inner(stmts: tuple, change) -> tuple:
    """`change` applied to the sequential loops nested in parallel code (whole)."""
    return tuple(change(s) if _sequential(s) else _map_bodies(s, lambda b: _inner(b, change))
                 for s in stmts)


def _texts(node, change):
    """`node` with `change` applied to every string in it (expressions; names are unchanged,
    having no brackets)."""
    if isinstance(node, str):
        return change(node)
    if isinstance(node, tuple):
        return tuple(_texts(x, change) for x in node)
    if is_dataclass(node):
        return replace(node, **{f.name: _texts(getattr(node, f.name), change)
                                for f in fields(node)})
    return node


# -- walking -------------------------------------------------------------------------------
def _map_bodies(s, change):
    if isinstance(s, If):
        return replace(s, then=change(s.then), orelse=change(s.orelse))
    if isinstance(getattr(s, "body", None), tuple):
        return replace(s, body=change(s.body))
    return s


def _walk(stmts: tuple):
    for s in stmts:
        yield s
        if isinstance(s, If):
            yield from _walk(s.then)
            yield from _walk(s.orelse)
        elif isinstance(getattr(s, "body", None), tuple):
            yield from _walk(s.body)


# -- rows written in place -------------------------------------------------------------
def rows_in_place(program: KernelProgram) -> KernelProgram:
    """A loop over rows i whose element code fills an array of its own (a lambda's result,
    `out = np.empty(width)`), then copies it whole into row i of the result (`rows[i, k] =
    out[k]`), fills row i directly instead: no allocation per row (for an LSTM step's 100
    rows, 200 allocations), and no copy. Only where the array is otherwise just indexed."""
    return _each_function(program, _in_place)


def _in_place(stmts: tuple) -> tuple:
    out = []
    for s in stmts:
        s = _map_bodies(s, _in_place)
        if isinstance(s, Loop):
            s = replace(s, body=_rows_of(s.index, s.body))
        out.append(s)
    return tuple(out)


def _rows_of(i: str, body: tuple) -> tuple:
    for copy in body:
        found = _row_copy(i, copy)
        if found is None:
            continue
        rows, buffer = found
        allocs = [s for s in body if isinstance(s, Alloc) and s.name == buffer]
        rest = tuple(s for s in body if s is not copy and s not in allocs)
        after = body[body.index(copy) + 1:]
        if len(allocs) != 1 or buffer in names_in(after) or not _only_indexed(rest, buffer):
            continue
        return _rows_of(i, _renamed_rows(rest, buffer, rows, i))
    return body


def _row_copy(i: str, s):
    """(rows, buffer) when `s` is `for k in range(n): rows[i, k] = buffer[k]`."""
    if not (isinstance(s, Loop) and not s.parallel and len(s.body) == 1):
        return None
    (store,) = s.body
    k = s.index
    if not isinstance(store, Store) or store.index != f"{i}, {k}":
        return None
    m = re.fullmatch(rf"([A-Za-z_]\w*)\[(?:np\.uint64\()?{k}\)?\]", store.value)
    return (store.array, m.group(1)) if m else None


def _only_indexed(node, name: str) -> bool:
    """Whether `name` appears in `node` only subscripted (`name[...]`) or as a Store's
    array."""
    if isinstance(node, str):
        return all(node[m.end():m.end() + 1] == "["
                   for m in re.finditer(rf"\b{re.escape(name)}\b", node))
    if isinstance(node, tuple):
        return all(_only_indexed(x, name) for x in node)
    if isinstance(node, Store):
        return _only_indexed((node.index, node.value), name)
    if is_dataclass(node):
        return all(_only_indexed(getattr(node, f.name), name) for f in fields(node))
    return True


def _renamed_rows(node, buffer: str, rows: str, i: str):
    if isinstance(node, str):
        return re.sub(rf"\b{re.escape(buffer)}\[", f"{rows}[{i}, ", node)
    if isinstance(node, tuple):
        return tuple(_renamed_rows(x, buffer, rows, i) for x in node)
    if isinstance(node, Store) and node.array == buffer:
        return Store(rows, f"{i}, {_renamed_rows(node.index, buffer, rows, i)}",
                     _renamed_rows(node.value, buffer, rows, i))
    if is_dataclass(node):
        return replace(node, **{f.name: _renamed_rows(getattr(node, f.name), buffer, rows, i)
                                for f in fields(node)})
    return node
