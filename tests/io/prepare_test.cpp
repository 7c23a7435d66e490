// synth -> prepare round trip, determinism, resume, and the defined handling of corrupted inputs.
#include "vq2d/io/prepare.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <opencv2/videoio.hpp>

#include "io/fixture_io.h"
#include "support/test_support.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/base/sha256.h"
#include "vq2d/io/record.h"
#include "vq2d/io/synth.h"
#include "vq2d/io/video_decode.h"

namespace vq2d {

using io::AnnotationBox;
using io::AnnotationFile;
using io::Clip;
using io::ClipAnnotation;
using io::ClipFrameTimes;
using io::ClipOutcome;
using io::ClipPrepareOptions;
using io::ClipRecordMeta;
using io::ClipRecordWriter;
using io::DecodeFramesAtTimes;
using io::DecodeOptions;
using io::GetSizeForResize;
using io::IsValidRecord;
using io::LoadAnnotations;
using io::MapBoxToRecord;
using io::OpenClipRecord;
using io::ParseAnnotations;
using io::PrepareClip;
using io::PrepareSplit;
using io::PrepareStats;
using io::ProbeVideo;
using io::PySlice;
using io::QuerySet;
using io::RecordPathFor;
using io::RecordReadOptions;
using io::SingleClipAnnotationJson;
using io::SplitReport;
using io::SynthOptions;
using io::SynthSummary;
using io::TrimBox;
using io::ValidateClipForPrepare;
using io::Video;
using io::WriteSynthDataset;
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

SynthSummary MakeSynth(const std::string& dir, int clips, uint64_t seed) {
  SynthOptions o;
  o.out_dir = dir;
  o.num_clips = clips;
  o.seed = seed;
  auto r = WriteSynthDataset(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : SynthSummary();
}

std::vector<cv::Mat> DecodeAll(const std::string& path) {
  cv::VideoCapture cap(path, cv::CAP_FFMPEG);
  std::vector<cv::Mat> out;
  cv::Mat f;
  while (cap.read(f)) out.push_back(f.clone());
  return out;
}

TEST(Synth, DeterministicForASeed) {
  TempDir a, b, c;
  const auto sa = MakeSynth(a.path(), 1, 7), sb = MakeSynth(b.path(), 1, 7), sc = MakeSynth(c.path(), 1, 8);
  EXPECT_EQ(testing::ReadWholeFile(sa.val_json), testing::ReadWholeFile(sb.val_json));
  EXPECT_EQ(testing::ReadWholeFile(sa.test_json), testing::ReadWholeFile(sb.test_json));
  EXPECT_NE(testing::ReadWholeFile(sa.val_json), testing::ReadWholeFile(sc.val_json));
  auto af = LoadAnnotations(sa.val_json);
  ASSERT_TRUE(af.ok()) << af.status().ToString();
  const std::string name = af->videos[0].video_uid + ".mp4";
  const auto fa = DecodeAll(JoinPath(sa.videos_dir, name)), fb = DecodeAll(JoinPath(sb.videos_dir, name));
  ASSERT_GT(fa.size(), 600u);  // >= 20 s at 30 fps
  ASSERT_EQ(fa.size(), fb.size());
  for (size_t i = 0; i < fa.size(); ++i) {
    ASSERT_EQ(cv::norm(fa[i], fb[i], cv::NORM_INF), 0) << "frame " << i;
  }
  EXPECT_EQ(fa[0].cols, 640);
  EXPECT_EQ(fa[0].rows, 360);
}

TEST(Synth, AnnotationsFollowTheSchemaAndTheirRules) {
  TempDir d;
  const auto s = MakeSynth(d.path(), 2, 3);
  auto val = LoadAnnotations(s.val_json);
  auto test = LoadAnnotations(s.test_json);
  ASSERT_TRUE(val.ok()) << val.status().ToString();
  ASSERT_TRUE(test.ok()) << test.status().ToString();
  EXPECT_EQ(val->version, "1.0.5");
  EXPECT_EQ(val->videos.size(), 2u);
  int after = 0, total = 0;
  for (const auto& v : val->videos) {
    for (const auto& c : v.clips) {
      auto times = ClipFrameTimes(c.video_start_sec, c.video_end_sec, c.clip_fps);
      ASSERT_TRUE(times.ok());
      for (const auto& a : c.annotations) {
        for (const auto& q : a.query_sets) {
          ++total;
          ASSERT_TRUE(q.has_response_track);
          ASSERT_FALSE(q.response_track.empty());
          // Response track: contiguous, ends strictly before the query frame.
          for (size_t i = 1; i < q.response_track.size(); ++i) {
            EXPECT_EQ(q.response_track[i].frame_number, q.response_track[i - 1].frame_number + 1);
          }
          EXPECT_LT(q.response_track.back().frame_number, q.query_frame);
          EXPECT_LT(q.query_frame, static_cast<int>(times->size()));
          EXPECT_LT(q.visual_crop.frame_number, static_cast<int>(times->size()));
          EXPECT_GT(q.visual_crop.width, 0);
          EXPECT_EQ(q.visual_crop.original_width, 640);
          after += q.visual_crop.frame_number > q.query_frame ? 1 : 0;
        }
      }
    }
  }
  EXPECT_GT(total, 0);
  EXPECT_GT(after, 0) << "no visual crop after its query frame";
  for (const auto& v : test->videos)
    for (const auto& c : v.clips)
      for (const auto& a : c.annotations)
        for (const auto& q : a.query_sets) EXPECT_FALSE(q.has_response_track);
}

TEST(Prepare, SynthRoundTripRecordsAndResume) {
  TempDir d;
  const auto s = MakeSynth(d.path(), 2, 11);
  auto af = LoadAnnotations(s.val_json);
  ASSERT_TRUE(af.ok());
  ClipPrepareOptions o;
  o.split = "val";
  const std::string rec_dir = d.Join("records/val");
  const SplitReport rep = PrepareSplit(o, *af, s.videos_dir, rec_dir, {});
  ASSERT_EQ(rep.prepared, 2) << rep.ToJson();
  EXPECT_EQ(rep.failed, 0);
  for (size_t vi = 0; vi < af->videos.size(); ++vi) {
    const auto& v = af->videos[vi];
    const auto& c = v.clips[0];
    auto rec = OpenClipRecord(RecordPathFor(rec_dir, *c.clip_uid));
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    auto times = ClipFrameTimes(c.video_start_sec, c.video_end_sec, c.clip_fps);
    EXPECT_EQ(rec->num_frames(), static_cast<int64_t>(times->size()));
    EXPECT_EQ(rec->frame_times(), *times);
    for (size_t k = 0; k < times->size(); ++k) {  // CFR 30 fps: clip frame k is video frame round(30 t)
      EXPECT_EQ(rec->source_frame_index()[k], std::llround((*times)[k] * 30)) << k;
    }
    const auto& g = rec->meta().geometry;
    EXPECT_EQ(g.decoded_width, 640);
    EXPECT_EQ(g.decoded_height, 360);
    if (vi == 0) {  // letterboxed: 48-px bars, trimmed (codec ringing may keep a row or two)
      EXPECT_GE(g.trim.y1, 44);
      EXPECT_LE(g.trim.y1, 48);
      EXPECT_GE(g.trim.y2, 312);
      EXPECT_LE(g.trim.y2, 316);
      EXPECT_EQ(g.trim.x1, 0);
      EXPECT_EQ(g.trim.x2, 640);
    } else {
      EXPECT_EQ(g.trim, (TrimBox{0, 0, 640, 360}));
      EXPECT_EQ(g.width, 512);
      EXPECT_EQ(g.height, 288);
    }
    const auto size = GetSizeForResize(g.trim.width(), g.trim.height());
    EXPECT_EQ(g.width, size[0]);
    EXPECT_EQ(g.height, size[1]);
    EXPECT_EQ(rec->meta().clip_uid, *c.clip_uid);
    EXPECT_EQ(rec->meta().video_uid, v.video_uid);
    EXPECT_EQ(rec->meta().frames_clamped, 0);
    EXPECT_FALSE(rec->meta().apply_trim_offset);
    // Annotations preserved exactly (same serialisation of the parsed tree).
    EXPECT_EQ(SingleClipAnnotationJson("1.0.5", rec->video(), rec->clip()), SingleClipAnnotationJson("1.0.5", v, c));
    // Frames readable; the visual crop is the int()-mapped slice of its frame.
    auto all = rec->ReadFrames(0, rec->num_frames());
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->data.size(), static_cast<size_t>(rec->num_frames()) * g.width * g.height * 3);
    for (const auto& q : rec->clip().annotations[0].query_sets) {
      auto crop = rec->ReadVisualCrop(q);
      ASSERT_TRUE(crop.ok()) << crop.status().ToString();
      const auto r = rec->ToRecordPixels(q.visual_crop);
      EXPECT_EQ(crop->width, r[2]);
      EXPECT_EQ(crop->height, std::min<int64_t>(r[3], g.height - r[1]));
      const uint8_t* f = all->frame(q.visual_crop.frame_number);
      EXPECT_EQ(0, std::memcmp(crop->data.data(), f + (r[1] * g.width + r[0]) * 3, crop->width * 3));
    }
  }
  // A record made with other settings is not valid for these.
  ClipPrepareOptions other = o;
  other.apply_trim_offset = true;
  EXPECT_TRUE(IsValidRecord(RecordPathFor(rec_dir, *af->videos[0].clips[0].clip_uid), *af->videos[0].clips[0].clip_uid, o));
  EXPECT_FALSE(IsValidRecord(RecordPathFor(rec_dir, *af->videos[0].clips[0].clip_uid), *af->videos[0].clips[0].clip_uid, other));
  // Resume: everything is skipped, nothing rewritten.
  const SplitReport again = PrepareSplit(o, *af, s.videos_dir, rec_dir, {});
  EXPECT_EQ(again.skipped, 2);
  EXPECT_EQ(again.prepared, 0);
  for (const auto& e : fs::directory_iterator(rec_dir)) EXPECT_FALSE(IsAtomicWriteTempName(e.path().filename().string()));
}

TEST(Prepare, GzipSecondPassAndSyncWriteGiveIdenticalFrames) {
  TempDir d;
  const auto s = MakeSynth(d.path(), 1, 5);  // video 0 is letterboxed: the trim box stays open
  auto af = LoadAnnotations(s.val_json);
  ASSERT_TRUE(af.ok());
  const auto& v = af->videos[0];
  const auto& c = v.clips[0];
  ClipPrepareOptions plain, gz, small, sync;
  gz.gzip_level = 4;
  sync.async_write = false;
  small.max_buffer_bytes = 1;  // forces the second decode pass
  PrepareStats s1, s2, s3, s4;
  ASSERT_TRUE(PrepareClip(plain, v, c, s.videos_dir, d.Join("a.h5"), &s1).ok());
  ASSERT_TRUE(PrepareClip(gz, v, c, s.videos_dir, d.Join("b.h5"), &s2).ok());
  ASSERT_TRUE(PrepareClip(small, v, c, s.videos_dir, d.Join("c.h5"), &s3).ok());
  ASSERT_TRUE(PrepareClip(sync, v, c, s.videos_dir, d.Join("s.h5"), &s4).ok());
  EXPECT_EQ(s1.decode_passes, 1);
  EXPECT_EQ(s3.decode_passes, 2);
  EXPECT_LT(s2.bytes_written, s1.bytes_written);
  auto a = OpenClipRecord(d.Join("a.h5")), b = OpenClipRecord(d.Join("b.h5")), cc = OpenClipRecord(d.Join("c.h5"));
  ASSERT_TRUE(a.ok() && b.ok() && cc.ok());
  EXPECT_EQ(b->meta().compression, "gzip-4");
  const auto fa = a->ReadFrames(0, a->num_frames()), fb = b->ReadFrames(0, b->num_frames()),
             fc = cc->ReadFrames(0, cc->num_frames());
  EXPECT_EQ(fa->data, fb->data);
  EXPECT_EQ(fa->data, fc->data);
  auto sr = OpenClipRecord(d.Join("s.h5"));
  ASSERT_TRUE(sr.ok());
  EXPECT_EQ(fa->data, sr->ReadFrames(0, sr->num_frames())->data);
  // A non-letterboxed clip streams from its first frame: async and sync streaming agree too.
  {
    TempDir d2;
    const auto s2d = MakeSynth(d2.path(), 2, 5);
    auto af2 = LoadAnnotations(s2d.val_json);
    ASSERT_TRUE(af2.ok());
    const auto& v2 = af2->videos[1];
    ASSERT_TRUE(PrepareClip(plain, v2, v2.clips[0], s2d.videos_dir, d2.Join("a.h5"), nullptr).ok());
    ASSERT_TRUE(PrepareClip(sync, v2, v2.clips[0], s2d.videos_dir, d2.Join("s.h5"), nullptr).ok());
    auto ra = OpenClipRecord(d2.Join("a.h5")), rs = OpenClipRecord(d2.Join("s.h5"));
    ASSERT_TRUE(ra.ok() && rs.ok());
    EXPECT_EQ(ra->meta().geometry.trim, (TrimBox{0, 0, 640, 360}));
    EXPECT_EQ(ra->ReadFrames(0, ra->num_frames())->data, rs->ReadFrames(0, rs->num_frames())->data);
  }
}

TEST(Prepare, VerifiedSeekGivesTheSameRecord) {
  TempDir d;
  const auto s = MakeSynth(d.path(), 2, 6);
  auto af = LoadAnnotations(s.test_json);  // test clips start >= 13 s into their videos
  ASSERT_TRUE(af.ok());
  for (const auto& v : af->videos) {
    const auto& c = v.clips[0];
    ASSERT_GT(c.video_start_sec, 10.0);
    ClipPrepareOptions plain, seek;
    seek.seek_margin_sec = 2.0;
    PrepareStats sp, ss;
    ASSERT_TRUE(PrepareClip(plain, v, c, s.videos_dir, d.Join("p.h5"), &sp).ok());
    ASSERT_TRUE(PrepareClip(seek, v, c, s.videos_dir, d.Join("s.h5"), &ss).ok());
    // The frames before (start - margin) are not decoded.
    EXPECT_LE(ss.frames_decoded, sp.frames_decoded - static_cast<int64_t>(30 * (c.video_start_sec - 2.5)))
        << "the seek did not skip the start";
    auto a = OpenClipRecord(d.Join("p.h5")), b = OpenClipRecord(d.Join("s.h5"));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->ReadFrames(0, a->num_frames())->data, b->ReadFrames(0, b->num_frames())->data);
    EXPECT_EQ(a->source_frame_index(), b->source_frame_index());
    EXPECT_EQ(a->meta().geometry.trim, b->meta().geometry.trim);
  }
  // Seeking on the frame_select fixtures gives upstream's frames too (the seek is verified).
  for (const auto& dir : testing::FixtureCases("prepare")) {
    if (!fs::exists(dir + "/expected.json")) continue;
    const auto ex = testing::ReadJsonFile(dir + "/expected.json");
    if (!ex.contains("videos")) continue;
    for (const auto& v : ex["videos"]) {
      auto times = ClipFrameTimes(v["video_start_sec"], v["video_end_sec"], v["clip_fps"]);
      ASSERT_TRUE(times.ok());
      std::vector<int64_t> pts;
      DecodeOptions o;
      o.seek_margin_sec = 0.0;  // as close as possible: exercises the verification
      auto info = DecodeFramesAtTimes(dir + "/" + v["file"].get<std::string>(), *times,
                                      [](int64_t, const uint8_t*, int, int, int64_t) { return Status::OK(); }, o);
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      EXPECT_EQ(info->source_index, v["selected_frame_index"].get<std::vector<int64_t>>()) << v["file"];
    }
  }
}

