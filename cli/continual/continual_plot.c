/* continual_plot.c: the figure of `critnet continual`: online accuracy, sigma and lambda_0 against task, read
 * from the tasks.csv of one or more run folders, a line per run labelled by its method. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "csv.h"
#include "plot.h"

typedef struct {
    cli_csv t;
    int n;
    double *task, *acc, *sigma, *lambda;
    char label[160];
} run_curves;

static void free_curves(run_curves *r)
{
    cli_csv_free(&r->t);
    free(r->task);
    free(r->acc);
    free(r->sigma);
    free(r->lambda);
}

/* the method of a run folder, from its summary.json ("" when it has none) */
static void run_method(char *out, size_t cap, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    out[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    cJSON *root = cJSON_Parse(text), *m = cJSON_GetObjectItem(root, "method");
    if (cJSON_IsString(m)) snprintf(out, cap, "%s", m->valuestring);
    cJSON_Delete(root);
}

static int load_curves(run_curves *r, const char *dir)
{
    char path[4096];
    memset(r, 0, sizeof *r);
    snprintf(path, sizeof path, "%s/tasks.csv", dir);
    if (cli_csv_read(&r->t, path)) return -1;
    int ct = cli_csv_column(&r->t, "task", NULL), ca = cli_csv_column(&r->t, "online_accuracy", NULL),
        cs = cli_csv_column(&r->t, "sigma", NULL), cl = cli_csv_column(&r->t, "lambda0", NULL);
    if (ct < 0 || ca < 0 || cs < 0 || cl < 0) return -1;
    r->n = r->t.rows;
    r->task = malloc(sizeof(double) * (size_t)r->n);
    r->acc = malloc(sizeof(double) * (size_t)r->n);
    r->sigma = malloc(sizeof(double) * (size_t)r->n);
    r->lambda = malloc(sizeof(double) * (size_t)r->n);
    if (!r->task || !r->acc || !r->sigma || !r->lambda) {
        cli_error("%s: out of memory", path);
        return -1;
    }
    for (int i = 0; i < r->n; i++)
        if (cli_csv_number(&r->t, i, ct, &r->task[i]) || cli_csv_number(&r->t, i, ca, &r->acc[i]) ||
            cli_csv_number(&r->t, i, cs, &r->sigma[i]) || cli_csv_number(&r->t, i, cl, &r->lambda[i]))
            return -1;
    run_method(r->label, sizeof r->label, dir);
    return 0;
}

int cli_continual_plot(const char *out, char *const *dirs, int n)
{
    run_curves *runs = calloc((size_t)n, sizeof *runs);
    cli_series *s = calloc((size_t)(3 * n), sizeof *s);
    int rc = -1;
    if (!runs || !s) {
        cli_error("out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (load_curves(&runs[i], dirs[i])) goto done;
    /* label by method; where two runs share one, add the folder so that the legend tells them apart */
    for (int i = 0; i < n; i++) {
        int shared = !runs[i].label[0];
        for (int j = 0; j < n; j++) shared |= j != i && !strcmp(runs[i].label, runs[j].label);
        if (shared) {
            size_t len = strlen(runs[i].label);
            snprintf(runs[i].label + len, sizeof runs[i].label - len, "%s%s", len ? " " : "", dirs[i]);
        }
    }
    for (int i = 0; i < n; i++) {
        const char *label = n > 1 ? runs[i].label : NULL;
        s[i] = (cli_series){runs[i].task, runs[i].acc, runs[i].n, label, runs[i].n < 30};
        s[n + i] = (cli_series){runs[i].task, runs[i].sigma, runs[i].n, label, runs[i].n < 30};
        s[2 * n + i] = (cli_series){runs[i].task, runs[i].lambda, runs[i].n, label, runs[i].n < 30};
    }
    cli_panel panels[3] = {
        {{"Online Permuted MNIST: online accuracy per task", "task", "online accuracy", 0, NAN}, s, n},
        {{"branching parameter sigma after each task (critical: 1)", "task", "sigma", 0, 1.0}, s + n, n},
        {{"largest Lyapunov exponent lambda_0 after each task (critical: 0)", "task", "lambda_0", 0, 0.0}, s + 2 * n, n},
    };
    rc = cli_plot_panels(out, panels, 3);
done:
    for (int i = 0; runs && i < n; i++) free_curves(&runs[i]);
    free(runs);
    free(s);
    return rc;
}
