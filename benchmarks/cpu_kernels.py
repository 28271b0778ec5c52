"""Hand-written Numba CPU kernels: what a competent user writes (prange loops, float32
throughout). `run.py --place cpu` times cupar against these."""

import numpy as np
from numba import njit, prange

F32 = np.float32


@njit(parallel=True)
def nb_triad(a, x, y, out):
    """The bandwidth probe: a*x + y into a buffer that is reused from run to run."""
    for i in prange(x.shape[0]):
        out[i] = a * x[i] + y[i]


@njit(parallel=True)
def nb_saxpy(a, x, y):
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        out[i] = a * x[i] + y[i]
    return out


# fastmath on the reductions below (and on nb_distance, nb_spmv_fast): it lets LLVM
# reassociate the float sum so that it vectorises. A user summing floats in parallel has
# already given up a fixed order, and the data hold no NaN or infinity.
@njit(parallel=True, fastmath=True)
def nb_sum(x):
    s = F32(0.0)
    for i in prange(x.shape[0]):
        s += x[i]
    return s


@njit(parallel=True, fastmath=True)
def nb_dot(x, y):
    s = F32(0.0)
    for i in prange(x.shape[0]):
        s += x[i] * y[i]
    return s


@njit(parallel=True, fastmath=True)
def nb_nrm2(x):
    s = F32(0.0)
    for i in prange(x.shape[0]):
        s += x[i] * x[i]
    return np.sqrt(s)


@njit(parallel=True, fastmath=True)
def nb_distance(x, y):
    s = F32(0.0)
    for i in prange(x.shape[0]):
        d = x[i] - y[i]
        s += d * d
    return np.sqrt(s)


# float32 constants (Numba reads module globals as compile-time constants of their type;
# a plain 0.5 would be float64 and turn the whole computation into float64).
A1, A2, A3, A4, A5 = F32(0.31938153), F32(-0.356563782), F32(1.781477937), F32(-1.821255978), \
    F32(1.330274429)
K0, RSQRT2PI, HALF, ONE, TWO, FOUR = F32(0.2316419), F32(0.3989422804014327), F32(0.5), \
    F32(1.0), F32(2.0), F32(4.0)


@njit(inline="always")  # Numba's own inlining: measured faster here than a plain call
def nb_cnd(d):
    k = ONE / (ONE + K0 * abs(d))
    poly = k * (A1 + k * (A2 + k * (A3 + k * (A4 + k * A5))))
    tail = RSQRT2PI * np.exp(-HALF * d * d) * poly
    return ONE - tail if d > 0 else tail


@njit(parallel=True)
def nb_black_scholes(price, strike, years, r, v):
    n = price.shape[0]
    call = np.empty(n, np.float32)
    put = np.empty(n, np.float32)
    for i in prange(n):
        s, x, t = price[i], strike[i], years[i]
        sqrt_t = np.sqrt(t)
        d1 = (np.log(s / x) + (r + HALF * v * v) * t) / (v * sqrt_t)
        d2 = d1 - v * sqrt_t
        discounted = x * np.exp(-r * t)
        c1, c2 = nb_cnd(d1), nb_cnd(d2)
        call[i] = s * c1 - discounted * c2
        put[i] = discounted * (ONE - c2) - s * (ONE - c1)
    return call, put


@njit(parallel=True)
def nb_cumsum(x, chunks):
    return nb_cumsum_into(x, np.empty_like(x), chunks)


@njit(parallel=True)
def nb_cumsum_into(x, out, chunks):
    """Two passes: chunk totals in parallel, their prefix serially, chunks scanned in parallel."""
    n = x.shape[0]
    totals = np.zeros(chunks, np.float32)
    for c in prange(chunks):
        s = F32(0.0)
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            s += x[i]
        totals[c] = s
    starts = np.zeros(chunks, np.float32)
    for c in range(1, chunks):
        starts[c] = starts[c - 1] + totals[c - 1]
    for c in prange(chunks):
        s = starts[c]
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            s += x[i]
            out[i] = s
    return out


@njit(parallel=True)
def nb_gather(x, idx):
    out = np.empty(idx.shape[0], x.dtype)
    for i in prange(idx.shape[0]):
        out[i] = x[idx[i]]
    return out


@njit(parallel=True)
def nb_permute(x, idx):
    out = np.empty_like(x)  # idx is a permutation: every element is written
    for i in prange(idx.shape[0]):
        out[idx[i]] = x[i]
    return out