// The record built from each frame_select fixture video holds upstream's frames: its source frame
// indices are the frames upstream's per-time ffmpeg call returned (B-frames, fractional rates, clip
// times in the last or second-to-last frame interval), and nothing is clamped.
TEST(Prepare, RecordFromFrameSelectVideosHoldsUpstreamFrames) {
  int videos = 0;
  for (const auto& dir : testing::FixtureCases("prepare")) {
    if (!fs::exists(dir + "/expected.json")) continue;
    const auto ex = testing::ReadJsonFile(dir + "/expected.json");
    if (!ex.contains("videos")) continue;
    for (const auto& v : ex["videos"]) {
      const std::string file = v["file"].get<std::string>();
      SCOPED_TRACE(dir + "/" + file);
      Video video;
      video.video_uid = fs::path(file).stem().string();
      Clip clip;
      clip.clip_uid = "fs-" + video.video_uid;
      clip.video_start_sec = v["video_start_sec"].get<double>();
      clip.video_end_sec = v["video_end_sec"].get<double>();
      clip.clip_fps = v["clip_fps"].get<double>();
      clip.has_clip_fps = true;
      clip.has_video_span = true;
      QuerySet q;
      q.id = "1";
      q.is_valid = true;
      q.query_frame = 1;
      q.visual_crop = AnnotationBox{0, 10, 10, 20, 20, 320, 240, 0, -1};
      q.has_response_track = true;
      q.response_track = {AnnotationBox{0, 10, 10, 20, 20, 320, 240, 0, -1}};
      clip.annotations.push_back(ClipAnnotation{"a", {q}});
      video.clips.push_back(clip);
      TempDir d;
      PrepareStats st;
      Status s = PrepareClip(ClipPrepareOptions{}, video, video.clips[0], dir, d.Join("r.h5"), &st);
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(st.frames_clamped, 0);
      auto rec = OpenClipRecord(d.Join("r.h5"));
      ASSERT_TRUE(rec.ok()) << rec.status().ToString();
      EXPECT_EQ(rec->meta().frames_clamped, 0);
      EXPECT_EQ(rec->source_frame_index(), v["selected_frame_index"].get<std::vector<int64_t>>());
      ++videos;
    }
  }
  EXPECT_GT(videos, 0) << "no frame_select-format case found in prepare/";
}

