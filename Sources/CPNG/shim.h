// libpng's simplified API (png_image) avoids setjmp error handling, which Swift cannot use.
#pragma once
#include <png.h>

static inline png_uint_32 cpng_image_version(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 cpng_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline png_uint_32 cpng_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline png_uint_32 cpng_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline png_uint_32 cpng_format_flag_color(void) { return PNG_FORMAT_FLAG_COLOR; }
static inline png_uint_32 cpng_format_flag_alpha(void) { return PNG_FORMAT_FLAG_ALPHA; }
/// 16-bit files without gAMA/sRGB are read as sRGB-encoded, as most tools write them; libpng's
/// default (linear) would brighten them when converting to 8 bits.
static inline png_uint_32 cpng_flag_16bit_srgb(void) { return PNG_IMAGE_FLAG_16BIT_sRGB; }
static inline size_t cpng_image_size(png_image img) { return PNG_IMAGE_SIZE(img); }
static inline int cpng_image_failed(png_image img) { return PNG_IMAGE_FAILED(img); }
/// An upper bound on the whole encoded file (signature, chunks and IDAT), so that one
/// png_image_write_to_memory call normally suffices. PNG_IMAGE_COMPRESSED_SIZE_MAX is not that:
/// it bounds the IDAT data alone, and small images overflow it by their chunk overhead.
static inline size_t cpng_png_size_max(png_image img) { return PNG_IMAGE_PNG_SIZE_MAX(img); }
