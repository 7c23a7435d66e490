// The fuzzed entry points: each takes arbitrary bytes and feeds them through one parser exactly as
// the tools read that kind of file. They never fail (a parse error is a normal outcome); a crash, a
// sanitizer report, a hang or unbounded memory is the bug. Shared by the libFuzzer targets
// (build-fuzz/, tools/fuzz.sh) and the regression replay test of the normal build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vq2d::fuzz {

void Config(const uint8_t* data, size_t size);       // YAML config (ParseConfig, with and without --set)
void Annotations(const uint8_t* data, size_t size);  // Ego4D VQ2D annotation JSON (ParseAnnotations)
void Predictions(const uint8_t* data, size_t size);  // eval/submit/merge inputs (predictions, clip outputs)
void Record(const uint8_t* data, size_t size);       // clip record (OpenClipRecord, verifying, + reads)
void Safetensors(const uint8_t* data, size_t size);  // safetensors file (LoadSafetensors, inspect)
void Checkpoint(const uint8_t* data, size_t size);   // PyTorch zip/pickle checkpoint (LoadTorchCheckpoint)

// A per-process scratch file for parsers that read paths (in /dev/shm when available).
std::string ScratchFile(const std::string& name, const uint8_t* data, size_t size);

}  // namespace vq2d::fuzz
