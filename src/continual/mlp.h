/* mlp.h: the network of a continual run: its model text, its initialisation, and where its dense layers are. */
#ifndef CN_CL_MLP_H
#define CN_CL_MLP_H
#include "critnet.h"

/* "input c h w / flatten / depth x (dense out=width act=relu) / dense out=classes"; caller frees with cn_free */
char *cl_mlp_spec(int c, int h, int w, int width, int depth, int classes);
/* Kaiming-uniform weights (bound sqrt(6 / fan_in)), zero biases; the readout's weights are then scaled by
 * 1/sqrt 2, giving bound sqrt(3 / fan_in): Dohare et al.'s torch.nn.init.kaiming_uniform_ with
 * nonlinearity='linear' there (lop/nets/deep_ffnn.py). */
int cl_mlp_init(cn_net *net, cn_rng *rng);
/* Chain indices of the dense layers, in order, into idx (cap entries); returns their count, or -1 when the
 * network is not an optional flatten followed by dense layers only. */
int cl_mlp_dense(const cn_net *net, int *idx, int cap);
#endif
