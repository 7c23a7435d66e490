// Test double of the `vq2d` binary: every subcommand is the product's, except that `run` processes
// clips with a scripted processor instead of the VQ2D pipeline. Its output for a query is the
// query's ground-truth response track (so merge + eval give perfect scores), rescaled into a
// 512-pixel-wide "record" frame. Behaviour is scripted through the environment:
//   FAKE_SLEEP_MS=n        per clip, sleep n * cost / 10 ms (after the throw/abort checks), reporting
//                          stage "sleep" with its share done every tenth
//   FAKE_THROW_CLIP=uid    throw an exception in that clip
//   FAKE_ABORT_CLIP=uid    abort() the process in that clip
//   FAKE_FINGERPRINT_FILE=path  a file hashed into the fingerprint (as a checkpoint would be)
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "app/commands.h"
#include "app/run_command.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/clip_output.h"

namespace vq2d {

using io::AnnotationFile;
using io::ClipOutput;
using io::Config;
using io::LoadAnnotations;
using io::QueryPrediction;
using io::SerializeClipOutput;
using runner::ClipProcessor;
using runner::ClipResult;
using runner::ClipTask;
using runner::Collective;
using runner::StopToken;
namespace {

class GroundTruthProcessor : public ClipProcessor {
 public:
  explicit GroundTruthProcessor(AnnotationFile ann) : ann_(std::move(ann)) {}

  Result<ClipResult> Process(const ClipTask& task, const StopToken& stop) override {
    if (const char* c = std::getenv("FAKE_THROW_CLIP"); c && task.clip_uid == c)
      throw std::runtime_error("scripted exception in " + task.clip_uid);
    if (const char* c = std::getenv("FAKE_ABORT_CLIP"); c && task.clip_uid == c) std::abort();
    const char* sleep_ms = std::getenv("FAKE_SLEEP_MS");
    if (sleep_ms) {
      const double total = std::atof(sleep_ms) * task.cost / 10.0;
      int reported = -1;
      for (double t = 0; t < total && !stop.stop_requested(); t += 10) {
        const int tenth = static_cast<int>(10 * t / total);
        if (tenth != reported) task.ReportStage("sleep", 0.1 * (reported = tenth));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    for (const auto& v : ann_.videos) {
      for (const auto& clip : v.clips) {
        if (!clip.clip_uid || *clip.clip_uid != task.clip_uid) continue;
        ClipOutput out;
        out.clip_uid = task.clip_uid;
        out.video_uid = v.video_uid;
        for (size_t ai = 0; ai < clip.annotations.size(); ++ai) {
          for (const auto& qs : clip.annotations[ai].query_sets) {
            if (!qs.is_valid) continue;
            out.original_width = qs.visual_crop.original_width;
            out.original_height = qs.visual_crop.original_height;
            QueryPrediction p{static_cast<int>(ai), qs.id, 1.0, {}};
            for (const auto& b : qs.response_track)
              p.bboxes.push_back({b.frame_number, b.x, b.y, b.x + b.width, b.y + b.height});
            out.queries.push_back(p);
          }
        }
        // Record pixels == original pixels here, so the merge's rescale is the identity.
        out.frame_width = out.original_width;
        out.frame_height = out.original_height;
        ClipResult r;
        r.output = SerializeClipOutput(out);
        r.stats = {{"track_s", 0.01}, {"queries", out.queries.size()}};
        return r;
      }
    }
    return Status::NotFound("clip " + task.clip_uid + " is not in the annotation file");
  }

 private:
  AnnotationFile ann_;
};

}  // namespace
}  // namespace vq2d

int main(int argc, char** argv) {
  using namespace vq2d;
  if (argc >= 2 && std::string(argv[1]) == "run") {
    app::ProcessorFactory f;
    f.make = [](const Config& c, const Collective&, const app::ProcessorExtras&) -> Result<std::unique_ptr<ClipProcessor>> {
      auto ann = LoadAnnotations(c.AnnotationsFile(c.visual_query.split));
      if (!ann.ok()) return ann.status();
      return std::unique_ptr<ClipProcessor>(new GroundTruthProcessor(std::move(ann).value()));
    };
    f.fingerprint_files = [](const Config&) {
      std::vector<std::pair<std::string, std::string>> files;
      if (const char* p = std::getenv("FAKE_FINGERPRINT_FILE")) files.emplace_back("fake_checkpoint", p);
      return files;
    };
    return app::RunRunWith(app::Args(argv + 2, argv + argc), f);
  }
  return app::RunCommandLine(argc, argv);
}
