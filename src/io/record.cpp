#include "vq2d/io/record.h"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>
#include <nlohmann/json.hpp>
#include <optional>

#include "vq2d/base/filesystem.h"
#include "vq2d/base/sha256.h"
#include "vq2d/version.h"

namespace vq2d::io {
namespace {

static_assert(sizeof(hid_t) == sizeof(int64_t), "hid_t must be 64-bit (HDF5 >= 1.10)");

void QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Closes an HDF5 id of any kind on scope exit.
struct Hid {
  hid_t id = -1;
  Hid() = default;
  explicit Hid(hid_t v) : id(v) {}
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  ~Hid() {
    if (id >= 0) {
      switch (H5Iget_type(id)) {
        case H5I_FILE: H5Fclose(id); break;
        case H5I_DATASET: H5Dclose(id); break;
        case H5I_DATASPACE: H5Sclose(id); break;
        case H5I_DATATYPE: H5Tclose(id); break;
        case H5I_ATTR: H5Aclose(id); break;
        case H5I_GENPROP_LST: H5Pclose(id); break;
        case H5I_GROUP: H5Gclose(id); break;
        default: break;
      }
    }
  }
  bool ok() const { return id >= 0; }
};

Status WriteStringAttr(hid_t obj, const char* name, const std::string& value) {
  Hid type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.id, std::max<size_t>(1, value.size()));
  H5Tset_strpad(type.id, H5T_STR_NULLPAD);
  H5Tset_cset(type.id, H5T_CSET_UTF8);
  Hid space(H5Screate(H5S_SCALAR));
  Hid attr(H5Acreate2(obj, name, type.id, space.id, H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.ok()) return Status::IOError(StrCat("cannot create attribute ", name));
  std::string buf = value.empty() ? std::string(1, '\0') : value;
  if (H5Awrite(attr.id, type.id, buf.data()) < 0) return Status::IOError(StrCat("cannot write attribute ", name));
  return Status::OK();
}

template <typename T>
Status WriteNumAttr(hid_t obj, const char* name, hid_t mem_type, const std::vector<T>& v) {
  hsize_t dims[1] = {v.size()};
  Hid space(v.size() == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, nullptr));
  Hid attr(H5Acreate2(obj, name, mem_type, space.id, H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.ok() || H5Awrite(attr.id, mem_type, v.data()) < 0) {
    return Status::IOError(StrCat("cannot write attribute ", name));
  }
  return Status::OK();
}

Result<std::string> ReadStringAttr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return Status::Corruption(StrCat("missing attribute '", name, "'"));
  Hid attr(H5Aopen(obj, name, H5P_DEFAULT));
  Hid ftype(H5Aget_type(attr.id));
  if (H5Tget_class(ftype.id) != H5T_STRING) return Status::Corruption(StrCat("attribute '", name, "' is not a string"));
  if (H5Tis_variable_str(ftype.id) > 0) return Status::Corruption(StrCat("attribute '", name, "' is a variable-length string"));
  const size_t n = H5Tget_size(ftype.id);
  Hid mtype(H5Tcopy(H5T_C_S1));
  H5Tset_size(mtype.id, n);
  H5Tset_strpad(mtype.id, H5T_STR_NULLPAD);
  H5Tset_cset(mtype.id, H5Tget_cset(ftype.id));
  std::string buf(n, '\0');
  if (H5Aread(attr.id, mtype.id, buf.data()) < 0) return Status::Corruption(StrCat("cannot read attribute '", name, "'"));
  buf.resize(std::strlen(buf.c_str()));
  return buf;
}

template <typename T>
Result<std::vector<T>> ReadNumAttr(hid_t obj, const char* name, hid_t mem_type, size_t expect) {
  if (H5Aexists(obj, name) <= 0) return Status::Corruption(StrCat("missing attribute '", name, "'"));
  Hid attr(H5Aopen(obj, name, H5P_DEFAULT));
  Hid space(H5Aget_space(attr.id));
  const hssize_t n = H5Sget_simple_extent_npoints(space.id);
  if (n != static_cast<hssize_t>(expect)) {
    return Status::Corruption(StrCat("attribute '", name, "' has ", n, " values, expected ", expect));
  }
  std::vector<T> v(expect);
  if (H5Aread(attr.id, mem_type, v.data()) < 0) return Status::Corruption(StrCat("cannot read attribute '", name, "'"));
  return v;
}

template <typename T>
Status Write1D(hid_t file, const char* name, hid_t file_type, hid_t mem_type, const std::vector<T>& v) {
  hsize_t dims[1] = {v.size()};
  Hid space(H5Screate_simple(1, dims, nullptr));
  Hid ds(H5Dcreate2(file, name, file_type, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.ok()) return Status::IOError(StrCat("cannot create dataset ", name));
  if (!v.empty() && H5Dwrite(ds.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0) {
    return Status::IOError(StrCat("cannot write dataset ", name));
  }
  return Status::OK();
}

template <typename T>
Result<std::vector<T>> Read1D(hid_t file, const char* name, hid_t mem_type, int64_t expect) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return Status::Corruption(StrCat("missing dataset '", name, "'"));
  Hid ds(H5Dopen2(file, name, H5P_DEFAULT));
  Hid space(H5Dget_space(ds.id));
  if (H5Sget_simple_extent_ndims(space.id) != 1 || H5Sget_simple_extent_npoints(space.id) != expect) {
    return Status::Corruption(StrCat("dataset '", name, "' is not a vector of ", expect, " values"));
  }
  std::vector<T> v(expect);
  if (expect > 0 && H5Dread(ds.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0) {
    return Status::Corruption(StrCat("cannot read dataset '", name, "'"));
  }
  return v;
}

nlohmann::ordered_json BoxJson(const AnnotationBox& b) {
  nlohmann::ordered_json j;
  j["frame_number"] = b.frame_number;
  j["x"] = b.x;
  j["y"] = b.y;
  j["width"] = b.width;
  j["height"] = b.height;
  j["rotation"] = b.rotation;
  if (b.original_width > 0) j["original_width"] = b.original_width;
  if (b.original_height > 0) j["original_height"] = b.original_height;
  if (b.video_frame_number >= 0) j["video_frame_number"] = b.video_frame_number;
  return j;
}

}  // namespace

std::string SingleClipAnnotationJson(const std::string& version, const Video& video, const Clip& clip) {
  using OJ = nlohmann::ordered_json;
  OJ c;
  c["clip_uid"] = clip.clip_uid ? OJ(*clip.clip_uid) : OJ(nullptr);
  if (clip.has_video_span) {
    c["video_start_sec"] = clip.video_start_sec;
    c["video_end_sec"] = clip.video_end_sec;
  }
  c["video_start_frame"] = clip.video_start_frame;
  c["video_end_frame"] = clip.video_end_frame;
  if (clip.has_clip_fps) c["clip_fps"] = clip.clip_fps;
  OJ anns = OJ::array();
  for (const auto& a : clip.annotations) {
    OJ aj;
    if (!a.annotation_uid.empty()) aj["annotation_uid"] = a.annotation_uid;
    OJ qs = OJ::object();
    for (const auto& q : a.query_sets) {
      OJ qj;
      qj["is_valid"] = q.is_valid;
      qj["query_frame"] = q.query_frame;
      qj["object_title"] = q.object_title;
      qj["visual_crop"] = BoxJson(q.visual_crop);
      if (q.has_response_track) {
        OJ rt = OJ::array();
        for (const auto& b : q.response_track) rt.push_back(BoxJson(b));
        qj["response_track"] = rt;
      }
      qs[q.id] = qj;
    }
    aj["query_sets"] = qs;
    anns.push_back(aj);
  }
  c["annotations"] = anns;
  OJ v;
  v["video_uid"] = video.video_uid;
  if (!video.split.empty()) v["split"] = video.split;
  v["clips"] = OJ::array({c});
  OJ root;
  root["version"] = version;
  root["videos"] = OJ::array({v});
  return root.dump();
}

namespace {

// ---- Integrity header (the HDF5 user block; see record.h) ------------------------------------

constexpr char kHeaderMagic[] = "vq2d-record-header\n";
constexpr int kHeaderVersion = 1;
constexpr char kHdf5Signature[] = "\x89HDF\r\n\x1a\n";

std::string RenderHeader(uint64_t length, const std::string& sha256_hex) {
  std::string h = StrCat(kHeaderMagic, "version ", kHeaderVersion, "\nlength ", length, "\nsha256 ", sha256_hex, "\n");
  h.resize(kRecordHeaderBytes, '\0');
  return h;
}

std::string ErrnoText() { return std::strerror(errno); }

// Reads exactly n bytes at `offset` (false on a short read or an error; errno tells which).
bool PreadAll(int fd, void* buf, size_t n, uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (got == 0) errno = EIO;
      return false;
    }
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

// SHA-256 of the bytes [from, to) of fd.
struct Fd {
  int fd = -1;
  explicit Fd(int v) : fd(v) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Fills the user block of the closed HDF5 file at `path` with the header.
Status WriteHeader(const std::string& path) {
  Fd f(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (f.fd < 0) return Status::IOError(StrCat("cannot open '", path, "' to write its header: ", ErrnoText()));
  struct stat st;
  if (::fstat(f.fd, &st) != 0) return Status::IOError(StrCat("cannot stat '", path, "': ", ErrnoText()));
  const auto length = static_cast<uint64_t>(st.st_size);
  if (length <= kRecordHeaderBytes) return Status::Internal(StrCat("record '", path, "': no HDF5 data after the user block"));
  VQ2D_ASSIGN_OR_RETURN(std::string sha, Sha256OfRange(f.fd, kRecordHeaderBytes, length, path));
  const std::string header = RenderHeader(length, sha);
  const char* p = header.data();
  for (size_t left = header.size(), at = 0; left > 0;) {
    const ssize_t n = ::pwrite(f.fd, p + at, left, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError(StrCat("cannot write the header of '", path, "': ", ErrnoText()));
    at += static_cast<size_t>(n);
    left -= static_cast<size_t>(n);
  }
  if (::close(f.fd) != 0) {
    f.fd = -1;
    return Status::IOError(StrCat("cannot close '", path, "': ", ErrnoText()));
  }
  f.fd = -1;
  return Status::OK();
}

// What to do about a record that fails verification (appended to every such message).
std::string Remedy(const std::string& path) {
  std::string uid = BaseName(path);
  if (uid.size() > 3 && uid.compare(uid.size() - 3, 3, ".h5") == 0) uid.resize(uid.size() - 3);
  return StrCat("; rerun `vq2d prepare` for clip ", uid,
                " (it rewrites records that fail this check), or set data.verify_record_checksums: false to read it "
                "unverified");
}

// Parses a decimal field of at most max_digits digits ending at '\n'; advances `at` past the '\n'.
bool ParseDecimal(const std::string& s, size_t& at, size_t max_digits, uint64_t& out) {
  out = 0;
  size_t digits = 0;
  while (at < s.size() && s[at] >= '0' && s[at] <= '9' && digits < max_digits) {
    out = out * 10 + static_cast<uint64_t>(s[at] - '0');
    ++at;
    ++digits;
  }
  if (digits == 0 || at >= s.size() || s[at] != '\n') return false;
  ++at;
  return true;
}

bool Consume(const std::string& s, size_t& at, std::string_view lit) {
  if (s.compare(at, lit.size(), lit.data(), lit.size()) != 0) return false;
  at += lit.size();
  return true;
}

// The identity of an open file (device, inode).
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId& o) const { return dev == o.dev && ino == o.ino; }
};

// Verifies the header of the record at `path` against its bytes, with plain reads (libhdf5 sees none
// of them). Returns the identity of the file verified.
Result<FileId> VerifyRecordFile(const std::string& path) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) {
    const int err = errno;
    const std::string msg = StrCat("record '", path, "': cannot open: ", std::strerror(err));
    return err == ENOENT ? Status::NotFound(msg) : Status::IOError(msg);
  }
  struct stat st;
  if (::fstat(f.fd, &st) != 0) return Status::IOError(StrCat("record '", path, "': cannot stat: ", ErrnoText()));
  if (!S_ISREG(st.st_mode)) return Status::Corruption(StrCat("record '", path, "' is not a regular file"));
  const auto length = static_cast<uint64_t>(st.st_size);
  std::string head(static_cast<size_t>(std::min<uint64_t>(length, kRecordHeaderBytes)), '\0');
  if (!PreadAll(f.fd, head.data(), head.size(), 0)) {
    return Status::IOError(StrCat("record '", path, "': cannot read: ", ErrnoText()));
  }
  if (head.compare(0, sizeof(kHdf5Signature) - 1, kHdf5Signature) == 0) {
    return Status::FailedPrecondition(
        StrCat("record '", path, "' has no integrity header (written by a vq2d before record headers existed); "
               "it is not opened unverified",
               Remedy(path)));
  }
  size_t at = 0;
  if (!Consume(head, at, kHeaderMagic) || !Consume(head, at, "version ")) {
    return Status::Corruption(StrCat("record '", path, "' (", length,
                                     " bytes) does not start with a vq2d record header: it is damaged or not a record",
                                     Remedy(path)));
  }
  uint64_t version = 0, want_length = 0;
  if (!ParseDecimal(head, at, 9, version)) {
    return Status::Corruption(StrCat("record '", path, "': damaged header (version line)", Remedy(path)));
  }
  if (version != static_cast<uint64_t>(kHeaderVersion)) {
    return Status::FailedPrecondition(StrCat("record '", path, "': header version ", version, ", this build reads ",
                                             kHeaderVersion, Remedy(path)));
  }
  if (!Consume(head, at, "length ") || !ParseDecimal(head, at, 19, want_length) || !Consume(head, at, "sha256 ") ||
      head.size() < at + 64) {
    return Status::Corruption(StrCat("record '", path, "': damaged header (length / sha256 lines)", Remedy(path)));
  }
  const std::string want_sha = head.substr(at, 64);
  if (head != RenderHeader(want_length, want_sha)) {
    return Status::Corruption(StrCat("record '", path, "': damaged header (not in the form this build writes)",
                                     Remedy(path)));
  }
  if (length != want_length) {
    return Status::Corruption(StrCat("record '", path, "' is ", length, " bytes, its header says ", want_length,
                                     " (truncated or appended to)", Remedy(path)));
  }
  VQ2D_ASSIGN_OR_RETURN(std::string got_sha, Sha256OfRange(f.fd, kRecordHeaderBytes, length, path));
  if (got_sha != want_sha) {
    return Status::Corruption(StrCat("record '", path, "' is damaged: SHA-256 of its bytes after the header is ",
                                     got_sha, ", its header says ", want_sha, Remedy(path)));
  }
  return FileId{st.st_dev, st.st_ino};
}

}  // namespace

// ---- Writer ------------------------------------------------------------------------------------

Result<std::unique_ptr<ClipRecordWriter>> ClipRecordWriter::Create(const std::string& path, const ClipRecordMeta& meta,
                                                                   int gzip_level) {
  QuietHdf5();
  if (meta.num_frames <= 0 || meta.geometry.width <= 0 || meta.geometry.height <= 0) {
    return Status::InvalidArgument(StrCat("record '", path, "': bad shape T=", meta.num_frames, " ", meta.geometry.width,
                                          "x", meta.geometry.height));
  }
  std::unique_ptr<ClipRecordWriter> w(new ClipRecordWriter());
  w->path_ = path;
  w->total_ = meta.num_frames;
  w->height_ = meta.geometry.height;
  w->width_ = meta.geometry.width;
  Hid fcpl(H5Pcreate(H5P_FILE_CREATE));
  if (H5Pset_userblock(fcpl.id, kRecordHeaderBytes) < 0) return Status::Internal("H5Pset_userblock failed");
  // H5F_CLOSE_SEMI: H5Fclose fails (instead of deferring the close) while an object is open, so the
  // header is never written before the last HDF5 byte.
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl.id, H5F_CLOSE_SEMI);
  w->file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.id, fapl.id);
  if (w->file_ < 0) return Status::IOError(StrCat("cannot create HDF5 file '", path, "'"));
  hsize_t dims[4] = {static_cast<hsize_t>(meta.num_frames), static_cast<hsize_t>(w->height_),
                     static_cast<hsize_t>(w->width_), 3};
  hsize_t chunk[4] = {1, dims[1], dims[2], 3};
  Hid space(H5Screate_simple(4, dims, nullptr));
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl.id, 4, chunk);
  if (gzip_level >= 0) H5Pset_deflate(dcpl.id, static_cast<unsigned>(std::min(gzip_level, 9)));
  w->frames_ = H5Dcreate2(w->file_, "frames", H5T_STD_U8LE, space.id, H5P_DEFAULT, dcpl.id, H5P_DEFAULT);
  if (w->frames_ < 0) return Status::IOError(StrCat("cannot create /frames in '", path, "'"));
  hsize_t one[4] = {1, dims[1], dims[2], 3};
  w->space_ = H5Screate_simple(4, one, nullptr);
  return w;
}

