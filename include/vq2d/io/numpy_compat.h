// Bit-exact re-implementations of the numpy (<= 1.24) routines whose results the official Ego4D
// VQ2D evaluator depends on (docs/eval.md, Tied scores).
//
// NumpyArgsort == np.asarray(v).argsort() (kind='quicksort') of numpy <= 1.24 / non-AVX512 builds:
// an introsort (median-of-3 quicksort, insertion sort for partitions of <= 16 elements, heapsort
// fallback at depth 2*floor(log2 n)). It is NOT stable: equal keys come out in an n-dependent order,
// which decides the AP under tied scores. Doubles compare with numpy's DOUBLE_LT (NaN sorts last);
// integers with plain <. Do not replace this with std::sort / std::stable_sort.
//
// NumpyPairwiseSum == np.sum of a contiguous float64 array (numpy's pairwise summation).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vq2d {

std::vector<int64_t> NumpyArgsort(const std::vector<double>& v);
std::vector<int64_t> NumpyArgsort(const std::vector<int64_t>& v);

double NumpyPairwiseSum(const double* a, size_t n);

}  // namespace vq2d
