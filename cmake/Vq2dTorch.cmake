# LibTorch specifics, after find_package(Torch).
#
# TORCH_CXX_FLAGS carries the C++ standard-library ABI LibTorch was built with
# (-D_GLIBCXX_USE_CXX11_ABI=0 for older pip wheels, =1 for Debian's libtorch, conda-forge and newer
# wheels). TorchConfig attaches it only to targets that link `torch`, but std::string and friends
# cross from every layer into torch-linked code (base's Status, io's Config in the app), so with the
# old ABI it is applied to every target of the project. (The C++11 ABI is GCC's default; adding
# the =1 flag everywhere would change nothing but the command lines.) The C++ libraries the full
# build links (OpenCV, yaml-cpp, GoogleTest) must have been built with the same ABI:
# vq2d_check_torch_abi_of_dependencies() tests that at configure time.
set(VQ2D_TORCH_CXX11_ABI ON)
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
  set(VQ2D_TORCH_CXX11_ABI OFF)
  separate_arguments(_vq2d_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  add_compile_options(${_vq2d_torch_flags})
endif()

# A CUDA LibTorch: libtorch_cuda.so holds the CUDA kernels and registers the CUDA backend from static
# initialisers; no symbol of it is referenced directly, so a linker defaulting to --as-needed
# (Ubuntu, some cluster toolchains) would drop it and torch::cuda::is_available() would be false.
set(VQ2D_TORCH_CUDA OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES OR "${TORCH_LIBRARIES}" MATCHES "torch_cuda")
  set(VQ2D_TORCH_CUDA ON)
  add_link_options(LINKER:--no-as-needed)
endif()

# With the pre-C++11 ABI every C++ dependency must be an ABI-0 build too; a mismatch shows up as
# "undefined reference to YAML::Load(std::__cxx11::basic_string...)" at link time. Fail early, with
# the way out.
function(vq2d_check_torch_abi_of_dependencies)
  if(VQ2D_TORCH_CXX11_ABI)
    return()
  endif()
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "${TORCH_CXX_FLAGS}")
  set(CMAKE_REQUIRED_LIBRARIES yaml-cpp ${OpenCV_LIBS})
  set(CMAKE_REQUIRED_INCLUDES ${OpenCV_INCLUDE_DIRS})
  check_cxx_source_compiles([=[
#include <string>
#include <yaml-cpp/yaml.h>
#include <opencv2/imgcodecs.hpp>
int main(int argc, char**) {
  YAML::Node n = YAML::Load(std::string("a: 1"));
  if (argc > 5) cv::imread(std::string("x.png"));
  return n["a"].as<int>() == 1 ? 0 : 1;
}]=] VQ2D_DEPS_LINK_WITH_OLD_ABI)
  if(NOT VQ2D_DEPS_LINK_WITH_OLD_ABI)
    message(FATAL_ERROR
      "This LibTorch uses the pre-C++11 ABI (TORCH_CXX_FLAGS: ${TORCH_CXX_FLAGS}), but yaml-cpp / OpenCV "
      "here were built with the C++11 ABI, so the full vq2d cannot link against both. Use a LibTorch with "
      "the C++11 ABI (python -c 'import torch; print(torch.compiled_with_cxx11_abi())' must print True: "
      "newer pip wheels, conda-forge's pytorch, or the cxx11-abi LibTorch zip), or build the C++ "
      "dependencies with -D_GLIBCXX_USE_CXX11_ABI=0, or configure -DVQ2D_CORE_ONLY=ON (models only). "
      "README \"CUDA build\".")
  endif()
endfunction()
