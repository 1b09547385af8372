/* rng.c: random numbers from GSL's MT19937; its state is a flat blob, so checkpoints can save it. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <string.h>
#include "critnet.h"

struct cn_rng {
    gsl_rng *g;
};

static cn_rng *rng_new(const gsl_rng_type *type, uint64_t seed)
{
    gsl_set_error_handler_off(); /* GSL's default handler aborts; we report through status codes */
    cn_rng *r = cn_malloc(sizeof *r);
    if (!r) return NULL;
    r->g = gsl_rng_alloc(type);
    if (!r->g) {
        cn_free(r);
        return NULL;
    }
    /* mt19937 seeds from 32 bits; fold the high half in so that distinct 64-bit seeds differ */
    gsl_rng_set(r->g, (unsigned long)((seed ^ (seed >> 32)) & 0xffffffffu));
    return r;
}

cn_rng *cn_rng_new(uint64_t seed) { return rng_new(gsl_rng_mt19937, seed); }

/* taus2 (L'Ecuyer's maximally equidistributed Tausworthe): GSL's ziggurat draws from it faster than from
 * MT19937, and Shrink and Perturb draws one Gaussian per parameter per step (docs/continual.md#speed) */
cn_rng *cn_rng_new_fast(uint64_t seed) { return rng_new(gsl_rng_taus2, seed); }

void cn_rng_free(cn_rng *r)
{
    if (!r) return;
    gsl_rng_free(r->g);
    cn_free(r);
}

double cn_rng_uniform(cn_rng *r) { return gsl_rng_uniform(r->g); }
double cn_rng_normal(cn_rng *r) { return gsl_ran_gaussian_ziggurat(r->g, 1.0); }

uint64_t cn_rng_below(cn_rng *r, uint64_t n)
{
    if (n <= 1) return 0;
    return gsl_rng_uniform_int(r->g, (unsigned long)n);
}

void cn_rng_shuffle(cn_rng *r, int32_t *v, size_t n)
{
    if (n > 1) gsl_ran_shuffle(r->g, v, n, sizeof *v);
}

size_t cn_rng_state_size(const cn_rng *r) { return gsl_rng_size(r->g); }
const void *cn_rng_state(const cn_rng *r) { return gsl_rng_state(r->g); }

int cn_rng_set_state(cn_rng *r, const void *state, size_t size)
{
    if (size != gsl_rng_size(r->g)) return CN_ERR_FORMAT;
    memcpy(gsl_rng_state(r->g), state, size);
    return CN_OK;
}
