// SAM 2.1 video predictor (the legacy SAM2VideoPredictor vendored by REN, docs/sam2.md), for ONE
// object per state (what the REN pipeline tracks): prompt a frame with points and/or a box, then
// propagate forward or in reverse with the reference memory-bank rules (every conditioning frame,
// num_maskmem-1 previous frames at the eval stride, up to max_obj_ptrs_in_encoder object pointers with
// signed temporal encodings, object-score gating, optional hole filling).
//
// Memory is bounded on long clips: frames are fetched (and preprocessed) lazily one at a time, the
// image features of the most recent frame are cached (each frame is encoded once during propagation),
// and — unless keep_all_outputs — the bank drops non-conditioning outputs no rule can select any more.
// Coordinates are pixels (x, y) of the original video frames. Thread-safety: one thread at a time.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <map>
#include <optional>
#include <set>

#include "vq2d/core/sam2.h"
#include "vq2d/base/status.h"

namespace vq2d::sam2 {

// A clip whose frames are supplied on demand as preprocessed float [3,S,S] (or [1,3,S,S]) tensors.
struct VideoFrames {
  int64_t num_frames = 0;
  int64_t video_height = 0;  // original frame size (output masks are at this size)
  int64_t video_width = 0;
  std::function<torch::Tensor(int64_t)> get;
};

// REN's init_state(images=..., video_height, video_width): frames already resized + normalised [N,3,S,S].
VideoFrames FramesFromPreprocessed(torch::Tensor images, int64_t video_height, int64_t video_width);
// uint8 RGB frames [N,H,W,3], preprocessed lazily exactly as REN's host code does (ToTensor, bilinear
// antialiased resize to S×S, ImageNet normalisation); the tensor is shared, not copied.
VideoFrames FramesFromRgb(torch::Tensor frames, int64_t image_size);

struct VideoPredictorOptions {
  // Fill background holes of area <= this in the 256² logits (0 = off, as upstream REN ran it).
  int fill_hole_area = 0;
  // Keep every frame's output like the reference (memory grows with the clip). false: prune outputs
  // that no memory rule can select from the current frame or from any conditioning frame.
  bool keep_all_outputs = false;
  // Run under bf16 autocast (upstream REN's CUDA setting); memories are stored in bf16 either way.
  bool bf16 = false;
  // Prompt frame indices behave like the 0-d tensor upstream REN passes (savya08/REN@e2204c5:
  // visual_query/models.py:622): SAM 2 keys the prompt's outputs by that tensor, which hashes by
  // identity, so no lookup by an int frame index ever finds them. Consequences, all reproduced:
  // the prompt's output is still conditioning memory (its maskmem at t_pos 0, its object pointer at
  // temporal distance t - prompt); propagation does not recognise the prompt frame as prompted, so it
  // re-infers it as an ordinary memory-conditioned frame (is_init_cond false, no points, memory
  // encoder run), yields that mask and stores it as the frame's non-conditioning output, which the
  // next frames then also read as memory; Output(prompt) finds that output; a prompt is always an
  // initial conditioning frame with no previous mask logits. false = standard SAM 2 (an int index:
  // the prompt frame yields its box-prompted mask). With true a second prompt on an already
  // prompted frame is rejected (upstream would keep two conditioning entries for one frame).
  bool prompt_index_as_tensor = false;
};

// What the bank stores per frame (one object).
struct FrameOutput {
  torch::Tensor maskmem_features;     // [1,mem_dim,h,w] bfloat16 (undefined until encoded)
  torch::Tensor pred_masks;           // [1,1,S/4,S/4] float32 logits (hole-filled if enabled)
  torch::Tensor obj_ptr;              // [1,d_model] float32
  torch::Tensor object_score_logits;  // [1,1] float32
};

struct TrackedFrame {
  int64_t frame_idx = 0;
  torch::Tensor video_res_masks;  // [1,1,H,W] float32 logits at video resolution (mask = > 0)
};

class VideoPredictor {
 public:
  explicit VideoPredictor(Sam2Model model, VideoPredictorOptions options = {});

