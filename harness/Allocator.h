// The process's heap policy, set once at start-up by mcpt-eval (and by the benchmarks, so that they
// measure what it runs).
#pragma once

namespace mcpt::harness {

// glibc hands the free top of the heap back to the kernel once it exceeds a threshold that adapts
// to the largest block freed so far; training loops that allocate and free a few MB per step (the
// probes' AdamW fits, pre-training) then fault the same pages in again at every step: 15 % of an
// MLP probe's fit was the kernel zeroing pages (docs/performance.md, "MLP probe training"). This
// fixes the thresholds instead: blocks up to 32 MiB (the adaptive threshold's own ceiling) come from
// the heap, and up to 64 MiB of free heap is kept for the next step. No effect outside glibc.
void use_steady_heap();

}  // namespace mcpt::harness
