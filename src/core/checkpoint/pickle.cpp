#include "core/checkpoint/pickle.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/checkpoint/mapped_file.h"

namespace vq2d::checkpoint_internal {
namespace {

struct GlobalSpec {
  const char* module;
  const char* name;
  Global kind;
};

const GlobalSpec kGlobals[] = {
    {"collections", "OrderedDict", Global::kOrderedDict},
    {"torch._utils", "_rebuild_tensor", Global::kRebuildTensorV2},  // pre-1.x form, same leading args
    {"torch._utils", "_rebuild_tensor_v2", Global::kRebuildTensorV2},
    {"torch._utils", "_rebuild_tensor_v3", Global::kRebuildTensorV3},
    {"torch._utils", "_rebuild_parameter", Global::kRebuildParameter},
    {"torch._utils", "_rebuild_parameter_with_state", Global::kRebuildParameterWithState},
    {"torch._tensor", "_rebuild_from_type_v2", Global::kRebuildFromTypeV2},
    {"torch", "Size", Global::kTorchSize},
    {"torch", "Tensor", Global::kTensorType},
    {"torch.nn.parameter", "Parameter", Global::kTensorType},
    {"builtins", "set", Global::kSet},
    {"__builtin__", "set", Global::kSet},
    {"builtins", "frozenset", Global::kFrozenSet},
    {"__builtin__", "frozenset", Global::kFrozenSet},
    // Inert value types found in training checkpoints next to the weights (counters, args,
    // metrics). They are never called: REDUCE/NEWOBJ on them yields an opaque placeholder.
    {"torch", "device", Global::kInertType},
    {"argparse", "Namespace", Global::kInertType},
    {"numpy", "dtype", Global::kInertType},
    {"numpy", "ndarray", Global::kInertType},
    {"numpy.core.multiarray", "scalar", Global::kInertType},
    {"numpy.core.multiarray", "_reconstruct", Global::kInertType},
    {"numpy._core.multiarray", "scalar", Global::kInertType},
    {"numpy._core.multiarray", "_reconstruct", Global::kInertType},
};

struct StorageSpec {
  const char* name;
  c10::ScalarType dtype;
  uint64_t itemsize;
};

const StorageSpec kStorages[] = {
    {"DoubleStorage", c10::ScalarType::Double, 8},   {"FloatStorage", c10::ScalarType::Float, 4},
    {"HalfStorage", c10::ScalarType::Half, 2},       {"BFloat16Storage", c10::ScalarType::BFloat16, 2},
    {"LongStorage", c10::ScalarType::Long, 8},       {"IntStorage", c10::ScalarType::Int, 4},
    {"ShortStorage", c10::ScalarType::Short, 2},     {"CharStorage", c10::ScalarType::Char, 1},
    {"ByteStorage", c10::ScalarType::Byte, 1},       {"BoolStorage", c10::ScalarType::Bool, 1},
    {"ComplexFloatStorage", c10::ScalarType::ComplexFloat, 8},
    {"ComplexDoubleStorage", c10::ScalarType::ComplexDouble, 16},
    {"UntypedStorage", c10::ScalarType::Byte, 1},
};

struct DTypeSpec {
  const char* name;
  c10::ScalarType dtype;
};

const DTypeSpec kDTypes[] = {
    {"float32", c10::ScalarType::Float},   {"float", c10::ScalarType::Float},
    {"float64", c10::ScalarType::Double},  {"double", c10::ScalarType::Double},
    {"float16", c10::ScalarType::Half},    {"half", c10::ScalarType::Half},
    {"bfloat16", c10::ScalarType::BFloat16}, {"int64", c10::ScalarType::Long},
    {"long", c10::ScalarType::Long},       {"int32", c10::ScalarType::Int},
    {"int", c10::ScalarType::Int},         {"int16", c10::ScalarType::Short},
    {"short", c10::ScalarType::Short},     {"int8", c10::ScalarType::Char},
    {"uint8", c10::ScalarType::Byte},      {"bool", c10::ScalarType::Bool},
    {"complex64", c10::ScalarType::ComplexFloat}, {"cfloat", c10::ScalarType::ComplexFloat},
    {"complex128", c10::ScalarType::ComplexDouble}, {"cdouble", c10::ScalarType::ComplexDouble},
};

// Far above real checkpoints (SAM 2.1-L's data.pkl builds ~10^4 objects, a REN checkpoint with
// its optimizer state ~10^4) and far below what would exhaust memory (~300 bytes per object).
constexpr size_t kMaxObjects = size_t{4} << 20;

class Unpickler {
 public:
  Unpickler(std::string_view data, PickleArena* arena, const std::string& source)
      : p_(reinterpret_cast<const uint8_t*>(data.data())), end_(p_ + data.size()), arena_(arena), source_(source) {}

  Result<PyObject*> Run();

