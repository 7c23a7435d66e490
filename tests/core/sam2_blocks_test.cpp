// Module-level parity against fixtures/sam2 cases of kind "sam2_blocks" (Hiera blocks, RoPE attention,
// memory attention, memory encoder, prompt encoder, mask decoder).
#include "core/sam2_test_util.h"

namespace vq2d::sam2 {
namespace {

using testing::CasesOfKind;
using testing::ExpectCloseCase;
using testing::T;

TEST(Sam2Blocks, MatchesFixtures) {
  torch::NoGradGuard no_grad;
  const auto cases = CasesOfKind("sam2_blocks");
  ASSERT_FALSE(cases.empty()) << "no sam2_blocks case";
  for (const auto& dir : cases) {
    SCOPED_TRACE(dir);
    const auto c = testing::ReadCaseJson(dir);
    auto model = testing::BuildCaseModel(dir, c, /*strict=*/false);  // weights hold only these submodules
    const TensorMap m = testing::LoadCaseTensors(dir);
    auto& trunk = model->image_encoder->trunk;
    ExpectCloseCase(c, "hiera_qpool.out", trunk->blocks[3]->forward(T(m, "hiera_qpool.x")), m);
    ExpectCloseCase(c, "hiera_qpool_pad.out", trunk->blocks[3]->forward(T(m, "hiera_qpool_pad.x")), m);
    ExpectCloseCase(c, "hiera_window_pad.out", trunk->blocks[4]->forward(T(m, "hiera_window_pad.x")), m);
    ExpectCloseCase(c, "hiera_global.out", trunk->blocks[5]->forward(T(m, "hiera_global.x")), m);
    auto& l0 = model->memory_attention->layers[0];
    const auto& q = T(m, "rope_self.q");
    ExpectCloseCase(c, "rope_self.out", l0->self_attn->forward(q, q, q), m);
    ExpectCloseCase(c, "rope_cross.out",
                    l0->cross_attn_image->forward(T(m, "rope_cross.q"), T(m, "rope_cross.k"), T(m, "rope_cross.v"), 8),
                    m);
    ExpectCloseCase(c, "memattn.out",
                    model->memory_attention->forward(T(m, "memattn.curr"), T(m, "memattn.memory"),
                                                     T(m, "memattn.curr_pos"), T(m, "memattn.memory_pos"), 8),
                    m);
    auto [feat, pos] = model->memory_encoder->forward(T(m, "memenc.pix_feat"), T(m, "memenc.masks"), true);
    ExpectCloseCase(c, "memenc.vision_features", feat, m);
    ExpectCloseCase(c, "memenc.vision_pos_enc", pos, m);
    auto& pe = model->sam_prompt_encoder;
    ExpectCloseCase(c, "prompt.sparse", pe->EmbedPoints(T(m, "prompt.coords"), T(m, "prompt.labels"), true), m);
    using torch::indexing::Slice;
    ExpectCloseCase(c, "prompt.dense.crop2", pe->NoMaskDense(1).index({Slice(), Slice(), Slice(0, 2), Slice(0, 2)}), m);
    ExpectCloseCase(c, "prompt1.sparse", pe->EmbedPoints(T(m, "prompt1.coords"), T(m, "prompt1.labels"), true), m);
    ExpectCloseCase(c, "prompt.dense_pe", pe->DensePe(), m);
    // Mask decoder on 16x16 embeddings with the no-mask dense embedding.
    const auto& emb = T(m, "dec.image_embeddings");
    auto dense = pe->NoMaskDense(1).index({Slice(), Slice(), Slice(0, emb.size(2)), Slice(0, emb.size(3))});
    std::vector<torch::Tensor> hr{T(m, "dec.high_res_0"), T(m, "dec.high_res_1")};
    const auto& sparse = T(m, "prompt.sparse");
    auto& dec = model->sam_mask_decoder;
    auto raw = dec->PredictMasks(emb, T(m, "dec.image_pe"), sparse, dense, false, hr);
    ExpectCloseCase(c, "dec.raw.masks", raw.masks, m);
    ExpectCloseCase(c, "dec.raw.iou_pred", raw.iou_pred, m);
    ExpectCloseCase(c, "dec.raw.mask_tokens_out", raw.sam_tokens_out, m);
    ExpectCloseCase(c, "dec.raw.object_score_logits", raw.object_score_logits, m);
    for (const bool multi : {true, false}) {
      const std::string p = multi ? "dec.multi." : "dec.single.";
      auto o = dec->forward(emb, T(m, "dec.image_pe"), sparse, dense, multi, false, hr);
      ExpectCloseCase(c, p + "masks", o.masks, m);
      ExpectCloseCase(c, p + "iou_pred", o.iou_pred, m);
      ExpectCloseCase(c, p + "sam_tokens_out", o.sam_tokens_out, m);
      ExpectCloseCase(c, p + "object_score_logits", o.object_score_logits, m);
    }
  }
}

}  // namespace
}  // namespace vq2d::sam2
