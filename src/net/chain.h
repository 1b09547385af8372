/* chain.h: a sequence of layers with the buffers that connect them; the network is a chain, and so is
 * the body of a residual block. */
#ifndef CN_CHAIN_H
#define CN_CHAIN_H

#include "core/strbuf.h"
#include "layers/layer.h"

typedef struct {
    int n, cap;
    cn_layer **layers;
    cn_real **outs;     /* outs[i]: output of layer i, (B, n_i) */
    cn_real *grad[2];   /* backward ping-pong, (B, widest) */
    cn_real *tan[2];    /* jvp ping-pong, (K, B, widest) */
    const cn_real *x;   /* input of the last forward (owned by the caller) */
    int maxB, maxK;
    size_t widest;      /* largest layer input/output size */
} cn_chain;

int cn_chain_push(cn_chain *c, cn_layer *L);
void cn_chain_free(cn_chain *c);
cn_shape cn_chain_out_shape(const cn_chain *c, cn_shape in);
size_t cn_chain_nparams(const cn_chain *c);
size_t cn_chain_nstate(const cn_chain *c);
/* gives each layer its slices of the flat buffers, returns how much of each was used */
void cn_chain_bind(cn_chain *c, cn_real *p, cn_real *g, cn_real *s);
int cn_chain_reserve(cn_chain *c, int B, int K);
int cn_chain_init(cn_chain *c, const cn_init *init, cn_rng *rng);
/* The passes return CN_OK or the first layer's failure, where they stop. */
int cn_chain_forward(cn_chain *c, const cn_real *x, int B, int train);
const cn_real *cn_chain_output(const cn_chain *c);
int cn_chain_backward(cn_chain *c, const cn_real *dy, cn_real *dx, int B);
/* the same, adding extra_z[i] (B, n_i), where not NULL, to the cotangent at layer i's pre-activation
 * (layers with a preact): another objective's gradient joins the backward pass there */
int cn_chain_backward_extra(cn_chain *c, const cn_real *dy, cn_real *dx, int B, cn_real *const *extra_z);
int cn_chain_jvp(cn_chain *c, const cn_real *tx, cn_real *ty, int B, int K);
/* Appends the model-format lines of the chain, each indented by `indent` spaces */
void cn_chain_print(const cn_chain *c, cn_sb *out, int indent);

/* residual.c: a residual block around a chain body; skip is identity or a projection chain */
typedef enum { CN_SKIP_AUTO = 0, CN_SKIP_IDENTITY, CN_SKIP_PROJECTION } cn_skip;
/* Takes ownership of body's layers (body is emptied). The projection, when the skip needs one, is built
 * here: dense for flat shapes; a 1x1 strided conv (followed by batch norm if the body has one) for maps. */
int cn_residual_create(cn_layer **out, cn_chain *body, cn_act act, cn_skip skip, cn_shape in, cn_error *err);
int cn_layer_is_residual(const cn_layer *L);
void cn_residual_print(const cn_layer *L, cn_sb *out, int indent);
cn_chain *cn_residual_body(cn_layer *L);
cn_chain *cn_residual_proj(cn_layer *L); /* empty (n == 0) for an identity skip */

#endif