ClipRecordWriter::~ClipRecordWriter() {
  if (space_ >= 0) H5Sclose(space_);
  if (frames_ >= 0) H5Dclose(frames_);
  if (file_ >= 0) H5Fclose(file_);
}

Status ClipRecordWriter::AppendFrame(const uint8_t* rgb) {
  if (written_ >= total_) return Status::Internal(StrCat("record '", path_, "': more than ", total_, " frames appended"));
  Hid fspace(H5Dget_space(frames_));
  hsize_t start[4] = {static_cast<hsize_t>(written_), 0, 0, 0};
  hsize_t count[4] = {1, static_cast<hsize_t>(height_), static_cast<hsize_t>(width_), 3};
  H5Sselect_hyperslab(fspace.id, H5S_SELECT_SET, start, nullptr, count, nullptr);
  if (H5Dwrite(frames_, H5T_NATIVE_UINT8, space_, fspace.id, H5P_DEFAULT, rgb) < 0) {
    return Status::IOError(StrCat("record '", path_, "': cannot write frame ", written_));
  }
  ++written_;
  return Status::OK();
}

Status ClipRecordWriter::Finish(const ClipRecordMeta& meta, const std::vector<double>& frame_times,
                                const std::vector<int64_t>& source_frame_index,
                                const std::vector<double>& source_frame_time, const std::string& annotations_json) {
  if (written_ != total_) {
    return Status::Internal(StrCat("record '", path_, "': ", written_, " of ", total_, " frames written"));
  }
  if (static_cast<int64_t>(frame_times.size()) != total_ || static_cast<int64_t>(source_frame_index.size()) != total_ ||
      static_cast<int64_t>(source_frame_time.size()) != total_) {
    return Status::Internal(StrCat("record '", path_, "': per-frame vectors do not have ", total_, " entries"));
  }
  const hid_t f = file_;
  VQ2D_RETURN_IF_ERROR(Write1D(f, "frame_times", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, frame_times));
  VQ2D_RETURN_IF_ERROR(Write1D(f, "source_frame_index", H5T_STD_I64LE, H5T_NATIVE_INT64, source_frame_index));
  VQ2D_RETURN_IF_ERROR(Write1D(f, "source_frame_time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, source_frame_time));
  {
    Hid type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.id, std::max<size_t>(1, annotations_json.size()));
    H5Tset_strpad(type.id, H5T_STR_NULLPAD);
    H5Tset_cset(type.id, H5T_CSET_UTF8);
    Hid space(H5Screate(H5S_SCALAR));
    Hid ds(H5Dcreate2(f, "annotations_json", type.id, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!ds.ok() || H5Dwrite(ds.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, annotations_json.data()) < 0) {
      return Status::IOError(StrCat("record '", path_, "': cannot write annotations_json"));
    }
  }
  {  // closed before the file: H5Fclose defers the real close while any object is open
    Hid root(H5Gopen2(f, "/", H5P_DEFAULT));
    const hid_t r = root.id;
    const auto& g = meta.geometry;
    VQ2D_RETURN_IF_ERROR(WriteStringAttr(r, "format", kClipRecordFormat));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<int64_t>(r, "record_version", H5T_NATIVE_INT64, {kClipRecordVersion}));
    VQ2D_RETURN_IF_ERROR(WriteStringAttr(r, "clip_uid", meta.clip_uid));
    VQ2D_RETURN_IF_ERROR(WriteStringAttr(r, "video_uid", meta.video_uid));
    VQ2D_RETURN_IF_ERROR(WriteStringAttr(r, "split", meta.split));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<double>(r, "clip_fps", H5T_NATIVE_DOUBLE, {meta.clip_fps}));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<double>(r, "video_start_sec", H5T_NATIVE_DOUBLE, {meta.video_start_sec}));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<double>(r, "video_end_sec", H5T_NATIVE_DOUBLE, {meta.video_end_sec}));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<double>(r, "video_fps", H5T_NATIVE_DOUBLE, {meta.video_fps}));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<int64_t>(r, "original_size", H5T_NATIVE_INT64, {g.decoded_width, g.decoded_height}));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<int64_t>(r, "trim_box", H5T_NATIVE_INT64, {g.trim.x1, g.trim.y1, g.trim.x2, g.trim.y2}));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<int64_t>(r, "resized_size", H5T_NATIVE_INT64, {g.width, g.height}));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<int64_t>(r, "num_frames", H5T_NATIVE_INT64, {meta.num_frames}));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<int64_t>(r, "frames_clamped", H5T_NATIVE_INT64, {meta.frames_clamped}));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<int64_t>(r, "frames_decoded", H5T_NATIVE_INT64, {meta.frames_decoded}));
    VQ2D_RETURN_IF_ERROR(WriteNumAttr<int64_t>(r, "apply_trim_offset", H5T_NATIVE_INT64, {meta.apply_trim_offset ? 1 : 0}));
    VQ2D_RETURN_IF_ERROR(WriteStringAttr(r, "compression", meta.compression));
    VQ2D_RETURN_IF_ERROR(WriteStringAttr(r, "prepare_settings", meta.prepare_settings));
    VQ2D_RETURN_IF_ERROR(WriteStringAttr(r, "vq2d_version", VQ2D_VERSION));
    VQ2D_RETURN_IF_ERROR(WriteStringAttr(r, "vq2d_git_rev", VQ2D_GIT_REV));
  }
  H5Sclose(space_);
  space_ = -1;
  H5Dclose(frames_);
  frames_ = -1;
  const herr_t rc = H5Fclose(file_);
  file_ = -1;
  if (rc < 0) return Status::IOError(StrCat("record '", path_, "': closing the HDF5 file failed"));
  return WriteHeader(path_);
}

