// libFuzzer target: see fuzz/entries.h (vq2d::fuzz::Annotations) and tools/fuzz.sh.
#include "fuzz/entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vq2d::fuzz::Annotations(data, size);
  return 0;
}
