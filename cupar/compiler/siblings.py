"""Kernel-IR rewrite after `lower_to_kernels`: sibling folds become one parallel loop nest.

Two parallel reductions over the same range (`sum(x), max(x)`; the mean and the variance),
or two parallel scans over it in the same direction and of the same kind (a radix pass's two
exclusive scans), read their inputs once when they run as one fold of a tuple: the fields
of both elements, combined field-wise. Each is still computed exactly as before: a tuple's
combine is its fields' combines side by side.

A later fold `s` merges into an earlier one `p` when only simple statements (allocations,
assignments, branches of them) lie between, `s` and those statements read nothing `p`
computes, and the two assign no name in common. The merged fold takes `s`'s place, so what
`s` reads is ready; `p` moves later, past statements that do not read it. At most
`MAX_FIELDS` fields are merged (each is a register, or shared memory on a GPU).

Under the same conditions a parallel loop over a reduction's range runs inside the
reduction: its statements join the reduction's per-element body, each element's still run
once (a value and its gradient's map, in value_and_grad, read their inputs once).
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass, replace

from .kernel_ir import (Alloc, Assign, Combine, Fail, If, KernelProgram, Loop, Reduce, Scan,
                        Store, While)

MAX_FIELDS = 4
IDENT = re.compile(r"[A-Za-z_]\w*")


def fuse_sibling_folds(program: KernelProgram) -> KernelProgram:
    """The program with sibling folds merged; each merge is noted for `cupar.explain`."""
    notes: list[str] = []
    functions = tuple(replace(f, body=fuse_in(f.body, notes)) for f in program.functions)
    return replace(program, functions=functions, notes=program.notes + tuple(notes))


def fuse_in(stmts: tuple, notes: list) -> tuple:
    """The statements with sibling folds merged, in branches and loops of them too."""
    out: list = []
    for s in stmts:
        if isinstance(s, If):
            s = replace(s, then=fuse_in(s.then, notes), orelse=fuse_in(s.orelse, notes))
        elif isinstance(s, While):
            s = replace(s, body=fuse_in(s.body, notes))
        at = sibling_of(s, out)
        if at is None and (at := loop_sibling_of(s, out)) is not None:
            p = out.pop(at)
            out.append(replace(p, body=p.body + rename(s.body, s.index, p.index)))
            notes.append(f"the loop over range({p.stop}) runs inside the reduction into "
                         f"({', '.join(p.acc)}): one loop")
        elif at is None:
            out.append(s)
        else:
            p = out.pop(at)
            out.append(merged(p, s))
            kind = "reductions" if isinstance(p, Reduce) else "scans"
            notes.append(f"sibling {kind} over range({p.stop}) into "
                         f"({', '.join(results(p))}) and ({', '.join(results(s))}): one loop")
    return tuple(out)


def results(fold) -> tuple:
    return fold.acc if isinstance(fold, Reduce) else fold.out


def sibling_of(s, done: list) -> int | None:
    """The position in `done` of the fold `s` can merge into, if any."""
    if not (isinstance(s, (Reduce, Scan)) and s.parallel):
        return None
    for k in range(len(done) - 1, -1, -1):
        p = done[k]
        if isinstance(p, (Reduce, Scan)) and p.parallel:
            between = done[k + 1:]
            made = computed(p)
            reads = names_in(s) | set().union(*map(names_in, between))
            return k if (compatible(p, s) and not made & reads
                         and not assigned(p) & assigned(s)
                         and elementwise(p, [s, *between])) else None
        if not simple(p):
            return None
    return None


def loop_sibling_of(s, done: list) -> int | None:
    """The position of the parallel reduction a parallel loop over its range can run inside
    (each element's statements then run once, in the reduction's element loop): a value and
    its gradient's map (value_and_grad) become one pass over the inputs."""
    if not (isinstance(s, Loop) and s.parallel and s.start == "0"):
        return None
    for k in range(len(done) - 1, -1, -1):
        p = done[k]
        if isinstance(p, Reduce) and p.parallel:
            reads = names_in(s) | set().union(*map(names_in, done[k + 1:]))
            return k if (p.stop == s.stop and not computed(p) & reads
                         and not assigned(p) & assigned(s)
                         and elementwise(p, [s, *done[k + 1:]])) else None
        if not simple(p):
            return None
    return None