 private:
  Status Error(const std::string& what) const {
    return Status::Corruption(StrCat(source_, ": ", what, " (at byte ", pos(), ")"));
  }
  uint64_t pos() const { return static_cast<uint64_t>(op_start_ - start()); }
  const uint8_t* start() const { return end_ - total_; }

  Status Need(uint64_t n) const {
    if (static_cast<uint64_t>(end_ - p_) < n) return Error(StrCat("truncated pickle: needs ", n, " more bytes"));
    return Status::OK();
  }
  Status ReadLine(std::string* out) {
    const void* nl = std::memchr(p_, '\n', static_cast<size_t>(end_ - p_));
    if (nl == nullptr) return Error("truncated pickle: unterminated text argument");
    const uint8_t* e = static_cast<const uint8_t*>(nl);
    out->assign(reinterpret_cast<const char*>(p_), static_cast<size_t>(e - p_));
    p_ = e + 1;
    return Status::OK();
  }
  Status Pop(PyObject** out) {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) return Error("pickle stack underflow");
    *out = stack_.back();
    stack_.pop_back();
    return Status::OK();
  }
  Status Top(PyObject** out) {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) return Error("pickle stack underflow");
    *out = stack_.back();
    return Status::OK();
  }
  // Pops everything above the topmost mark (and the mark).
  Status PopMark(std::vector<PyObject*>* out) {
    if (marks_.empty()) return Error("pickle MARK missing");
    const size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) return Error("pickle MARK beyond the stack");
    out->assign(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return Status::OK();
  }
  PyObject* Make(PyKind k) { return arena_->New(k); }
  PyObject* MakeInt(int64_t v) {
    PyObject* o = Make(PyKind::kInt);
    o->i = v;
    return o;
  }
  PyObject* MakeTuple(std::vector<PyObject*> items) {
    PyObject* o = Make(PyKind::kTuple);
    o->items = std::move(items);
    return o;
  }
  Status PushString(uint64_t n, PyKind kind) {
    VQ2D_RETURN_IF_ERROR(Need(n));
    PyObject* o = Make(kind);
    o->str.assign(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    stack_.push_back(o);
    return Status::OK();
  }
  Status Get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) return Error(StrCat("pickle memo key ", idx, " was never stored"));
    stack_.push_back(it->second);
    return Status::OK();
  }
  Status Put(uint64_t idx) {
    PyObject* o = nullptr;
    VQ2D_RETURN_IF_ERROR(Top(&o));
    memo_[idx] = o;
    return Status::OK();
  }
  Status Charge(uint64_t n) {
    copied_ += n;
    if (copied_ > copy_budget_) return Error("pickle copies containers excessively; refusing (not a checkpoint?)");
    return Status::OK();
  }
  Status ResolveGlobal(const std::string& module, const std::string& name);
  Status SetItem(PyObject* dict, PyObject* key, PyObject* value);
  Status Reduce(PyObject* callable, PyObject* args, PyObject** out);
  Status RebuildTensor(Global kind, const std::vector<PyObject*>& args, PyObject** out);
  Status PersistentLoad(PyObject* pid, PyObject** out);

  const uint8_t* p_;
  const uint8_t* end_;
  const uint8_t* op_start_ = nullptr;
  uint64_t total_ = static_cast<uint64_t>(end_ - p_);
  PickleArena* arena_;
  std::string source_;
  std::vector<PyObject*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyObject*> memo_;
  // Resource limits against amplification: a few opcodes can copy a huge container again and
  // again (set(l), torch.Size(l), OrderedDict(l)), and every object costs a few hundred bytes.
  uint64_t copied_ = 0;
  uint64_t copy_budget_ = 16 * total_ + (uint64_t{1} << 20);
};

bool ParseInt64(const std::string& s, int64_t* out, int base = 10) {
  if (s.empty()) return false;
  errno = 0;
  char* e = nullptr;
  long long v = std::strtoll(s.c_str(), &e, base);
  if (errno != 0 || e != s.c_str() + s.size()) return false;
  *out = v;
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Python's int(text, 0) (PyLong_FromString with base 0, which the C unpickler uses for the text
// INT and LONG opcodes): optional surrounding whitespace and sign, then 0x/0o/0b digits or a
// decimal without leading zeros, single underscores between digits. kBig: valid but beyond int64.
enum class PyIntText { kInvalid, kValue, kBig };
PyIntText ParsePythonInt(const std::string& text, int64_t* out) {
  size_t b = 0, e = text.size();
  while (b < e && IsSpace(text[b])) ++b;
  while (e > b && IsSpace(text[e - 1])) --e;
  std::string s = text.substr(b, e - b);
  bool negative = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  int base = 10;
  if (s.size() - i >= 2 && s[i] == '0' && std::strchr("xXoObB", s[i + 1]) != nullptr) {
    base = (s[i + 1] == 'x' || s[i + 1] == 'X') ? 16 : (s[i + 1] == 'o' || s[i + 1] == 'O') ? 8 : 2;
    i += 2;
    if (i < s.size() && s[i] == '_') ++i;  // 0x_ff is allowed
  }
  std::string digits;
  bool last_underscore = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') {
      if (last_underscore || digits.empty()) return PyIntText::kInvalid;
      last_underscore = true;
      continue;
    }
    const int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : 99;
    if (d >= base) return PyIntText::kInvalid;
    digits.push_back(c);
    last_underscore = false;
  }
  if (digits.empty() || last_underscore) return PyIntText::kInvalid;
  // Base-0 decimals cannot have leading zeros ("010"), except all zeros ("00").
  if (base == 10 && digits[0] == '0' && digits.find_first_not_of('0') != std::string::npos) return PyIntText::kInvalid;
  int64_t v = 0;
  if (!ParseInt64((negative ? "-" : "") + digits, &v, base)) return PyIntText::kBig;
  *out = v;
  return PyIntText::kValue;
}

