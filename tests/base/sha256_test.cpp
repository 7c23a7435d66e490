#include "vq2d/base/sha256.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <utility>

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

// A byte range of an open file (the record header's hash covers everything after the user block):
// equal to hashing those bytes in memory, across the 1 MiB read size; a range past the end is an
// IOError naming the file; the fd's offset is untouched.
TEST(Sha256Test, RangeOfAnOpenFileMatchesMemoryAndAShortFileIsAnError) {
  testing::TempDir dir;
  std::string data((2 << 20) + 777, 'a');
  for (size_t i = 0; i < data.size(); i += 4099) data[i] = static_cast<char>('b' + i % 7);
  ASSERT_TRUE(WriteFileAtomic(FileSystem::Default(), dir.Join("f"), data, "t").ok());
  const int fd = ::open(dir.Join("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (auto [from, to] : {std::pair<uint64_t, uint64_t>{0, data.size()}, {512, data.size()}, {1 << 20, (1 << 20) + 1},
                          {100, 100}, {3, (2 << 20) + 5}}) {
    auto h = Sha256OfRange(fd, from, to, "f");
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(*h, Sha256Hex(std::string_view(data).substr(from, to - from))) << from << ".." << to;
  }
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 0);
  auto past = Sha256OfRange(fd, 10, data.size() + 1, "dir/f");
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().code(), StatusCode::kIOError);
  EXPECT_NE(past.status().message().find("'dir/f'"), std::string::npos) << past.status().message();
  ::close(fd);
}

}  // namespace
}  // namespace vq2d
