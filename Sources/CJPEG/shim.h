// libjpeg reports errors by longjmp from an error_exit callback; Swift cannot catch that, so the
// decode and encode run in C here, with the jump buffer, and return an error string instead.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

struct cjpeg_error_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];  // the fatal error, formatted before the jump
    char warning[JMSG_LENGTH_MAX];  // the first warning (corrupt data), kept instead of printed
};

static inline void cjpeg_error_exit(j_common_ptr cinfo) {
    struct cjpeg_error_mgr *err = (struct cjpeg_error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

// libjpeg's default prints warnings to stderr; library code must not print, so the first one is
// kept and the caller decides (the decoder turns it into an error).
static inline void cjpeg_output_message(j_common_ptr cinfo) {
    struct cjpeg_error_mgr *err = (struct cjpeg_error_mgr *)cinfo->err;
    if (err->warning[0] == 0) (*cinfo->err->format_message)(cinfo, err->warning);
}

static inline void cjpeg_init_error(struct cjpeg_error_mgr *err) {
    jpeg_std_error(&err->pub);
    err->pub.error_exit = cjpeg_error_exit;
    err->pub.output_message = cjpeg_output_message;
    err->message[0] = 0;
    err->warning[0] = 0;
}

/// Decodes a JPEG held in memory into 8-bit pixels (1 or 3 channels). Returns 0 on success and
/// fills *pixels (malloc'd, caller frees), *width, *height, *channels; else nonzero and `error`.
/// Corrupt-data warnings (e.g. a truncated file, which libjpeg would pad with grey) are errors, and
/// so are images of more than max_pixels pixels (checked before allocating).
static inline int cjpeg_decode(const unsigned char *data, unsigned long size, size_t max_pixels,
                               unsigned char **pixels,
                               int *width, int *height, int *channels, char *error, size_t error_size) {
    struct jpeg_decompress_struct cinfo;
    struct cjpeg_error_mgr jerr;
    unsigned char *volatile out = NULL;
    cinfo.err = &jerr.pub;
    cjpeg_init_error(&jerr);
    if (setjmp(jerr.jump)) {
        snprintf(error, error_size, "%s", jerr.message);
        jpeg_destroy_decompress(&cinfo);
        free(out);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    if ((size_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(error, error_size, "image too large (%u x %u pixels)",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    // libjpeg cannot convert CMYK (or YCCK) to RGB; it gives CMYK, converted below.
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    if (cmyk) cinfo.out_color_space = JCS_CMYK;
    else if (cinfo.jpeg_color_space != JCS_GRAYSCALE) cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = cinfo.output_width, h = cinfo.output_height, c = cinfo.output_components;
    out = (unsigned char *)malloc((size_t)w * h * c);
    if (!out) { snprintf(error, error_size, "out of memory"); jpeg_destroy_decompress(&cinfo); return 1; }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *row = out + (size_t)cinfo.output_scanline * w * c;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    // Adobe's JPEGs (an APP14 "Adobe" marker) store CMYK inverted (255 = no ink); others plainly.
    int inverted = cinfo.saw_Adobe_marker;
    jpeg_destroy_decompress(&cinfo);
    if (cmyk && c == 4) {
        // Naive CMYK -> RGB without a colour profile: R = (1 - C)(1 - K), and so on.
        size_t n = (size_t)w * h;
        for (size_t i = 0; i < n; i++) {
            unsigned char *p = out + 4 * i;
            unsigned cc = p[0], mm = p[1], yy = p[2], kk = p[3];
            if (!inverted) { cc = 255 - cc; mm = 255 - mm; yy = 255 - yy; kk = 255 - kk; }
            out[3 * i] = (unsigned char)((cc * kk + 127) / 255);
            out[3 * i + 1] = (unsigned char)((mm * kk + 127) / 255);
            out[3 * i + 2] = (unsigned char)((yy * kk + 127) / 255);
        }
        c = 3;
    }
    if (jerr.pub.num_warnings > 0) {
        snprintf(error, error_size, "%s", jerr.warning);
        free(out);
        return 1;
    }
    *pixels = out; *width = w; *height = h; *channels = c;
    return 0;
}

/// Encodes 8-bit pixels (1 = gray or 3 = RGB channels, interleaved rows) as a baseline JPEG with
/// the given quality (1...100). Returns 0 on success and fills *jpeg (malloc'd, caller frees) and
/// *jpeg_size; else nonzero and `error`.
static inline int cjpeg_encode(const unsigned char *pixels, int width, int height, int channels,
                               int quality, unsigned char **jpeg, unsigned long *jpeg_size,
                               char *error, size_t error_size) {
    struct jpeg_compress_struct cinfo;
    struct cjpeg_error_mgr jerr;
    // jpeg_mem_dest grows this buffer with malloc; it stays ours to free, also after an error.
    unsigned char *buffer = NULL;
    unsigned long buffer_size = 0;
    cinfo.err = &jerr.pub;
    cjpeg_init_error(&jerr);
    if (setjmp(jerr.jump)) {
        snprintf(error, error_size, "%s", jerr.message);
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &buffer_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * channels);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *jpeg = buffer; *jpeg_size = buffer_size;
    return 0;
}
