#include "app/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vq2d/base/filesystem.h"
#include "vq2d/base/json_parse.h"

namespace vq2d::app {

using io::ClipRecord;
using io::QuerySet;
using io::ClipOutput;
using io::FrameBuffer;
using io::ParseClipOutput;
namespace {

const cv::Scalar kGreen(60, 220, 60), kRed(40, 40, 235), kWhite(255, 255, 255), kYellow(40, 220, 240);  // BGR
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// Font scale for a frame drawn `scale` times the record size: never below 0.4 (about 9 px capitals,
// the smallest size that stays legible), so labels do not shrink with the picture.
double FontFor(double scale) { return std::clamp(0.25 * scale, 0.4, 0.6); }

// The box a label takes when its baseline-left corner is asked at `at`, kept inside the image.
cv::Rect LabelRect(const cv::Mat& img, const std::string& text, cv::Point at, double font) {
  int base = 0;
  const cv::Size sz = cv::getTextSize(text, kFont, font, 1, &base);
  at.x = std::clamp(at.x, 0, std::max(0, img.cols - sz.width - 2));
  at.y = std::clamp(at.y, sz.height + 2, std::max(sz.height + 2, img.rows - base - 1));
  return cv::Rect(at.x, at.y - sz.height - 2, sz.width + 2, sz.height + 2 + base);
}

void DrawLabel(cv::Mat& img, const std::string& text, const cv::Rect& r, const cv::Scalar& color, double font) {
  int base = 0;
  cv::getTextSize(text, kFont, font, 1, &base);
  cv::rectangle(img, r, cv::Scalar(0, 0, 0), cv::FILLED);
  cv::putText(img, text, {r.x + 1, r.y + r.height - base - 1}, kFont, font, color, 1, cv::LINE_AA);
}

cv::Rect Label(cv::Mat& img, const std::string& text, cv::Point at, const cv::Scalar& color, double font) {
  const cv::Rect r = LabelRect(img, text, at, font);
  DrawLabel(img, text, r, color, font);
  return r;
}

// A drawing coordinate in pixels: truncated toward zero like the int cast it replaces, saturated at
// +-1e8 so that a box far outside the picture (a hostile or broken prediction) draws the same visible
// pixels without an out-of-range cast (undefined behaviour); NaN (a box times the inf scale of a
// zero original size) draws at 0.
int Px(double v) { return std::isnan(v) ? 0 : static_cast<int>(std::clamp(v, -1e8, 1e8)); }

int TextWidth(const std::string& text, double font) {
  int base = 0;
  return cv::getTextSize(text, kFont, font, 1, &base).width;
}

}  // namespace

Result<RenderPrediction> LoadRenderPrediction(const std::string& path, const ClipRecord& rec, size_t ann_index,
                                              const QuerySet& q) {
  VQ2D_ASSIGN_OR_RETURN(std::string text, FileSystem::Default()->ReadFile(path));
  // The depth-limited, linear parser every other JSON reader uses (vq2d/base/json_parse.h).
  auto parsed = ParseJson(text, StrCat("predictions '", path, "'"));
  if (!parsed.ok()) return Status::InvalidArgument(parsed.status().message());
  const nlohmann::json& j = *parsed;
  RenderPrediction p;
  const auto schema = j.is_object() ? j.find("schema") : j.end();
  if (schema != j.end() && schema->is_string() && *schema == "vq2d.clip_output/1") {  // a run's per-clip output (record pixels)
    VQ2D_ASSIGN_OR_RETURN(ClipOutput co, ParseClipOutput(text, path));
    if (co.clip_uid != rec.meta().clip_uid) return p;
    return PredictionFromClipOutput(co, static_cast<int>(ann_index), q.id);
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
          const auto& fno = b.at("fno");
          const double f = fno.is_number() ? fno.get<double>() : 0.5;
          if (!fno.is_number() || f != std::floor(f) || std::fabs(f) > 2147483647.0) {
            return Status::InvalidArgument(StrCat("predictions '", path, "': clip '", rec.meta().clip_uid,
                                                  "' query set ", q.id, ": fno ", fno.dump(),
                                                  " is not an integer frame number"));
          }
          p.boxes[static_cast<int>(f)] = RenderBox{b.at("x1").get<double>() * sx, b.at("y1").get<double>() * sy,
                                                      b.at("x2").get<double>() * sx, b.at("y2").get<double>() * sy};
        }
      }
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument(StrCat("predictions '", path, "': unexpected structure: ", e.what()));
  }
  return p;
}