  // Starts a new clip (drops any previous state).
  Status InitState(VideoFrames frames);
  // Clears prompts and outputs, keeps the clip.
  void ResetState();

  // points [N,2] float pixels (may be undefined), labels [N] int (1 pos, 0 neg), box [4] xyxy pixels
  // (may be undefined). A box becomes two points (labels 2, 3) placed before the clicks.
  Result<TrackedFrame> AddNewPointsOrBox(int64_t frame_idx, int obj_id, const torch::Tensor& points,
                                         const torch::Tensor& labels, const torch::Tensor& box,
                                         bool clear_old_points = true);

  // propagate_in_video: start defaults to the first conditioning frame, max_frames to the clip length.
  Status StartPropagation(std::optional<int64_t> start_frame_idx = std::nullopt,
                          std::optional<int64_t> max_frame_num_to_track = std::nullopt, bool reverse = false);
  // Next yielded frame, or nullopt when the propagation is finished.
  Result<std::optional<TrackedFrame>> Next();

  // The stored output a lookup by frame index finds (conditioning first; with prompt_index_as_tensor
  // the prompts' outputs are never found), or nullptr (never computed, or pruned).
  const FrameOutput* Output(int64_t frame_idx) const;
  // The conditioning (prompted) output of a frame after StartPropagation, or nullptr.
  const FrameOutput* ConditioningOutput(int64_t frame_idx) const;
  size_t num_stored_outputs() const { return cond_.size() + non_cond_.size(); }
  int64_t num_image_encodes() const { return num_encodes_; }

 private:
  struct Features {
    int64_t frame_idx = -1;
    std::vector<torch::Tensor> high_res;  // [1,d/8,4h,4w], [1,d/4,2h,2w]
    torch::Tensor vision_feat;            // [hw,1,d] lowest level (raw)
    torch::Tensor vision_pos;             // [hw,1,d]
    int64_t h = 0, w = 0;
  };
  struct Points {
    torch::Tensor coords;  // [1,P,2] in model input pixels
    torch::Tensor labels;  // [1,P] int32
  };
  struct StepOut {
    FrameOutput out;
    torch::Tensor high_res_masks;
  };

  const Features& GetFeatures(int64_t frame_idx);
  torch::Tensor MemoryConditioned(int64_t frame_idx, const Features& f, bool reverse);
  StepOut TrackStep(int64_t frame_idx, bool is_init_cond, const Points* points, bool reverse, bool run_mem_encoder,
                    const torch::Tensor& prev_mask_logits);
  torch::Tensor EncodeMemory(const Features& f, const torch::Tensor& high_res_masks, const torch::Tensor& score,
                             bool from_points);
  torch::Tensor ToVideoRes(const torch::Tensor& low_res) const;
  void Preflight();
  void Prune(int64_t frame_idx);

  Sam2Model model_;
  VideoPredictorOptions options_;
  torch::Device device_;
  VideoFrames frames_;
  bool has_state_ = false;
  std::optional<int> obj_id_;
  Features cache_;
  int64_t num_encodes_ = 0;
  torch::Tensor maskmem_pos_enc_;  // [1,mem_dim,h,w], constant
  std::map<int64_t, Points> point_inputs_;
  std::map<int64_t, FrameOutput> cond_, non_cond_;            // output_dict
  std::map<int64_t, FrameOutput> temp_cond_, temp_non_cond_;  // temp_output_dict
  std::set<int64_t> consolidated_cond_, consolidated_non_cond_;
  std::map<int64_t, bool> frames_already_tracked_;  // frame -> reverse
  // Propagation in progress.
  std::vector<int64_t> order_;
  size_t next_ = 0;
  bool reverse_ = false;
};

}  // namespace vq2d::sam2
