// models.device resolution (ChooseDevice) with a fake environment and fake CUDA facts: no GPU needed.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "vq2d/pipeline/device.h"

namespace vq2d::pipeline {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

const CudaInfo kCpuOnly{false, false, 0};
const CudaInfo kFourGpus{true, true, 4};
const CudaInfo kCudaButNoGpu{true, false, 0};

TEST(AllocatedGpus, ReadsCudaVisibleDevicesAndSlurm) {
  EXPECT_EQ(AllocatedGpus(FakeEnv({})), "");
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"CUDA_VISIBLE_DEVICES", ""}})), "");
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"CUDA_VISIBLE_DEVICES", "-1"}})), "");
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"CUDA_VISIBLE_DEVICES", "NoDevFiles"}})), "");
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"CUDA_VISIBLE_DEVICES", "0,1"}})), "CUDA_VISIBLE_DEVICES=0,1");
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"SLURM_JOB_GPUS", "2"}})), "SLURM_JOB_GPUS=2");
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"SLURM_STEP_GPUS", "0,1,2,3"}})), "SLURM_STEP_GPUS=0,1,2,3");
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"SLURM_GPUS_ON_NODE", "0"}})), "");
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"SLURM_GPUS_ON_NODE", "4"}})), "SLURM_GPUS_ON_NODE=4");
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"SLURM_GPUS_PER_TASK", "1"}})), "SLURM_GPUS_PER_TASK=1");
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"SLURM_GPUS", "a100:8"}})), "SLURM_GPUS=a100:8");
  // An empty CUDA_VISIBLE_DEVICES hides the GPUs, but Slurm's variables still say they are held.
  EXPECT_EQ(AllocatedGpus(FakeEnv({{"CUDA_VISIBLE_DEVICES", ""}, {"SLURM_JOB_GPUS", "1"}})), "SLURM_JOB_GPUS=1");
}

TEST(ChooseDevice, CpuIsAlwaysAllowed) {
  for (const auto& env : {FakeEnv({}), FakeEnv({{"CUDA_VISIBLE_DEVICES", "0"}, {"SLURM_JOB_GPUS", "0"}})}) {
    for (const CudaInfo& c : {kCpuOnly, kFourGpus, kCudaButNoGpu}) {
      auto d = ChooseDevice("cpu", 3, c, env);
      ASSERT_TRUE(d.ok()) << d.status().ToString();
      EXPECT_FALSE(d->cuda);
      EXPECT_EQ(d->ToString(), "cpu");
    }
  }
}

TEST(ChooseDevice, AutoWithoutCudaAndWithoutGpusIsTheCpu) {
  auto d = ChooseDevice("auto", 0, kCpuOnly, FakeEnv({{"CUDA_VISIBLE_DEVICES", "-1"}}));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(d->cuda);
}

TEST(ChooseDevice, AutoOnACpuOnlyBinaryWithAllocatedGpusStops) {
  for (const auto& vars : std::vector<std::map<std::string, std::string>>{
           {{"CUDA_VISIBLE_DEVICES", "0"}}, {{"SLURM_JOB_GPUS", "0,1"}}, {{"SLURM_STEP_GPUS", "3"}},
           {{"SLURM_GPUS_PER_NODE", "4"}}}) {
    auto d = ChooseDevice("auto", 0, kCpuOnly, FakeEnv(vars));
    ASSERT_FALSE(d.ok()) << vars.begin()->first;
    EXPECT_EQ(d.status().code(), StatusCode::kFailedPrecondition);
    const std::string& m = d.status().message();
    EXPECT_NE(m.find("CPU-only"), std::string::npos) << m;
    EXPECT_NE(m.find(vars.begin()->first), std::string::npos) << m;       // which variable said so
    EXPECT_NE(m.find("CMAKE_PREFIX_PATH"), std::string::npos) << m;        // how to build the CUDA one
    EXPECT_NE(m.find("models.device: cpu"), std::string::npos) << m;       // how to run on the CPU anyway
  }
  // A CUDA LibTorch that sees no GPU although GPUs are held: also an error, with another reason.
  auto d = ChooseDevice("auto", 0, kCudaButNoGpu, FakeEnv({{"CUDA_VISIBLE_DEVICES", "0"}}));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(d.status().message().find("no usable GPU"), std::string::npos) << d.status().message();
}

TEST(ChooseDevice, AutoAndCudaSpreadLocalRanksOverTheGpus) {
  const auto env = FakeEnv({{"CUDA_VISIBLE_DEVICES", "0,1,2,3"}});
  for (int rank = 0; rank < 9; ++rank) {
    for (const char* dev : {"auto", "cuda"}) {
      auto d = ChooseDevice(dev, rank, kFourGpus, env);
      ASSERT_TRUE(d.ok()) << d.status().ToString();
      EXPECT_TRUE(d->cuda);
      EXPECT_EQ(d->index, rank % 4);
      EXPECT_EQ(d->ToString(), "cuda:" + std::to_string(rank % 4));
    }
  }
}

TEST(ChooseDevice, ExplicitCudaIndexAndBadValues) {
  auto d = ChooseDevice("cuda:2", 0, kFourGpus, FakeEnv({}));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->index, 2);
  EXPECT_EQ(ChooseDevice("cuda:4", 0, kFourGpus, FakeEnv({})).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ChooseDevice("cuda:x", 0, kFourGpus, FakeEnv({})).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ChooseDevice("gpu", 0, kFourGpus, FakeEnv({})).status().code(), StatusCode::kInvalidArgument);
  auto no = ChooseDevice("cuda", 0, kCpuOnly, FakeEnv({}));
  EXPECT_EQ(no.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(no.status().message().find("CPU-only"), std::string::npos);
}

}  // namespace
}  // namespace vq2d::pipeline
