/// glibc's `mallopt` (malloc.h is not in Swift's Glibc module); parameters from malloc.h.
@_silgen_name("mallopt") private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
private let M_TRIM_THRESHOLD: Int32 = -1, M_TOP_PAD: Int32 = -2, M_MMAP_MAX: Int32 = -4

/// Keeps freed tensor buffers in the heap for reuse instead of returning them to the kernel.
///
/// Why: a training step allocates and frees hundreds of multi-megabyte arrays (activations,
/// im2col scratch, gradients). With glibc's defaults each one above the (dynamic) mmap threshold
/// is a fresh mmap whose pages the kernel faults in and zeroes, then an munmap: ~3% of an 8x8
/// paper-width iteration, 11% of the CPU time at 256x256 (14 of 93 CPU-s were system time).
/// Serving every block from the heap (no mmap) and never trimming it keeps those pages mapped
/// for the next step. The heap then holds the peak of any step until the process ends, which a
/// step reaches again anyway. Trimming above 1 GiB free (the earlier setting) still returned the
/// D step's graph to the kernel at 1024x1024: `bench --res 1024 --batch 3` spent 17% of its time
/// zeroing fresh pages, and ran 44.1 instead of 57.7 s an iteration without the trim (AMD EPYC,
/// Zen kernel; system time 13.9 against 30.6 s; peak RSS the same 7.3 GiB).
func tuneAllocator() {
    #if os(Linux)
    _ = mallopt(M_MMAP_MAX, 0)
    // -1: never trim (glibc reads it as the largest size).
    _ = mallopt(M_TRIM_THRESHOLD, -1)
    _ = mallopt(M_TOP_PAD, 64 << 20)
    #endif
}