// Python's float() of the FLOAT opcode's text (PyOS_string_to_double, as the C unpickler calls it):
// decimal or inf/infinity/nan (any case, optional sign), no surrounding whitespace, no hex, and an
// overflow to infinity is an error.
bool ParsePythonFloat(const std::string& s, double* out) {
  if (s.empty() || IsSpace(s[0])) return false;
  std::string lower;
  for (char c : s) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  const size_t sign = (lower[0] == '+' || lower[0] == '-') ? 1 : 0;
  const std::string word = lower.substr(sign);
  const double sgn = lower[0] == '-' ? -1.0 : 1.0;
  if (word == "inf" || word == "infinity") return *out = sgn * std::numeric_limits<double>::infinity(), true;
  if (word == "nan") return *out = std::numeric_limits<double>::quiet_NaN(), true;
  if (word.find_first_not_of("0123456789.e+-") != std::string::npos) return false;  // hex, nan(...), junk
  errno = 0;
  char* e = nullptr;
  const double v = std::strtod(s.c_str(), &e);
  if (e != s.c_str() + s.size()) return false;
  if (errno == ERANGE && std::isinf(v)) return false;
  *out = v;
  return true;
}

// torch.load's registered restore locations (torch/serialization.py: cpu, cuda[:N], mps, meta).
bool IsKnownStorageLocation(const std::string& loc) {
  if (loc == "cpu" || loc == "cuda" || loc == "mps" || loc == "meta") return true;
  for (const std::string prefix : {"cuda:", "mps:"}) {
    if (loc.compare(0, prefix.size(), prefix) == 0 && loc.size() > prefix.size() &&
        loc.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
      return true;
  }
  return false;
}

Status Unpickler::ResolveGlobal(const std::string& module, const std::string& name) {
  PyObject* g = Make(PyKind::kGlobal);
  g->str = module + "." + name;
  if (module == "torch") {
    for (const auto& s : kStorages) {
      if (name == s.name) {
        g->global = Global::kStorageType;
        g->dtype = s.dtype;
        g->itemsize = s.itemsize;
        stack_.push_back(g);
        return Status::OK();
      }
    }
    for (const auto& d : kDTypes) {
      if (name == d.name) {
        PyObject* dt = Make(PyKind::kDType);
        dt->str = g->str;
        dt->dtype = d.dtype;
        stack_.push_back(dt);
        return Status::OK();
      }
    }
  }
  for (const auto& s : kGlobals) {
    if (module == s.module && name == s.name) {
      g->global = s.kind;
      stack_.push_back(g);
      return Status::OK();
    }
  }
  return Status::InvalidArgument(StrCat("refusing to load global '", module, ".", name, "' from ", source_,
                                        ": only tensor and container types are allowed (loading never executes code)"));
}

// The key Python would hash for the types that appear as dict keys in checkpoints.
bool HashKey(const PyObject* k, std::string* out) {
  switch (k->kind) {
    case PyKind::kString: *out = "s" + k->str; return true;
    case PyKind::kBytes: *out = "b" + k->str; return true;
    case PyKind::kInt: *out = "i" + std::to_string(k->i); return true;
    case PyKind::kBool: *out = k->b ? "i1" : "i0"; return true;
    case PyKind::kNone: *out = "n"; return true;
    case PyKind::kFloat:
      if (std::isfinite(k->f) && k->f == std::floor(k->f) && std::fabs(k->f) < 9e18) {
        *out = "i" + std::to_string(static_cast<int64_t>(k->f));
      } else {
        *out = "f" + std::to_string(k->f);
      }
      return true;
    default: return false;
  }
}

Status Unpickler::SetItem(PyObject* dict, PyObject* key, PyObject* value) {
  if (dict->kind != PyKind::kDict) return Error(StrCat("SETITEM on a ", PyTypeName(dict), ", not a dict"));
  if (key->kind == PyKind::kList || key->kind == PyKind::kDict || key->kind == PyKind::kSet) {
    return Error(StrCat("unhashable type '", PyTypeName(key), "' as a dict key"));
  }
  std::string h;
  if (HashKey(key, &h)) {
    auto it = dict->dict_index.find(h);
    if (it != dict->dict_index.end()) {
      dict->dict[it->second].second = value;
      return Status::OK();
    }
    dict->dict_index.emplace(h, dict->dict.size());
  }
  dict->dict.emplace_back(key, value);
  return Status::OK();
}

Status Unpickler::PersistentLoad(PyObject* pid, PyObject** out) {
  // torch.save: ('storage', <storage type>, key: str, location: str, numel: int)
  if (pid->kind != PyKind::kTuple || pid->items.size() != 5 || pid->items[0]->kind != PyKind::kString ||
      pid->items[0]->str != "storage") {
    return Error("persistent id is not a ('storage', type, key, location, numel) tuple");
  }
  PyObject* type = pid->items[1];
  PyObject* key = pid->items[2];
  PyObject* loc = pid->items[3];
  PyObject* numel = pid->items[4];
  if (type->kind != PyKind::kGlobal || type->global != Global::kStorageType) return Error("persistent id has no storage type");
  if (key->kind != PyKind::kString || key->str.empty() || key->str.find('/') != std::string::npos) {
    return Error("persistent id has an invalid storage key");
  }
  if (loc->kind != PyKind::kString) return Error("persistent id has no location string");
  if (!IsKnownStorageLocation(loc->str)) {
    return Error(StrCat("storage '", key->str, "' has location '", loc->str.substr(0, 40),
                        "', which torch.load cannot restore (known: cpu, cuda[:N], mps, meta)"));
  }
  if (numel->kind != PyKind::kInt || numel->i < 0) return Error("persistent id has an invalid element count");
  PyObject* s = Make(PyKind::kStorage);
  s->str = type->str;
  s->dtype = type->dtype;
  s->itemsize = type->itemsize;
  s->storage_key = key->str;
  s->location = loc->str;
  s->numel = numel->i;
  *out = s;
  return Status::OK();
}

Status ReadIntTuple(const PyObject* t, std::vector<int64_t>* out) {
  if (t->kind != PyKind::kTuple && t->kind != PyKind::kList) return Status::Corruption("not a tuple");
  out->clear();
  for (const PyObject* x : t->items) {
    if (x->kind != PyKind::kInt) return Status::Corruption("not an int");
    out->push_back(x->i);
  }
  return Status::OK();
}

Status Unpickler::RebuildTensor(Global kind, const std::vector<PyObject*>& a, PyObject** out) {
  const bool v3 = kind == Global::kRebuildTensorV3;
  if (a.size() < (v3 ? 7u : 4u)) return Error("_rebuild_tensor called with too few arguments");
  if (a[0]->kind != PyKind::kStorage) return Error("_rebuild_tensor: first argument is not a storage");
  if (a[1]->kind != PyKind::kInt || a[1]->i < 0) return Error("_rebuild_tensor: invalid storage offset");
  PyObject* t = Make(PyKind::kTensor);
  t->storage = a[0];
  t->storage_offset = a[1]->i;
  if (!ReadIntTuple(a[2], &t->size).ok() || !ReadIntTuple(a[3], &t->stride).ok() || t->size.size() != t->stride.size()) {
    return Error("_rebuild_tensor: size/stride are not int tuples of equal length");
  }
  t->dtype = a[0]->dtype;
  t->itemsize = a[0]->itemsize;
  if (v3) {
    if (a[6]->kind != PyKind::kDType) return Error("_rebuild_tensor_v3: argument 7 is not a torch dtype");
    t->dtype = a[6]->dtype;
    t->itemsize = c10::elementSize(t->dtype);
  }
  *out = t;
  return Status::OK();
}

Status Unpickler::Reduce(PyObject* callable, PyObject* args, PyObject** out) {
  if (callable->kind != PyKind::kGlobal) return Error(StrCat("cannot call a ", PyTypeName(callable)));
  if (args->kind != PyKind::kTuple) return Error(StrCat("arguments of ", callable->str, " are not a tuple"));
  const auto& a = args->items;
  switch (callable->global) {
    case Global::kOrderedDict: {
      PyObject* d = Make(PyKind::kDict);
      d->ordered_dict = true;
      if (!a.empty()) {  // OrderedDict([(k, v), ...])
        if (a[0]->kind != PyKind::kList && a[0]->kind != PyKind::kTuple) return Error("OrderedDict argument is not a list");
        VQ2D_RETURN_IF_ERROR(Charge(a[0]->items.size()));
        for (PyObject* kv : a[0]->items) {
          if ((kv->kind != PyKind::kTuple && kv->kind != PyKind::kList) || kv->items.size() != 2) {
            return Error("OrderedDict item is not a pair");
          }
          VQ2D_RETURN_IF_ERROR(SetItem(d, kv->items[0], kv->items[1]));
        }
      }
      *out = d;
      return Status::OK();
    }
    case Global::kRebuildTensorV2:
    case Global::kRebuildTensorV3:
      return RebuildTensor(callable->global, a, out);
    case Global::kRebuildParameter:
    case Global::kRebuildParameterWithState:
      if (a.empty() || a[0]->kind != PyKind::kTensor) return Error(StrCat(callable->str, ": first argument is not a tensor"));
      *out = a[0];
      return Status::OK();
    case Global::kRebuildFromTypeV2: {
      // (func, new_type, args, state): only tensor rebuild functions and tensor types are allowed.
      if (a.size() < 3 || a[0]->kind != PyKind::kGlobal || a[1]->kind != PyKind::kGlobal ||
          a[1]->global != Global::kTensorType) {
        return Error("_rebuild_from_type_v2 with unsupported arguments");
      }
      const Global g = a[0]->global;
      if (g != Global::kRebuildTensorV2 && g != Global::kRebuildTensorV3 && g != Global::kRebuildParameter &&
          g != Global::kRebuildParameterWithState) {
        return Error(StrCat("_rebuild_from_type_v2 of ", a[0]->str, " is not supported"));
      }
      return Reduce(a[0], a[2], out);
    }
    case Global::kTorchSize:
      if (a.size() != 1 || (a[0]->kind != PyKind::kTuple && a[0]->kind != PyKind::kList)) return Error("torch.Size(...) needs a tuple");
      VQ2D_RETURN_IF_ERROR(Charge(a[0]->items.size()));
      *out = MakeTuple(a[0]->items);
      return Status::OK();
    case Global::kSet:
    case Global::kFrozenSet: {
      PyObject* s = Make(PyKind::kSet);
      if (!a.empty()) {
        if (a[0]->kind != PyKind::kList && a[0]->kind != PyKind::kTuple && a[0]->kind != PyKind::kSet) {
          return Error("set(...) argument is not a sequence");
        }
        VQ2D_RETURN_IF_ERROR(Charge(a[0]->items.size()));
        s->items = a[0]->items;
      }
      *out = s;
      return Status::OK();
    }
    case Global::kInertType:
    case Global::kTensorType: {
      PyObject* o = Make(PyKind::kOpaque);
      o->str = callable->str;
      *out = o;
      return Status::OK();
    }
    default:
      return Error(StrCat("cannot call ", callable->str));
  }
}

Result<PyObject*> Unpickler::Run() {
  while (true) {
    op_start_ = p_;
    if (arena_->size() > kMaxObjects) {
      return Error(StrCat("pickle builds more than ", kMaxObjects, " objects; refusing (not a checkpoint?)"));
    }
    if (p_ >= end_) return Error("truncated pickle: no STOP opcode");
    const uint8_t op = *p_++;
    switch (op) {
      case 0x80: {  // PROTO
        VQ2D_RETURN_IF_ERROR(Need(1));
        const uint8_t proto = *p_++;
        if (proto > 5) return Error(StrCat("unsupported pickle protocol ", int(proto)));
        break;
      }
      case 0x95: {  // FRAME (a hint for buffered readers, but the frame must be there, as in Python)
        VQ2D_RETURN_IF_ERROR(Need(8));
        const uint64_t frame = ReadLE64(p_);
        p_ += 8;
        if (frame > static_cast<uint64_t>(end_ - p_)) {
          return Error(StrCat("FRAME of ", frame, " bytes exceeds the ", end_ - p_, " bytes left (truncated or corrupt pickle)"));
        }
        break;
      }
      case '.': {  // STOP
        PyObject* r = nullptr;
        VQ2D_RETURN_IF_ERROR(Pop(&r));
        return r;
      }
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case '0': {  // POP
        if (!marks_.empty() && marks_.back() == stack_.size()) {
          marks_.pop_back();  // Python pops the mark when the top of the stack is one
        } else {
          PyObject* x = nullptr;
          VQ2D_RETURN_IF_ERROR(Pop(&x));
        }
        break;
      }
      case '1': {  // POP_MARK
        std::vector<PyObject*> dropped;
        VQ2D_RETURN_IF_ERROR(PopMark(&dropped));
        break;
      }
      case '2': {  // DUP
        PyObject* x = nullptr;
        VQ2D_RETURN_IF_ERROR(Top(&x));
        stack_.push_back(x);
        break;
      }
      case 'N': stack_.push_back(Make(PyKind::kNone)); break;
      case 0x88:
      case 0x89: {  // NEWTRUE / NEWFALSE
        PyObject* o = Make(PyKind::kBool);
        o->b = op == 0x88;
        stack_.push_back(o);
        break;
      }
      case 'J': {  // BININT
        VQ2D_RETURN_IF_ERROR(Need(4));
        stack_.push_back(MakeInt(static_cast<int32_t>(ReadLE32(p_))));
        p_ += 4;
        break;
      }
      case 'K':  // BININT1
        VQ2D_RETURN_IF_ERROR(Need(1));
        stack_.push_back(MakeInt(*p_++));
        break;
      case 'M':  // BININT2
        VQ2D_RETURN_IF_ERROR(Need(2));
        stack_.push_back(MakeInt(ReadLE16(p_)));
        p_ += 2;
        break;
      case 0x8a:    // LONG1
      case 0x8b: {  // LONG4
        uint64_t n;
        if (op == 0x8a) {
          VQ2D_RETURN_IF_ERROR(Need(1));
          n = *p_++;
        } else {
          VQ2D_RETURN_IF_ERROR(Need(4));
          n = ReadLE32(p_);
          p_ += 4;
        }
        VQ2D_RETURN_IF_ERROR(Need(n));
        if (n <= 8) {
          uint64_t v = 0;
          for (uint64_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(p_[k]) << (8 * k);
          if (n > 0 && n < 8 && (p_[n - 1] & 0x80)) v |= ~0ull << (8 * n);  // sign-extend
          stack_.push_back(MakeInt(static_cast<int64_t>(v)));
        } else {
          stack_.push_back(Make(PyKind::kBigInt));
        }
        p_ += n;
        break;
      }
      case 'I':    // INT (text; "01"/"00" are True/False)
      case 'L': {  // LONG (text, trailing 'L')
        std::string s;
        VQ2D_RETURN_IF_ERROR(ReadLine(&s));
        if (op == 'I' && (s == "01" || s == "00")) {
          PyObject* o = Make(PyKind::kBool);
          o->b = s == "01";
          stack_.push_back(o);
          break;
        }
        if (op == 'L' && !s.empty() && s.back() == 'L') s.pop_back();
        int64_t v = 0;
        // INT: the C unpickler tries strtol(s, 0) first ("010" is 8), then Python's int syntax.
        PyIntText kind = op == 'I' && ParseInt64(s, &v, 0) ? PyIntText::kValue : ParsePythonInt(s, &v);
        if (kind == PyIntText::kInvalid) {
          return Error(StrCat(op == 'I' ? "INT" : "LONG", " opcode with '", s.substr(0, 40), "', which is not an integer"));
        }
        stack_.push_back(kind == PyIntText::kValue ? MakeInt(v) : Make(PyKind::kBigInt));
        break;
      }
      case 'G': {  // BINFLOAT (big-endian double)
        VQ2D_RETURN_IF_ERROR(Need(8));
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | p_[k];
        p_ += 8;
        PyObject* o = Make(PyKind::kFloat);
        std::memcpy(&o->f, &bits, 8);
        stack_.push_back(o);
        break;
      }
      case 'F': {  // FLOAT (text)
        std::string s;
        VQ2D_RETURN_IF_ERROR(ReadLine(&s));
        double v = 0;
        if (!ParsePythonFloat(s, &v)) {
          return Error(StrCat("FLOAT opcode with '", s.substr(0, 40), "', which is not a float (or overflows)"));
        }
        PyObject* o = Make(PyKind::kFloat);
        o->f = v;
        stack_.push_back(o);
        break;
      }
      case 'X':  // BINUNICODE
      case 'T':  // BINSTRING (py2 str)
      case 'B':  // BINBYTES
      {
        VQ2D_RETURN_IF_ERROR(Need(4));
        const uint64_t n = ReadLE32(p_);
        p_ += 4;
        VQ2D_RETURN_IF_ERROR(PushString(n, op == 'B' ? PyKind::kBytes : PyKind::kString));
        break;
      }
      case 0x8c:  // SHORT_BINUNICODE
      case 'U':   // SHORT_BINSTRING
      case 'C':   // SHORT_BINBYTES
      {
        VQ2D_RETURN_IF_ERROR(Need(1));
        const uint64_t n = *p_++;
        VQ2D_RETURN_IF_ERROR(PushString(n, op == 'C' ? PyKind::kBytes : PyKind::kString));
        break;
      }
      case 0x8d:  // BINUNICODE8
      case 0x8e:  // BINBYTES8
      case 0x96:  // BYTEARRAY8
      {
        VQ2D_RETURN_IF_ERROR(Need(8));
        const uint64_t n = ReadLE64(p_);
        p_ += 8;
        VQ2D_RETURN_IF_ERROR(PushString(n, op == 0x8d ? PyKind::kString : PyKind::kBytes));
        break;
      }
      case '}': {  // EMPTY_DICT
        stack_.push_back(Make(PyKind::kDict));
        break;
      }
      case 'd': {  // DICT
        std::vector<PyObject*> items;
        VQ2D_RETURN_IF_ERROR(PopMark(&items));
        if (items.size() % 2) return Error("DICT with an odd number of items");
        PyObject* d = Make(PyKind::kDict);
        for (size_t k = 0; k < items.size(); k += 2) VQ2D_RETURN_IF_ERROR(SetItem(d, items[k], items[k + 1]));
        stack_.push_back(d);
        break;
      }
      case ']': stack_.push_back(Make(PyKind::kList)); break;
      case 'l': {  // LIST
        std::vector<PyObject*> items;
        VQ2D_RETURN_IF_ERROR(PopMark(&items));
        PyObject* o = Make(PyKind::kList);
        o->items = std::move(items);
        stack_.push_back(o);
        break;
      }
      case ')': stack_.push_back(MakeTuple({})); break;
      case 't': {  // TUPLE
        std::vector<PyObject*> items;
        VQ2D_RETURN_IF_ERROR(PopMark(&items));
        stack_.push_back(MakeTuple(std::move(items)));
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t n = op - 0x84;
        std::vector<PyObject*> items(n);
        for (size_t k = n; k-- > 0;) VQ2D_RETURN_IF_ERROR(Pop(&items[k]));
        stack_.push_back(MakeTuple(std::move(items)));
        break;
      }
      case 0x8f: stack_.push_back(Make(PyKind::kSet)); break;  // EMPTY_SET
      case 0x90: {  // ADDITEMS
        std::vector<PyObject*> items;
        VQ2D_RETURN_IF_ERROR(PopMark(&items));
        PyObject* s = nullptr;
        VQ2D_RETURN_IF_ERROR(Top(&s));
        if (s->kind != PyKind::kSet) return Error("ADDITEMS on a non-set");
        s->items.insert(s->items.end(), items.begin(), items.end());
        break;
      }
      case 0x91: {  // FROZENSET
        std::vector<PyObject*> items;
        VQ2D_RETURN_IF_ERROR(PopMark(&items));
        PyObject* s = Make(PyKind::kSet);
        s->items = std::move(items);
        stack_.push_back(s);
        break;
      }
      case 'a': {  // APPEND
        PyObject* v = nullptr;
        PyObject* l = nullptr;
        VQ2D_RETURN_IF_ERROR(Pop(&v));
        VQ2D_RETURN_IF_ERROR(Top(&l));
        if (l->kind != PyKind::kList) return Error(StrCat("APPEND to a ", PyTypeName(l)));
        l->items.push_back(v);
        break;
      }
      case 'e': {  // APPENDS
        std::vector<PyObject*> items;
        VQ2D_RETURN_IF_ERROR(PopMark(&items));
        PyObject* l = nullptr;
        VQ2D_RETURN_IF_ERROR(Top(&l));
        if (l->kind != PyKind::kList) return Error(StrCat("APPENDS to a ", PyTypeName(l)));
        l->items.insert(l->items.end(), items.begin(), items.end());
        break;
      }
      case 's': {  // SETITEM
        PyObject* v = nullptr;
        PyObject* k = nullptr;
        PyObject* d = nullptr;
        VQ2D_RETURN_IF_ERROR(Pop(&v));
        VQ2D_RETURN_IF_ERROR(Pop(&k));
        VQ2D_RETURN_IF_ERROR(Top(&d));
        VQ2D_RETURN_IF_ERROR(SetItem(d, k, v));
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<PyObject*> items;
        VQ2D_RETURN_IF_ERROR(PopMark(&items));
        if (items.size() % 2) return Error("SETITEMS with an odd number of items");
        PyObject* d = nullptr;
        VQ2D_RETURN_IF_ERROR(Top(&d));
        for (size_t k = 0; k < items.size(); k += 2) VQ2D_RETURN_IF_ERROR(SetItem(d, items[k], items[k + 1]));
        break;
      }
      case 'q':  // BINPUT
        VQ2D_RETURN_IF_ERROR(Need(1));
        VQ2D_RETURN_IF_ERROR(Put(*p_++));
        break;
      case 'r': {  // LONG_BINPUT
        VQ2D_RETURN_IF_ERROR(Need(4));
        const uint64_t idx = ReadLE32(p_);
        p_ += 4;
        VQ2D_RETURN_IF_ERROR(Put(idx));
        break;
      }
      case 0x94:  // MEMOIZE
        VQ2D_RETURN_IF_ERROR(Put(memo_.size()));
        break;
      case 'p': {  // PUT (text)
        std::string s;
        int64_t idx;
        VQ2D_RETURN_IF_ERROR(ReadLine(&s));
        if (!ParseInt64(s, &idx) || idx < 0) return Error("bad PUT index");
        VQ2D_RETURN_IF_ERROR(Put(static_cast<uint64_t>(idx)));
        break;
      }
      case 'h':  // BINGET
        VQ2D_RETURN_IF_ERROR(Need(1));
        VQ2D_RETURN_IF_ERROR(Get(*p_++));
        break;
      case 'j': {  // LONG_BINGET
        VQ2D_RETURN_IF_ERROR(Need(4));
        const uint64_t idx = ReadLE32(p_);
        p_ += 4;
        VQ2D_RETURN_IF_ERROR(Get(idx));
        break;
      }
      case 'g': {  // GET (text)
        std::string s;
        int64_t idx;
        VQ2D_RETURN_IF_ERROR(ReadLine(&s));
        if (!ParseInt64(s, &idx) || idx < 0) return Error("bad GET index");
        VQ2D_RETURN_IF_ERROR(Get(static_cast<uint64_t>(idx)));
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module, name;
        VQ2D_RETURN_IF_ERROR(ReadLine(&module));
        VQ2D_RETURN_IF_ERROR(ReadLine(&name));
        VQ2D_RETURN_IF_ERROR(ResolveGlobal(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PyObject* name = nullptr;
        PyObject* module = nullptr;
        VQ2D_RETURN_IF_ERROR(Pop(&name));
        VQ2D_RETURN_IF_ERROR(Pop(&module));
        if (module->kind != PyKind::kString || name->kind != PyKind::kString) return Error("STACK_GLOBAL needs two strings");
        VQ2D_RETURN_IF_ERROR(ResolveGlobal(module->str, name->str));
        break;
      }
      case 'R': {  // REDUCE
        PyObject* args = nullptr;
        PyObject* callable = nullptr;
        PyObject* r = nullptr;
        VQ2D_RETURN_IF_ERROR(Pop(&args));
        VQ2D_RETURN_IF_ERROR(Pop(&callable));
        VQ2D_RETURN_IF_ERROR(Reduce(callable, args, &r));
        stack_.push_back(r);
        break;
      }
      case 0x81:    // NEWOBJ: cls.__new__(cls, *args)
      case 0x92: {  // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
        PyObject* kwargs = nullptr;
        PyObject* args = nullptr;
        PyObject* cls = nullptr;
        if (op == 0x92) VQ2D_RETURN_IF_ERROR(Pop(&kwargs));
        VQ2D_RETURN_IF_ERROR(Pop(&args));
        VQ2D_RETURN_IF_ERROR(Pop(&cls));
        if (cls->kind != PyKind::kGlobal) return Error(StrCat("NEWOBJ on a ", PyTypeName(cls)));
        PyObject* r = nullptr;
        if (cls->global == Global::kOrderedDict || cls->global == Global::kSet || cls->global == Global::kFrozenSet ||
            cls->global == Global::kInertType) {
          // __new__ makes an empty object; contents follow via SETITEMS / BUILD.
          VQ2D_RETURN_IF_ERROR(Reduce(cls, MakeTuple({}), &r));
        } else {
          return Error(StrCat("NEWOBJ of ", cls->str, " is not supported"));
        }
        stack_.push_back(r);
        break;
      }
      case 'b': {  // BUILD: obj.__setstate__(state) or obj.__dict__.update(state)
        PyObject* state = nullptr;
        PyObject* obj = nullptr;
        VQ2D_RETURN_IF_ERROR(Pop(&state));
        VQ2D_RETURN_IF_ERROR(Top(&obj));
        // OrderedDict state is its attribute dict ({'_metadata': ...}): not part of the items.
        if (obj->kind != PyKind::kDict && obj->kind != PyKind::kOpaque && obj->kind != PyKind::kTensor) {
          return Error(StrCat("BUILD on a ", PyTypeName(obj), " is not supported"));
        }
        break;
      }
      case 'Q': {  // BINPERSID
        PyObject* pid = nullptr;
        PyObject* r = nullptr;
        VQ2D_RETURN_IF_ERROR(Pop(&pid));
        VQ2D_RETURN_IF_ERROR(PersistentLoad(pid, &r));
        stack_.push_back(r);
        break;
      }
      case 'i':
      case 'o':
        return Error("INST/OBJ opcodes (protocol 0/1 class instantiation) are not allowed");
      case 0x82:
      case 0x83:
      case 0x84:
        return Error("EXT opcodes (copyreg extension registry) are not allowed");
      case 0x97:
      case 0x98:
        return Error("out-of-band buffers (protocol 5) are not supported");
      default:
        return Error(StrCat("unsupported pickle opcode 0x", "0123456789abcdef"[op >> 4], "0123456789abcdef"[op & 15]));
    }
  }
}

}  // namespace

Result<PyObject*> Unpickle(std::string_view data, PickleArena* arena, const std::string& source) {
  Unpickler u(data, arena, source);
  return u.Run();
}

std::string PyTypeName(const PyObject* o) {
  switch (o->kind) {
    case PyKind::kNone: return "None";
    case PyKind::kBool: return "bool";
    case PyKind::kInt:
    case PyKind::kBigInt: return "int";
    case PyKind::kFloat: return "float";
    case PyKind::kString: return "str";
    case PyKind::kBytes: return "bytes";
    case PyKind::kList: return "list";
    case PyKind::kTuple: return "tuple";
    case PyKind::kDict: return o->ordered_dict ? "OrderedDict" : "dict";
    case PyKind::kSet: return "set";
    case PyKind::kGlobal: return o->str;
    case PyKind::kStorage: return o->str;
    case PyKind::kTensor: return "Tensor";
    case PyKind::kDType: return o->str;
    case PyKind::kOpaque: return o->str;
  }
  return "object";
}

}  // namespace vq2d::checkpoint_internal
