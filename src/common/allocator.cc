#include "common/allocator.h"

#include <malloc.h>

namespace mliot {

void KeepFreedMemoryForReuse() {
  // Setting either disables glibc's dynamic threshold adjustment.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

}  // namespace mliot
