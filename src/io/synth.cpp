#include "vq2d/io/synth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#ifndef VQ2D_NO_VIDEO
#include <opencv2/videoio.hpp>
#endif

#include "vq2d/base/filesystem.h"
#include "vq2d/io/prepare_math.h"
#include "vq2d/io/video_decode.h"

namespace vq2d::io {
namespace {

using OJ = nlohmann::ordered_json;
constexpr double kPi = 3.14159265358979323846;
constexpr double kClipFps = 5.0;

// SplitMix64: portable and fully specified (std:: distributions are implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  double Range(double a, double b) { return a + (b - a) * Uniform(); }
  int Int(int a, int b) { return a + static_cast<int>(Next() % static_cast<uint64_t>(b - a + 1)); }  // [a, b]
  std::string Uid() {
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) s += '-';
      s += hex[Next() & 15];
    }
    return s;
  }

 private:
  uint64_t s_;
};

struct Palette {
  const char* name;
  cv::Vec3b a, b;  // BGR
};
const Palette kPalettes[] = {
    {"red and yellow", {30, 30, 220}, {40, 220, 240}},   {"blue and white", {220, 80, 30}, {245, 245, 245}},
    {"green and magenta", {60, 200, 40}, {200, 40, 200}}, {"orange and purple", {20, 140, 250}, {140, 30, 110}},
    {"cyan and black", {230, 220, 40}, {45, 45, 45}},     {"pink and teal", {190, 150, 255}, {130, 130, 0}},
};
const char* kShapes[] = {"disc", "box", "triangle", "diamond"};
const char* kPatterns[] = {"striped", "checkered"};

struct Sprite {
  std::string title;
  int size = 0;
  cv::Mat bgr, mask;
};

Sprite MakeSprite(Rng& rng, int size, int palette, int shape) {
  Sprite s;
  s.size = size;
  const Palette& p = kPalettes[palette % 6];
  const int pattern = rng.Int(0, 1);
  const double ang = rng.Range(0, kPi), period = rng.Range(6, 14);
  s.bgr.create(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      bool on;
      if (pattern == 0) {
        on = static_cast<int>(std::floor((x * std::cos(ang) + y * std::sin(ang)) / period)) % 2 == 0;
      } else {
        on = ((x / static_cast<int>(period)) + (y / static_cast<int>(period))) % 2 == 0;
      }
      s.bgr.at<cv::Vec3b>(y, x) = on ? p.a : p.b;
    }
  }
  s.mask = cv::Mat::zeros(size, size, CV_8UC1);
  const int m = size - 1;
  switch (shape % 4) {
    case 0: cv::circle(s.mask, {size / 2, size / 2}, size / 2, 255, cv::FILLED, cv::LINE_8); break;
    case 1: s.mask.setTo(255); break;
    case 2: {
      std::vector<cv::Point> pts = {{0, m}, {m, m}, {size / 2, 0}};
      cv::fillConvexPoly(s.mask, pts, 255);
      break;
    }
    default: {
      std::vector<cv::Point> pts = {{size / 2, 0}, {m, size / 2}, {size / 2, m}, {0, size / 2}};
      cv::fillConvexPoly(s.mask, pts, 255);
    }
  }
  s.title = StrCat(p.name, " ", kPatterns[pattern], " ", kShapes[shape % 4]);
  return s;
}

// A sprite moving along x(t) = W/2 + ax sin(2 pi t / px + phx), y(t) = cy + ay sin(2 pi t / py + phy).
struct Mover {
  Sprite sprite;
  double ax, px, phx, cy, ay, py, phy;
  // Top-left corner at time t (integer pixels).
  cv::Point TopLeft(double t, int width) const {
    const double x = width / 2.0 + ax * std::sin(2 * kPi * t / px + phx);
    const double y = cy + ay * std::sin(2 * kPi * t / py + phy);
    return {static_cast<int>(std::lround(x)) - sprite.size / 2, static_cast<int>(std::lround(y)) - sprite.size / 2};
  }
};

struct Rect {
  int x1, y1, x2, y2;
  int area() const { return std::max(0, x2 - x1) * std::max(0, y2 - y1); }
};

