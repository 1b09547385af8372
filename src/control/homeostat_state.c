/* homeostat_state.c: the homeostatic controller's running state as bytes, for the extension block of a
 * training checkpoint, so that `critnet train --resume` continues with the same estimates and stays
 * bit-identical to an uninterrupted run. Layout, little-endian: "CNHOMEO\0", u32 version, u32 blocks,
 * u64 observations, then one float64 per block. */
#include <math.h>
#include <string.h>
#include "control/homeostat.h"

#define STATE_MAGIC "CNHOMEO"
#define STATE_VERSION 1u

static unsigned char *put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

size_t cn_control_state_encode(const cn_control *c, void *buf)
{
    size_t size = 8 + 8 + 8 + 8 * (size_t)c->L;
    if (!buf) return size;
    unsigned char *p = buf;
    memcpy(p, STATE_MAGIC, 8);
    p = put_u64(p + 8, (uint64_t)STATE_VERSION | (uint64_t)(uint32_t)c->L << 32);
    p = put_u64(p, (uint64_t)c->observations);
    for (int l = 0; l < c->L; l++) {
        uint64_t bits;
        memcpy(&bits, &c->estimate[l], 8);
        p = put_u64(p, bits);
    }
    return size;
}

int cn_control_state_decode(cn_control *c, const void *buf, size_t size, cn_error *err)
{
    const unsigned char *p = buf;
    if (size < 24 || memcmp(p, STATE_MAGIC, 8))
        return cn_error_set(err, CN_ERR_FORMAT, "the checkpoint's extension block is not a homeostatic controller's "
                            "state (no %s magic)", STATE_MAGIC);
    uint64_t head = get_u64(p + 8);
    unsigned version = (unsigned)(head & 0xffffffffu), blocks = (unsigned)(head >> 32);
    if (version != STATE_VERSION)
        return cn_error_set(err, CN_ERR_FORMAT, "controller state version %u (this build reads %u)", version,
                            STATE_VERSION);
    if (blocks != (unsigned)c->L || size != 24 + 8 * (size_t)blocks)
        return cn_error_set(err, CN_ERR_FORMAT, "controller state for %u blocks in %zu bytes; the network has %d",
                            blocks, size, c->L);
    uint64_t obs = get_u64(p + 16);
    if (obs > (uint64_t)1 << 62) return cn_error_set(err, CN_ERR_FORMAT, "controller state: bad observation count");
    c->observations = (long)obs;
    for (int l = 0; l < c->L; l++) {
        uint64_t bits = get_u64(p + 24 + 8 * (size_t)l);
        memcpy(&c->estimate[l], &bits, 8);
        if (!isfinite(c->estimate[l]))
            return cn_error_set(err, CN_ERR_FORMAT, "controller state: the estimate of block %d is not finite", l + 1);
    }
    return CN_OK;
}