TEST(Prepare, TrimOffsetSwitchIsRecordedAndApplied) {
  TempDir d;
  const auto s = MakeSynth(d.path(), 1, 5);
  auto af = LoadAnnotations(s.val_json);
  ASSERT_TRUE(af.ok());
  ClipPrepareOptions fix;
  fix.apply_trim_offset = true;
  ASSERT_TRUE(PrepareClip(fix, af->videos[0], af->videos[0].clips[0], s.videos_dir, d.Join("f.h5"), nullptr).ok());
  auto r = OpenClipRecord(d.Join("f.h5"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->meta().apply_trim_offset);
  const auto& q = r->clip().annotations[0].query_sets[0];
  const auto& g = r->meta().geometry;
  EXPECT_EQ(r->ToRecordPixels(q.visual_crop), MapBoxToRecord(q.visual_crop.x, q.visual_crop.y, q.visual_crop.width,
                                                             q.visual_crop.height, 640, 360, g, true));
  EXPECT_NE(r->ToRecordPixels(q.visual_crop)[1], MapBoxToRecord(q.visual_crop.x, q.visual_crop.y, q.visual_crop.width,
                                                                q.visual_crop.height, 640, 360, g, false)[1]);
}

// Corrupted inputs: every bad clip fails (or is handled as documented) on its own; the good clip is
// still prepared.
TEST(Prepare, CorruptedInputsAreIsolatedPerClip) {
  TempDir d;
  const auto s = MakeSynth(d.path(), 1, 9);
  auto af = LoadAnnotations(s.val_json);
  ASSERT_TRUE(af.ok());
  const Video good = af->videos[0];
  AnnotationFile bad;
  bad.version = af->version;
  auto add = [&](const std::string& uid, const std::function<void(Video&, Clip&)>& edit) {
    Video v = good;
    v.clips[0].clip_uid = uid;
    edit(v, v.clips[0]);
    bad.videos.push_back(v);
  };
  // A truncated mp4 (the index sits at the end of files written by OpenCV).
  const std::string src = JoinPath(s.videos_dir, good.video_uid + ".mp4");
  const std::string trunc_uid = "truncated-video";
  fs::copy_file(src, JoinPath(s.videos_dir, trunc_uid + ".mp4"));
  fs::resize_file(JoinPath(s.videos_dir, trunc_uid + ".mp4"), fs::file_size(src) / 2);
  add("c-ok", [](Video&, Clip&) {});
  add("c-unicode", [](Video&, Clip& c) { c.annotations[0].query_sets[0].object_title = "tasse \xC3\xA0 caf\xC3\xA9 \xE2\x98\x95"; });
  add("c-missing-video", [](Video& v, Clip&) { v.video_uid = "no-such-video"; });
  add("c-truncated", [&](Video& v, Clip&) { v.video_uid = trunc_uid; });
  add("c-null-uid", [](Video&, Clip& c) { c.clip_uid.reset(); });
  add("c-no-original-size", [](Video&, Clip& c) { c.annotations[0].query_sets[0].visual_crop.original_width = 0; });
  auto probe = ProbeVideo(src);
  ASSERT_TRUE(probe.ok());
  const double duration = probe->frame_count / probe->fps;
  add("c-past-end-clamped", [&](Video&, Clip& c) {  // 5 frame times past the end: within the limit (10)
    c.video_start_sec = duration - 5.0;
    c.video_end_sec = duration + 1.0;
  });
  add("c-past-end-failed", [&](Video&, Clip& c) {  // 50 past the end: beyond it
    c.video_start_sec = duration - 5.0;
    c.video_end_sec = duration + 10.0;
  });
  add("c-empty-span", [](Video&, Clip& c) { c.video_end_sec = c.video_start_sec; });
  add("c-boxes-outside", [](Video&, Clip& c) {
    auto& q = c.annotations[0].query_sets[0];
    q.visual_crop.x = -30;
    q.visual_crop.y = 300;
    q.visual_crop.height = 200;  // extends past the bottom
    q.response_track[0].x = -50;
    q.response_track[0].width = 2000;
  });
  add("c-zero-area", [](Video&, Clip& c) {
    auto& q = c.annotations[0].query_sets[0];
    q.response_track[0].width = 0;
    q.visual_crop.width = 0;
    q.visual_crop.frame_number = 100000;  // past the clip: reads the last frame
  });
  ClipPrepareOptions o;
  const std::string rec_dir = d.Join("records");
  const SplitReport rep = PrepareSplit(o, bad, s.videos_dir, rec_dir, {});
  std::map<std::string, const ClipOutcome*> by;
  for (const auto& c : rep.clips) by[c.clip_uid] = &c;
  auto state = [&](const std::string& uid) { return by.count(uid) ? by[uid]->state : std::string("absent"); };
  auto msg = [&](const std::string& uid) { return by.count(uid) ? by[uid]->message : std::string(); };
  EXPECT_EQ(state("c-ok"), "prepared");
  EXPECT_EQ(state("c-unicode"), "prepared");
  {
    auto r = OpenClipRecord(RecordPathFor(rec_dir, "c-unicode"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->clip().annotations[0].query_sets[0].object_title, "tasse \xC3\xA0 caf\xC3\xA9 \xE2\x98\x95");
  }
  EXPECT_EQ(state("c-missing-video"), "failed");
  EXPECT_NE(msg("c-missing-video").find("NotFound"), std::string::npos) << msg("c-missing-video");
  EXPECT_NE(msg("c-missing-video").find("no-such-video.mp4"), std::string::npos);
  EXPECT_NE(msg("c-missing-video").find("c-missing-video"), std::string::npos);
  EXPECT_EQ(state("c-truncated"), "failed");
  EXPECT_NE(msg("c-truncated").find(trunc_uid + ".mp4"), std::string::npos) << msg("c-truncated");
  EXPECT_NE(msg("c-truncated").find("Corruption"), std::string::npos) << msg("c-truncated");
  EXPECT_EQ(state(""), "failed");
  EXPECT_NE(msg("").find("clip_uid is null"), std::string::npos) << msg("");
  EXPECT_EQ(state("c-no-original-size"), "failed");
  EXPECT_NE(msg("c-no-original-size").find("original_width"), std::string::npos);
  EXPECT_EQ(state("c-past-end-failed"), "failed");
  EXPECT_NE(msg("c-past-end-failed").find("past its last frame"), std::string::npos) << msg("c-past-end-failed");
  EXPECT_EQ(state("c-empty-span"), "failed");
  EXPECT_EQ(state("c-past-end-clamped"), "prepared") << msg("c-past-end-clamped");
  EXPECT_EQ(state("c-boxes-outside"), "prepared");
  EXPECT_EQ(state("c-zero-area"), "prepared");
  EXPECT_EQ(rep.failed, 6);
  // Clamped frames: counted, recorded, and given the last decoded frame.
  {
    auto r = OpenClipRecord(RecordPathFor(rec_dir, "c-past-end-clamped"));
    ASSERT_TRUE(r.ok());
    EXPECT_GT(r->meta().frames_clamped, 0);
    EXPECT_LE(r->meta().frames_clamped, 10);
    EXPECT_EQ(r->meta().frames_clamped, by["c-past-end-clamped"]->stats.frames_clamped);
    const auto& idx = r->source_frame_index();
    const int64_t n = r->meta().frames_clamped;
    EXPECT_EQ(idx.back(), probe->frame_count - 1);  // the last frame of the video
    for (int64_t i = 1; i <= n; ++i) EXPECT_EQ(idx[idx.size() - i], idx.back());
    EXPECT_LT(idx[idx.size() - 1 - n], idx.back());
  }
  // Boxes outside the picture: stored as is; the visual crop is the numpy slice (clipped at the bottom).
  {
    auto r = OpenClipRecord(RecordPathFor(rec_dir, "c-boxes-outside"));
    ASSERT_TRUE(r.ok());
    const auto& q = r->clip().annotations[0].query_sets[0];
    EXPECT_EQ(q.visual_crop.x, -30);
    EXPECT_EQ(q.response_track[0].width, 2000);
    auto crop = r->ReadVisualCrop(q);
    ASSERT_TRUE(crop.ok());
    const auto m = r->ToRecordPixels(q.visual_crop);
    EXPECT_LT(m[0], 0);
    EXPECT_EQ(crop->height, r->height() - m[1]);
    const auto xs = PySlice(m[0], m[0] + m[2], r->width());
    EXPECT_EQ(crop->width, xs[1] - xs[0]);
  }
  // Zero-area boxes: kept, warned about; the empty visual crop reads as an empty image.
  {
    auto r = OpenClipRecord(RecordPathFor(rec_dir, "c-zero-area"));
    ASSERT_TRUE(r.ok());
    const auto& q = r->clip().annotations[0].query_sets[0];
    EXPECT_EQ(q.response_track[0].width, 0);
    auto crop = r->ReadVisualCrop(q);
    ASSERT_TRUE(crop.ok());
    EXPECT_EQ(crop->width, 0);
    EXPECT_FALSE(by["c-zero-area"]->stats.warnings.empty());
  }
  // Nothing half-written is left behind.
  for (const auto& e : fs::directory_iterator(rec_dir)) {
    const std::string n = e.path().filename().string();
    EXPECT_TRUE(n.size() > 3 && (n.substr(n.size() - 3) == ".h5")) << n;
  }
}

TEST(Prepare, MalformedJsonAndBadRecordsGiveClearErrors) {
  TempDir d;
  auto r = ParseAnnotations("{\"version\": \"1.0.5\", \"videos\": [", "broken.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("broken.json"), std::string::npos);
  {
    std::ofstream(d.Join("garbage.h5")) << "not an hdf5 file";
  }
  auto rec = OpenClipRecord(d.Join("garbage.h5"));
  ASSERT_FALSE(rec.ok());
  EXPECT_EQ(rec.status().code(), StatusCode::kCorruption);
  EXPECT_NE(rec.status().message().find("garbage.h5"), std::string::npos);
  EXPECT_FALSE(IsValidRecord(d.Join("garbage.h5"), "x", ClipPrepareOptions()));
  auto missing = OpenClipRecord(d.Join("missing.h5"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace vq2d

namespace vq2d {
namespace {

// Regression (issue I.12): a missing clip_fps silently defaulted to 5.0 in prepare. Upstream's
// prepare.py reads item['clip_fps'] with no default, so it is an error naming the clip.
TEST(Prepare, MissingClipFpsIsAnErrorNamingTheClip) {
  auto annotations = [](const std::string& fps_field) {
    return R"({"version": "v1", "videos": [{"video_uid": "vid", "clips": [{"clip_uid": "clip-a",
      "video_start_sec": 0.0, "video_end_sec": 4.0, )" + fps_field + R"( "annotations": [{"annotation_uid": "a",
      "query_sets": {"1": {"is_valid": true, "query_frame": 10, "object_title": "cup",
        "visual_crop": {"frame_number": 3, "x": 1, "y": 1, "width": 5, "height": 5,
                        "original_width": 640, "original_height": 480},
        "response_track": [{"frame_number": 4, "x": 1, "y": 1, "width": 5, "height": 5}]}}}]}]}]})";
  };
  for (const std::string field : {"", R"("clip_fps": null,)"}) {
    SCOPED_TRACE(field);
    auto af = ParseAnnotations(annotations(field), "vq_val.json");
    ASSERT_TRUE(af.ok()) << af.status().ToString();
    EXPECT_FALSE(af->videos[0].clips[0].has_clip_fps);
    Status s = ValidateClipForPrepare(af->videos[0], af->videos[0].clips[0]);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("clip clip-a (video vid): clip_fps is missing"), std::string::npos) << s.message();
    // A record's embedded annotations never invent the field either.
    EXPECT_EQ(SingleClipAnnotationJson("v1", af->videos[0], af->videos[0].clips[0]).find("clip_fps"),
              std::string::npos);
  }
  auto ok = ParseAnnotations(annotations(R"("clip_fps": 5.0,)"), "vq_val.json");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->videos[0].clips[0].has_clip_fps);
  EXPECT_TRUE(ValidateClipForPrepare(ok->videos[0], ok->videos[0].clips[0]).ok());
}

}  // namespace
}  // namespace vq2d