struct VideoPlan {
  std::string uid;
  double duration = 0;
  int bar = 0;  // letterbox bar height (top and bottom)
  cv::Mat background;  // (H + 2P) x (W + 2P)
  double cam_phase_x = 0, cam_phase_y = 0;
  std::vector<Mover> objects;  // queried objects (distinct bands)
  Mover distractor;
  double val_start = 0, val_end = 0, test_start = 0, test_end = 0;
};

constexpr int kPad = 100;

cv::Mat MakeBackground(Rng& rng, int w, int h) {
  cv::Mat bg(h + 2 * kPad, w + 2 * kPad, CV_8UC3);
  const cv::Vec3b base(static_cast<uchar>(rng.Int(90, 150)), static_cast<uchar>(rng.Int(90, 150)),
                       static_cast<uchar>(rng.Int(90, 150)));
  bg.setTo(cv::Scalar(base[0], base[1], base[2]));
  for (int i = 0; i < 260; ++i) {
    const int x = rng.Int(0, bg.cols - 1), y = rng.Int(0, bg.rows - 1);
    const int rw = rng.Int(8, 90), rh = rng.Int(8, 90);
    const cv::Scalar c(rng.Int(60, 200), rng.Int(60, 200), rng.Int(60, 200));
    if (rng.Int(0, 2) == 0) {
      cv::circle(bg, {x, y}, rw / 2, c, cv::FILLED, cv::LINE_8);
    } else {
      cv::rectangle(bg, cv::Rect(x, y, rw, rh), c, cv::FILLED, cv::LINE_8);
    }
  }
  // Fine texture: a deterministic +-12 brightness pattern.
  for (int y = 0; y < bg.rows; ++y) {
    for (int x = 0; x < bg.cols; ++x) {
      const int d = static_cast<int>(((x * 7 + y * 13) ^ (x * y)) % 25) - 12;
      cv::Vec3b& p = bg.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) p[c] = cv::saturate_cast<uchar>(p[c] + d);
    }
  }
  return bg;
}

[[maybe_unused]] cv::Point CameraOffset(const VideoPlan& v, double t) {
  return {kPad + static_cast<int>(std::lround(kPad * 0.8 * std::sin(2 * kPi * t / 13.0 + v.cam_phase_x))),
          kPad + static_cast<int>(std::lround(kPad * 0.5 * std::sin(2 * kPi * t / 17.0 + v.cam_phase_y)))};
}

// The object's box clipped to the picture (content area, i.e. inside the letterbox bars).
Rect VisibleBox(const Mover& m, double t, int w, int h, int bar) {
  const cv::Point tl = m.TopLeft(t, w);
  return Rect{std::max(tl.x, 0), std::max(tl.y, bar), std::min(tl.x + m.sprite.size, w),
              std::min(tl.y + m.sprite.size, h - bar)};
}
bool IsVisible(const Mover& m, double t, int w, int h, int bar) {
  const Rect r = VisibleBox(m, t, w, h, bar);
  return r.area() * 2 >= m.sprite.size * m.sprite.size && (r.x2 - r.x1) >= 8 && (r.y2 - r.y1) >= 8;
}

[[maybe_unused]] void DrawSprite(cv::Mat& frame, const Mover& m, double t, int bar) {
  const cv::Point tl = m.TopLeft(t, frame.cols);
  const cv::Rect target(tl.x, tl.y, m.sprite.size, m.sprite.size);
  const cv::Rect clipped = target & cv::Rect(0, bar, frame.cols, frame.rows - 2 * bar);
  if (clipped.empty()) return;
  const cv::Rect src(clipped.x - tl.x, clipped.y - tl.y, clipped.width, clipped.height);
  m.sprite.bgr(src).copyTo(frame(clipped), m.sprite.mask(src));
}

