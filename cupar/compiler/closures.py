"""Free names of local functions, for the front end: Python reads them when the function
runs, cupar (single assignment) where it is defined. The two differ only where a name a
local function reads is assigned (again) between its `def` (or `f = lambda ...`) and a use
of the function; the front end rejects such a use, naming the name.

    t = 1
    def f(v):
        return v + t
    t = 100
    map(f, xs)        # Python adds 100, cupar would add 1: a CuparSyntaxError here

Scopes are the front end's (`frontend.Scope`): source name -> IR Var, a parent, and whether
the scope is a Python function's own (def, lambda, comprehension) or a branch of an `if`
(which Python does not tell from the function around it).
"""

from __future__ import annotations


class Captures:
    def __init__(self):
        self.open: list[tuple] = []  # (scope, reads) of the functions being translated
        self.named: dict[str, tuple] = {}  # IR name of a local function -> (the scope it
        # is defined in, its reads: {source name: (the IR name it read, None for a name not
        # yet assigned; the scope that bound it)})

    def enter(self, inner) -> None:
        """A local function's body, in scope `inner`, is about to be translated."""
        self.open.append((inner, {}))

    def leave(self) -> tuple:
        """Its body is done: (the scope it is defined in, what it reads), for `bind`."""
        inner, reads = self.open.pop()
        return inner.parent, reads

    def bind(self, name: str, left: tuple) -> None:
        """The local function `left` describes is bound to IR name `name`."""
        self.named[name] = left

    def read(self, source: str, found, var, use) -> str | None:
        """Note that `source` was read in scope `use`, found in scope `found` as `var`
        (both None for a free name). If `var` is a local function, return a name it reads
        that has been assigned since it was defined, else None."""
        self.note({source: (var.name if var is not None else None, found)})
        if var is None or var.name not in self.named:
            return None
        defined, reads = self.named[var.name]
        self.note(reads)  # (what it reads, the functions around this use read too)
        for name, (got, _) in reads.items():
            if visible(name, use, defined) != got:
                return name
        return None

    def note(self, reads: dict) -> None:
        """Note reads, {source name: (IR name, scope found in)}, in each open function they
        come from outside of."""
        for inner, known in self.open:
            for name, (got, found) in reads.items():
                if found is None or not within(found, inner):
                    known.setdefault(name, (got, found))


def within(scope, ancestor) -> bool:
    """Whether `scope` is `ancestor` or nested in it."""
    while scope is not None:
        if scope is ancestor:
            return True
        scope = scope.parent
    return False


def owner(scope):
    """The scope of the Python function `scope` belongs to."""
    while not scope.function:
        scope = scope.parent
    return scope


def visible(name: str, use, defined) -> str | None:
    """The IR name `name` has, seen from scope `use`, in the Python scopes around `defined`
    (those a local function defined there reads from): scopes of functions entered since
    are passed over."""
    around, scope = set(), defined
    while scope is not None:
        around.add(id(owner(scope)))
        scope = scope.parent
    scope = use
    while scope is not None:
        if id(owner(scope)) in around and name in scope.names:
            return scope.names[name].name
        scope = scope.parent
    return None