def elementwise(p, later: list) -> bool:
    """Whether the arrays fold `p` stores into are stored, and used by the `later`
    statements (renamed to p's index), only at p's own element, `a[i]` (or `a[i, k]` for a
    row), or by shape: merged, an element's statements would otherwise read what another
    element has not written yet (a scatter's destination, gathered from)."""
    index, stores = p.index, {}
    for st in walk(p.body):
        if isinstance(st, Store):
            stores.setdefault(st.array, []).append(st.index)
    later = [rename(s, s.index, index) if hasattr(s, "index") and isinstance(s.index, str)
             else s for s in later]
    for array, at in stores.items():
        uses = [u for s in later for u in subscripts(s, array)]
        if uses and any(first(i) != index for i in at + uses):
            return False
    return True


def subscripts(node, array: str) -> list:
    """The subscripts `array` is read or stored at in `node` ('' for a use of the whole
    array; its shape does not count)."""
    if isinstance(node, Store) and node.array == array:
        return [node.index] + subscripts(replace(node, array=""), array)
    if isinstance(node, str):
        found = re.finditer(rf"\b{re.escape(array)}\b(\[([^\]]*)\]|\.shape)?", node)
        return [m.group(2) or "" for m in found if m.group(1) != ".shape"]
    if isinstance(node, (tuple, list)):
        return [u for n in node for u in subscripts(n, array)]
    if is_dataclass(node):
        return [u for f in fields(node) for u in subscripts(getattr(node, f.name), array)]
    return []


def first(index: str) -> str:
    return index.split(",")[0].strip()


def walk(stmts):
    """Every statement in `stmts`, nested ones included."""
    for st in stmts:
        yield st
        for a in ("body", "then", "orelse"):
            if isinstance(getattr(st, a, None), tuple):
                yield from walk(getattr(st, a))


def compatible(p, s) -> bool:
    if type(p) is not type(s) or p.stop != s.stop or width(p) + width(s) > MAX_FIELDS:
        return False
    return isinstance(p, Reduce) or (p.reverse == s.reverse
                                     and (p.init is None) == (s.init is None))


def width(fold) -> int:
    return len(fold.elem)


def merged(p, s):
    s = rename(s, s.index, p.index)
    c, d = p.combine, s.combine
    combine = Combine(c.left + d.left, c.right + d.right, c.body + d.body, c.out + d.out)
    common = dict(body=p.body + s.body, elem=p.elem + s.elem, dtypes=p.dtypes + s.dtypes,
                  combine=combine)
    if isinstance(p, Reduce):
        return replace(p, acc=p.acc + s.acc, init=p.init + s.init,
                       commutative=p.commutative and s.commutative, **common)
    init = None if p.init is None else p.init + s.init
    return replace(p, out=p.out + s.out, init=init, **common)


def simple(stmt) -> bool:
    """Statements a fold may move past: no loops, nothing but values and checks."""
    if isinstance(stmt, If):
        return all(map(simple, stmt.then + stmt.orelse))
    return isinstance(stmt, (Alloc, Assign, Fail))


def computed(fold) -> set[str]:
    """What later statements could read from a fold: its results and every name it sets."""
    return set(results(fold)) | assigned(fold)


def assigned(node) -> set[str]:
    """Every name a statement (or fold, with its combine) assigns, nested ones included."""
    if isinstance(node, (tuple, list)):
        return set().union(*map(assigned, node)) if node else set()
    if isinstance(node, Combine):
        return set(node.left) | set(node.right) | assigned(node.body)
    if isinstance(node, Store):  # (its index is an expression, not a name it sets)
        return set()
    names = {getattr(node, a) for a in ("target", "name", "index", "perm", "left", "right")
             if isinstance(getattr(node, a, None), str)}
    for a in ("acc", "out"):  # a fold's accumulators, a scan's or filter's arrays
        names |= set(getattr(node, a, ()))
    for a in ("body", "then", "orelse", "combine"):
        if hasattr(node, a):
            names |= assigned(getattr(node, a))
    return names


def names_in(node) -> set[str]:
    """Every identifier in a statement's expressions."""
    if isinstance(node, str):
        return set(IDENT.findall(node))
    if isinstance(node, (tuple, list)):
        return set().union(*map(names_in, node)) if node else set()
    if is_dataclass(node):
        return set().union(*(names_in(getattr(node, f.name)) for f in fields(node)))
    return set()


def rename(node, old: str, new: str):
    """`node` with the name `old` replaced by `new` in every expression and name."""
    if isinstance(node, str):
        return re.sub(rf"\b{re.escape(old)}\b", new, node)
    if isinstance(node, tuple):
        return tuple(rename(n, old, new) for n in node)
    if is_dataclass(node):
        return replace(node, **{f.name: rename(getattr(node, f.name), old, new)
                                for f in fields(node)})
    return node
