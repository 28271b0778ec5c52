"""Kernel IR: imperative loop nests with scalar Python expressions at the leaves.

`lower_to_kernels` (lower.py) is the only producer; the runtime's code generators (Numba for
cpu; numba-cuda later) are the consumers. A `KFunction` is a list of statements. A top-level
`Loop(parallel=True)` or `Reduce` is one kernel: a parallel loop nest; everything inside it
runs sequentially per element. Expressions are Python source text over the names the
statements assign, the function's parameters, the module `np` and the constants `ROW_CHUNKS`
and `COLUMN_BLOCK` (the tiles of a fold of rows, which each code generator defines for its
hardware); names are unique per function except where the same lambda is applied at several
places (same code, same types).

Invariants: every `Alloc`ed array is written by the loop that follows it; a `Reduce`'s
`combine` is associative (the language requires it), so the code generator may split the
index range into chunks; a `Histogram`'s is also commutative, so its values may land in any
order (private copies, atomics).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass


@dataclass(frozen=True)
class Assign:
    target: str
    expr: str


@dataclass(frozen=True)
class Store:
    array: str
    index: str
    value: str


@dataclass(frozen=True)
class Alloc:
    name: str
    dtype: str  # a NumPy dtype name
    shape: tuple  # of expressions


@dataclass(frozen=True)
class ObjectMode:
    """`target = expr` evaluated by Python (a library call, such as NumPy's sort); `type` is
    the Numba type of the result, e.g. 'float32[::1]'. Only outside parallel loops."""

    target: str
    type: str
    expr: str


@dataclass(frozen=True)
class If:
    cond: str
    then: tuple
    orelse: tuple


@dataclass(frozen=True)
class Loop:
    index: str
    stop: str
    body: tuple
    parallel: bool
    start: str = "0"
    work: str = ""  # the elements a parallel loop nest touches, known before it starts


@dataclass(frozen=True)
class While:
    """`while True:` ending by `Break`; tail recursion becomes this."""

    body: tuple


@dataclass(frozen=True)
class Break:
    pass


@dataclass(frozen=True)
class Continue:
    pass


@dataclass(frozen=True)
class Combine:
    """The associative operator of a reduction: `out` computed from `left` and `right`."""

    left: tuple
    right: tuple
    body: tuple
    out: tuple


@dataclass(frozen=True)
class Reduce:
    """acc = init; for index in range(stop): (body gives `elem`); acc = combine(acc, elem)."""

    index: str
    stop: str
    body: tuple
    elem: tuple  # expressions: the element, one per tuple field
    acc: tuple  # accumulator names, one per field
    init: tuple  # expressions
    dtypes: tuple  # NumPy dtype names of the fields
    combine: Combine
    parallel: bool
    commutative: bool = False  # elements may then be folded in any order (interleaved)


@dataclass(frozen=True)
class Histogram:
    """for index in range(stop): body, whose `Accumulate` statements combine values into the
    array `dest` (written in place; it holds its initial contents already). `combine` is
    associative and commutative, so values may land in any order: a back end may keep
    private copies per thread or use atomics. `op` names a recognised operator ('add',
    'max', 'min': the back end may then use atomics) or is None; `identity` is its neutral
    element (an expression of `dtype`), or None."""

    index: str
    stop: str
    body: tuple
    dest: str
    dtype: str  # a NumPy dtype name
    combine: Combine  # one field
    op: str | None
    identity: str | None
    parallel: bool
    rows: bool = False  # dest is 2-D: the Accumulates' indices are (row, column)


@dataclass(frozen=True)
class Accumulate:
    """dest[index] = combine(dest[index], value), inside a `Histogram`'s body (possibly in an
    inner sequential loop); `index` is in range (checked before)."""

    index: str
    value: str


@dataclass(frozen=True)
class Fail:
    """Raise the error numbered `code` of the kernel program's error table."""

    kind: str  # "value" or "index"
    code: int


@dataclass(frozen=True)
class KFunction:
    name: str
    params: tuple  # names
    body: tuple
    result: str  # expression: the function's value (a tuple expression for several)