@njit(parallel=True)
def nb_scatter_add(dest, idx, values, threads):
    """np.add.at as a competent user parallelises it: a private histogram per thread, then
    a parallel sum of the histograms."""
    n, bins = idx.shape[0], dest.shape[0]
    part = np.zeros((threads, bins), dest.dtype)
    for t in prange(threads):
        for k in range(t * n // threads, (t + 1) * n // threads):
            part[t, idx[k]] += values[k]
    out = np.empty_like(dest)
    for j in prange(bins):
        total = dest[j]
        for t in range(threads):
            total += part[t, j]
        out[j] = total
    return out


@njit(parallel=True)
def nb_positives(x, chunks):
    """Count per chunk in parallel, prefix the counts, write per chunk in parallel."""
    n = x.shape[0]
    counts = np.zeros(chunks, np.int64)
    for c in prange(chunks):
        k = 0
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            if x[i] > 0:
                k += 1
        counts[c] = k
    starts = np.zeros(chunks + 1, np.int64)
    for c in range(chunks):
        starts[c + 1] = starts[c] + counts[c]
    out = np.empty(starts[chunks], x.dtype)
    for c in prange(chunks):
        at = starts[c]
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            if x[i] > 0:
                out[at] = x[i]
                at += 1
    return out


@njit
def nb_sort(x):
    return np.sort(x)  # what a Numba user writes; Numba's np.sort runs on one thread


@njit(parallel=True)
def nb_spmv(values, columns, offsets, x):
    rows = offsets.shape[0] - 1
    y = np.empty(rows, np.float32)
    for i in prange(rows):
        s = F32(0.0)
        for k in range(offsets[i], offsets[i + 1]):
            s += values[k] * x[columns[k]]
        y[i] = s
    return y


@njit(parallel=True, fastmath=True)
def nb_spmv_fast(values, columns, offsets, x):
    """nb_spmv with fastmath: each row's sum may then vectorise."""
    rows = offsets.shape[0] - 1
    y = np.empty(rows, np.float32)
    for i in prange(rows):
        s = F32(0.0)
        for k in range(offsets[i], offsets[i + 1]):
            s += values[k] * x[columns[k]]
        y[i] = s
    return y


@njit(parallel=True)
def nb_column_sums(m, start):
    """Blocks of columns in parallel, the rows read along each block (row-major order), as
    slices: a loop `out[j] += m[i, j]` over j in range(lo, hi) is 6x slower (Numba's
    negative-index fix-up on j keeps it from vectorising)."""
    rows, cols = m.shape
    out = np.empty(cols, m.dtype)
    for b in prange((cols + 255) // 256):
        lo, hi = b * 256, min(b * 256 + 256, cols)
        acc = start[lo:hi].copy()
        for i in range(rows):
            acc += m[i, lo:hi]
        out[lo:hi] = acc
    return out


@njit(parallel=True)
def nb_softmax(m):
    rows, cols = m.shape
    out = np.empty_like(m)
    for i in prange(rows):
        top = m[i, 0]
        for j in range(1, cols):
            top = max(top, m[i, j])
        s = F32(0.0)
        for j in range(cols):
            e = np.exp(m[i, j] - top)
            out[i, j] = e
            s += e
        for j in range(cols):
            out[i, j] = out[i, j] / s
    return out


@njit(parallel=True)
def nb_mandelbrot(cr, ci, limit):
    out = np.empty(cr.shape[0], np.int64)
    for p in prange(cr.shape[0]):
        c_r, c_i = cr[p], ci[p]
        zr, zi = F32(0.0), F32(0.0)
        k = 0
        while k < limit and zr * zr + zi * zi <= FOUR:
            zr, zi = zr * zr - zi * zi + c_r, TWO * zr * zi + c_i
            k += 1
        out[p] = k
    return out



@njit(parallel=True, fastmath={"contract"})
def nb_matmul(a, b):
    """The product as a Numba user writes it: rows in parallel, each row of the result
    accumulated along b's rows (contiguous, so the inner loop vectorises)."""
    n, k = a.shape
    out = np.zeros((n, b.shape[1]), a.dtype)
    for i in prange(n):
        for p in range(k):
            x = a[i, p]
            for j in range(b.shape[1]):
                out[i, j] += x * b[p, j]
    return out


@njit(parallel=True, fastmath={"contract"})
def nb_linear_relu(x, w, b):
    out = nb_matmul(x, w)
    for i in prange(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = max(out[i, j] + b[j], F32(0.0))
    return out
