/* net_copy.c: a private copy of a network for one measuring thread, from the three things that define a
 * critnet network, as a checkpoint stores them: its canonical text, its parameters and its state. */
#include "measure/net_copy.h"
#include <string.h>

int cn_measure_net_copyable(const cn_net *net)
{
    /* an imported graph prints no text of its own; re-reading its file per thread would be another model
     * if the file changed meanwhile */
    for (int i = 0; i < cn_net_layer_count(net); i++)
        if (cn_net_layer_name(net, i)) return 0;
    return 1;
}

int cn_measure_net_copy(cn_net **out, cn_net *net)
{
    *out = NULL;
    if (!cn_measure_net_copyable(net)) return CN_ERR_UNSUPPORTED;
    char *spec = cn_net_spec(net);
    if (!spec) return CN_ERR_NOMEM;
    cn_net *copy = NULL;
    cn_error err = {0};
    int rc = cn_net_from_spec(&copy, spec, &err);
    cn_free(spec);
    if (rc) return rc;
    if (cn_net_param_count(copy) != cn_net_param_count(net) || cn_net_state_count(copy) != cn_net_state_count(net)) {
        cn_net_free(copy); /* the text did not capture the network: measure it on one thread */
        return CN_ERR_UNSUPPORTED;
    }
    memcpy(cn_net_params(copy), cn_net_params(net), cn_net_param_count(net) * sizeof(cn_real));
    memcpy(cn_net_state(copy), cn_net_state(net), cn_net_state_count(net) * sizeof(cn_real));
    *out = copy;
    return CN_OK;
}
