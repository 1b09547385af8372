/* driven.c: the driven response of the dynamic range, the stochastic drive of Kinouchi & Copelli (2006) in a
 * deep network. Their excitable units are driven at every time step by independent Poisson input of rate r,
 * and F is the mean activity; F0 > 0 (self-sustained activity) masks weak stimuli in the supercritical phase,
 * and the response is linear up to saturation in the subcritical one, so Delta peaks at the transition. Here
 * depth is time: every block's input gets independent Gaussian noise of RMS s (absolute, in the units' own
 * scale, as the Poisson rate is), and F is the RMS activity of the block read out. docs/phase.md reports
 * where its maximum lies on the phase diagram. */
#include <math.h>
#include "measure/driven.h"

static uint64_t splitmix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* N(0,1) as a function of a key (Box-Muller on two hashed uniforms): the noise of a unit does not depend on
 * the order in which units are visited, so every stimulus level sees the same draw without storing it */
static double normal_of(uint64_t seed, uint64_t key)
{
    uint64_t a = splitmix64(seed ^ splitmix64(2 * key)), b = splitmix64(seed ^ splitmix64(2 * key + 1));
    double u1 = ((double)(a >> 11) + 0.5) * 0x1.0p-53, u2 = (double)(b >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int cn_dr_driven_pass(cn_net *net, const cn_block *blocks, int last, const cn_real *x, int B, double s,
                      uint64_t seed, cn_real *buf, double *F_sum)
{
    const cn_real *in = x;
    for (int l = 0; l <= last; l++) {
        const cn_block *bk = &blocks[l];
        size_t n = (size_t)bk->n_in;
        uint64_t base = (uint64_t)l << 40; /* a key range of its own per block */
        for (size_t i = 0; i < (size_t)B * n; i++) buf[i] = (cn_real)(in[i] + s * normal_of(seed, base + i));
        for (int i = bk->first; i <= bk->last; i++) {
            int rc = cn_net_layer_forward(net, i, i == bk->first ? buf : cn_net_layer_output(net, i - 1), B);
            if (rc) return rc;
        }
        in = cn_net_layer_output(net, bk->last);
    }
    int n = blocks[last].n_out;
    for (int b = 0; b < B; b++) {
        double a2 = 0;
        for (int j = 0; j < n; j++) a2 += (double)in[(size_t)b * n + j] * in[(size_t)b * n + j];
        *F_sum += sqrt(a2 / n);
    }
    return CN_OK;
}
