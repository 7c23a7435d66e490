// vq2d render: draws a clip record with its ground truth and a prediction, for people to look at.
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#ifndef VQ2D_NO_VIDEO
#include <opencv2/videoio.hpp>
#endif

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/clip_output.h"
#include "vq2d/io/record.h"
#include "vq2d/io/video_decode.h"

namespace vq2d::app {

using io::VideoNotBuilt;

using io::ClipOutput;
using io::ClipRecord;
using io::OpenClipRecord;
using io::ParseClipOutput;
using io::QuerySet;
namespace {

struct PredBox {
  double x1, y1, x2, y2;  // record pixels
};
struct Prediction {
  bool found = false;
  double score = 0;
  std::map<int, PredBox> boxes;  // by frame number
};

const cv::Scalar kGreen(60, 220, 60), kRed(40, 40, 235), kWhite(255, 255, 255), kYellow(40, 220, 240);  // BGR

// Finds the prediction for (clip, annotation index, query-set id). Upstream per-clip files carry
// frame_width/frame_height and boxes in record pixels; submission/eval files carry original pixels.
Result<Prediction> LoadPrediction(const std::string& path, const ClipRecord& rec, size_t ann_index,
                                  const QuerySet& q) {
  VQ2D_ASSIGN_OR_RETURN(std::string text, FileSystem::Default()->ReadFile(path));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(StrCat("predictions '", path, "': ", e.what()));
  }
  Prediction p;
  if (j.is_object() && j.value("schema", "") == "vq2d.clip_output/1") {  // a run's per-clip output (record pixels)
    VQ2D_ASSIGN_OR_RETURN(ClipOutput co, ParseClipOutput(text, path));
    if (co.clip_uid != rec.meta().clip_uid) return p;
    for (const auto& qp : co.queries) {
      if (qp.annotation_index != static_cast<int>(ann_index) || qp.query_set != q.id) continue;
      p.found = true;
      p.score = qp.score;
      for (const auto& b : qp.bboxes) p.boxes[b.fno] = PredBox{b.x1, b.y1, b.x2, b.y2};
    }
    return p;
  }
  try {
    const auto& videos = j.at("results").at("videos");
    for (const auto& v : videos) {
      if (v.value("video_uid", "") != rec.meta().video_uid) continue;
      const bool record_pixels = v.contains("frame_width") && v.contains("frame_height");
      double sx = 1, sy = 1;
      if (!record_pixels) {
        sx = static_cast<double>(rec.width()) / q.visual_crop.original_width;
        sy = static_cast<double>(rec.height()) / q.visual_crop.original_height;
      }
      for (const auto& c : v.at("clips")) {
        if (c.value("clip_uid", "") != rec.meta().clip_uid) continue;
        const auto& preds = c.at("predictions");
        if (ann_index >= preds.size()) continue;
        const auto& qs = preds[ann_index].at("query_sets");
        if (!qs.contains(q.id)) continue;
        const auto& e = qs.at(q.id);
        p.found = true;
        p.score = e.at("score").is_number() ? e.at("score").get<double>() : 0.0;
        for (const auto& b : e.at("bboxes")) {
          p.boxes[b.at("fno").get<int>()] = PredBox{b.at("x1").get<double>() * sx, b.at("y1").get<double>() * sy,
                                                    b.at("x2").get<double>() * sx, b.at("y2").get<double>() * sy};
        }
      }
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument(StrCat("predictions '", path, "': unexpected structure: ", e.what()));
  }
  return p;
}

void Label(cv::Mat& img, const std::string& text, cv::Point at, const cv::Scalar& color, double scale = 0.5) {
  int base = 0;
  const cv::Size sz = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
  at.x = std::clamp(at.x, 0, std::max(0, img.cols - sz.width - 2));
  at.y = std::clamp(at.y, sz.height + 2, img.rows - 2);
  cv::rectangle(img, {at.x, at.y - sz.height - 2}, {at.x + sz.width + 2, at.y + base}, cv::Scalar(0, 0, 0), cv::FILLED);
  cv::putText(img, text, {at.x + 1, at.y - 1}, cv::FONT_HERSHEY_SIMPLEX, scale, color, 1, cv::LINE_AA);
}

std::string ReplaceExtension(const std::string& path, const std::string& ext) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return path + ext;
  return path.substr(0, dot) + ext;
}

}  // namespace

