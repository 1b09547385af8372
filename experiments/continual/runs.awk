# runs.awk: one run's tasks.csv -> its rows of tasks_all.csv (appended to the file TASKS) and its row of
# runs_summary.csv (appended to RUNS); run.sh writes both headers. Columns are found by name.
#   awk -v method=M -v seed=S -v status=ST -v sps=STEPS_PER_SECOND -v w=W -v k=K -v TASKS=F -v RUNS=G -f runs.awk tasks.csv
# w: the window. final_* are means over the last w tasks, best_acc is the best mean over w consecutive
#    tasks (a window, not the single best task, so that one lucky task does not set it), drop = best - final.
# k: the look-ahead. At task t: acc_next = acc(t + k) - acc(t), acc_prev = acc(t) - acc(t - k),
#    d_abs_ln_sigma = |ln sigma(t)| - |ln sigma(t - k)|, d_abs_ln_sigma_next = |ln sigma(t + k)| - |ln sigma(t)|,
#    and the same for |lambda_0| (nan where t + k or t - k falls outside the run).
# mid_*: means over the w tasks that end at task floor(n / 2); late_change = final_acc - mid_acc.
# "nan" cells stay "nan" (mawk's arithmetic on NaN is unreliable, so it is never done).
BEGIN { FS = OFS = "," }
NR == 1 {
    for (i = 1; i <= NF; i++) col[$i] = i
    split("task online_accuracy dead_fraction mean_abs_weight effective_rank sigma lambda0", need, " ")
    for (i in need) if (!(need[i] in col)) { print FILENAME ": no column " need[i] > "/dev/stderr"; bad = 1; exit 1 }
    next
}
{
    n++
    acc[n] = $col["online_accuracy"]; dead[n] = $col["dead_fraction"]; wabs[n] = $col["mean_abs_weight"]
    erank[n] = $col["effective_rank"]; sig[n] = $col["sigma"]; lam[n] = $col["lambda0"]
    als[n] = abs_ln(sig[n]); alam[n] = (isnan(lam[n]) ? "nan" : abs(lam[n]))
}
function isnan(v) { return v == "" || v == "nan" || v == "-nan" }
function abs(v) { return v < 0 ? -v : v }
function abs_ln(v) { return isnan(v) || v <= 0 ? "nan" : abs(log(v)) }
function diff(a, b) { return isnan(a) || isnan(b) ? "nan" : a - b }
# mean of a[from..to], "nan" if any is missing or the range is empty
function wmean(a, from, to,    i, s) {
    if (from < 1) from = 1
    if (to > n) to = n
    if (from > to) return "nan"
    for (i = from; i <= to; i++) { if (isnan(a[i])) return "nan"; s += a[i] }
    return s / (to - from + 1)
}
function fmt(v) { return isnan(v) ? "nan" : sprintf("%.6g", v) }
END {
    if (bad) exit 1
    for (t = 1; t <= n; t++)
        print method, seed, t, acc[t], dead[t], wabs[t], erank[t], sig[t], lam[t], fmt(als[t]), fmt(alam[t]),
            fmt((t + k <= n ? diff(acc[t + k], acc[t]) : "nan")),
            fmt((t - k >= 1 ? diff(als[t], als[t - k]) : "nan")), fmt((t - k >= 1 ? diff(alam[t], alam[t - k]) : "nan")),
            fmt((t - k >= 1 ? diff(acc[t], acc[t - k]) : "nan")), fmt((t + k <= n ? diff(als[t + k], als[t]) : "nan")),
            fmt((t + k <= n ? diff(alam[t + k], alam[t]) : "nan")) >> TASKS
    ww = (w < n ? w : n)
    best = "nan"
    for (t = 1; t + ww - 1 <= n; t++) {
        m = wmean(acc, t, t + ww - 1)
        if (!isnan(m) && (isnan(best) || m > best)) { best = m; best_at = t + ww - 1 }
    }
    final = wmean(acc, n - ww + 1, n)
    half = int(n / 2); if (half < 1) half = 1
    mid = wmean(acc, half - ww + 1, half)
    mean_all = wmean(acc, 1, n)
    print method, seed, status, n, fmt(acc[1]), fmt(best), best_at + 0, fmt(final), fmt(diff(best, final)), fmt(mid),
        fmt(diff(final, mid)), fmt(sig[1]), fmt(wmean(sig, n - ww + 1, n)), fmt(lam[1]), fmt(wmean(lam, n - ww + 1, n)),
        fmt(wmean(als, n - ww + 1, n)), fmt(wmean(alam, n - ww + 1, n)), fmt(wmean(als, half - ww + 1, half)),
        fmt(wmean(alam, half - ww + 1, half)), fmt(wmean(dead, n - ww + 1, n)), fmt(wmean(erank, n - ww + 1, n)),
        fmt(mean_all), sps >> RUNS
}