Status RenderVideo(const VideoPlan& v, const SynthOptions& o, const std::string& path, int64_t* frames) {
#ifdef VQ2D_NO_VIDEO
  return VideoNotBuilt(StrCat("writing the synthetic video '", path, "'"));
#else
  const std::string tmp = path + ".tmp.synth.mp4";
  cv::VideoWriter writer;
  try {
    writer.open(tmp, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), o.fps, cv::Size(o.width, o.height));
  } catch (const cv::Exception& e) {
    return Status::IOError(StrCat("cannot open a video writer for '", tmp, "': ", e.what()));
  }
  if (!writer.isOpened()) return Status::IOError(StrCat("cannot open an mp4v video writer for '", tmp, "'"));
  const int n = static_cast<int>(std::lround(v.duration * o.fps));
  cv::Mat frame(o.height, o.width, CV_8UC3);
  for (int f = 0; f < n; ++f) {
    const double t = static_cast<double>(f) / o.fps;
    const cv::Point cam = CameraOffset(v, t);
    v.background(cv::Rect(cam.x, cam.y, o.width, o.height)).copyTo(frame);
    DrawSprite(frame, v.distractor, t, v.bar);
    for (const auto& m : v.objects) DrawSprite(frame, m, t, v.bar);
    if (v.bar > 0) {
      frame(cv::Rect(0, 0, o.width, v.bar)).setTo(cv::Scalar(0, 0, 0));
      frame(cv::Rect(0, o.height - v.bar, o.width, v.bar)).setTo(cv::Scalar(0, 0, 0));
    }
    writer.write(frame);
  }
  writer.release();
  *frames += n;
  return FileSystem::Default()->Rename(tmp, path);
#endif
}

OJ BoxJson(const Rect& r, int frame_number, int64_t video_frame, int w, int h) {
  OJ b;
  b["frame_number"] = frame_number;
  b["x"] = static_cast<double>(r.x1);
  b["y"] = static_cast<double>(r.y1);
  b["width"] = static_cast<double>(r.x2 - r.x1);
  b["height"] = static_cast<double>(r.y2 - r.y1);
  b["rotation"] = 0;
  b["original_width"] = w;
  b["original_height"] = h;
  b["video_frame_number"] = video_frame;
  return b;
}

// Builds the clip JSON for [start, end) and counts its query sets. Returns an empty object when no
// object yields a valid query (the caller then re-plans).
OJ MakeClip(Rng& rng, const VideoPlan& v, const SynthOptions& o, double start, double end, bool with_rt,
            int* queries) {
  auto times = ClipFrameTimes(start, end, kClipFps);
  const int T = static_cast<int>(times->size());
  // Clip frame k -> the video frame upstream's -ss selects (CFR video: frame f at f / fps).
  std::vector<double> ftimes(static_cast<size_t>(std::lround(v.duration * o.fps)));
  for (size_t f = 0; f < ftimes.size(); ++f) ftimes[f] = static_cast<double>(f) / o.fps;
  std::vector<int64_t> ms(T);
  for (int k = 0; k < T; ++k) ms[k] = SeekMillis((*times)[k]);
  const auto vf = SelectFramesForSeekTimes(ftimes, ms);
  OJ qsets = OJ::object();
  int qid = 0;
  for (const auto& m : v.objects) {
    std::vector<bool> vis(T);
    for (int k = 0; k < T; ++k) vis[k] = vf[k] >= 0 && IsVisible(m, ftimes[vf[k]], o.width, o.height, v.bar);
    std::vector<std::pair<int, int>> spans;  // inclusive
    for (int k = 0; k < T; ++k) {
      if (vis[k] && (k == 0 || !vis[k - 1])) spans.push_back({k, k});
      if (vis[k]) spans.back().second = k;
    }
    // The latest span after which there is room for a query frame (>= 1 invisible frame in between).
    int chosen = -1, q = -1;
    for (int i = static_cast<int>(spans.size()) - 1; i >= 0; --i) {
      const int b = spans[i].second;
      const int limit = (i + 1 < static_cast<int>(spans.size())) ? spans[i + 1].first - 1 : T - 1;
      if (b + 2 <= limit && spans[i].second - spans[i].first >= 1) {
        chosen = i;
        q = rng.Int(b + 2, std::min(limit, b + 2 + 12));
        break;
      }
    }
    if (chosen < 0) continue;
    int vc_frame;
    if (chosen + 1 < static_cast<int>(spans.size())) {  // after the query frame, as often in real data
      vc_frame = (spans[chosen + 1].first + spans[chosen + 1].second) / 2;
    } else if (chosen > 0) {
      vc_frame = (spans[chosen - 1].first + spans[chosen - 1].second) / 2;
    } else {
      vc_frame = (spans[chosen].first + spans[chosen].second) / 2;
    }
    OJ qs;
    qs["is_valid"] = true;
    qs["query_frame"] = q;
    qs["object_title"] = m.sprite.title;
    qs["visual_crop"] =
        BoxJson(VisibleBox(m, ftimes[vf[vc_frame]], o.width, o.height, v.bar), vc_frame, vf[vc_frame], o.width, o.height);
    if (with_rt) {
      OJ rt = OJ::array();
      for (int k = spans[chosen].first; k <= spans[chosen].second; ++k) {
        rt.push_back(BoxJson(VisibleBox(m, ftimes[vf[k]], o.width, o.height, v.bar), k, vf[k], o.width, o.height));
      }
      qs["response_track"] = rt;
    }
    qsets[std::to_string(++qid)] = qs;
  }
  *queries = qid;
  OJ clip;
  if (qid == 0) return clip;
  clip["clip_uid"] = rng.Uid();
  clip["video_start_sec"] = start;
  clip["video_end_sec"] = end;
  clip["video_start_frame"] = static_cast<int64_t>(std::lround(start * o.fps));
  clip["video_end_frame"] = static_cast<int64_t>(std::lround(end * o.fps)) - 1;
  clip["clip_fps"] = kClipFps;
  clip["annotation_complete"] = true;
  OJ ann;
  ann["annotation_uid"] = rng.Uid();
  ann["query_sets"] = qsets;
  clip["annotations"] = OJ::array({ann});
  return clip;
}

