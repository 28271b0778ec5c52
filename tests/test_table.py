"""The primitive table is complete: every primitive has its meaning, type rule, signature and
docstring; the public prelude of DESIGN.md §1 is exported and every exported name is in the
table."""

from __future__ import annotations

import inspect

import pytest

import cupar
from cupar.compiler.primitives import PRIMITIVES, Primitive

# DESIGN.md §1, "Prelude, with Copperhead's names and semantics" (the public contract).
DESIGN_PRELUDE = """
    map reduce sum any all min max argmax len range zip unzip filter enumerate gather scatter
    permute update scan rscan exclusive_scan exclusive_rscan indices replicate bounded_range
    shift rotate sort matmul transpose
    sqrt abs exp log tanh sin cos pow maximum minimum where select
    op_add op_sub op_mul op_div op_mod op_pow op_lshift op_rshift op_or op_xor op_and op_invert
    op_pos op_neg op_not
    cmp_eq cmp_ne cmp_lt cmp_le cmp_gt cmp_ge
    int32 int64 float32 float64 cast_to cast_to_el
    max_bound min_bound max_bound_el min_bound_el
""".split()


def star_import() -> dict:
    namespace: dict = {}
    exec("from cupar import *", namespace)
    namespace.pop("__builtins__", None)
    return namespace


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_every_primitive_is_complete(name):
    prim = PRIMITIVES[name]
    assert isinstance(prim, Primitive) and prim.name == name
    assert callable(prim.ref), f"{name}: no reference implementation"
    assert callable(prim.rule), f"{name}: no type rule"
    assert isinstance(prim.sig, str) and "->" in prim.sig, f"{name}: no signature string"
    assert isinstance(prim.doc, str) and prim.doc.strip(), f"{name}: no docstring"
    least, most = prim.arity
    assert least >= 0 and (most is None or most >= least), f"{name}: bad arity {prim.arity}"


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_reference_accepts_the_declared_arity(name):
    """The reference implementation can be called with the arities the table declares."""
    prim = PRIMITIVES[name]
    signature = inspect.signature(prim.ref)
    least, most = prim.arity
    for n in {least, most if most is not None else least + 3}:
        signature.bind(*range(n))  # raises TypeError when the arity does not fit


def test_design_prelude_is_exported_by_star_import():
    exported = star_import()
    missing = [name for name in DESIGN_PRELUDE if name not in exported]
    assert not missing, f"from cupar import * lacks {missing}"
    assert "parallel" in exported and exported["parallel"] is cupar.parallel


def test_every_exported_prelude_name_is_in_the_table():
    exported = star_import()
    assert set(exported) == set(cupar.__all__)
    for name in cupar.PRELUDE:
        assert name in PRIMITIVES, f"{name} is exported but is not a primitive"
        assert exported[name] is PRIMITIVES[name].ref, f"{name} is not the table's reference"


def test_design_prelude_names_are_primitives():
    assert not [name for name in DESIGN_PRELUDE if name not in PRIMITIVES]


def test_star_import_exports_nothing_else():
    extra = set(star_import()) - set(cupar.PRELUDE) - {"parallel"}
    assert not extra, f"unexpected public names {sorted(extra)}"