@dataclass(frozen=True)
class KernelProgram:
    functions: tuple  # KFunction, the entry first
    errors: tuple  # (kind, message, hint, Loc) by error code
    result_type: object  # the cupar type of the entry's result
    notes: tuple = ()  # fusion decisions, one line each

    @property
    def entry(self) -> KFunction:
        return self.functions[0]


def kernel_count(stmts) -> int:
    PARALLEL_NESTS = (Loop, Reduce, Scan, Filter, SortIndices, Histogram, MatMul)
    """Parallel loop nests at the top of a statement list (what the structure tests count)."""
    count = 0
    for s in stmts:
        if isinstance(s, PARALLEL_NESTS) and s.parallel:
            count += 1
        elif isinstance(s, If):
            count += kernel_count(s.then) + kernel_count(s.orelse)
        elif isinstance(s, While):
            count += kernel_count(s.body)
    return count


def format_kernels(program: KernelProgram) -> str:
    counts = ", ".join(f"{f.name}: {kernel_count(f.body)}" for f in program.functions)
    head = [f"# parallel loop nests: {counts}", *(f"# {n}" for n in program.notes)]
    return "\n".join(head) + "\n\n" + "\n\n".join(format_kfunction(f)
                                                    for f in program.functions)


def format_kfunction(fn: KFunction) -> str:
    lines = [f"kernel function {fn.name}({', '.join(fn.params)}):"]
    lines += _format(fn.body, "    ")
    lines.append(f"    return {fn.result}")
    return "\n".join(lines)


def _format(stmts, indent: str) -> list[str]:
    out: list[str] = []
    for s in stmts:
        match s:
            case Assign(t, e):
                out.append(f"{indent}{t} = {e}")
            case Store(a, i, v):
                out.append(f"{indent}{a}[{i}] = {v}")
            case ObjectMode(t, _, e):
                out.append(f"{indent}{t} = python {e}")
            case Alloc(n, d, shape):
                out.append(f"{indent}{n} = empty(({', '.join(shape)},), {d})")
            case If(c, then, orelse):
                out += [f"{indent}if {c}:", *(_format(then, indent + "    ") or
                                              [indent + "    pass"])]
                if orelse:
                    out += [f"{indent}else:", *_format(orelse, indent + "    ")]
            case Loop(i, stop, body, par, start):
                kind = "parallel for" if par else "for"
                out += [f"{indent}{kind} {i} in range({start}, {stop}):",
                        *_format(body, indent + "    ")]
            case While(body):
                out += [f"{indent}loop:", *_format(body, indent + "    ")]
            case Break():
                out.append(f"{indent}break")
            case Continue():
                out.append(f"{indent}continue")
            case Fail(kind, code):
                out.append(f"{indent}fail {kind} error #{code}")
            case SortIndices():
                out += [f"{indent}{s.perm} = stable sort of range({s.stop}) by "
                        f"{s.less}, given {s.left}, {s.right}:",
                        *_format(s.body, indent + "    ")]
            case Scan() | Filter():
                kind = ("parallel " if s.parallel else "") + type(s).__name__.lower()
                what = f"keep {s.keep}, " if isinstance(s, Filter) else (
                    ("reverse " if s.reverse else "") +
                    ("inclusive, " if s.init is None else f"from ({', '.join(s.init)}), "))
                out += [f"{indent}{kind} {s.index} in range({s.stop}) into "
                        f"({', '.join(s.out)}): {what}element ({', '.join(s.elem)})",
                        *_format(s.body, indent + "    ")]
            case Accumulate(index, value):
                out.append(f"{indent}combine into [{index}]: {value}")
            case Histogram():
                kind = "parallel histogram" if s.parallel else "histogram"
                c, op = s.combine, s.op or "a commutative operator"
                out += [f"{indent}{kind} {s.index} in range({s.stop}) into {s.dest} by {op}:",
                        *_format(s.body, indent + "    "),
                        f"{indent}  combine ({', '.join(c.left)}), ({', '.join(c.right)}):",
                        *_format(c.body, indent + "    "),
                        f"{indent}    -> ({', '.join(c.out)})"]
            case MatMul():
                kind = "parallel matmul" if s.parallel else "matmul"
                a = f"transpose({s.a})" if s.a_transposed else s.a
                b = f"transpose({s.b})" if s.b_transposed else s.b
                out += [f"{indent}{kind} {s.out}[{s.i}, {s.j}] in range({s.rows}) x "
                        f"range({s.cols}), {s.acc} = sum of {a}[{s.i}, p] * {b}[p, {s.j}] "
                        f"over p in range({s.inner}):", *_format(s.body, indent + "    "),
                        f"{indent}    element {s.value}"]
            case Reduce():
                kind = "parallel reduce" if s.parallel else "reduce"
                c = s.combine
                out += [f"{indent}{kind} {s.index} in range({s.stop}) into "
                        f"({', '.join(s.acc)}) from ({', '.join(s.init)}):",
                        *_format(s.body, indent + "    "),
                        f"{indent}    element ({', '.join(s.elem)})",
                        f"{indent}  combine ({', '.join(c.left)}), ({', '.join(c.right)}):",
                        *_format(c.body, indent + "    "),
                        f"{indent}    -> ({', '.join(c.out)})"]
    return out


