#include "vq2d/core/sam2_demo.h"

namespace vq2d::sam2 {

nlohmann::json DemoArchitecture() {
  return {{"model",
           {{"image_size", 256},
            {"image_encoder",
             {{"scalp", 1},
              {"trunk",
               {{"embed_dim", 16},
                {"num_heads", 1},
                {"stages", {1, 1, 2, 1}},
                {"global_att_blocks", {3}},
                {"window_spec", {8, 4, 16, 8}},
                {"window_pos_embed_bkg_spatial_size", {7, 7}}}},
              {"neck", {{"d_model", 32}, {"fpn_top_down_levels", {2, 3}}}}}},
            {"memory_attention", {{"num_layers", 1}, {"layer", {{"dim_feedforward", 64}}}}},
            {"memory_encoder", {{"out_dim", 16}, {"in_dim", 32}, {"mask_downsampler", {{"embed_dim", 32}}}}},
            {"sam_mask_decoder_extra_args",
             {{"dynamic_multimask_via_stability", true},
              {"dynamic_multimask_stability_delta", 0.05},
              {"dynamic_multimask_stability_thresh", 0.98}}}}}};
}

}  // namespace vq2d::sam2
