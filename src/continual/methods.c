/* methods.c: the names of the continual-learning methods, which combinations make sense, and the defaults
 * of every hyperparameter with where each comes from (docs/continual.md lists the same). */
#include <stdio.h>
#include <string.h>
#include "continual/methods.h"

static const struct {
    const char *name;
    unsigned bit;
} methods[] = {
    {"bp", CN_CL_BP},   {"adam", CN_CL_ADAM}, {"l2", CN_CL_L2},         {"snp", CN_CL_SNP},
    {"cbp", CN_CL_CBP}, {"l2init", CN_CL_L2INIT}, {"crit", CN_CL_CRIT},
};
#define NMETHODS (int)(sizeof methods / sizeof *methods)
_Static_assert(sizeof methods / sizeof *methods == 7, "one name per cn_cl_method bit");

/* pairs that cannot go together, with the reason shown to the user */
static const struct {
    unsigned a, b;
    const char *why;
} conflicts[] = {
    {CN_CL_BP, CN_CL_ADAM, "bp (SGD) and adam are two optimizers; choose one"},
    {CN_CL_L2, CN_CL_SNP, "snp already includes weight decay (set it with --weight-decay)"},
    {CN_CL_L2, CN_CL_L2INIT, "l2 pulls the weights toward 0 and l2init toward their initial values; choose one"},
};

int cn_continual_methods_parse(unsigned *out, const char *list, cn_error *err)
{
    *out = 0;
    if (!list || !*list) return cn_error_set(err, CN_ERR_ARG, "--method: empty list");
    unsigned set = 0;
    const char *p = list;
    while (1) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < NMETHODS; i++)
            if (strlen(methods[i].name) == len && !strncmp(p, methods[i].name, len)) found = i;
        if (found < 0)
            return cn_error_set(err, CN_ERR_ARG,
                                "--method %s: unknown method '%.*s' (expected bp, adam, l2, snp, cbp, l2init or "
                                "crit, comma-separated)",
                                list, (int)len, p);
        if (set & methods[found].bit)
            return cn_error_set(err, CN_ERR_ARG, "--method %s: '%s' is given twice", list, methods[found].name);
        set |= methods[found].bit;
        if (!p[len]) break;
        p += len + 1;
    }
    int rc = cl_methods_check(set, err);
    if (rc) return rc;
    *out = set;
    return CN_OK;
}

int cl_methods_check(unsigned m, cn_error *err)
{
    char name[128];
    if (m & ~(unsigned)((1u << NMETHODS) - 1))
        return cn_error_set(err, CN_ERR_ARG, "methods %#x: unknown bits", m);
    for (size_t i = 0; i < sizeof conflicts / sizeof *conflicts; i++)
        if ((m & conflicts[i].a) && (m & conflicts[i].b)) {
            cn_continual_methods_name(name, sizeof name, m);
            return cn_error_set(err, CN_ERR_ARG, "--method %s%s: %s", m & CN_CL_BP ? "bp," : "", name,
                                conflicts[i].why);
        }
    return CN_OK;
}

void cn_continual_methods_name(char *buf, size_t cap, unsigned m)
{
    if (!cap) return;
    buf[0] = 0;
    size_t len = 0;
    for (int i = 1; i < NMETHODS; i++) /* bp is implied whenever adam is not named */
        if (m & methods[i].bit) len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s",
                                                         len ? "," : "", methods[i].name);
    if (!len) snprintf(buf, cap, "bp");
}

void cn_continual_defaults(cn_continual_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->methods = CN_CL_BP;
    c->tasks = 800;               /* Dohare et al.: num_tasks of every lop/permuted_mnist/cfg file */
    c->width = 100;               /* their small network (cfg/bp/small_net.json); 2000 in the main figures */
    c->depth = 3;                 /* num_hidden_layers 3 */
    c->beta1 = 0.9;               /* torch.optim.Adam's defaults, which their Adam runs keep */
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->weight_decay = 1e-4;       /* l2: cfg/l2.json setting 1 (plots/all_metrics.py); snp: cfg/snp.json */
    c->noise_std = 1e-5;          /* snp: perturb_scale, cfg/snp.json setting 1 (plots/all_metrics.py) */
    c->l2init_weight = 1e-2;      /* Kumar et al. 2023 (arXiv 2308.11958), Table 3: Permuted MNIST, SGD */
    c->replacement_rate = 1e-6;   /* cbp: cfg/cbp.json setting 2 (plots/all_metrics.py), for width 2000 */
    c->utility_decay = 0.99;      /* cfg/cbp.json decay_rate; the paper: eta = 0.99 in all experiments */
    c->maturity = 100;            /* online_expr.py's maturity_threshold (cfg/cbp.json mt) */
    c->utility = CN_CBP_ADAPTABLE_CONTRIBUTION; /* cfg/cbp.json util_type */
    c->bias_correction = 1;
    c->crit.weight = 1;           /* no published value for this setting: beta of the critical-training bench */
    c->crit.target = CN_CRIT_SIGMA;
    c->crit.probes = 1;
    c->crit.every = 1;
    c->probe_samples = 2000;      /* online_expr.py measures ranks and dead units on 2,000 examples */
    c->track_samples = 200;       /* as critnet train's --track */
    c->checkpoint_every = 1;
}
