// Internal: emulation of python / 0-dim torch scalar arithmetic (type promotion of torch 1.13
// for 0-dim tensors and wrapped python numbers), used to reproduce upstream's mixed
// float32/float64 geometry exactly.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "vq2d/pipeline/geometry.h"

namespace vq2d::pipeline::pynum {

enum class K { kPyInt, kPyFloat, kI64, kF32, kF64 };

struct Num {
  double v = 0.0;
  K k = K::kPyInt;
};

inline bool IsPy(K k) { return k == K::kPyInt || k == K::kPyFloat; }
inline bool IsInt(K k) { return k == K::kPyInt || k == K::kI64; }

// Result kind of a binary op (torch.result_type with wrapped python scalars).
inline K Promote(K a, K b) {
  if (IsPy(a) && IsPy(b)) return (a == K::kPyInt && b == K::kPyInt) ? K::kPyInt : K::kPyFloat;
  if (!IsPy(a) && !IsPy(b)) {
    if (IsInt(a) == IsInt(b)) {
      if (IsInt(a)) return K::kI64;
      return (a == K::kF64 || b == K::kF64) ? K::kF64 : K::kF32;
    }
    return IsInt(a) ? b : a;
  }
  const K t = IsPy(a) ? b : a;
  const K p = IsPy(a) ? a : b;
  if (!IsInt(t)) return t;
  return p == K::kPyInt ? K::kI64 : K::kF32;
}

inline Num Make(double v, K k) { return Num{k == K::kF32 ? static_cast<double>(static_cast<float>(v)) : v, k}; }

template <typename Op>
inline Num Arith(Num a, Num b, Op op) {
  const K k = Promote(a.k, b.k);
  if (k == K::kF32) {
    const float r = op(static_cast<float>(a.v), static_cast<float>(b.v));
    return Num{static_cast<double>(r), k};
  }
  return Num{op(a.v, b.v), k};
}
inline Num Add(Num a, Num b) { return Arith(a, b, [](auto x, auto y) { return x + y; }); }
inline Num Sub(Num a, Num b) { return Arith(a, b, [](auto x, auto y) { return x - y; }); }
inline Num Mul(Num a, Num b) { return Arith(a, b, [](auto x, auto y) { return x * y; }); }
// True division: ints divide as python (float64) or torch (float32 default dtype).
// python_scalar / tensor is torch's Tensor.__rtruediv__: reciprocal(tensor) * scalar.
inline Num Div(Num a, Num b) {
  if (IsPy(a.k) && !IsPy(b.k)) {
    const K rk = IsInt(b.k) ? K::kF32 : b.k;
    Num r = rk == K::kF32 ? Num{static_cast<double>(1.0f / static_cast<float>(b.v)), rk} : Num{1.0 / b.v, rk};
    return Mul(r, a);
  }
  K k = Promote(a.k, b.k);
  if (k == K::kPyInt) k = K::kPyFloat;
  if (k == K::kI64) k = K::kF32;
  if (k == K::kF32) return Num{static_cast<double>(static_cast<float>(a.v) / static_cast<float>(b.v)), k};
  return Num{a.v / b.v, k};
}
inline Num FloorDiv(Num a, Num b) {
  const K k = Promote(a.k, b.k);
  if (IsInt(k)) {
    const int64_t x = static_cast<int64_t>(a.v), y = static_cast<int64_t>(b.v);
    int64_t q = x / y;
    if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
    return Num{static_cast<double>(q), k};
  }
  if (k == K::kF32) {
    return Num{static_cast<double>(PyFloorDiv<float>(static_cast<float>(a.v), static_cast<float>(b.v))), k};
  }
  return Num{PyFloorDiv<double>(a.v, b.v), k};
}
inline bool Less(Num a, Num b) {
  const K k = Promote(a.k, b.k);
  if (k == K::kF32) return static_cast<float>(a.v) < static_cast<float>(b.v);
  return a.v < b.v;
}
// python min()/max(): the first item wins unless a later one is strictly smaller/greater.
inline Num Min(std::initializer_list<Num> xs) {
  Num cur = *xs.begin();
  for (auto it = xs.begin() + 1; it != xs.end(); ++it)
    if (Less(*it, cur)) cur = *it;
  return cur;
}
inline Num Max(std::initializer_list<Num> xs) {
  Num cur = *xs.begin();
  for (auto it = xs.begin() + 1; it != xs.end(); ++it)
    if (Less(cur, *it)) cur = *it;
  return cur;
}
// python int(x): truncation toward zero.
inline int64_t Trunc(Num a) { return static_cast<int64_t>(std::trunc(a.v)); }

}  // namespace vq2d::pipeline::pynum
