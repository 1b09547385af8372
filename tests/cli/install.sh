#!/usr/bin/env bash
# cmake --install puts the headers, both libraries and critnet.pc in a prefix; every header compiles on its
# own (twice over: include guards); and a program built only from what pkg-config reports compiles, links
# (static and shared) and runs the header's example, and one that includes critnet_stats.h alone.
set -euo pipefail
: "${BUILD_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$BUILD_DIR" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name critnet.pc)
[ -n "$pc" ] || { echo "FAIL: no critnet.pc installed"; exit 1; }
[ -f "$tmp/prefix/include/critnet.h" ] || { echo "FAIL: no header installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
# the umbrella and one header per concern, each self-contained
for h in critnet.h critnet_core.h critnet_data.h critnet_stats.h critnet_onnx.h critnet_continual.h critnet_control.h; do
    [ -f "$tmp/prefix/include/$h" ] || { echo "FAIL: $h not installed"; exit 1; }
    printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' "$h" "$h" > "$tmp/alone.c"
    cc -std=c11 -Wall -Wextra -Wpedantic -Werror ${CN_TEST_CFLAGS:-} -fsyntax-only "$tmp/alone.c" \
        $(pkg-config --cflags critnet) || { echo "FAIL: $h does not compile on its own"; exit 1; }
done
cat > "$tmp/example.c" <<'C'
#include <critnet.h>
#include <stdio.h>
int main(void)
{
    cn_error err = {0};
    cn_net *net;
    if (cn_net_from_spec(&net, "input 1 28 28\nflatten\ndense out=256 act=relu\ndense out=10\n", &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    cn_rng *rng = cn_rng_new(42);
    cn_init init = {.kind = CN_INIT_KAIMING_UNIFORM};
    static float x[128 * 784];
    if (cn_net_init(net, &init, rng) || cn_net_reserve(net, 128, 1)) return 1;
    cn_net_forward(net, x, 128, 0);
    printf("%d outputs, %zu parameters\n", cn_net_out_size(net), cn_net_param_count(net));
    cn_rng_free(rng);
    cn_net_free(net);
    return 0;
}
C
cc -std=c11 ${CN_TEST_CFLAGS:-} "$tmp/example.c" -o "$tmp/ex_static" $(pkg-config --cflags critnet) \
    "$tmp/prefix/lib/libcritnet.a" $(pkg-config --libs --static critnet | sed 's/-lcritnet//')
out=$("$tmp/ex_static")
[ "$out" = "10 outputs, 203530 parameters" ] || { echo "FAIL: static example printed '$out'"; exit 1; }
cc -std=c11 ${CN_TEST_CFLAGS:-} "$tmp/example.c" -o "$tmp/ex_shared" $(pkg-config --cflags --libs critnet) -Wl,-rpath,"$tmp/prefix/lib"
out=$("$tmp/ex_shared")
[ "$out" = "10 outputs, 203530 parameters" ] || { echo "FAIL: shared example printed '$out'"; exit 1; }
cat > "$tmp/stats.c" <<'C'
#include <critnet_stats.h>
#include <stdio.h>
int main(void)
{
    const double x[] = {1, 2, 3, 4}, y[] = {1, 3, 2, 4};
    cn_stats_correlation c;
    if (cn_stats_spearman(&c, x, y, 4)) return 1;
    printf("rho %.1f\n", c.r);
    return 0;
}
C
cc -std=c11 ${CN_TEST_CFLAGS:-} "$tmp/stats.c" -o "$tmp/stats" $(pkg-config --cflags --libs critnet) -Wl,-rpath,"$tmp/prefix/lib"
out=$("$tmp/stats")
[ "$out" = "rho 0.8" ] || { echo "FAIL: stats example printed '$out'"; exit 1; }
echo "install: 4 passed, 0 failed"
