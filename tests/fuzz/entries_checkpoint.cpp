// Checkpoint entry points (safetensors, PyTorch zip + pickle): they link vq2d_checkpoint (LibTorch).
#include <unistd.h>

#include "fuzz/entries.h"
#include "vq2d/core/checkpoint.h"
#include "vq2d/core/checkpoint_summary.h"

namespace vq2d::fuzz {

void Safetensors(const uint8_t* data, size_t size) {
  const std::string path = ScratchFile("t.safetensors", data, size);
  (void)LoadSafetensors(path);
  (void)ReadSafetensorsMetadata(path);
  (void)InspectTensorFile(path);
  ::unlink(path.c_str());
}

void Checkpoint(const uint8_t* data, size_t size) {
  const std::string path = ScratchFile("c.pt", data, size);
  (void)LoadTorchCheckpoint(path);
  (void)LoadTorchCheckpoint(path, "region_encoder_state.");
  (void)InspectTensorFile(path);
  ::unlink(path.c_str());
}

}  // namespace vq2d::fuzz
