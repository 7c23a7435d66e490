// Clip records: one HDF5 file per clip, `<records_dir>/<clip_uid>.h5`, holding the clip's frames as
// upstream REN's prepare.py produces them (clip_fps samples, black bars trimmed, PIL-bicubic resized)
// and everything the pipeline needs (the clip's annotations, geometry). Layout (docs/data.md):
//
//   /frames              uint8   [T,H,W,3] RGB, chunk [1,H,W,3], compression none or gzip
//   /frame_times         float64 [T]  clip frame times (s), np.unique(np.arange(start, end, 1/fps))
//   /source_frame_index  int64   [T]  decode-order index of the video frame used for each time
//   /source_frame_time   float64 [T]  that frame's timestamp (s)
//   /annotations_json    string  scalar: a complete single-clip annotation file in the official
//                                schema (version, videos[1].clips[1], JSON key order preserved)
//   attributes on "/": format ("vq2d.clip_record"), record_version (1), clip_uid, video_uid, split,
//     clip_fps, video_start_sec, video_end_sec, video_fps, original_size [W,H] (decoded video),
//     trim_box [x1,y1,x2,y2] (decoded pixels, rows y1..y2-1, columns x1..x2-1), resized_size [W,H],
//     num_frames, frames_clamped, frames_decoded, apply_trim_offset (0/1), compression,
//     prepare_settings, vq2d_version, vq2d_git_rev.
//
// Integrity header: the file starts with an HDF5 user block of kRecordHeaderBytes (HDF5 tools skip
// it) holding, in ASCII and NUL-padded, "vq2d-record-header\nversion 1\nlength <bytes of the whole
// file>\nsha256 <64 hex of every byte after the user block>\n". ClipRecordWriter::Finish writes it
// after closing the HDF5 file. OpenClipRecord verifies it with plain reads BEFORE libhdf5 opens the
// file (libhdf5 is not safe on corrupt files), unless RecordReadOptions::verify_checksums is false
// (config data.verify_record_checksums): then nothing is verified and libhdf5 parses the file as it
// is. Verified: header form and version, file length, SHA-256 (one sequential read of the file).
// A mismatch is Corruption naming the record, expected vs found; a record without the header
// (written by an older vq2d: HDF5 signature at byte 0) is FailedPrecondition. Both messages say to
// rerun `vq2d prepare` for the clip or to switch verification off. Bytes changed after the open are
// not detected.
//
// Thread-safety: Debian's libhdf5 is thread-safe with one global lock; a ClipRecord may be read from
// several threads (calls serialise). A ClipRecordWriter is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vq2d/base/status.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/prepare_math.h"

namespace vq2d::io {

inline constexpr char kClipRecordFormat[] = "vq2d.clip_record";
inline constexpr int kClipRecordVersion = 1;
inline constexpr size_t kRecordHeaderBytes = 512;  // HDF5 user block holding the integrity header

struct ClipRecordMeta {
  std::string clip_uid, video_uid, split;
  double clip_fps = 0, video_start_sec = 0, video_end_sec = 0;
  double video_fps = 0;             // container frame rate of the source video
  RecordGeometry geometry;          // decoded size, trim box, record frame size
  int64_t num_frames = 0;           // T
  int64_t frames_clamped = 0;       // frame times past the video's last frame (given the last frame)
  int64_t frames_decoded = 0;       // video frames decoded to build the record
  bool apply_trim_offset = false;   // fixes.apply_trim_offset used for the visual-crop mapping
  std::string compression = "none";  // "none" or "gzip-<level>"
  std::string prepare_settings;     // canonical text of the settings that shape the pixels (resume check)
  std::string vq2d_version, vq2d_git_rev;  // of the writer
};

// Frames [count, height, width, 3] uint8 RGB, contiguous, owned.
struct FrameBuffer {
  int64_t count = 0;
  int height = 0, width = 0;
  std::vector<uint8_t> data;
  const uint8_t* frame(int64_t i) const { return data.data() + i * static_cast<int64_t>(height) * width * 3; }
};

// Serialises one clip as a complete annotation file (official schema, key order as the parser keeps
// it; absent optional fields stay absent) and parses it back with ParseAnnotations.
std::string SingleClipAnnotationJson(const std::string& version, const Video& video, const Clip& clip);

// Writes a record to `path` (normally a temp path; see PublishRecord). Frames are appended in order.
class ClipRecordWriter {
 public:
  // gzip_level: -1 for no compression, 0..9 for gzip. meta.num_frames and meta.geometry.width/height
  // fix the /frames shape.
  static Result<std::unique_ptr<ClipRecordWriter>> Create(const std::string& path, const ClipRecordMeta& meta,
                                                          int gzip_level);
  ~ClipRecordWriter();
  // rgb: height x width x 3 contiguous.
  Status AppendFrame(const uint8_t* rgb);
  int64_t frames_written() const { return written_; }
  // Writes the per-frame vectors (size T each), the annotations and the attributes, closes the file
  // (all T frames must have been appended), then writes the integrity header (reads the file once).
  // `meta` may update counters known only at the end.
  Status Finish(const ClipRecordMeta& meta, const std::vector<double>& frame_times,
                const std::vector<int64_t>& source_frame_index, const std::vector<double>& source_frame_time,
                const std::string& annotations_json);