Status PublishRecord(const std::string& tmp_path, const std::string& final_path) {
  const int fd = ::open(tmp_path.c_str(), O_RDONLY);
  if (fd < 0) return Status::IOError(StrCat("cannot open '", tmp_path, "' to fsync it"));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IOError(StrCat("fsync of '", tmp_path, "' failed"));
  FileSystem* fs = FileSystem::Default();
  VQ2D_RETURN_IF_ERROR(fs->Rename(tmp_path, final_path));
  return fs->SyncDir(DirName(final_path));
}

// ---- Reader ------------------------------------------------------------------------------------

struct ClipRecord::Handle {
  hid_t file = -1, frames = -1;
  ~Handle() {
    if (frames >= 0) H5Dclose(frames);
    if (file >= 0) H5Fclose(file);
  }
};

Result<ClipRecord> OpenClipRecord(const std::string& path, const RecordReadOptions& options) {
  QuietHdf5();
  if (!FileSystem::Default()->Exists(path)) return Status::NotFound(StrCat("record '", path, "' does not exist"));
  auto fail = [&](const Status& s) { return Status(s.code(), StrCat("record '", path, "': ", s.message())); };
  std::optional<FileId> verified;
  if (options.verify_checksums) {
    VQ2D_ASSIGN_OR_RETURN(verified, VerifyRecordFile(path));
  }
  ClipRecord rec;
  rec.path_ = path;
  rec.h_ = std::make_shared<ClipRecord::Handle>();
  rec.h_->file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (rec.h_->file < 0) return Status::Corruption(StrCat("record '", path, "' is not a readable HDF5 file"));
  if (verified) {
    // The file libhdf5 opened is the one verified (not one renamed over the path since).
    void* handle = nullptr;
    struct stat st;
    if (H5Fget_vfd_handle(rec.h_->file, H5P_DEFAULT, &handle) < 0 || handle == nullptr ||
        ::fstat(*static_cast<int*>(handle), &st) != 0 || !(FileId{st.st_dev, st.st_ino} == *verified)) {
      return Status::IOError(StrCat("record '", path, "' was replaced while it was being opened; open it again"));
    }
  }
  const hid_t f = rec.h_->file;
  Hid root(H5Gopen2(f, "/", H5P_DEFAULT));
  auto& m = rec.meta_;
  {
    auto fmt = ReadStringAttr(root.id, "format");
    if (!fmt.ok()) return fail(fmt.status());
    if (*fmt != kClipRecordFormat) return fail(Status::Corruption(StrCat("format is '", *fmt, "', expected ", kClipRecordFormat)));
    auto ver = ReadNumAttr<int64_t>(root.id, "record_version", H5T_NATIVE_INT64, 1);
    if (!ver.ok()) return fail(ver.status());
    if ((*ver)[0] != kClipRecordVersion) {
      return fail(Status::FailedPrecondition(StrCat("record_version ", (*ver)[0], ", this build reads ", kClipRecordVersion)));
    }
  }
#define VQ2D_REC_STR(field, name)                          \
  {                                                        \
    auto v = ReadStringAttr(root.id, name);                \
    if (!v.ok()) return fail(v.status());                  \
    field = *v;                                            \
  }
#define VQ2D_REC_NUM(T, mt, var, name, n)                  \
  std::vector<T> var;                                      \
  {                                                        \
    auto v = ReadNumAttr<T>(root.id, name, mt, n);         \
    if (!v.ok()) return fail(v.status());                  \
    var = *v;                                              \
  }
  VQ2D_REC_STR(m.clip_uid, "clip_uid");
  VQ2D_REC_STR(m.video_uid, "video_uid");
  VQ2D_REC_STR(m.split, "split");
  VQ2D_REC_STR(m.compression, "compression");
  VQ2D_REC_STR(m.prepare_settings, "prepare_settings");
  VQ2D_REC_STR(m.vq2d_version, "vq2d_version");
  VQ2D_REC_STR(m.vq2d_git_rev, "vq2d_git_rev");
  VQ2D_REC_NUM(double, H5T_NATIVE_DOUBLE, cf, "clip_fps", 1);
  VQ2D_REC_NUM(double, H5T_NATIVE_DOUBLE, vs, "video_start_sec", 1);
  VQ2D_REC_NUM(double, H5T_NATIVE_DOUBLE, ve, "video_end_sec", 1);
  VQ2D_REC_NUM(double, H5T_NATIVE_DOUBLE, vf, "video_fps", 1);
  VQ2D_REC_NUM(int64_t, H5T_NATIVE_INT64, os, "original_size", 2);
  VQ2D_REC_NUM(int64_t, H5T_NATIVE_INT64, tb, "trim_box", 4);
  VQ2D_REC_NUM(int64_t, H5T_NATIVE_INT64, rs, "resized_size", 2);
  VQ2D_REC_NUM(int64_t, H5T_NATIVE_INT64, nf, "num_frames", 1);
  VQ2D_REC_NUM(int64_t, H5T_NATIVE_INT64, fc, "frames_clamped", 1);
  VQ2D_REC_NUM(int64_t, H5T_NATIVE_INT64, fd, "frames_decoded", 1);
  VQ2D_REC_NUM(int64_t, H5T_NATIVE_INT64, ato, "apply_trim_offset", 1);
#undef VQ2D_REC_STR
#undef VQ2D_REC_NUM
  m.clip_fps = cf[0];
  m.video_start_sec = vs[0];
  m.video_end_sec = ve[0];
  m.video_fps = vf[0];
  m.geometry.decoded_width = static_cast<int>(os[0]);
  m.geometry.decoded_height = static_cast<int>(os[1]);
  m.geometry.trim = TrimBox{static_cast<int>(tb[0]), static_cast<int>(tb[1]), static_cast<int>(tb[2]), static_cast<int>(tb[3])};
  m.geometry.width = static_cast<int>(rs[0]);
  m.geometry.height = static_cast<int>(rs[1]);
  m.num_frames = nf[0];
  m.frames_clamped = fc[0];
  m.frames_decoded = fd[0];
  m.apply_trim_offset = ato[0] != 0;
  if (m.geometry.trim.width() <= 0 || m.geometry.trim.height() <= 0 || m.geometry.width <= 0 || m.geometry.height <= 0) {
    return fail(Status::Corruption("inconsistent trim_box / resized_size"));
  }
  // /frames shape.
  if (H5Lexists(f, "frames", H5P_DEFAULT) <= 0) return fail(Status::Corruption("missing dataset '/frames'"));
  rec.h_->frames = H5Dopen2(f, "frames", H5P_DEFAULT);
  {
    Hid space(H5Dget_space(rec.h_->frames));
    hsize_t dims[4] = {0, 0, 0, 0};
    if (H5Sget_simple_extent_ndims(space.id) != 4) return fail(Status::Corruption("/frames is not 4-D"));
    H5Sget_simple_extent_dims(space.id, dims, nullptr);
    if (static_cast<int64_t>(dims[0]) != m.num_frames || static_cast<int>(dims[1]) != m.geometry.height ||
        static_cast<int>(dims[2]) != m.geometry.width || dims[3] != 3) {
      return fail(Status::Corruption(StrCat("/frames is [", dims[0], ",", dims[1], ",", dims[2], ",", dims[3],
                                            "], attributes say [", m.num_frames, ",", m.geometry.height, ",",
                                            m.geometry.width, ",3]")));
    }
  }
  {
    auto t = Read1D<double>(f, "frame_times", H5T_NATIVE_DOUBLE, m.num_frames);
    if (!t.ok()) return fail(t.status());
    rec.frame_times_ = std::move(*t);
    auto si = Read1D<int64_t>(f, "source_frame_index", H5T_NATIVE_INT64, m.num_frames);
    if (!si.ok()) return fail(si.status());
    rec.source_frame_index_ = std::move(*si);
  }
  {
    if (H5Lexists(f, "annotations_json", H5P_DEFAULT) <= 0) return fail(Status::Corruption("missing dataset '/annotations_json'"));
    Hid ds(H5Dopen2(f, "annotations_json", H5P_DEFAULT));
    Hid ftype(H5Dget_type(ds.id));
    const size_t n = H5Tget_size(ftype.id);
    Hid mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype.id, n);
    H5Tset_strpad(mtype.id, H5T_STR_NULLPAD);
    H5Tset_cset(mtype.id, H5Tget_cset(ftype.id));
    std::string text(n, '\0');
    if (H5Dread(ds.id, mtype.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data()) < 0) {
      return fail(Status::Corruption("cannot read /annotations_json"));
    }
    text.resize(std::strlen(text.c_str()));
    auto af = ParseAnnotations(text, path + ":/annotations_json");
    if (!af.ok()) return af.status();
    if (af->videos.size() != 1 || af->videos[0].clips.size() != 1) {
      return fail(Status::Corruption("/annotations_json does not hold exactly one video with one clip"));
    }
    rec.annotations_ = std::move(*af);
  }
  return rec;
}

