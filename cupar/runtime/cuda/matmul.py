"""The CUDA kernel of a `MatMul`: shared-memory tiles with register blocking, and the
consumer's per-element code (the epilogue) applied before each store.

A block computes a TILE x TILE piece of the product with SIDE x SIDE threads, each holding
PER x PER accumulators in registers (thread (ty, tx) owns rows ty + SIDE * x and columns
tx + SIDE * y, so a warp's loads and stores are along rows). The inner length is walked in
steps of DEPTH: the block copies a TILE x DEPTH piece of A and a DEPTH x TILE piece of B
into shared memory (zeros past the edges), waits, and every thread multiplies its PER values
of each into its accumulators. After the last step each thread runs the epilogue on its
elements inside the matrix and stores them. A transposed operand is read transposed while
copying into shared memory. The launch shape is lib.py's MATMUL_* (small under the
simulator). cuBLAS is not used: the epilogue, and any consumer, stay fused this way.
"""

from __future__ import annotations

from ...compiler.kernel_ir import MatMul

TX, TY = "cupar_mm_tx", "cupar_mm_ty"


def matmul_kernel(gen, s: MatMul, indent: str) -> list[str]:
    """Driver lines launching the product `s` (its kernel is added to `gen.kernels`)."""
    i2 = indent + "    "
    grid = f"(-(-({s.cols}) // MM_TILE), -(-({s.rows}) // MM_TILE))"
    body = [*setup(s), *steps(s), *epilogue(gen, s)]
    launch = gen.launch(gen.new_kernel("matmul"), body, [s], [], s.rows, i2,
                        grid=grid, extra=())
    launch = [line.replace(", BLOCK](", ", MM_SIDE * MM_SIDE](") for line in launch]
    return [f"{indent}if ({s.rows}) > 0 and ({s.cols}) > 0:", *launch,
            *gen.raise_flagged(s.body, indent)]


def setup(s: MatMul) -> list[str]:
    o = s.out
    return [f"    {TX} = cuda.threadIdx.x % MM_SIDE",
            f"    {TY} = cuda.threadIdx.x // MM_SIDE",
            f"    {o}_r0 = cuda.blockIdx.y * MM_TILE",
            f"    {o}_c0 = cuda.blockIdx.x * MM_TILE",
            f"    {o}_sa = cuda.shared.array((MM_DEPTH, MM_TILE), np.{s.dtype})",
            f"    {o}_sb = cuda.shared.array((MM_DEPTH, MM_TILE), np.{s.dtype})",
            f"    {o}_acc = cuda.local.array((MM_PER, MM_PER), np.{s.dtype})",
            f"    {o}_ra = cuda.local.array(MM_PER, np.{s.dtype})",
            f"    {o}_rb = cuda.local.array(MM_PER, np.{s.dtype})",
            f"    for {o}_x in range(MM_PER):",
            f"        for {o}_y in range(MM_PER):",
            f"            {o}_acc[{o}_x, {o}_y] = 0"]


def steps(s: MatMul) -> list[str]:
    """The walk along the inner length: copy a step of each operand, multiply, repeat."""
    o = s.out
    a = (lambda r, p: f"{s.a}[{p}, {r}]") if s.a_transposed else \
        (lambda r, p: f"{s.a}[{r}, {p}]")  # noqa: E731
    b = (lambda p, c: f"{s.b}[{c}, {p}]") if s.b_transposed else \
        (lambda p, c: f"{s.b}[{p}, {c}]")  # noqa: E731
    e, r, c = f"{o}_e", f"{o}_er", f"{o}_ec"
    # neighbouring threads copy neighbouring elements of the operand as it is stored
    along_p = [f"            {r} = {e} % MM_DEPTH", f"            {c} = {e} // MM_DEPTH"]
    along_tile = [f"            {r} = {e} // MM_TILE", f"            {c} = {e} % MM_TILE"]
    return [
        f"    for {o}_p0 in range(0, {s.inner}, MM_DEPTH):",
        f"        for {e} in range(cuda.threadIdx.x, MM_DEPTH * MM_TILE, MM_SIDE * MM_SIDE):",
        *(along_p if s.b_transposed else along_tile),  # (r: step, c: tile column)
        f"            if {o}_p0 + {r} < {s.inner} and {o}_c0 + {c} < {s.cols}:",
        f"                {o}_sb[{r}, {c}] = {b(f'{o}_p0 + {r}', f'{o}_c0 + {c}')}",
        "            else:",
        f"                {o}_sb[{r}, {c}] = 0",
        *(along_tile if s.a_transposed else along_p),  # (r: step, c: tile row)
        f"            if {o}_p0 + {r} < {s.inner} and {o}_r0 + {c} < {s.rows}:",
        f"                {o}_sa[{r}, {c}] = {a(f'{o}_r0 + {c}', f'{o}_p0 + {r}')}",
        "            else:",
        f"                {o}_sa[{r}, {c}] = 0",
        "        cuda.syncthreads()",
        f"        for {o}_p in range(MM_DEPTH):",
        f"            for {o}_x in range(MM_PER):",
        f"                {o}_ra[{o}_x] = {o}_sa[{o}_p, {TY} + MM_SIDE * {o}_x]",
        f"                {o}_rb[{o}_x] = {o}_sb[{o}_p, {TX} + MM_SIDE * {o}_x]",
        f"            for {o}_x in range(MM_PER):",
        f"                for {o}_y in range(MM_PER):",
        f"                    {o}_acc[{o}_x, {o}_y] += {o}_ra[{o}_x] * {o}_rb[{o}_y]",
        "        cuda.syncthreads()"]


def epilogue(gen, s: MatMul) -> list[str]:
    """Each thread's elements inside the matrix: the consumer's code, then the store."""
    o = s.out
    return [f"    for {o}_x in range(MM_PER):",
            f"        {s.i} = {o}_r0 + {TY} + MM_SIDE * {o}_x",
            f"        for {o}_y in range(MM_PER):",
            f"            {s.j} = {o}_c0 + {TX} + MM_SIDE * {o}_y",
            f"            if {s.i} < {s.rows} and {s.j} < {s.cols}:",
            f"                {s.acc} = {o}_acc[{o}_x, {o}_y]",
            *gen.device(s.body, "                "),
            f"                {o}[{s.i}, {s.j}] = {gen.device_cond(s.value)}"]