VideoPlan PlanVideo(Rng& rng, const SynthOptions& o, int index) {
  VideoPlan v;
  v.uid = rng.Uid();
  v.bar = index == 0 ? 48 : 0;
  v.background = MakeBackground(rng, o.width, o.height);
  v.cam_phase_x = rng.Range(0, 2 * kPi);
  v.cam_phase_y = rng.Range(0, 2 * kPi);
  v.val_start = index == 0 ? 0.0 : 0.2 * rng.Int(1, 10);
  v.val_end = v.val_start + 2.0 * rng.Int(6, 8);
  v.test_start = v.val_end + 1.0;
  v.test_end = v.test_start + 2.0 * rng.Int(6, 8);
  v.duration = v.test_end + 1.0 + 0.2 * rng.Int(0, 10);
  const int content_h = o.height - 2 * v.bar;
  const int n = 3;
  const int band = content_h / n;
  for (int i = 0; i < n; ++i) {
    Mover m;
    const int size = std::min(band - 12, rng.Int(50, 80));
    m.sprite = MakeSprite(rng, size, index * 3 + i, rng.Int(0, 3));
    m.ax = o.width / 2.0 + size * rng.Range(0.9, 1.6);
    m.px = rng.Range(7.0, 12.0);
    m.phx = rng.Range(0, 2 * kPi);
    m.cy = v.bar + band * i + band / 2.0;
    m.ay = std::max(0.0, (band - size) / 2.0 - 2);
    m.py = rng.Range(3.0, 6.0);
    m.phy = rng.Range(0, 2 * kPi);
    v.objects.push_back(std::move(m));
  }
  v.distractor.sprite = MakeSprite(rng, 44, index + 4, rng.Int(0, 3));
  v.distractor.ax = o.width / 3.0;
  v.distractor.px = rng.Range(9.0, 15.0);
  v.distractor.phx = rng.Range(0, 2 * kPi);
  v.distractor.cy = o.height / 2.0;
  v.distractor.ay = content_h / 2.0 - 30;
  v.distractor.py = rng.Range(5.0, 9.0);
  v.distractor.phy = rng.Range(0, 2 * kPi);
  return v;
}

// A YAML double-quoted scalar.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Absolute(const std::string& p) {
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

}  // namespace

namespace {
Result<SynthSummary> WriteSynthDatasetImpl(const SynthOptions& o);
}  // namespace