Result<FrameBuffer> ClipRecord::ReadFrames(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > meta_.num_frames) {
    return Status::InvalidArgument(StrCat("record '", path_, "': frame range [", begin, ", ", end, ") outside [0, ",
                                          meta_.num_frames, ")"));
  }
  QuietHdf5();
  FrameBuffer fb;
  fb.count = end - begin;
  fb.height = meta_.geometry.height;
  fb.width = meta_.geometry.width;
  fb.data.resize(static_cast<size_t>(fb.count) * fb.height * fb.width * 3);
  if (fb.count == 0) return fb;
  Hid fspace(H5Dget_space(h_->frames));
  hsize_t start[4] = {static_cast<hsize_t>(begin), 0, 0, 0};
  hsize_t count[4] = {static_cast<hsize_t>(fb.count), static_cast<hsize_t>(fb.height), static_cast<hsize_t>(fb.width), 3};
  H5Sselect_hyperslab(fspace.id, H5S_SELECT_SET, start, nullptr, count, nullptr);
  Hid mspace(H5Screate_simple(4, count, nullptr));
  if (H5Dread(h_->frames, H5T_NATIVE_UINT8, mspace.id, fspace.id, H5P_DEFAULT, fb.data.data()) < 0) {
    return Status::Corruption(StrCat("record '", path_, "': cannot read frames [", begin, ", ", end, ")"));
  }
  return fb;
}

