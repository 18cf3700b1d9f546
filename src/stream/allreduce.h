// Gradient averaging for data-parallel training, on Gloo (Debian's
// libgloo-dev): each worker process joins a group through a rendezvous
// directory (gloo's FileStore; a shared mount across machines), connects a
// full TCP mesh, and all-reduces one contiguous float buffer per step with
// Gloo's ring algorithm. gloo headers stay inside allreduce.cc.
#ifndef MLIOT_STREAM_ALLREDUCE_H_
#define MLIOT_STREAM_ALLREDUCE_H_

#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace mliot::stream {

class AllReduceGroup {
 public:
  // Joins as `rank` of `size`; `host` is the address this worker listens on
  // (127.0.0.1 on one machine). Fails after `timeout_s` if the others never come.
  static absl::StatusOr<std::unique_ptr<AllReduceGroup>> Join(int rank, int size, const std::string& store_dir,
                                                              const std::string& host = "127.0.0.1",
                                                              double timeout_s = 60);
  virtual ~AllReduceGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Replaces `data` by its mean over the group. The same buffer (address and
  // length) must be passed every time: the ring is set up for it once.
  virtual absl::Status AverageInPlace(std::span<float> data) = 0;
  // Copies rank `root`'s `data` to every rank.
  virtual absl::Status Broadcast(std::span<float> data, int root) = 0;
};

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_ALLREDUCE_H_
