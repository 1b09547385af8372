/* fuzz_images.c: libFuzzer target for the image-folder reader (images:DIR, src/data/images.c: stb_image's
 * decoders and critnet's resize and crop), through cn_data_load. Each input is one image file, decoded, resized
 * to 10 and cropped to 8 (grey when byte 0 is odd). stb decodes whatever format the bytes are, whatever the
 * name says; the seeds hold PNG, BMP, TGA, JPEG, PPM, PGM, GIF and HDR files.
 *
 * stb allocates with malloc, outside the budget: libFuzzer's -malloc_limit_mb (256 for this target, fuzz/run.sh)
 * is the check that a small file cannot make it allocate for a huge image (inputs of up to 8 KiB may declare
 * 8 KiB x 8256 pixels, 200 MB decoded). critnet's own allocations are
 * bounded by the crop, so the amplification bound here is 1 MiB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image_write.h>
#include "critnet.h"
#include "fuzz_common.h"

/* stb's writers hand over a file in pieces */
typedef struct {
    unsigned char data[8192];
    size_t n;
} seed_buf;

static void append(void *ctx, void *data, int size)
{
    seed_buf *b = ctx;
    if (b->n + (size_t)size > sizeof b->data) abort();
    memcpy(b->data + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

#define SEED(name, call)                                                                                          \
    do {                                                                                                          \
        seed_buf b = {.n = 0};                                                                                    \
        if (!(call)) abort();                                                                                     \
        fuzz_seed_file(name, b.data, b.n);                                                                        \
    } while (0)

static void write_seeds(void)
{
    unsigned char pix[12 * 9 * 3];
    float hdr[4 * 3 * 3];
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (unsigned char)(i * 29);
    for (size_t i = 0; i < sizeof hdr / sizeof *hdr; i++) hdr[i] = (float)i / 7;
    SEED("rgb.png", stbi_write_png_to_func(append, &b, 12, 9, 3, pix, 12 * 3));
    SEED("grey.png", stbi_write_png_to_func(append, &b, 5, 7, 1, pix, 5));
    SEED("rgba.bmp", stbi_write_bmp_to_func(append, &b, 6, 4, 4, pix));
    SEED("grey.tga", stbi_write_tga_to_func(append, &b, 4, 6, 1, pix));
    SEED("rgb.jpg", stbi_write_jpg_to_func(append, &b, 12, 9, 3, pix, 80));
    SEED("rgb.hdr", stbi_write_hdr_to_func(append, &b, 4, 3, 3, hdr));
    static const char ppm[] = "P6\n3 2\n255\n\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12";
    fuzz_seed_file("rgb.ppm", ppm, sizeof ppm - 1);
    static const char pgm[] = "P5 2 2 255 \x10\x20\x30\x40";
    fuzz_seed_file("grey.pgm", pgm, sizeof pgm - 1);
    /* a 2x2 GIF89a, four colours */
    static const unsigned char gif[] = {
        'G', 'I', 'F', '8', '9', 'a', 2, 0, 2, 0, 0x81, 0, 0, 0xff, 0, 0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
        0x2c, 0, 0, 0, 0, 2, 0, 2, 0, 0, 2, 3, 0x44, 0x34, 0x05, 0, 0x3b};
    fuzz_seed_file("four.gif", gif, sizeof gif);
}

FUZZ_TARGET_INIT("fuzz_images", write_seeds)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (!fuzz_write_file("x.png", data, size)) return 0;
    char spec[512];
    snprintf(spec, sizeof spec, "images:%s", fuzz_dir());
    cn_data_opts opts = {.spec = spec, .image_crop = 8, .image_resize = 10, .image_normalize = 1,
                         .image_grey = data[0] & 1};
    cn_data d;
    cn_error err = {0};
    fuzz_begin();
    int rc = cn_data_load(&d, &opts, &err);
    fuzz_check_amplification(1u << 20, "cn_data_load(images)");
    if (rc != CN_OK) {
        if (!err.msg[0]) abort();
        if (fuzz_verbose) fprintf(stderr, "fuzz_images: refused (%s): %s\n", cn_strerror(rc), err.msg);
    } else {
        if (d.test.count != 1 || d.test.h != 8 || d.test.w != 8 || d.test.c != (data[0] & 1 ? 1 : 3)) abort();
        if (fuzz_verbose) fprintf(stderr, "fuzz_images: decoded\n");
        cn_data_free(&d);
    }
    fuzz_check_released("cn_data_load and cn_data_free");
    return 0;
}
