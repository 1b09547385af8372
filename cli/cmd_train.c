/* cmd_train.c: `critnet train`: train a network, write DIR/model.cnm, metrics.csv and summary.json (and with
 * --track-every, track.csv and track.png);
 * `--resume DIR` continues a stopped run from its checkpoint, bit-identical to an uninterrupted one. The options
 * are parsed in train_opts.c, which `critnet zoo` shares. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* --engine graph: the initialised native net written as OUT/model.onnx and read back as a graph net, which the
 * checkpoint then refers to; 0, or -1 after a message */
static int lower_to_graph(cn_net **net, const char *out)
{
    char path[4200];
    cn_error err = {0};
    snprintf(path, sizeof path, "%s/model.onnx", out);
    cn_net *graph = NULL;
    if (cli_make_dir(out)) return -1;
    int rc = cn_net_export_onnx(*net, path, &err);
    if (!rc) rc = cn_net_from_onnx(&graph, path, NULL, &err);
    if (!rc && (cn_net_param_count(graph) != cn_net_param_count(*net) || cn_net_state_count(graph) != cn_net_state_count(*net)))
        rc = cn_error_set(&err, CN_ERR_UNSUPPORTED, "%s: the lowered graph has %zu parameters, the network %zu (a layer "
                          "with a single output writes a scalar, which the graph does not train)", path,
                          cn_net_param_count(graph), cn_net_param_count(*net));
    if (rc) {
        cli_error("--engine graph: %s", err.msg);
        cn_net_free(graph);
        return -1;
    }
    cn_net_free(*net);
    *net = graph;
    return 0;
}

int cmd_train(int argc, char **argv)
{
    cli_train_opts o;
    cli_train_defaults(&o);
    int r = cli_train_parse(&o, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    cn_checkpoint ck = {0};
    char **rargv = NULL;
    int rargc = 0, rc = 1;
    cn_error err = {0};
    char *settings = NULL;
    if (o.resume) {
        char path[4096];
        snprintf(path, sizeof path, "%s/model.cnm", o.resume);
        if (cn_checkpoint_load(&ck, path, &err)) {
            cli_error("%s", err.msg);
            return 1;
        }
        rargv = cli_resume_args(ck.settings, argc, argv, &rargc);
        if (!rargv) {
            cli_error("%s: the checkpoint holds no training settings to resume from", path);
            cn_checkpoint_free(&ck);
            return 1;
        }
        const char *dir = o.resume;
        cli_train_defaults(&o);
        if (cli_train_parse(&o, rargc, rargv)) goto done;
        o.out = dir;
        o.resume = dir;
        if (ck.epoch >= o.t.epochs) {
            printf("%s: the run already finished its %d epochs\n", dir, o.t.epochs);
            rc = 0;
            goto done;
        }
    }
    if (!o.out) {
        cli_error("--out DIR is required (see critnet train --help)");
        return 2;
    }
    cn_set_threads(o.c.threads);
    cn_data data = {0};
    cn_net *net = NULL;
    cn_optim *opt = NULL;
    cn_rng *rng = cn_rng_new(o.c.seed);
    cJSON *init_report = NULL;
    if (!rng) {
        cli_error("out of memory");
        goto done;
    }
    if (cli_load_data(&data, &o.c)) goto cleanup;
    if (o.resume) {
        net = ck.net;
        ck.net = NULL;
        if (cn_net_in_size(net) != data.train.c * data.train.h * data.train.w) {
            cli_error("the checkpoint's model does not fit the data %s", o.c.data);
            goto cleanup;
        }
    } else {
        if (cli_build_net(&net, &o.c, &data.train) || cli_init_net(net, &o.c, &data.train, rng, &init_report))
            goto cleanup;
        o.init_report = init_report;
        if (o.engine_graph && !cli_is_onnx_net(net) && lower_to_graph(&net, o.out)) goto cleanup;
    }
    if ((r = cn_optim_new(&opt, &o.t.optim, cn_net_param_count(net)))) {
        cli_error("optimizer: %s", cn_strerror(r));
        goto cleanup;
    }
    if (o.resume && cn_checkpoint_restore(&ck, opt, rng, &err)) {
        cli_error("%s/model.cnm: %s", o.resume, err.msg);
        goto cleanup;
    }
    if (cli_make_dir(o.out)) {
        cli_error("%s: cannot create the output folder: %s", o.out, strerror(errno));
        goto cleanup;
    }
    settings = o.resume ? strdup(ck.settings) : cli_train_settings_json(&o, argc - 1, argv + 1, net);
    cli_progress prog;
    cli_progress_init(&prog, o.c.quiet);
    o.t.out_dir = o.out;
    o.t.settings = settings;
    o.t.progress = cli_progress_train;
    o.t.user = &prog;
    if (!o.c.quiet) {
        if (o.resume) printf("resuming %s at epoch %d of %d\n", o.out, ck.epoch + 1, o.t.epochs);
        else printf("training %s on %s: %zu parameters, %d epochs, batch %d, %s lr %g, seed %llu, %d thread%s\n",
                    o.c.model_file ? o.c.model_file : o.c.arch, data.name, cn_net_param_count(net), o.t.epochs,
                    o.t.batch, cn_opt_name(o.t.optim.kind), o.t.optim.lr, (unsigned long long)o.c.seed,
                    o.c.threads, o.c.threads > 1 ? "s" : "");
    }
    if (init_report && !o.c.quiet)
        printf("critical initialisation: mean |ln sigma_l| over blocks %.4f -> %.4f, %d block%s not reached\n",
               cJSON_GetObjectItem(init_report, "mean_abs_ln_sigma_before")->valuedouble,
               cJSON_GetObjectItem(init_report, "mean_abs_ln_sigma_after")->valuedouble,
               cJSON_GetObjectItem(init_report, "not_reached")->valueint,
               cJSON_GetObjectItem(init_report, "not_reached")->valueint == 1 ? "" : "s");
    o.t.control_state = o.resume ? ck.ext : NULL;
    o.t.control_state_size = o.resume ? ck.ext_size : 0;
    cn_train_result res;
    r = cn_train(net, &data, &o.t, opt, rng, o.resume ? ck.epoch : 0, &res, &err);
    if (r) {
        cli_progress_end(&prog);
        cli_error("%s", err.msg[0] ? err.msg : cn_strerror(r));
        goto cleanup;
    }
    if (o.t.track_every > 0 && cli_train_track_plot(o.out)) goto cleanup;
    if (!o.c.quiet)
        printf("final test accuracy %.4f (loss %.4f) after %d epochs, %.1fs; written to %s/\n", res.test_acc,
               res.test_loss, res.epochs_done, res.seconds, o.out);
    rc = 0;
cleanup:
    cJSON_Delete(init_report);
    cn_optim_free(opt);
    cn_net_free(net);
    cn_data_free(&data);
    cn_rng_free(rng);
done:
    free(settings);
    cn_checkpoint_free(&ck);
    cli_free_args(rargv, rargc);
    return rc;
}
