// PIL-exact BICUBIC resampling of uint8 RGB images (Pillow's Image.resize(size, Image.BICUBIC) on
// mode "RGB", box = whole image, no reducing_gap), as upstream REN resizes every extracted frame.
//
// Semantics (Pillow src/libImaging/Resample.c): separable convolution with the Keys cubic (a = -0.5);
// when downsampling, the filter support (2) is widened by the scale factor; coefficients are
// normalised per output pixel, then quantised to 22-bit fixed point (round half away from zero);
// each pass accumulates in 32-bit integers starting at 1 << 21 and clips to [0, 255]. The horizontal
// pass runs first (only on the source rows the vertical pass reads), then the vertical pass; a pass
// whose size does not change is skipped. The result is bit-identical to Pillow.
//
// Thread-safety: a PilBicubicResizer is immutable after construction; Resize() may be called from
// several threads at once.
#pragma once

#include <cstdint>
#include <vector>

namespace vq2d::io {

class PilBicubicResizer {
 public:
  // Prepares the coefficients for resizing src_w x src_h images to dst_w x dst_h (all >= 1).
  PilBicubicResizer(int src_w, int src_h, int dst_w, int dst_h);

  int src_width() const { return src_w_; }
  int src_height() const { return src_h_; }
  int dst_width() const { return dst_w_; }
  int dst_height() const { return dst_h_; }

  // src: src_h rows of src_w RGB pixels, row r at src + r * src_stride bytes (stride >= 3*src_w).
  // dst: dst_h x dst_w x 3 contiguous uint8 RGB (caller-owned, not overlapping src).
  void Resize(const uint8_t* src, int64_t src_stride, uint8_t* dst) const;

 private:
  struct Pass {
    int ksize = 0;
    std::vector<int> bounds;  // per output pixel: first source index, number of taps
    std::vector<int32_t> coeffs;  // out_size x ksize, fixed point (22 bits)
  };
  static Pass MakePass(int in_size, int out_size);

  int src_w_, src_h_, dst_w_, dst_h_;
  bool need_h_, need_v_;
  Pass h_, v_;
};

// One-shot convenience: resizes a contiguous [src_h, src_w, 3] image into `dst` (resized).
void PilBicubicResize(const uint8_t* src, int src_w, int src_h, int dst_w, int dst_h,
                      std::vector<uint8_t>* dst);

}  // namespace vq2d::io
