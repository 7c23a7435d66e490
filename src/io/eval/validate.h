// Internal: the official validate_model_predictions on a parsed predictions JSON (src/io only).
#pragma once

#include <string>

#include "io/json_util.h"
#include "vq2d/base/status.h"
#include "vq2d/io/annotations.h"

namespace vq2d {

// evaluate_vq.validate_model_predictions: OK or the first failing rule, as an "AssertionError: ..." /
// "KeyError: ..." / "AttributeError: ..." message naming `src` and the JSON path.
Status ValidatePredictionsJson(const io_internal::OJson& pred, const std::string& src, const AnnotationFile& gt);

}  // namespace vq2d
