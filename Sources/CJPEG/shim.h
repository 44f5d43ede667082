// libjpeg reports errors by longjmp from an error_exit callback; Swift cannot catch that, so the
// decode runs in C here, with the jump buffer, and returns an error string instead.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

struct cjpeg_error_mgr { struct jpeg_error_mgr pub; jmp_buf jump; char message[JMSG_LENGTH_MAX]; };

static void cjpeg_error_exit(j_common_ptr cinfo) {
    struct cjpeg_error_mgr *err = (struct cjpeg_error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

/// Decodes a JPEG held in memory into 8-bit pixels (1 or 3 channels). Returns 0 on success and
/// fills *pixels (malloc'd, caller frees), *width, *height, *channels; else nonzero and `error`.
static inline int cjpeg_decode(const unsigned char *data, unsigned long size, unsigned char **pixels,
                               int *width, int *height, int *channels, char *error, size_t error_size) {
    struct jpeg_decompress_struct cinfo;
    struct cjpeg_error_mgr jerr;
    unsigned char *volatile out = NULL;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = cjpeg_error_exit;
    jerr.message[0] = 0;
    if (setjmp(jerr.jump)) {
        snprintf(error, error_size, "%s", jerr.message);
        jpeg_destroy_decompress(&cinfo);
        free(out);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space != JCS_GRAYSCALE) cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = cinfo.output_width, h = cinfo.output_height, c = cinfo.output_components;
    out = (unsigned char *)malloc((size_t)w * h * c);
    if (!out) { snprintf(error, error_size, "out of memory"); jpeg_destroy_decompress(&cinfo); return 1; }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *row = out + (size_t)cinfo.output_scanline * w * c;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *pixels = out; *width = w; *height = h; *channels = c;
    return 0;
}