std::array<int64_t, 4> ClipRecord::ToRecordPixels(const AnnotationBox& b) const {
  return MapBoxToRecord(b.x, b.y, b.width, b.height, b.original_width, b.original_height, meta_.geometry,
                        meta_.apply_trim_offset);
}

Result<FrameBuffer> ClipRecord::ReadVisualCrop(const QuerySet& q) const {
  const AnnotationBox& vc = q.visual_crop;
  if (vc.original_width <= 0 || vc.original_height <= 0) {
    return Status::InvalidArgument(StrCat("record '", path_, "' query set ", q.id,
                                          ": visual_crop lacks original_width/original_height"));
  }
  if (vc.frame_number < 0) {
    return Status::InvalidArgument(StrCat("record '", path_, "' query set ", q.id, ": visual_crop.frame_number ",
                                          vc.frame_number, " < 0"));
  }
  const int64_t fno = std::min<int64_t>(vc.frame_number, meta_.num_frames - 1);
  VQ2D_ASSIGN_OR_RETURN(FrameBuffer frame, ReadFrame(fno));
  const auto r = ToRecordPixels(vc);
  const auto ys = PySlice(r[1], r[1] + r[3], frame.height);
  const auto xs = PySlice(r[0], r[0] + r[2], frame.width);
  FrameBuffer out;
  out.count = 1;
  out.height = static_cast<int>(ys[1] - ys[0]);
  out.width = static_cast<int>(xs[1] - xs[0]);
  out.data.resize(static_cast<size_t>(out.height) * out.width * 3);
  for (int y = 0; y < out.height; ++y) {
    std::memcpy(out.data.data() + static_cast<size_t>(y) * out.width * 3,
                frame.data.data() + ((ys[0] + y) * frame.width + xs[0]) * 3, static_cast<size_t>(out.width) * 3);
  }
  return out;
}

}  // namespace vq2d::io
