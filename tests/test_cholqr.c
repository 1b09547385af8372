/* test_cholqr.c: test_cholqr_f64.c's checks in the float build, where CholeskyQR2's range is narrower
 * (a Gram condition of 1e6 instead of 1e12: src/measure/cholqr.c) and the tolerances are float's. */
#include "test_cholqr_f64.c"
