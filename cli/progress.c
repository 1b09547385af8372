/* progress.c: a progress bar with ETA and running loss on a terminal; plain log lines when the output
 * is not a terminal (logs, CI); nothing with --quiet. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress *p, int quiet)
{
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    p->last_draw = 0;
}

void cli_format_time(char *buf, size_t cap, double s)
{
    if (s < 0 || s > 1e7) snprintf(buf, cap, "--");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

void cli_progress_bar(cli_progress *p, const char *label, double done, double total, double elapsed, const char *extra)
{
    if (p->quiet || !p->tty) return;
    double t = cli_now();
    if (done < total && t - p->last_draw < 0.1) return; /* redraw at most ten times a second */
    p->last_draw = t;
    double frac = total > 0 ? done / total : 0;
    char bar[31], eta[16], el[16];
    int filled = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = 0;
    cli_format_time(eta, sizeof eta, frac > 0 ? elapsed * (1 - frac) / frac : -1);
    cli_format_time(el, sizeof el, elapsed);
    fprintf(stderr, "\r%s [%s] %3.0f%% %s ETA %s %s\033[K", label, bar, 100 * frac, el, eta, extra ? extra : "");
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (!p->quiet && p->tty) fprintf(stderr, "\r\033[K");
}

void cli_progress_train(const cn_train_progress *tp, void *user)
{
    cli_progress *p = user;
    if (p->quiet) return;
    if (!tp->done) {
        char label[32], extra[48];
        snprintf(label, sizeof label, "epoch %d/%d", tp->epoch + 1, tp->epochs);
        snprintf(extra, sizeof extra, "loss %.4f", tp->loss);
        /* the bar covers the whole run so that its ETA is the run's */
        double done = tp->epoch + (double)tp->step / tp->steps;
        cli_progress_bar(p, label, done, tp->epochs, tp->elapsed, extra);
        return;
    }
    cli_progress_end(p);
    printf("epoch %d/%d  train_loss %.4f  train_acc %.4f  test_loss %.4f  test_acc %.4f", tp->epoch + 1, tp->epochs,
           tp->train_loss, tp->train_acc, tp->test_loss, tp->test_acc);
    if (tp->sigma == tp->sigma) printf("  sigma %.3f  lambda0 %+.3f", tp->sigma, tp->lambda_max);
    if (tp->crit_reg == tp->crit_reg) printf("  R %.4f", tp->crit_reg);
    printf("  %.1fs\n", tp->epoch_seconds);
    fflush(stdout);
}
