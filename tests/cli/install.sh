#!/usr/bin/env bash
# cmake --install puts the header, both libraries and critnet.pc in a prefix, and a program built only
# from what pkg-config reports compiles, links (static and shared) and runs the header's example.
set -euo pipefail
: "${BUILD_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$BUILD_DIR" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name critnet.pc)
[ -n "$pc" ] || { echo "FAIL: no critnet.pc installed"; exit 1; }
[ -f "$tmp/prefix/include/critnet.h" ] || { echo "FAIL: no header installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
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
echo "install: 2 passed, 0 failed"
