// SAM 2.1 building blocks shared by the modules: dotted-name registration helpers, attention
// (Attend), LayerNorm2d, the MLP. Behaviour follows the reference modules described in docs/sam2.md.
#include <torch/version.h>

#include <cmath>

#include "core/sam2/module_util.h"
#include "vq2d/base/check.h"
#include "vq2d/core/sam2.h"

namespace vq2d::sam2 {

namespace internal {

torch::nn::Module& Child(torch::nn::Module& parent, const std::string& path) {
  torch::nn::Module* cur = &parent;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    const std::string name = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    auto children = cur->named_children();
    if (auto* found = children.find(name)) {
      cur = found->get();
    } else {
      cur = cur->register_module(name, std::make_shared<Holder>()).get();
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *cur;
}

torch::Tensor RegParam(torch::nn::Module& parent, const std::string& path, at::IntArrayRef shape) {
  const auto dot = path.rfind('.');
  torch::nn::Module& owner = dot == std::string::npos ? parent : Child(parent, path.substr(0, dot));
  return owner.register_parameter(dot == std::string::npos ? path : path.substr(dot + 1), torch::zeros(shape));
}

torch::Tensor RegBuffer(torch::nn::Module& parent, const std::string& path, const torch::Tensor& value) {
  const auto dot = path.rfind('.');
  torch::nn::Module& owner = dot == std::string::npos ? parent : Child(parent, path.substr(0, dot));
  return owner.register_buffer(dot == std::string::npos ? path : path.substr(dot + 1), value);
}

torch::Tensor Gelu(const torch::Tensor& x) { return torch::gelu(x); }

// LayerNorm in fp32 (what CUDA autocast does for layer_norm; LibTorch 1.13's CPU autocast would
// otherwise hand a bf16 input to an fp32-weight norm). A no-op in fp32 runs.
torch::Tensor LN(torch::nn::LayerNorm& norm, const torch::Tensor& x) {
  return norm(x.scalar_type() == torch::kFloat32 ? x : x.to(torch::kFloat32));
}

}  // namespace internal

torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const int64_t nq = q.size(-2), nk = k.size(-2);
  const int64_t batch = q.numel() / (nq * q.size(-1));
  const int64_t budget = int64_t{1} << 26;  // score elements per chunk
  const int64_t chunk = std::max<int64_t>(1, budget / std::max<int64_t>(1, batch * nk));
  auto kt = k.transpose(-2, -1);
  if (chunk >= nq) return torch::softmax(torch::matmul(q, kt) * scale, -1).matmul(v);
  std::vector<torch::Tensor> outs;
  for (int64_t s = 0; s < nq; s += chunk) {
    auto qs = q.narrow(-2, s, std::min(chunk, nq - s));
    outs.push_back(torch::softmax(torch::matmul(qs, kt) * scale, -1).matmul(v));
  }
  return torch::cat(outs, -2);
#endif
}

LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  auto u = x.mean(1, true);
  auto s = (x - u).pow(2).mean(1, true);
  auto y = (x - u) / torch::sqrt(s + eps);
  return weight.view({-1, 1, 1}) * y + bias.view({-1, 1, 1});
}

MlpImpl::MlpImpl(int64_t in, int64_t hidden, int64_t out, int num_layers, Act act_, bool sigmoid_)
    : act(act_), sigmoid(sigmoid_) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < num_layers; ++i) {
    const int64_t a = i == 0 ? in : hidden;
    const int64_t b = i == num_layers - 1 ? out : hidden;
    linears.push_back(torch::nn::Linear(a, b));
    layers->push_back(linears.back());
  }
}

torch::Tensor MlpImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < linears.size(); ++i) {
    x = linears[i]->forward(x);
    if (i + 1 < linears.size()) x = act == Act::kRelu ? torch::relu(x) : torch::gelu(x);
  }
  return sigmoid ? torch::sigmoid(x) : x;
}

}  // namespace vq2d::sam2