#include <hdf5.h>

namespace vq2d {
namespace {

// A 3-frame uncompressed record whose frame 1 starts with a marker, so a test can find its bytes.
std::string WriteMarkedRecord(const std::string& path) {
  const std::string json = R"({"version": "v1", "videos": [{"video_uid": "vid", "clips": [{"clip_uid": "clip-a",
    "video_start_sec": 0.0, "video_end_sec": 0.6, "clip_fps": 5.0, "annotations": []}]}]})";
  ClipRecordMeta m;
  m.clip_uid = "clip-a";
  m.video_uid = "vid";
  m.split = "val";
  m.clip_fps = 5.0;
  m.geometry.decoded_width = 8;
  m.geometry.decoded_height = 4;
  m.geometry.trim = TrimBox{0, 0, 8, 4};
  m.geometry.width = 8;
  m.geometry.height = 4;
  m.num_frames = 3;
  auto w = ClipRecordWriter::Create(path, m, /*gzip_level=*/-1);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  for (int f = 0; f < 3; ++f) {
    std::vector<uint8_t> px(8 * 4 * 3, static_cast<uint8_t>(40 + f));
    if (f == 1) std::memcpy(px.data(), "VQ2DMARKER", 10);
    EXPECT_TRUE((*w)->AppendFrame(px.data()).ok());
  }
  EXPECT_TRUE((*w)->Finish(m, {0.0, 0.2, 0.4}, {0, 6, 12}, {0.0, 0.2, 0.4}, json).ok());
  return json;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Offset of `marker` in the file (it must occur exactly once).
