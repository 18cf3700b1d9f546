// Process-wide malloc settings for training.
//
// glibc serves allocations above a (dynamic) threshold with mmap and returns
// them with munmap on free, so a network whose activations are a few MB per
// step (the cnn: 64 x 16 x 28 x 28 floats = 3.2 MB) maps fresh pages every
// step and takes a page fault on each one's first touch. Measured here with
// `perf stat` on `mliot bench cache --model cnn` (10,000 samples, 1 epoch):
// 1,150,112 page faults and 23.3 s of CPU before, 342,943 and 10.6 s after.
// Keeping freed memory in the heap for reuse costs a few MB of RSS.
#ifndef MLIOT_COMMON_ALLOCATOR_H_
#define MLIOT_COMMON_ALLOCATOR_H_

namespace mliot {

// Raises malloc's mmap threshold to 32 MB and its trim threshold to 256 MB.
// Call once, early in main().
void KeepFreedMemoryForReuse();

}  // namespace mliot

#endif  // MLIOT_COMMON_ALLOCATOR_H_
