# conclude.awk: the plain-words conclusions of docs/continual/results.md, derived from the numbers, with
# the rules that turn numbers into words stated beside them.
#   awk -v w=W -v k=K -v tasks=T -f conclude.awk runs_summary.csv corr_tasks.md corr_runs.md
# runs_summary.csv: one row per run (runs.awk). corr_*.md: the tables of `critnet stats --correlate`
# (| condition | x | y | n | left out | r | p | rho | p |), per method and "(all)" for the task rows, "(all)"
# only for the run rows.
BEGIN { FS = ","; W = w " task" (w > 1 ? "s" : ""); KT = k " task" (k > 1 ? "s" : "") }
FNR == 1 { file++; FS = (file == 1 ? "," : "|"); $0 = $0 }
file == 1 && FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
file == 1 {
    m = $col["method"]
    if (!(m in runs)) order[++nm] = m
    runs[m]++
    if ($col["status"] != "done") diverged[m]++
    split("first_acc best_acc final_acc drop abs_ln_sigma_final abs_lambda0_final", keys, " ")
    for (i in keys) add(m, keys[i], $col[keys[i]])
    per_seed[m] = per_seed[m] (per_seed[m] == "" ? "" : ", ") pts($col["drop"])
    next
}
# the correlation tables: skip the header, the separator and the notes
file > 1 && NF >= 10 {
    for (i = 2; i <= 10; i++) gsub(/^ +| +$/, "", $i)
    if ($5 !~ /^[0-9]+$/) next
    key = file SUBSEP $2 SUBSEP $3 SUBSEP $4
    n_of[key] = $5; r_of[key] = $7; pr_of[key] = $8; rho_of[key] = $9; p_of[key] = $10
}
function isnan(v) { return v == "" || v == "nan" || v == "-nan" || v == "n/a" }
function add(m, key, v) { if (!isnan(v)) { sum[m, key] += v; cnt[m, key]++ } }
function mean(m, key) { return cnt[m, key] ? sum[m, key] / cnt[m, key] : "nan" }
function pts(v) { return isnan(v) ? "n/a" : sprintf("%.1f", 100 * v) }
function pct(v) { return isnan(v) ? "n/a" : sprintf("%.1f%%", 100 * v) }
function num(v) { return isnan(v) ? "n/a" : sprintf("%.3f", v) }
function has(m) { return m in runs }
# "rho = -0.21 (p = 3e-05, n = 7110)" for a correlation of the table of file f
function corr_text(f, cond, x, y,    key) {
    key = f SUBSEP cond SUBSEP x SUBSEP y
    if (!(key in n_of)) return "not computed"
    return "rho = " rho_of[key] " (p = " p_of[key] ", n = " n_of[key] ")"
}
function rho(f, cond, x, y) { return rho_of[f SUBSEP cond SUBSEP x SUBSEP y] }
function pval(f, cond, x, y) { return p_of[f SUBSEP cond SUBSEP x SUBSEP y] }
# negative and p < 0.05
function neg_sig(f, cond, x, y,    r, p) {
    r = rho(f, cond, x, y); p = pval(f, cond, x, y)
    return !isnan(r) && !isnan(p) && r + 0 < 0 && p + 0 < 0.05
}
# whether the drift measure x predicts the accuracy change over the next k tasks, in words
function drift_verdict(x, name,    i, m, neg, list) {
    neg = 0; list = ""
    for (i = 1; i <= nm; i++) {
        m = order[i]
        if (neg_sig(2, m, x, "acc_next")) { neg++; list = list (list == "" ? "" : ", ") m }
    }
    printf "- %s now against the accuracy change over the next %s, all runs and tasks together: %s. ", name, KT,
        corr_text(2, "(all)", x, "acc_next")
    printf "Within a method it is negative with p < 0.05 in %d of %d methods%s. ", neg, nm, (list == "" ? "" : " (" list ")")
    if (neg_sig(2, "(all)", x, "acc_next") && 2 * neg >= nm)
        printf "**Yes**: a larger %s goes before a larger loss (or a smaller gain), across methods and within most of them; rho^2 = %.2f of the rank variance.\n", name, rho(2, "(all)", x, "acc_next") ^ 2
    else if (neg_sig(2, "(all)", x, "acc_next"))
        printf "**Only across methods**: pooled, a larger %s goes before a larger loss, but within most methods it does not, so the pooled number mostly tells the methods apart.\n", name
    else
        printf "**No**: %s does not announce a coming loss here.\n", name
}
# which comes first: a change of the drift before a change of the accuracy, or the other way round
function lead(x, name,    a, b, fwd, rev) {
    fwd = neg_sig(2, "(all)", "d_" x, "acc_next"); rev = neg_sig(2, "(all)", "acc_prev", "d_" x "_next")
    a = rho(2, "(all)", "d_" x, "acc_next"); b = rho(2, "(all)", "acc_prev", "d_" x "_next")
    printf "- Which comes first, all runs and tasks together: the change of %s over the last %s against the accuracy " \
        "change over the next %s: %s; the accuracy change over the last %s against the change of %s over the next " \
        "%s: %s. ", name, KT, KT, corr_text(2, "(all)", "d_" x, "acc_next"), KT, name, KT,
        corr_text(2, "(all)", "acc_prev", "d_" x "_next")
    if (fwd && (!rev || -a > -b)) printf "**The drift leads**: the first is negative with p < 0.05 and the stronger.\n"
    else if (rev) printf "**The accuracy leads**: the second is negative with p < 0.05 and the stronger.\n"
    else printf "**Neither leads**: neither is negative with p < 0.05.\n"
}
END {
    print "**Loss of plasticity.** Accuracies are online accuracies in percent; best is the best mean over " W \
        " in a row, final the mean over the last " W ", drop = best - final in points; all means over seeds."
    print ""
    if (!has("bp")) print "- bp was not run, so there is nothing to compare with."
    else {
        printf "- bp: first task %s, best %s, final %s: **it lost %s points** (per seed: %s).\n", pct(mean("bp", "first_acc")),
            pct(mean("bp", "best_acc")), pct(mean("bp", "final_acc")), pts(mean("bp", "drop")), per_seed["bp"]
        for (i = 1; i <= nm; i++) {
            m = order[i]
            if (m == "bp") continue
            printf "- %s: best %s, final %s, lost %s points (per seed: %s)%s.\n", m, pct(mean(m, "best_acc")),
                pct(mean(m, "final_acc")), pts(mean(m, "drop")), per_seed[m],
                (diverged[m] ? "; " diverged[m] " run(s) diverged" : "")
        }
        print ""
        # the rules: loses = a mean drop of 1 point or more; holds = less than half of bp's drop and a final
        # accuracy above bp's
        bp_drop = mean("bp", "drop"); bp_final = mean("bp", "final_acc")
        loses = !isnan(bp_drop) && bp_drop >= 0.01
        # cbp is judged by the best of its replacement rates (cbp, cbp-1e-5, ...: the original study's sweep)
        verdict = ""; held = 0; named = 0; holders = ""; others = ""
        for (j = 1; j <= 2; j++) {
            fam = (j == 1 ? "cbp" : "snp"); in_fam = 0; h_fam = ""
            for (i = 1; i <= nm; i++) {
                m = order[i]
                if (m != fam && index(m, fam "-") != 1) continue
                in_fam++
                h = !isnan(mean(m, "drop")) && mean(m, "drop") < bp_drop / 2 && mean(m, "final_acc") > bp_final
                if (h) h_fam = h_fam (h_fam == "" ? "" : ", ") m
                verdict = verdict sprintf(" %s %s it (drop %s points, final %s against bp's %s).", m,
                    (h ? "holds" : "does not hold"), pts(mean(m, "drop")), pct(mean(m, "final_acc")), pct(bp_final))
            }
            if (!in_fam) continue
            named++
            if (h_fam != "") { held++; holders = holders (holders == "" ? "" : " and ") (in_fam > 1 ? fam " (as " h_fam ")" : fam) }
            else others = others (others == "" ? "" : " and ") fam
        }
        printf "Rule: a method *loses* accuracy when its mean drop is 1 point or more; it *holds* it when its drop is "
        printf "less than half of bp's and its final accuracy is above bp's. "
        if (!loses) printf "bp lost less than 1 point in %d tasks: **the loss of plasticity is not reproduced at this length**.", tasks
        else printf "bp loses accuracy over the %d tasks.", tasks
        printf "%s", verdict
        if (loses && named == 2 && held == 2) printf " **The known result is reproduced: bp loses online accuracy, %s hold it.**", holders
        else if (loses && held > 0) printf " **The known result is reproduced in part: bp loses online accuracy and %s holds it, %s does not.**", holders, others
        else if (loses && named) printf " **bp's loss is reproduced, but %s %s not hold the accuracy here.**", others,
            (named > 1 ? "do" : "does")
        print ""
    }
    print ""
    print "**Does crit keep sigma near 1, and the accuracy up?** Mean |ln sigma| and |lambda_0| over the last " W \
        " (0 is critical), lowest first:"
    print ""
    # a selection sort of the methods by |ln sigma|
    for (i = 1; i <= nm; i++) s[i] = order[i]
    for (i = 1; i <= nm; i++)
        for (j = i + 1; j <= nm; j++)
            if (isnan(mean(s[i], "abs_ln_sigma_final")) ||
                (!isnan(mean(s[j], "abs_ln_sigma_final")) && mean(s[j], "abs_ln_sigma_final") < mean(s[i], "abs_ln_sigma_final"))) {
                tmp = s[i]; s[i] = s[j]; s[j] = tmp
            }
    for (i = 1; i <= nm; i++)
        printf "%s%s %s (|lambda_0| %s)", (i > 1 ? "; " : ""), s[i], num(mean(s[i], "abs_ln_sigma_final")), num(mean(s[i], "abs_lambda0_final"))
    print "."
    print ""
    if (!has("crit")) print "crit was not run."
    else {
        rank = 0
        for (i = 1; i <= nm; i++) if (s[i] == "crit") rank = i
        c = mean("crit", "abs_ln_sigma_final")
        if (rank == 1) printf "crit keeps sigma nearest to 1 of all methods (|ln sigma| %s", num(c)
        else printf "crit is number %d of %d in keeping sigma near 1 (|ln sigma| %s, %s has %s", rank, nm, num(c), s[1], num(mean(s[1], "abs_ln_sigma_final"))
        if (has("bp") && rank > 0) printf "; bp %s", num(mean("bp", "abs_ln_sigma_final"))
        printf "). Its final accuracy is %s and it lost %s points", pct(mean("crit", "final_acc")), pts(mean("crit", "drop"))
        cmp = ""
        for (j = 1; j <= 3; j++) {
            m = (j == 1 ? "cbp" : j == 2 ? "snp" : "bp")
            if (!has(m)) continue
            d = mean("crit", "final_acc") - mean(m, "final_acc")
            # within half a point counts as the same
            word = (d > 0.005 ? "above" : d < -0.005 ? "below" : "about level with")
            cmp = cmp sprintf("%s%s %s's %s", (cmp == "" ? "" : "; "), word, m, pct(mean(m, "final_acc")))
        }
        printf ": %s (within 0.5 points counts as level).\n", (cmp == "" ? "no other method to compare with" : cmp)
    }
    print ""
    print "**Does sigma/lambda_0 drift precede and predict the accuracy drop?** Spearman's rho over the rows of " \
        "tasks_all.csv (every task of every run; the tables below also give Pearson's r):"
    print ""
    drift_verdict("abs_ln_sigma", "|ln sigma|")
    drift_verdict("abs_lambda0", "|lambda_0|")
    lead("abs_ln_sigma", "|ln sigma|")
    lead("abs_lambda0", "|lambda_0|")
    printf "- At the same task, |ln sigma| against the accuracy: %s; |lambda_0|: %s.\n",
        corr_text(2, "(all)", "abs_ln_sigma", "online_accuracy"), corr_text(2, "(all)", "abs_lambda0", "online_accuracy")
    printf "- Run by run: |ln sigma| around mid-run against the accuracy change over the second half: %s; |lambda_0|: %s.\n",
        corr_text(3, "(all)", "mid_abs_ln_sigma", "late_change"), corr_text(3, "(all)", "mid_abs_lambda0", "late_change")
    print ""
    print "Rule: \"yes\" needs a negative rho with p < 0.05 pooled and in at least half of the methods. The p-values " \
        "treat every task as independent, which neighbouring tasks of one run are not, so they are too small; " \
        "the within-method counts and the run-by-run rows are the stricter reading."
}