namespace {
int RunRenderImpl(const Args& args);
}  // namespace

int RunRender(const Args& args) {
  try {
    return RunRenderImpl(args);
  } catch (const std::exception& e) {  // OpenCV drawing/encoding errors: report, do not crash
    std::fprintf(stderr, "vq2d render: %s\n", e.what());
    return 1;
  }
}

namespace {
int RunRenderImpl(const Args& args) {
  std::string record_path, predictions, query, out;
  long long scale = 2;
  ArgParser p("vq2d render",
              "Draws one query of a clip record: ground-truth response track (green), predicted track (red, with\n"
              "its score), the query frame (yellow marker; frames from it on are outside the search window), a\n"
              "timeline and the visual-crop inset. Writes FILE.mp4 (clip_fps) and FILE.png, a contact sheet of the\n"
              "visual crop, response-track frames and predicted frames. Predictions may be a run's per-clip output\n"
              "(clips/<aa>/<clip>.json), upstream per-clip files (record pixels) or the merged/submission file\n"
              "(original pixels).");
  p.AddString("--record", &record_path, "clip record (.h5)", /*required=*/true);
  p.AddString("--predictions", &predictions, "predictions JSON (omit to draw the ground truth only)");
  p.AddString("--query", &query, "query set: ID (first annotation holding it) or ANN:ID; default: the first valid one");
  p.AddString("--out", &out, "output mp4 path (the contact sheet goes next to it as .png)", /*required=*/true);
  p.AddInt("--scale", &scale, "integer upscaling of the record frames (1-4)");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  scale = std::clamp<long long>(scale, 1, 4);
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "vq2d render: %s\n", s.ToString().c_str());
    return 1;
  };
  auto rec = OpenClipRecord(record_path);
  if (!rec.ok()) return fail(rec.status());
  // Pick the query set.
  const auto& anns = rec->clip().annotations;
  size_t ann_index = 0;
  const QuerySet* q = nullptr;
  std::string want_ann, want_id = query;
  if (size_t colon = query.find(':'); colon != std::string::npos) {
    want_ann = query.substr(0, colon);
    want_id = query.substr(colon + 1);
  }
  for (size_t a = 0; a < anns.size() && !q; ++a) {
    if (!want_ann.empty() && std::to_string(a) != want_ann) continue;
    for (const auto& s : anns[a].query_sets) {
      if ((want_id.empty() && s.is_valid) || (!want_id.empty() && s.id == want_id)) {
        q = &s;
        ann_index = a;
        break;
      }
    }
  }
  if (!q) return fail(Status::NotFound(StrCat("record '", record_path, "' has no query set '", query, "'")));
  Prediction pred;
  if (!predictions.empty()) {
    auto pr = LoadPrediction(predictions, *rec, ann_index, *q);
    if (!pr.ok()) return fail(pr.status());
    pred = *pr;
    if (!pred.found) {
      std::fprintf(stderr, "vq2d render: warning: '%s' has no prediction for clip %s query set %s\n",
                   predictions.c_str(), rec->meta().clip_uid.c_str(), q->id.c_str());
    }
  }
  auto frames = rec->ReadFrames(0, rec->num_frames());
  if (!frames.ok()) return fail(frames.status());
  auto crop = rec->ReadVisualCrop(*q);
  if (!crop.ok()) return fail(crop.status());
  const int W = rec->width() * static_cast<int>(scale), H = rec->height() * static_cast<int>(scale);
  const int T = static_cast<int>(rec->num_frames());
  const int bar_h = 14;
  std::map<int, std::array<int64_t, 4>> gt;
  for (const auto& b : q->response_track) gt[b.frame_number] = rec->ToRecordPixels(b);
  cv::Mat inset;
  if (crop->width > 0 && crop->height > 0) {
    cv::Mat c(crop->height, crop->width, CV_8UC3, crop->data.data());
    cv::cvtColor(c, inset, cv::COLOR_RGB2BGR);
    const double f = std::min(64.0 * scale / std::max(inset.rows, inset.cols), 4.0 * scale);
    cv::resize(inset, inset, cv::Size(), f, f, cv::INTER_NEAREST);
  }
  auto draw = [&](int t) {
    cv::Mat rgb(rec->height(), rec->width(), CV_8UC3, const_cast<uint8_t*>(frames->frame(t)));
    cv::Mat bgr, img(H + bar_h, W, CV_8UC3, cv::Scalar(30, 30, 30));
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    cv::resize(bgr, img(cv::Rect(0, 0, W, H)), cv::Size(W, H), 0, 0, cv::INTER_NEAREST);
    const double s = static_cast<double>(scale);
    if (auto it = gt.find(t); it != gt.end()) {
      const auto& b = it->second;
      cv::rectangle(img, cv::Point2d(b[0] * s, b[1] * s), cv::Point2d((b[0] + b[2]) * s, (b[1] + b[3]) * s), kGreen, 2);
      Label(img, "GT", {static_cast<int>(b[0] * s), static_cast<int>(b[1] * s) - 2}, kGreen);
    }
    if (auto it = pred.boxes.find(t); it != pred.boxes.end()) {
      const auto& b = it->second;
      cv::rectangle(img, cv::Point2d(b.x1 * s, b.y1 * s), cv::Point2d(b.x2 * s, b.y2 * s), kRed, 2);
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.3f", pred.score);
      Label(img, buf, {static_cast<int>(b.x1 * s), static_cast<int>(b.y2 * s) + 16}, kRed);
    }
    if (t == q->query_frame) cv::rectangle(img, cv::Rect(0, 0, W, H), kYellow, 6);
    char head[160];
    std::snprintf(head, sizeof(head), "frame %d/%d  query frame %d%s", t, T, q->query_frame,
                  t >= q->query_frame ? "  (after the query: not searched)" : "");
    Label(img, head, {4, 18}, t >= q->query_frame ? kYellow : kWhite);
    if (!inset.empty()) {
      const int ix = 6, iy = H - inset.rows - 6;  // bottom-left corner
      if (iy > 24 && ix + inset.cols < W) {
        inset.copyTo(img(cv::Rect(ix, iy, inset.cols, inset.rows)));
        cv::rectangle(img, cv::Rect(ix - 1, iy - 1, inset.cols + 2, inset.rows + 2), kYellow, 1);
        Label(img, q->object_title.empty() ? "query" : q->object_title, {ix, iy - 4}, kYellow, 0.45);
      }
    }
    // Timeline: response track (green), prediction (red), query frame (yellow), cursor (white).
    auto xof = [&](int f) { return static_cast<int>(static_cast<double>(f) * W / std::max(1, T)); };
    for (const auto& g : gt) cv::rectangle(img, cv::Rect(xof(g.first), H + 1, std::max(1, xof(g.first + 1) - xof(g.first)), 5), kGreen, cv::FILLED);
    for (const auto& b : pred.boxes) cv::rectangle(img, cv::Rect(xof(b.first), H + 7, std::max(1, xof(b.first + 1) - xof(b.first)), 5), kRed, cv::FILLED);
    cv::line(img, {xof(q->query_frame), H}, {xof(q->query_frame), H + bar_h}, kYellow, 2);
    cv::line(img, {xof(t), H}, {xof(t), H + bar_h}, kWhite, 1);
    return img;
  };
  // Video.
  FileSystem* fs = FileSystem::Default();
  if (Status s = fs->CreateDirs(DirName(out)); !s.ok()) return fail(s);