RenderPrediction PredictionFromClipOutput(const ClipOutput& out, int ann_index, const std::string& query_set) {
  RenderPrediction p;
  for (const auto& qp : out.queries) {
    if (qp.annotation_index != ann_index || qp.query_set != query_set) continue;
    p.found = true;
    p.score = qp.score;
    for (const auto& b : qp.bboxes) p.boxes[b.fno] = RenderBox{b.x1, b.y1, b.x2, b.y2};
  }
  return p;
}

Result<QueryPainter> QueryPainter::Make(const ClipRecord& rec, const QuerySet& q, RenderPrediction pred,
                                        const FrameBuffer* frames) {
  QueryPainter p;
  p.rec_ = &rec;
  p.q_ = &q;
  p.frames_ = frames;
  p.pred_ = std::move(pred);
  for (const auto& b : q.response_track) p.gt_[b.frame_number] = rec.ToRecordPixels(b);
  VQ2D_ASSIGN_OR_RETURN(FrameBuffer crop, rec.ReadVisualCrop(q));
  if (crop.width > 0 && crop.height > 0) {
    cv::Mat c(crop.height, crop.width, CV_8UC3, crop.data.data());
    cv::cvtColor(c, p.crop_, cv::COLOR_RGB2BGR);
  }
  return p;
}

std::vector<int> QueryPainter::GtFrames() const {
  std::vector<int> v;
  for (const auto& g : gt_) v.push_back(g.first);
  return v;
}

std::vector<int> QueryPainter::PredFrames() const {
  std::vector<int> v;
  for (const auto& b : pred_.boxes) v.push_back(b.first);
  return v;
}

int QueryPainter::QueryFrameInRecord() const {
  return std::clamp<int>(q_->query_frame, 0, std::max<int>(0, static_cast<int>(rec_->num_frames()) - 1));
}

std::string QueryPainter::Legend() const {
  std::string s =
      "green: ground-truth response track; red: predicted track and its score; yellow: the query frame (it and "
      "the frames after it are not searched); the bar under each frame is the timeline (green GT, red prediction, "
      "yellow query frame, white: this frame). ";
  const auto& g = rec_->meta().geometry;
  const bool trimmed = g.trim.x1 != 0 || g.trim.y1 != 0 || (g.trim.x2 != 0 && g.trim.x2 != g.decoded_width) ||
                       (g.trim.y2 != 0 && g.trim.y2 != g.decoded_height);
  if (rec_->meta().apply_trim_offset) {
    s += "Ground truth shifted by the black-bar trim (record prepared with fixes.apply_trim_offset on).";
  } else {
    s += "Ground truth drawn where upstream places it: fixes.apply_trim_offset is off, so annotation boxes are mapped "
         "to the record without the black-bar trim offset (upstream quirk Q5)";
    s += trimmed ? "; this video had black bars trimmed, so the green boxes may sit off the object." : ".";
  }
  return s;
}

