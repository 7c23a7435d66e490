// Helpers to register parameters/modules under dotted names so that named_parameters() reproduces the
// reference state-dict keys exactly (e.g. "attn.qkv.weight" on a MultiScaleBlock).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

namespace vq2d::sam2::internal {

// An empty container module (plays the role of a Python attribute namespace such as `attn` or `neck`).
struct Holder : torch::nn::Module {};

// Returns the child module at `path` ("a.b"), creating empty holders on the way.
torch::nn::Module& Child(torch::nn::Module& parent, const std::string& path);

// Registers `module` under the dotted `path` ("neck.convs.0.conv").
template <typename M>
M Reg(torch::nn::Module& parent, const std::string& path, M module) {
  const auto dot = path.rfind('.');
  torch::nn::Module& owner = dot == std::string::npos ? parent : Child(parent, path.substr(0, dot));
  owner.register_module(dot == std::string::npos ? path : path.substr(dot + 1), module);
  return module;
}

// Registers a parameter (zeros of `shape`) under the dotted `path`; returns the registered tensor.
torch::Tensor RegParam(torch::nn::Module& parent, const std::string& path, at::IntArrayRef shape);
// Same for a buffer.
torch::Tensor RegBuffer(torch::nn::Module& parent, const std::string& path, const torch::Tensor& value);

torch::Tensor Gelu(const torch::Tensor& x);  // exact (erf) GELU

// LayerNorm in fp32 (what CUDA autocast does for layer_norm); a no-op cast in fp32 runs.
torch::Tensor LN(torch::nn::LayerNorm& norm, const torch::Tensor& x);

}  // namespace vq2d::sam2::internal

// What every SAM 2 module file uses (this header is private to src/core/sam2).
namespace vq2d::sam2 {
using internal::Child;
using internal::LN;
using internal::Reg;
using internal::RegBuffer;
using internal::RegParam;
namespace F = torch::nn::functional;
}  // namespace vq2d::sam2
