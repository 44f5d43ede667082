// libpng's simplified API (png_image) avoids setjmp error handling, which Swift cannot use.
#pragma once
#include <png.h>

static inline png_uint_32 cpng_image_version(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 cpng_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline png_uint_32 cpng_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline png_uint_32 cpng_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline size_t cpng_image_size(png_image img) { return PNG_IMAGE_SIZE(img); }
static inline int cpng_image_failed(png_image img) { return PNG_IMAGE_FAILED(img); }