@dataclass(frozen=True)
class Scan:
    """Prefix combination of the elements into the arrays `out` (one per tuple field).
    Inclusive: out[i] = e0 + ... + ei. Exclusive: out[i] = init + e0 + ... + e(i-1).
    Reverse runs from the end, combining as combine(element, accumulator)."""

    index: str
    stop: str
    body: tuple
    elem: tuple
    out: tuple  # array names, each allocated by an Alloc before the Scan
    dtypes: tuple
    init: tuple | None  # None: inclusive
    reverse: bool
    combine: Combine
    parallel: bool


@dataclass(frozen=True)
class Filter:
    """Keep the elements for which `keep` holds, in order, in the arrays `out`."""

    index: str
    stop: str
    body: tuple  # computes `keep` and the element
    keep: str
    elem: tuple
    out: tuple  # array names, allocated by the Filter itself
    dtypes: tuple
    parallel: bool


@dataclass(frozen=True)
class SortIndices:
    """`perm` = the indices 0..stop-1 stably ordered by `less`, an expression computed by
    `body` from the two indices `left` and `right` (true when element left < element right)."""

    perm: str
    stop: str
    left: str
    right: str
    body: tuple
    less: str
    parallel: bool


@dataclass(frozen=True)
class MatMul:
    """out[i, j] = `value` for every i < rows, j < cols, where `body` computes `value` (the
    epilogue: scalar statements) from `acc`, the sum over p < inner of A[i, p] * B[p, j].
    A is the 2-D array `a` (its transpose when `a_transposed`), B likewise. Code generators
    tile the loop nest and run the epilogue on each tile before storing it; `out` is
    allocated by an Alloc before the MatMul, and is neither `a` nor `b`."""

    out: str
    a: str
    b: str
    a_transposed: bool
    b_transposed: bool
    rows: str
    cols: str
    inner: str
    i: str
    j: str
    acc: str
    body: tuple
    value: str
    dtype: str
    parallel: bool


def fail_codes(stmts) -> list[tuple[str, int]]:
    """The (kind, code) of every Fail in `stmts`, nested ones included."""
    found = []
    for s in stmts:
        if isinstance(s, Fail):
            found.append((s.kind, s.code))
        for field in ("then", "orelse", "body"):
            found += fail_codes(getattr(s, field, ()))
        if isinstance(s, (Reduce, Scan, Histogram)):
            found += fail_codes(s.combine.body)
    return found


def expressions(stmts) -> list[str]:
    """Every text in `stmts` (expressions and names), nested statements and combines
    included: where a code generator looks for the functions a kernel calls."""
    found = []
    for node in stmts:
        for field in fields(node):
            value = getattr(node, field.name)
            for v in value if isinstance(value, tuple) else (value,):
                if isinstance(v, str):
                    found.append(v)
                elif is_dataclass(v):
                    found += expressions((v,))
    return found