 private:
  ClipRecordWriter() = default;
  std::string path_;
  int64_t file_ = -1, frames_ = -1, space_ = -1;  // hid_t values
  int64_t written_ = 0, total_ = 0;
  int height_ = 0, width_ = 0;
};

// fsyncs `tmp_path`, renames it over `final_path` and fsyncs the directory (crash-safe publication).
Status PublishRecord(const std::string& tmp_path, const std::string& final_path);

struct RecordReadOptions {
  bool verify_checksums = true;  // see "Integrity header" above
};

class ClipRecord {
 public:
  const ClipRecordMeta& meta() const { return meta_; }
  const AnnotationFile& annotations() const { return annotations_; }  // exactly one video and clip
  const Video& video() const { return annotations_.videos[0]; }
  const Clip& clip() const { return annotations_.videos[0].clips[0]; }
  int64_t num_frames() const { return meta_.num_frames; }
  int height() const { return meta_.geometry.height; }
  int width() const { return meta_.geometry.width; }
  const std::vector<double>& frame_times() const { return frame_times_; }
  const std::vector<int64_t>& source_frame_index() const { return source_frame_index_; }
  const std::string& path() const { return path_; }

  // Frames [begin, end) (0 <= begin <= end <= num_frames).
  Result<FrameBuffer> ReadFrames(int64_t begin, int64_t end) const;
  Result<FrameBuffer> ReadFrame(int64_t i) const { return ReadFrames(i, i + 1); }

  // The visual-crop image exactly as upstream's query_object: frame visual_crop.frame_number (clamped
  // to the last frame when past the end), sliced [y:y+h, x:x+w] with numpy slice semantics, where
  // x, y, w, h = MapBoxToRecord(visual crop, meta.apply_trim_offset). May be empty (count 1, 0 area)
  // for degenerate boxes. InvalidArgument if original_width/height are missing or frame_number < 0.
  Result<FrameBuffer> ReadVisualCrop(const QuerySet& query_set) const;

  // Maps a box of the clip's annotations into record pixels ({x, y, w, h}, int-truncated) with the
  // record's geometry and apply_trim_offset setting.
  std::array<int64_t, 4> ToRecordPixels(const AnnotationBox& box) const;

 private:
  friend Result<ClipRecord> OpenClipRecord(const std::string& path, const RecordReadOptions& options);
  struct Handle;
  std::shared_ptr<Handle> h_;
  std::string path_;
  ClipRecordMeta meta_;
  AnnotationFile annotations_;
  std::vector<double> frame_times_;
  std::vector<int64_t> source_frame_index_;
};

// Verifies the integrity header (unless options say not to), then opens and validates the record
// (format, version, shapes, annotations). Corruption names the file and what is wrong; NotFound when
// absent; FailedPrecondition for a record without a header (verifying) or of another version.
Result<ClipRecord> OpenClipRecord(const std::string& path, const RecordReadOptions& options = {});

}  // namespace vq2d::io