size_t OffsetOf(const std::string& bytes, const std::string& marker) {
  const size_t at = bytes.find(marker);
  EXPECT_NE(at, std::string::npos) << marker;
  EXPECT_EQ(bytes.find(marker, at + 1), std::string::npos) << "marker not unique: " << marker;
  return at;
}

RecordReadOptions Unverified() {
  RecordReadOptions o;
  o.verify_checksums = false;
  return o;
}

// Regression (issue I.10, and libhdf5's memory errors on corrupt files): one flipped byte anywhere
// in a record (integrity header, HDF5 superblock and object metadata, pixel data, annotations) fails
// the open, naming the record, before libhdf5 reads any of it.
TEST(RecordChecksums, AFlippedByteAnywhereFailsTheOpenNamingTheRecord) {
  TempDir d;
  const std::string good = d.Join("good.h5");
  WriteMarkedRecord(good);
  const std::string bytes = ReadBytes(good);
  ASSERT_EQ(bytes.compare(0, 19, "vq2d-record-header\n"), 0);
  ASSERT_EQ(bytes.compare(io::kRecordHeaderBytes, 8, "\x89HDF\r\n\x1a\n"), 0);  // HDF5 after the user block
  {
    auto rec = OpenClipRecord(good);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    ASSERT_TRUE(rec->ReadFrames(0, 3).ok());
  }
  const size_t pixel = OffsetOf(bytes, "VQ2DMARKER") + 12;
  const struct {
    const char* what;
    size_t offset;
  } cases[] = {
      {"header magic", 3},
      {"header version", OffsetOf(bytes, "version 1") + 8},
      {"header length", OffsetOf(bytes, "length ") + 8},
      {"header sha256", OffsetOf(bytes, "sha256 ") + 20},
      {"header padding", io::kRecordHeaderBytes - 1},
      {"HDF5 superblock", io::kRecordHeaderBytes + 9},
      {"HDF5 link name", OffsetOf(bytes, "source_frame_index") + 3},
      {"HDF5 attribute", OffsetOf(bytes, "prepare_settings") + 2},
      {"pixel data", pixel},
      {"annotations", OffsetOf(bytes, "\"video_end_sec\": 0.6") + 17},
      {"last byte", bytes.size() - 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string path = d.Join(std::string("clip-a.h5"));
    std::string bad = bytes;
    bad[c.offset] = static_cast<char>(bad[c.offset] ^ 0x01);
    WriteBytes(path, bad);
    auto rec = OpenClipRecord(path);
    ASSERT_FALSE(rec.ok());
    EXPECT_TRUE(rec.status().code() == StatusCode::kCorruption || rec.status().code() == StatusCode::kFailedPrecondition)
        << rec.status().ToString();
    EXPECT_NE(rec.status().message().find("record '" + path + "'"), std::string::npos) << rec.status().message();
    EXPECT_NE(rec.status().message().find("rerun `vq2d prepare` for clip clip-a"), std::string::npos)
        << rec.status().message();
  }
  // A damaged byte after the header: the message gives the digest found and the one expected.
  std::string bad = bytes;
  bad[pixel] = static_cast<char>(bad[pixel] ^ 0x01);
  const std::string path = d.Join("clip-a.h5");
  WriteBytes(path, bad);
  auto rec = OpenClipRecord(path);
  ASSERT_FALSE(rec.ok());
  EXPECT_EQ(rec.status().code(), StatusCode::kCorruption);
  const std::string want = bytes.substr(OffsetOf(bytes, "sha256 ") + 7, 64);
  EXPECT_NE(rec.status().message().find("record '" + path + "' is damaged: SHA-256 of its bytes after the header is " +
                                        Sha256Hex(std::string_view(bad).substr(io::kRecordHeaderBytes)) +
                                        ", its header says " + want),
            std::string::npos)
      << rec.status().message();
  // Verification switched off (data.verify_record_checksums: false): read as stored.
  auto unchecked = OpenClipRecord(path, Unverified());
  ASSERT_TRUE(unchecked.ok()) << unchecked.status().ToString();
  auto frames = unchecked->ReadFrames(0, 3);
  ASSERT_TRUE(frames.ok()) << frames.status().ToString();
  EXPECT_EQ(frames->frame(1)[12], (40 + 1) ^ 0x01);
}

TEST(RecordChecksums, TruncatedOrExtendedRecordsFailTheOpen) {
  TempDir d;
  const std::string good = d.Join("good.h5");
  WriteMarkedRecord(good);
  const std::string bytes = ReadBytes(good);
  const std::string path = d.Join("clip-a.h5");
  WriteBytes(path, bytes.substr(0, bytes.size() - 1));
  auto cut = OpenClipRecord(path);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kCorruption);
  EXPECT_NE(cut.status().message().find(StrCat("record '", path, "' is ", bytes.size() - 1, " bytes, its header says ",
                                               bytes.size(), " (truncated or appended to)")),
            std::string::npos)
      << cut.status().message();
  WriteBytes(path, bytes + std::string(1, '\0'));
  EXPECT_EQ(OpenClipRecord(path).status().code(), StatusCode::kCorruption);
  for (size_t n : {size_t{0}, size_t{100}, io::kRecordHeaderBytes}) {
    WriteBytes(path, bytes.substr(0, n));
    auto r = OpenClipRecord(path);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << n;
    EXPECT_NE(r.status().message().find("record '" + path + "'"), std::string::npos) << r.status().message();
  }
}

