#include "vq2d/io/numpy_compat.h"

#include <utility>

namespace vq2d::io {
namespace {

// npy DOUBLE_LT: NaN sorts last.
inline bool Less(double a, double b) { return a < b || (b != b && a == a); }
inline bool Less(int64_t a, int64_t b) { return a < b; }

int GetMsb(size_t n) {
  int d = 0;
  while (n > 1) {
    n >>= 1;
    ++d;
  }
  return d;
}

constexpr int64_t kSmallQuicksort = 15;
constexpr int kPqMaxStack = 128;  // numpy's PYA_QS_STACK (NPY_BITSOF_INTP * 2)

// numpy aheapsort_ over tosort[0..n): a 1-based heap.
template <typename T>
void AHeapSort(const T* v, int64_t* tosort, int64_t n) {
  int64_t* a = tosort - 1;  // 1-based
  int64_t i, j, l, tmp;
  for (l = n >> 1; l > 0; --l) {
    tmp = a[l];
    for (i = l, j = l << 1; j <= n;) {
      if (j < n && Less(v[a[j]], v[a[j + 1]])) j += 1;
      if (Less(v[tmp], v[a[j]])) {
        a[i] = a[j];
        i = j;
        j += j;
      } else {
        break;
      }
    }
    a[i] = tmp;
  }
  for (; n > 1;) {
    tmp = a[n];
    a[n] = a[1];
    n -= 1;
    for (i = 1, j = 2; j <= n;) {
      if (j < n && Less(v[a[j]], v[a[j + 1]])) j++;
      if (Less(v[tmp], v[a[j]])) {
        a[i] = a[j];
        i = j;
        j += j;
      } else {
        break;
      }
    }
    a[i] = tmp;
  }
}

// numpy aquicksort_ (numpy/core/src/npysort/quicksort.cpp, v1.23.5), index-array variant.
template <typename T>
std::vector<int64_t> AQuickSort(const std::vector<T>& values) {
  const int64_t num = static_cast<int64_t>(values.size());
  std::vector<int64_t> order(values.size());
  for (int64_t i = 0; i < num; ++i) order[i] = i;
  if (num < 2) return order;
  const T* v = values.data();
  int64_t* tosort = order.data();
  int64_t* pl = tosort;
  int64_t* pr = tosort + num - 1;
  int64_t* stack[kPqMaxStack];
  int64_t** sptr = stack;
  int depth[kPqMaxStack];
  int* psdepth = depth;
  int cdepth = GetMsb(static_cast<size_t>(num)) * 2;
  int64_t *pm, *pi, *pj, *pk, vi, tmp;
  T vp;
  for (;;) {
    if (cdepth < 0) {
      AHeapSort(v, pl, pr - pl + 1);
      goto stack_pop;
    }
    while ((pr - pl) > kSmallQuicksort) {
      // quicksort partition
      pm = pl + ((pr - pl) >> 1);
      if (Less(v[*pm], v[*pl])) std::swap(*pm, *pl);
      if (Less(v[*pr], v[*pm])) std::swap(*pr, *pm);
      if (Less(v[*pm], v[*pl])) std::swap(*pm, *pl);
      vp = v[*pm];
      pi = pl;
      pj = pr - 1;
      std::swap(*pm, *pj);
      for (;;) {
        do ++pi; while (Less(v[*pi], vp));
        do --pj; while (Less(vp, v[*pj]));
        if (pi >= pj) break;
        std::swap(*pi, *pj);
      }
      pk = pr - 1;
      std::swap(*pi, *pk);
      // push largest partition on stack
      if (pi - pl < pr - pi) {
        *sptr++ = pi + 1;
        *sptr++ = pr;
        pr = pi - 1;
      } else {
        *sptr++ = pl;
        *sptr++ = pi - 1;
        pl = pi + 1;
      }
      *psdepth++ = --cdepth;
    }
    // insertion sort
    for (pi = pl + 1; pi <= pr; ++pi) {
      vi = *pi;
      vp = v[vi];
      pj = pi;
      pk = pi - 1;
      while (pj > pl && Less(vp, v[*pk])) *pj-- = *pk--;
      *pj = vi;
    }
  stack_pop:
    if (sptr == stack) break;
    pr = *(--sptr);
    pl = *(--sptr);
    cdepth = *(--psdepth);
  }
  (void)tmp;
  return order;
}

}  // namespace

std::vector<int64_t> NumpyArgsort(const std::vector<double>& v) { return AQuickSort(v); }
std::vector<int64_t> NumpyArgsort(const std::vector<int64_t>& v) { return AQuickSort(v); }

double NumpyPairwiseSum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {  // PW_BLOCKSIZE
    double r[8];
    for (int k = 0; k < 8; ++k) r[k] = a[k];
    size_t i;
    for (i = 8; i < n - (n % 8); i += 8) {
      for (int k = 0; k < 8; ++k) r[k] += a[i + k];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return NumpyPairwiseSum(a, n2) + NumpyPairwiseSum(a + n2, n - n2);
}

}  // namespace vq2d::io
