// Restricted unpickler for PyTorch checkpoints' data.pkl (internal).
//
// It interprets pickle protocol 2..5 opcodes into an inert object graph. Globals are resolved
// against a fixed allow-list (containers, torch tensor rebuild functions, typed storages, torch
// dtypes, and a few inert value types that are kept as opaque objects); any other global is an
// error naming it. Nothing is ever imported or executed: REDUCE/NEWOBJ on an allowed global is
// interpreted by this code (e.g. _rebuild_tensor_v2 records storage, offset, size and stride).
//
// Objects live in an arena owned by the caller (so reference cycles built by a malicious pickle
// cannot leak or recurse on destruction). Thread-safety: none needed; one arena per load.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d::checkpoint_internal {

enum class PyKind {
  kNone,
  kBool,
  kInt,
  kBigInt,   // an int that does not fit int64 (value not kept)
  kFloat,
  kString,
  kBytes,
  kList,
  kTuple,
  kDict,     // dict or OrderedDict (see dict_type)
  kSet,
  kGlobal,   // an allowed global (callable or class), see Global
  kStorage,  // a persistent-id storage reference
  kTensor,
  kDType,    // torch.float32 etc.
  kOpaque,   // an inert object of an allowed non-tensor type (name in `str`)
};

enum class Global {
  kNone,
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildTensorV3,
  kRebuildParameter,
  kRebuildParameterWithState,
  kRebuildFromTypeV2,
  kStorageType,  // torch.<X>Storage / torch.UntypedStorage; storage dtype in PyObject::dtype
  kTorchSize,
  kSet,
  kFrozenSet,
  kTensorType,   // torch.Tensor / torch.nn.parameter.Parameter (as argument of _rebuild_from_type_v2)
  kInertType,    // kept as opaque, never called (numpy scalars/dtypes, torch.device, ...)
};

struct PyObject {
  explicit PyObject(PyKind k) : kind(k) {}
  PyKind kind;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string str;  // string / bytes payload; "module.name" of a global; type name of an opaque
  std::vector<PyObject*> items;                            // list, tuple, set
  std::vector<std::pair<PyObject*, PyObject*>> dict;       // insertion order
  std::unordered_map<std::string, size_t> dict_index;      // hashable-key -> position in dict
  bool ordered_dict = false;
  Global global = Global::kNone;
  // Storage: dtype/itemsize of the typed storage (uint8/1 for UntypedStorage), key, location, numel.
  // Tensor: dtype of the tensor.
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  uint64_t itemsize = 0;
  std::string storage_key;
  std::string location;
  int64_t numel = 0;
  // Tensor view.
  PyObject* storage = nullptr;
  int64_t storage_offset = 0;
  std::vector<int64_t> size, stride;
};

class PickleArena {
 public:
  PyObject* New(PyKind kind) {
    objects_.push_back(std::make_unique<PyObject>(kind));
    return objects_.back().get();
  }
  size_t size() const { return objects_.size(); }

 private:
  std::vector<std::unique_ptr<PyObject>> objects_;
};

// Unpickles `data`; `source` names the file/record in error messages.
Result<PyObject*> Unpickle(std::string_view data, PickleArena* arena, const std::string& source);

// Python-ish type name for messages and summaries ("dict", "OrderedDict", "Tensor", ...).
std::string PyTypeName(const PyObject* obj);

}  // namespace vq2d::checkpoint_internal