// Records written by a vq2d before the integrity header (HDF5 at byte 0) are refused when verifying:
// libhdf5 would parse unverified bytes. With verification off they are read (docs/data.md).
TEST(RecordChecksums, RecordsWithoutTheHeaderAreRefusedUnlessVerificationIsOff) {
  TempDir d;
  const std::string good = d.Join("good.h5");
  WriteMarkedRecord(good);
  const std::string path = d.Join("clip-a.h5");
  // What an older vq2d wrote: the same HDF5 file without the user block.
  WriteBytes(path, ReadBytes(good).substr(io::kRecordHeaderBytes));
  auto rec = OpenClipRecord(path);
  ASSERT_FALSE(rec.ok());
  EXPECT_EQ(rec.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(rec.status().message().find("record '" + path + "' has no integrity header"), std::string::npos)
      << rec.status().message();
  EXPECT_NE(rec.status().message().find("rerun `vq2d prepare` for clip clip-a"), std::string::npos);
  EXPECT_NE(rec.status().message().find("data.verify_record_checksums: false"), std::string::npos);
  auto unchecked = OpenClipRecord(path, Unverified());
  ASSERT_TRUE(unchecked.ok()) << unchecked.status().ToString();
  EXPECT_EQ(unchecked->meta().clip_uid, "clip-a");
  auto frames = unchecked->ReadFrames(0, 3);
  ASSERT_TRUE(frames.ok()) << frames.status().ToString();
  EXPECT_EQ(frames->frame(2)[0], 42);
}

// Prepare's output carries a valid header; a resumed prepare rewrites a record that fails it.
TEST(RecordChecksums, PrepareWritesVerifiedRecordsAndRewritesDamagedOnes) {
  TempDir d;
  const auto s = MakeSynth(d.path(), 1, 5);
  auto af = LoadAnnotations(s.val_json);
  ASSERT_TRUE(af.ok());
  ClipPrepareOptions o;
  o.split = "val";
  const std::string rec_dir = d.Join("records/val");
  ASSERT_EQ(PrepareSplit(o, *af, s.videos_dir, rec_dir, {}).prepared, 1);
  const std::string uid = *af->videos[0].clips[0].clip_uid;
  const std::string path = RecordPathFor(rec_dir, uid);
  const std::string bytes = ReadBytes(path);
  EXPECT_EQ(bytes.compare(0, 19, "vq2d-record-header\n"), 0);
  ASSERT_TRUE(OpenClipRecord(path).ok());
  EXPECT_TRUE(IsValidRecord(path, uid, o));
  std::string bad = bytes;
  bad[bytes.size() / 2] = static_cast<char>(bad[bytes.size() / 2] ^ 0x10);
  WriteBytes(path, bad);
  EXPECT_FALSE(IsValidRecord(path, uid, o));
  const SplitReport again = PrepareSplit(o, *af, s.videos_dir, rec_dir, {});
  EXPECT_EQ(again.prepared, 1) << again.ToJson();
  auto redone = OpenClipRecord(path);
  ASSERT_TRUE(redone.ok()) << redone.status().ToString();
  EXPECT_EQ(ReadBytes(path).size(), bytes.size());
}

// The committed fuzz seeds of the record target are valid records: the fuzzer starts from inputs
// that pass verification.
TEST(RecordChecksums, FuzzSeedsAreVerifiedRecords) {
  const std::string dir = testing::SourceDir() + "/tests/fixtures/fuzz/corpus/record";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".h5") continue;
    auto rec = OpenClipRecord(e.path().string());
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    ++n;
  }
  EXPECT_GE(n, 2);
}

}  // namespace
}  // namespace vq2d
