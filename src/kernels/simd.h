/* simd.h: the vectorisation hints every kernel uses.
 *
 * Asks for a vectorised loop whatever the cost model: GCC 12 at -O2 vectorises only the cheapest loops, and
 * an unvectorised Relu spent 6 ns an element on mispredicted branches. OpenMP's simd (the library builds
 * with -fopenmp) changes no result of an elementwise loop; CN_SIMD_SUM lets a double sum be split into
 * lanes, which changes it only by double rounding. Without OpenMP they expand to nothing, not a warning. */
#ifndef CN_KERNELS_SIMD_H
#define CN_KERNELS_SIMD_H

#ifdef _OPENMP
#define CN_PRAGMA(x) _Pragma(#x)
#define CN_SIMD CN_PRAGMA(omp simd)
#define CN_SIMD_SUM(v) CN_PRAGMA(omp simd reduction(+ : v))
#define CN_SIMD_REDUCE(op, ...) CN_PRAGMA(omp simd reduction(op : __VA_ARGS__))
#else
#define CN_SIMD
#define CN_SIMD_SUM(v)
#define CN_SIMD_REDUCE(op, ...)
#endif

#endif
