#include "vq2d/base/sha256.h"

#include <gtest/gtest.h>

#include "support/test_support.h"
#include "vq2d/base/filesystem.h"

namespace vq2d {
namespace {

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(Sha256Hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, FileMatchesMemoryAndMissingFileIsNotFound) {
  testing::TempDir dir;
  std::string data(3 << 20, 'x');
  data[12345] = 'y';
  ASSERT_TRUE(WriteFileAtomic(FileSystem::Default(), dir.Join("f"), data, "t").ok());
  auto h = Sha256File(dir.Join("f"));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(*h, Sha256Hex(data));
  EXPECT_EQ(Sha256File(dir.Join("missing")).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace vq2d