Result<SynthSummary> WriteSynthDataset(const SynthOptions& o) {
  try {
    return WriteSynthDatasetImpl(o);
  } catch (const std::exception& e) {  // OpenCV / filesystem exceptions become a Status
    return Status::IOError(StrCat("synth: ", e.what()));
  }
}

namespace {
Result<SynthSummary> WriteSynthDatasetImpl(const SynthOptions& o) {
  if (o.out_dir.empty()) return Status::InvalidArgument("synth: --out is required");
  if (o.num_clips < 1 || o.num_clips > 100) return Status::InvalidArgument(StrCat("synth: --clips must be 1..100, got ", o.num_clips));
  FileSystem* fs = FileSystem::Default();
  const std::string root = Absolute(o.out_dir);
  const std::string videos_dir = JoinPath(root, "videos");
  VQ2D_RETURN_IF_ERROR(fs->CreateDirs(videos_dir));
  Rng rng(o.seed);
  SynthSummary sum;
  OJ val_videos = OJ::array(), test_videos = OJ::array();
  for (int i = 0; i < o.num_clips; ++i) {
    VideoPlan v;
    OJ val_clip, test_clip;
    int vq = 0, tq = 0;
    for (int attempt = 0; attempt < 50; ++attempt) {
      v = PlanVideo(rng, o, i);
      val_clip = MakeClip(rng, v, o, v.val_start, v.val_end, true, &vq);
      test_clip = MakeClip(rng, v, o, v.test_start, v.test_end, false, &tq);
      if (vq > 0 && tq > 0) break;
    }
    if (vq == 0 || tq == 0) return Status::Internal(StrCat("synth: could not plan queries for video ", i));
    VQ2D_RETURN_IF_ERROR(RenderVideo(v, o, JoinPath(videos_dir, v.uid + ".mp4"), &sum.video_frames));
    OJ vv;
    vv["video_uid"] = v.uid;
    vv["split"] = "val";
    vv["clips"] = OJ::array({val_clip});
    val_videos.push_back(vv);
    OJ tv;
    tv["video_uid"] = v.uid;
    tv["split"] = "test";
    tv["clips"] = OJ::array({test_clip});
    test_videos.push_back(tv);
    sum.videos++;
    sum.val_clips++;
    sum.test_clips++;
    sum.val_queries += vq;
    sum.test_queries += tq;
  }
  auto write_json = [&](const std::string& name, const OJ& videos, std::string* out) -> Status {
    OJ root_json;
    root_json["version"] = "1.0.5";
    root_json["date"] = "synthetic";
    root_json["description"] = StrCat("vq2d synth dataset (seed ", o.seed, ")");
    root_json["videos"] = videos;
    *out = JoinPath(root, name);
    return WriteFileAtomic(fs, *out, root_json.dump(1) + "\n", "synth");
  };
  VQ2D_RETURN_IF_ERROR(write_json("vq_val.json", val_videos, &sum.val_json));
  VQ2D_RETURN_IF_ERROR(write_json("vq_test_unannotated.json", test_videos, &sum.test_json));
  sum.videos_dir = videos_dir;
  sum.config_yaml = JoinPath(root, "config.yaml");
  const std::string yaml = StrCat(
      "# Written by `vq2d synth --seed ", o.seed, "`: a synthetic Ego4D VQ2D dataset.\n",
      "# Prepare the records with `vq2d prepare --config ", sum.config_yaml, " --split val`.\n",
      "data:\n",
      "  val_data_dir: ", Quote(JoinPath(root, "records/val/")), "\n",
      "  test_data_dir: ", Quote(JoinPath(root, "records/test/")), "\n",
      "  val_annotations: ", Quote(sum.val_json), "\n",
      "  test_annotations: ", Quote(sum.test_json), "\n",
      "  videos_dir: ", Quote(videos_dir + "/"), "\n",
      "visual_query:\n",
      "  split: val\n",
      "  save_dir: ", Quote(JoinPath(root, "runs/")), "\n",
      "  exp_name: synth-val\n", o.extra_config_yaml);
  VQ2D_RETURN_IF_ERROR(WriteFileAtomic(fs, sum.config_yaml, yaml, "synth"));
  return sum;
}

}  // namespace

}  // namespace vq2d::io
