// OpenBLAS's CBLAS interface plus its thread-count controls.
#pragma once
#include <cblas.h>

// cpuid and xgetbv, for choosing the kernel OpenBLAS should run (TensorKit's BLASKernelChoice):
// whether the CPU has AVX2/FMA or AVX-512 and the OS saves their registers.
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
/// Registers eax, ebx, ecx, edx of cpuid (leaf, subleaf) into r[0..3]; all zero past the highest leaf.
static inline void progan_cpuid(unsigned leaf, unsigned subleaf, unsigned r[4]) {
    r[0] = r[1] = r[2] = r[3] = 0;
    if (leaf > __get_cpuid_max(leaf & 0x80000000u, 0)) return;
    __cpuid_count(leaf, subleaf, r[0], r[1], r[2], r[3]);
}
/// XCR0, the register states the OS saves (bits 1-2: SSE/AVX, 5-7: AVX-512). Call only when
/// cpuid(1).ecx bit 27 (OSXSAVE) is set.
static inline unsigned long long progan_xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#define PROGAN_HAS_CPUID 1
#else
static inline void progan_cpuid(unsigned leaf, unsigned subleaf, unsigned r[4]) { r[0] = r[1] = r[2] = r[3] = 0; }
static inline unsigned long long progan_xgetbv0(void) { return 0; }
#define PROGAN_HAS_CPUID 0
#endif
