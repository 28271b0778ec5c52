"""Lowering of `iterate` (a mixin of `Lowerer`, see lower.py): a loop's states recorded.

`iterate(f, x, n)` becomes a `While` loop (serial: each state needs the one before) that
stores state i in row i of one array per field of the state, n rows shaped as x's field,
then computes the next state by applying f. A state whose arrays have other shapes than x's
ends the loop and empties the result, as the reference implementation says. Derivatives of
loops use it to read their states backwards (autodiff_loops.py).
"""

from __future__ import annotations

from .kernel_ir import Alloc, Assign, Break, If, Loop, Store, While
from .lower_values import Cols, Mat, NotLowered, base_scalar, depth, flat_types, unflatten_value
from .types import Seq, Tuple


class IterateRules:
    def p_iterate(self, let, prim, args, out):
        f, x, n = args
        st = let.var.type.elem
        types = flat_types(st)
        if types != (list(st.elems) if isinstance(st, Tuple) else [st]):
            raise NotLowered("iterate over states holding tuples inside")
        count = self.emit(out, f"max(np.int64({n}), 0)")
        state = []
        for v in self.flatten(x, st, out):
            state.append(self.fresh("state"))
            out.append(Assign(state[-1], v))
        tapes, dims = [], []
        for s, t in zip(state, types):
            tapes.append(self.fresh("states"))
            dims.append(tuple(f"{s}.shape[{d}]" for d in range(depth(t))))
            out.append(Alloc(tapes[-1], base_scalar(t).dtype.name, (count, *dims[-1])))
        i = self.fresh("i")
        out.append(Assign(i, "np.int64(0)"))
        body: list = [If(f"{i} >= {count}", (Break(),), ())]
        for s, t, tape in zip(state, types, tapes):
            body += self.store_row(tape, i, s, depth(t))
        body.append(If(f"{i} + 1 >= {count}", (Break(),), ()))
        nxt = self.flatten(self.apply(f, [unflatten_value(state, st)], body), st, body)
        differ = [f"{v}.shape[{d}] != {tape}.shape[{d + 1}]"
                  for v, t, tape in zip(nxt, types, tapes) for d in range(depth(t))]
        if differ:  # no regular sequence holds these states: the result is empty
            empty = tuple(Alloc(tape, base_scalar(t).dtype.name,
                                ("0", *(f"{tape}.shape[{d + 1}]" for d in range(depth(t)))))
                          for tape, t in zip(tapes, types))
            body.append(If(" or ".join(differ), (*empty, Break()), ()))
        temps = [self.fresh(s + "_next") for s in state]
        body += [Assign(tmp, v) for tmp, v in zip(temps, nxt)]
        body += [Assign(s, tmp) for s, tmp in zip(state, temps)]
        body.append(Assign(i, f"{i} + 1"))
        out.append(While(tuple(body)))
        cols = tuple(Mat(tape, Seq(t, None), tuple(f"{tape}.shape[{d}]"
                                                   for d in range(depth(t) + 1)))
                     for tape, t in zip(tapes, types))
        return Cols(cols, let.var.type) if isinstance(st, Tuple) else cols[0]

    def store_row(self, tape: str, i: str, value: str, d: int) -> list:
        """tape[i] = value, for an array `value` of d axes: one loop per axis."""
        if d == 0:
            return [Store(tape, i, value)]
        ks = [self.fresh("k") for _ in range(d)]
        stmt = Store(tape, ", ".join([i, *ks]), f"{value}[{', '.join(ks)}]")
        for a in reversed(range(d)):
            stmt = Loop(ks[a], f"{value}.shape[{a}]", (stmt,),
                        parallel=a == 0 and self.depth == 0)
        return [stmt]
