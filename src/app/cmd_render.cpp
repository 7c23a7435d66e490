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
#include "app/render.h"
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
              "visual crop, response-track frames, predicted frames and the query frame, with a legend. Predictions\n"
              "may be a run's per-clip output (clips/<aa>/<clip>.json), upstream per-clip files (record pixels) or\n"
              "the merged/submission file (original pixels).");
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
  RenderPrediction pred;
  if (!predictions.empty()) {
    auto pr = LoadRenderPrediction(predictions, *rec, ann_index, *q);
    if (!pr.ok()) return fail(pr.status());
    pred = *pr;
    if (!pred.found) {
      std::fprintf(stderr, "vq2d render: warning: '%s' has no prediction for clip %s query set %s\n",
                   predictions.c_str(), rec->meta().clip_uid.c_str(), q->id.c_str());
    }
  }
  auto frames = rec->ReadFrames(0, rec->num_frames());
  if (!frames.ok()) return fail(frames.status());
  auto painter = QueryPainter::Make(*rec, *q, pred, &*frames);
  if (!painter.ok()) return fail(painter.status());
  const int T = static_cast<int>(rec->num_frames());
  if (T <= 0) return fail(Status::Corruption(StrCat("record '", record_path, "' holds no frames")));
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
  for (int t = 0; t < T; ++t) {
    auto img = painter->Frame(t, static_cast<double>(scale), /*inset=*/true);
    if (!img.ok()) return fail(img.status());
    if (t == 0) {
      try {
        writer.open(tmp, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps, img->size());
      } catch (const cv::Exception& e) {
        return fail(Status::IOError(StrCat("cannot write '", tmp, "': ", e.what())));
      }
      if (!writer.isOpened()) return fail(Status::IOError(StrCat("cannot open an mp4 writer for '", tmp, "'")));
    }
    writer.write(*img);
  }
  writer.release();
  if (Status s = fs->Rename(tmp, out); !s.ok()) return fail(s);
#endif
  // Contact sheet: visual crop, up to 8 response-track frames, up to 8 predicted frames, the query
  // frame; frames drawn at the tile size (3/4 of the record) so labels keep their size.
  const double tile_scale = 0.75;
  const int tw = static_cast<int>(rec->width() * tile_scale), th = static_cast<int>(rec->height() * tile_scale) + 8;
  auto sample = [](std::vector<int> v, size_t n) {
    if (v.size() <= n) return v;
    std::vector<int> out;
    for (size_t i = 0; i < n; ++i) out.push_back(v[i * (v.size() - 1) / (n - 1)]);
    return out;
  };
  std::vector<Tile> tiles;
  if (cv::Mat c = painter->VisualCrop(tw, th); !c.empty())
    tiles.push_back({StrCat("visual crop (frame ", q->visual_crop.frame_number, ")"), c});
  auto add = [&](const std::string& caption, int f) -> Status {
    VQ2D_ASSIGN_OR_RETURN(cv::Mat img, painter->Frame(f, tile_scale, /*inset=*/false));
    tiles.push_back({caption, img});
    return Status::OK();
  };
  for (int f : sample(painter->GtFrames(), 8))
    if (Status s = add(StrCat("GT frame ", f), f); !s.ok()) return fail(s);
  for (int f : sample(painter->PredFrames(), 8))
    if (f >= 0 && f < T)
      if (Status s = add(StrCat("predicted frame ", f), f); !s.ok()) return fail(s);
  {
    const int qf = painter->QueryFrameInRecord();
    const std::string cap = qf == q->query_frame ? StrCat("query frame ", qf, " (not searched)")
                                                 : StrCat("query frame ", q->query_frame, " (past the record; last frame ", qf, ")");
    if (Status s = add(cap, qf); !s.ok()) return fail(s);
  }
  const cv::Mat sheet = ContactSheet(tiles, 4, tw, th, painter->Legend());
  const std::string png = ReplaceExtension(out, ".png");
  if (Status s = WritePng(png, sheet); !s.ok()) return fail(s);
  std::printf("vq2d render: clip %s query set %s (%s): %d frames -> %s, contact sheet %s\n",
              rec->meta().clip_uid.c_str(), q->id.c_str(), q->object_title.c_str(), T, out.c_str(), png.c_str());
  return 0;
}

}  // namespace

}  // namespace vq2d::app