#ifdef VQ2D_NO_VIDEO
  std::fprintf(stderr, "vq2d render: %s; writing only the contact sheet\n",
               VideoNotBuilt(StrCat("the mp4 '", out, "'")).message().c_str());
#else
  const std::string tmp = out + ".tmp.render.mp4";
  cv::VideoWriter writer;
  const double fps = rec->meta().clip_fps > 0 ? rec->meta().clip_fps : 5.0;
  try {
    writer.open(tmp, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps, cv::Size(W, H + bar_h));
  } catch (const cv::Exception& e) {
    return fail(Status::IOError(StrCat("cannot write '", tmp, "': ", e.what())));
  }
  if (!writer.isOpened()) return fail(Status::IOError(StrCat("cannot open an mp4 writer for '", tmp, "'")));
  for (int t = 0; t < T; ++t) writer.write(draw(t));
  writer.release();
  if (Status s = fs->Rename(tmp, out); !s.ok()) return fail(s);
#endif
  // Contact sheet: visual crop, up to 8 response-track frames, up to 8 predicted frames.
  std::vector<std::pair<std::string, cv::Mat>> tiles;
  const int tw = rec->width() * 3 / 4, th = (rec->height() + bar_h / static_cast<int>(scale)) * 3 / 4;
  auto sample = [](std::vector<int> v, size_t n) {
    if (v.size() <= n) return v;
    std::vector<int> out;
    for (size_t i = 0; i < n; ++i) out.push_back(v[i * (v.size() - 1) / (n - 1)]);
    return out;
  };
  std::vector<int> gt_frames, pred_frames;
  for (const auto& g : gt) gt_frames.push_back(g.first);
  for (const auto& b : pred.boxes) pred_frames.push_back(b.first);
  if (!inset.empty()) {
    cv::Mat t(th, tw, CV_8UC3, cv::Scalar(30, 30, 30)), small;
    const double f = std::min(static_cast<double>(tw - 8) / inset.cols, static_cast<double>(th - 30) / inset.rows);
    cv::resize(inset, small, cv::Size(), f, f, cv::INTER_NEAREST);
    small.copyTo(t(cv::Rect((tw - small.cols) / 2, 24, small.cols, small.rows)));
    tiles.push_back({StrCat("visual crop (frame ", q->visual_crop.frame_number, ")"), t});
  }
  for (int f : sample(gt_frames, 8)) tiles.push_back({StrCat("GT frame ", f), draw(f)});
  for (int f : sample(pred_frames, 8)) tiles.push_back({StrCat("predicted frame ", f), draw(f)});
  if (tiles.empty()) tiles.push_back({"frame 0", draw(0)});
  const int cols = 4, rows = static_cast<int>((tiles.size() + cols - 1) / cols);
  cv::Mat sheet(rows * th, cols * tw, CV_8UC3, cv::Scalar(20, 20, 20));
  for (size_t i = 0; i < tiles.size(); ++i) {
    cv::Mat t;
    cv::resize(tiles[i].second, t, cv::Size(tw, th), 0, 0, cv::INTER_AREA);
    Label(t, tiles[i].first, {2, th - 4}, kWhite, 0.4);
    t.copyTo(sheet(cv::Rect(static_cast<int>(i % cols) * tw, static_cast<int>(i / cols) * th, tw, th)));
  }
  const std::string png = ReplaceExtension(out, ".png");
  std::vector<uchar> buf;
  if (!cv::imencode(".png", sheet, buf)) return fail(Status::Internal("PNG encoding failed"));
  if (Status s = WriteFileAtomic(fs, png, std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()), "render");
      !s.ok()) {
    return fail(s);
  }
  std::printf("vq2d render: clip %s query set %s (%s): %d frames -> %s, contact sheet %s\n",
              rec->meta().clip_uid.c_str(), q->id.c_str(), q->object_title.c_str(), T, out.c_str(), png.c_str());
  return 0;
}

}  // namespace

}  // namespace vq2d::app