Result<cv::Mat> QueryPainter::Frame(int t, double scale, bool inset) const {
  const int T = static_cast<int>(rec_->num_frames());
  if (t < 0 || t >= T) return Status::InvalidArgument(StrCat("frame ", t, " outside the record (", T, " frames)"));
  FrameBuffer one;
  const uint8_t* rgb_data = nullptr;
  if (frames_ && t < frames_->count) {
    rgb_data = frames_->frame(t);
  } else {
    VQ2D_ASSIGN_OR_RETURN(one, rec_->ReadFrame(t));
    rgb_data = one.frame(0);
  }
  const double font = FontFor(scale);
  const int W = std::max(1, static_cast<int>(std::lround(rec_->width() * scale)));
  const int H = std::max(1, static_cast<int>(std::lround(rec_->height() * scale)));
  const int bar_h = scale >= 1 ? 14 : 8;
  cv::Mat rgb(rec_->height(), rec_->width(), CV_8UC3, const_cast<uint8_t*>(rgb_data));
  cv::Mat bgr, img(H + bar_h, W, CV_8UC3, cv::Scalar(30, 30, 30));
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  cv::resize(bgr, img(cv::Rect(0, 0, W, H)), cv::Size(W, H), 0, 0, scale >= 1 ? cv::INTER_NEAREST : cv::INTER_AREA);
  const int Q = q_->query_frame;
  const auto pit = pred_.boxes.find(t);
  // Header: frame, query frame, score of the prediction drawn on this frame.
  char score[32] = "";
  if (pit != pred_.boxes.end()) std::snprintf(score, sizeof score, "  score %.3f", pred_.score);
  std::string head = StrCat("frame ", t, "/", T, "  query frame ", Q, score,
                            t == Q ? "  (query frame: not searched)" : t > Q ? "  (after the query frame: not searched)" : "");
  if (TextWidth(head, font) > W - 8) {
    head = StrCat("f", t, " q", Q, score);
    if (TextWidth(head, font) > W - 8) head = StrCat("f", t);
  }
  const cv::Rect head_rect = Label(img, head, {4, 4 + static_cast<int>(22 * font)}, t >= Q ? kYellow : kWhite, font);
  if (t == Q) cv::rectangle(img, cv::Rect(0, 0, W, H), kYellow, std::max(2, static_cast<int>(3 * scale)));
  cv::Rect inset_rect;
  if (inset && !crop_.empty()) {
    cv::Mat in;
    const double f = std::min(64.0 * scale / std::max(crop_.rows, crop_.cols), 4.0 * scale);
    cv::resize(crop_, in, cv::Size(), f, f, cv::INTER_NEAREST);
    const int ix = 6, iy = H - in.rows - 6;  // bottom-left corner
    if (in.rows > 0 && in.cols > 0 && iy > head_rect.br().y + 20 && ix + in.cols < W) {
      in.copyTo(img(cv::Rect(ix, iy, in.cols, in.rows)));
      cv::rectangle(img, cv::Rect(ix - 1, iy - 1, in.cols + 2, in.rows + 2), kYellow, 1);
      const cv::Rect title = Label(img, q_->object_title.empty() ? "query" : q_->object_title, {ix, iy - 4}, kYellow, font);
      inset_rect = cv::Rect(ix - 1, iy - 1, in.cols + 2, in.rows + 2) | title;
    }
  }
  const int thick = scale >= 1 ? 2 : 1;
  if (auto it = gt_.find(t); it != gt_.end()) {
    const auto& b = it->second;
    cv::rectangle(img, cv::Point2d(b[0] * scale, b[1] * scale), cv::Point2d((b[0] + b[2]) * scale, (b[1] + b[3]) * scale),
                  kGreen, thick);
    Label(img, "GT", {Px(b[0] * scale), Px(b[1] * scale) - 2}, kGreen, font);
  }
  if (pit != pred_.boxes.end()) {
    const auto& b = pit->second;
    cv::rectangle(img, cv::Point2d(b.x1 * scale, b.y1 * scale), cv::Point2d(b.x2 * scale, b.y2 * scale), kRed, thick);
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.3f", pred_.score);
    // Below the box, else above its right end, else inside its top: the first place that hides
    // neither the inset nor the header (the score is in the header too).
    const int tw = TextWidth(buf, font), th = static_cast<int>(22 * font);
    const cv::Point places[] = {{Px(b.x1 * scale), Px(b.y2 * scale) + th + 4},
                                {Px(b.x2 * scale) - tw, Px(b.y1 * scale) - 2},
                                {Px(b.x1 * scale) + 2, Px(b.y1 * scale) + th + 2}};
    cv::Rect chosen = LabelRect(img, buf, places[0], font);
    for (const auto& at : places) {
      const cv::Rect r = LabelRect(img, buf, at, font);
      if ((r & inset_rect).area() == 0 && (r & head_rect).area() == 0 && r.br().y <= H) {
        chosen = r;
        break;
      }
    }
    DrawLabel(img, buf, chosen, kRed, font);
  }
  // Timeline: response track (green), prediction (red), query frame (yellow), cursor (white).
  auto xof = [&](int f) { return static_cast<int>(static_cast<double>(f) * W / std::max(1, T)); };
  const int lane = std::max(2, (bar_h - 4) / 2);
  for (const auto& g : gt_)
    cv::rectangle(img, cv::Rect(xof(g.first), H + 1, std::max(1, xof(g.first + 1) - xof(g.first)), lane), kGreen, cv::FILLED);
  for (const auto& b : pred_.boxes)
    cv::rectangle(img, cv::Rect(xof(b.first), H + 2 + lane, std::max(1, xof(b.first + 1) - xof(b.first)), lane), kRed,
                  cv::FILLED);
  cv::line(img, {xof(Q), H}, {xof(Q), H + bar_h}, kYellow, 2);
  cv::line(img, {xof(t), H}, {xof(t), H + bar_h}, kWhite, 1);
  return img;
}

cv::Mat QueryPainter::VisualCrop(int w, int h) const {
  if (crop_.empty()) return cv::Mat();
  cv::Mat tile(h, w, CV_8UC3, cv::Scalar(30, 30, 30)), small;
  const double f = std::min(static_cast<double>(w - 8) / crop_.cols, static_cast<double>(h - 8) / crop_.rows);
  if (f <= 0) return tile;
  cv::resize(crop_, small, cv::Size(), f, f, cv::INTER_NEAREST);
  small = small(cv::Rect(0, 0, std::min(small.cols, w), std::min(small.rows, h)));
  small.copyTo(tile(cv::Rect((w - small.cols) / 2, (h - small.rows) / 2, small.cols, small.rows)));
  return tile;
}

cv::Mat ContactSheet(const std::vector<Tile>& tiles, int cols, int tile_w, int tile_h, const std::string& legend) {
  const double font = 0.4;
  const int cap_h = 16, line_h = 16;
  cols = std::max(1, std::min<int>(cols, static_cast<int>(std::max<size_t>(1, tiles.size()))));
  const int rows = static_cast<int>((tiles.size() + cols - 1) / cols);
  const int sheet_w = cols * tile_w;
  // Legend wrapped into lines that fit the sheet.
  std::vector<std::string> lines;
  {
    std::string line, word;
    auto flush_word = [&] {
      if (word.empty()) return;
      const std::string cand = line.empty() ? word : line + " " + word;
      if (!line.empty() && TextWidth(cand, font) > sheet_w - 8) {
        lines.push_back(line);
        line = word;
      } else {
        line = cand;
      }
      word.clear();
    };
    for (char c : legend) {
      if (c == ' ') flush_word();
      else word += c;
    }
    flush_word();
    if (!line.empty()) lines.push_back(line);
  }
  const int legend_h = lines.empty() ? 0 : static_cast<int>(lines.size()) * line_h + 6;
  cv::Mat sheet(rows * (cap_h + tile_h) + legend_h, sheet_w, CV_8UC3, cv::Scalar(20, 20, 20));
  for (size_t i = 0; i < tiles.size(); ++i) {
    const int x0 = static_cast<int>(i % cols) * tile_w, y0 = static_cast<int>(i / cols) * (cap_h + tile_h);
    cv::Mat cell = sheet(cv::Rect(x0, y0, tile_w, cap_h + tile_h));
    std::string cap = tiles[i].caption;
    while (cap.size() > 4 && TextWidth(cap, font) > tile_w - 4) cap = cap.substr(0, cap.size() - 4) + "...";
    cv::putText(cell, cap, {2, cap_h - 4}, kFont, font, kWhite, 1, cv::LINE_AA);
    const cv::Mat& im = tiles[i].image;
    if (im.empty()) continue;
    const double f = std::min(static_cast<double>(tile_w - 2) / im.cols, static_cast<double>(tile_h - 2) / im.rows);
    cv::Mat fit;
    cv::resize(im, fit, cv::Size(std::max(1, static_cast<int>(im.cols * f)), std::max(1, static_cast<int>(im.rows * f))), 0, 0,
               f < 1 ? cv::INTER_AREA : cv::INTER_NEAREST);
    fit.copyTo(cell(cv::Rect((tile_w - fit.cols) / 2, cap_h + (tile_h - fit.rows) / 2, fit.cols, fit.rows)));
  }
  for (size_t l = 0; l < lines.size(); ++l)
    cv::putText(sheet, lines[l], {4, rows * (cap_h + tile_h) + 2 + static_cast<int>(l + 1) * line_h - 4}, kFont, font,
                kWhite, 1, cv::LINE_AA);
  return sheet;
}

Status WritePng(const std::string& path, const cv::Mat& image) {
  std::vector<uchar> buf;
  try {
    if (!cv::imencode(".png", image, buf)) return Status::Internal(StrCat("PNG encoding of ", path, " failed"));
  } catch (const cv::Exception& e) {
    return Status::Internal(StrCat("PNG encoding of ", path, " failed: ", e.what()));
  }
  return WriteFileAtomic(FileSystem::Default(), path,
                         std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()), "render");
}

}  // namespace vq2d::app
