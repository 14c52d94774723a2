/* test_kernels.c -- every kernel of csrc/cmlp.h against a naive double-precision loop, at
 * boundary sizes: n = 0, 1 and lengths that are not multiples of SIMD widths (7, 63, 65),
 * in float64 and float32, for every kernel variant (base, AVX2, AVX-512; isa.h) that this
 * CPU can run.
 *
 * Every output buffer has guard zones before and after it, filled with a sentinel, so a
 * kernel that writes out of bounds fails here (and under ASan in .ci/c_tests.sh).
 * Exits non-zero on any failure; the last line printed is "N passed, M failed".
 *
 * Build (from the repository root):
 *   .ci/c_tests.sh   (or: cc -std=c99 -O2 -Wall -Wextra -Werror -Icsrc csrc/[all].c
 *                     tests/c/test_kernels.c -lm)
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlp.h"

/* Run-time ISA dispatch (isa.h, dispatch.c), where the tree has it: every variant this CPU
 * can run is tested in turn. */
#if defined(__has_include)
#if __has_include("isa.h")
#include "isa.h"
#endif
#endif

#define GUARD 16
#define SENTINEL (-12345.25)
#define MAX_REPORTS 40

static int n_passed, n_failed, n_reports;
static const char *current; /* the case being checked, for messages */
static const char *isa_label = "default"; /* the kernel variant being checked */

/* ------------------------------------------------------------------ helpers */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "test_kernels: out of memory (%lu bytes)\n", (unsigned long)n);
        exit(2);
    }
    return p;
}

/* A buffer of n doubles with GUARD sentinels on each side; returns a pointer to element 0. */
static double *dbuf(ptrdiff_t n)
{
    double *base = xmalloc(sizeof(double) * (size_t)(n + 2 * GUARD));
    ptrdiff_t i;
    for (i = 0; i < n + 2 * GUARD; i++) base[i] = SENTINEL;
    return base + GUARD;
}

static float *fbuf(ptrdiff_t n)
{
    float *base = xmalloc(sizeof(float) * (size_t)(n + 2 * GUARD));
    ptrdiff_t i;
    for (i = 0; i < n + 2 * GUARD; i++) base[i] = (float)SENTINEL;
    return base + GUARD;
}

static void dfree(double *p) { free(p - GUARD); }
static void ffree(float *p) { free(p - GUARD); }

static int guards_ok_d(const double *p, ptrdiff_t n)
{
    ptrdiff_t i;
    for (i = 1; i <= GUARD; i++)
        if (p[-i] != SENTINEL || p[n + i - 1] != SENTINEL) return 0;
    return 1;
}

static int guards_ok_f(const float *p, ptrdiff_t n)
{
    ptrdiff_t i;
    for (i = 1; i <= GUARD; i++)
        if (p[-i] != (float)SENTINEL || p[n + i - 1] != (float)SENTINEL) return 0;
    return 1;
}

static float *to_f(const double *x, ptrdiff_t n)
{
    float *f = fbuf(n);
    ptrdiff_t i;
    for (i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}

static void from_f(double *x, const float *f, ptrdiff_t n)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) x[i] = f[i];
}

static double *copy_d(const double *x, ptrdiff_t n)
{
    double *d = dbuf(n);
    if (n > 0) memcpy(d, x, sizeof(double) * (size_t)n);
    return d;
}

/* deterministic data: values in [lo, hi), about one in four exactly zero when zeros */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void fill(double *x, ptrdiff_t n, double lo, double hi, int zeros)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        x[i] = lo + (hi - lo) * urand();
        if (zeros && urand() < 0.25) x[i] = 0;
    }
}

/* round to float and back, so that float32 kernels and the reference see the same inputs */
static void round_f(double *x, ptrdiff_t n)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) x[i] = (float)x[i];
}

static int close_enough(double got, double want, int f32)
{
    const double rtol = f32 ? 2e-4 : 1e-10, atol = f32 ? 2e-5 : 1e-12;
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

/* compare arrays; report the first mismatch */
static int compare(const char *what, const double *got, const double *want, ptrdiff_t n,
                   int f32)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        if (!close_enough(got[i], want[i], f32)) {
            if (n_reports++ < MAX_REPORTS)
                printf("FAIL %s [%s, %s]: %s[%ld] = %.17g, expected %.17g\n", current,
                       f32 ? "f32" : "f64", isa_label, what, (long)i, got[i], want[i]);
            return 0;
        }
    }
    return 1;
}

static int guard_check(const char *what, int ok, int f32)
{
    if (!ok && n_reports++ < MAX_REPORTS)
        printf("FAIL %s [%s, %s]: write outside %s\n", current, f32 ? "f32" : "f64", isa_label,
               what);
    return ok;
}

static void record(int ok)
{
    if (ok)
        n_passed++;
    else
        n_failed++;
}

static const char *ACT_NAMES[] = {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu",
                                  "softmax", "exp"};
static const char *LOSS_NAMES[] = {"tse", "mse", "cross_entropy", "poisson"};

/* ------------------------------------------------------------------ naive reference */

static double ref_act(double v, int act)
{
    switch (act) {
    case CMLP_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case CMLP_TANH: return tanh(v);
    case CMLP_RELU: return v < 0 ? 0.0 : v;
    case CMLP_LEAKY_RELU: return v < 0 ? 0.01 * v : v;
    case CMLP_ELU: return v < 0 ? expm1(v) : v;
    case CMLP_EXP: return exp(v);
    default: return v;
    }
}

/* derivative from the activation output a */
static double ref_deriv(double a, int act)
{
    switch (act) {
    case CMLP_SIGMOID: return a * (1.0 - a);
    case CMLP_TANH: return 1.0 - a * a;
    case CMLP_RELU: return a > 0 ? 1.0 : 0.0;
    case CMLP_LEAKY_RELU: return a > 0 ? 1.0 : 0.01;
    case CMLP_ELU: return a > 0 ? 1.0 : a + 1.0;
    case CMLP_EXP: return a;
    default: return 1.0;
    }
}

/* a (B, O) in place */
static void ref_act_forward(double *a, ptrdiff_t B, ptrdiff_t O, int act)
{
    ptrdiff_t r, j;
    for (r = 0; r < B; r++) {
        double *row = a + r * O;
        if (act == CMLP_SOFTMAX) {
            double m = -INFINITY, s = 0;
            for (j = 0; j < O; j++) m = row[j] > m ? row[j] : m;
            for (j = 0; j < O; j++) s += exp(row[j] - m);
            for (j = 0; j < O; j++) row[j] = exp(row[j] - m) / s;
        } else {
            for (j = 0; j < O; j++) row[j] = ref_act(row[j], act);
        }
    }
}

/* a = act(x W + b); x (B, I)  W (I, O)  b (O)  a (B, O) */
static void ref_dense_forward(double *a, const double *x, const double *W, const double *b,
                              ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act)
{
    ptrdiff_t r, j, k;
    for (r = 0; r < B; r++)
        for (j = 0; j < O; j++) {
            double s = b[j];
            for (k = 0; k < I; k++) s += x[r * I + k] * W[k * O + j];
            a[r * O + j] = s;
        }
    ref_act_forward(a, B, O, act);
}

static double ref_loss(const double *y, const double *t, ptrdiff_t B, ptrdiff_t K, int loss,
                       int out_act, int f32)
{
    const double eps = f32 ? FLT_EPSILON : DBL_EPSILON;
    double acc = 0;
    ptrdiff_t i;
    for (i = 0; i < B * K; i++) {
        if (loss == CMLP_POISSON) {
            acc += (t[i] == 0 ? 0.0 : t[i] * log(t[i] / y[i])) - t[i] + y[i];
        } else if (loss == CMLP_CROSS_ENTROPY) {
            double yi = y[i] < eps ? eps : (y[i] > 1 - eps ? 1 - eps : y[i]);
            acc -= t[i] * log(yi);
            if (out_act != CMLP_SOFTMAX) acc -= (1 - t[i]) * log(1 - yi);
        } else {
            acc += (t[i] - y[i]) * (t[i] - y[i]);
        }
    }
    return loss == CMLP_MSE ? 0.5 * acc : acc;
}

static void ref_output_delta(double *S, const double *y, const double *t, ptrdiff_t B,
                             ptrdiff_t K, int loss, int out_act)
{
    const double gs = loss == CMLP_TSE ? -2.0 : -1.0;
    ptrdiff_t r, j, k;
    for (r = 0; r < B; r++) {
        const double *yr = y + r * K, *tr = t + r * K;
        double *Sr = S + r * K;
        for (j = 0; j < K; j++) {
            if (loss == CMLP_POISSON) {
                Sr[j] = yr[j] - tr[j]; /* d/dn of y - t log y with y = exp(n) */
            } else if (loss == CMLP_CROSS_ENTROPY) {
                double st = 0;
                for (k = 0; k < K; k++) st += tr[k];
                Sr[j] = out_act == CMLP_SOFTMAX ? yr[j] * st - tr[j] : yr[j] - tr[j];
            } else if (out_act == CMLP_SOFTMAX) {
                /* S_j = sum_k J_jk g_k with J = diag(y) - y y^T */
                double s = 0;
                for (k = 0; k < K; k++)
                    s += ((j == k ? yr[j] : 0.0) - yr[j] * yr[k]) * gs * (tr[k] - yr[k]);
                Sr[j] = s;
            } else {
                Sr[j] = gs * (tr[j] - yr[j]) * ref_deriv(yr[j], out_act);
            }
        }
    }
}

/* ------------------------------------------------------------------ kernel tests */

static const ptrdiff_t SIZES[] = {0, 1, 7, 63, 65};
#define N_SIZES ((int)(sizeof(SIZES) / sizeof(SIZES[0])))

static void test_act_forward(int f32, ptrdiff_t B, ptrdiff_t O, int act)
{
    const ptrdiff_t n = B * O;
    double *a = dbuf(n), *want;
    int ok;
    char name[128];
    snprintf(name, sizeof name, "act_forward %s B=%ld O=%ld", ACT_NAMES[act], (long)B, (long)O);
    current = name;
    fill(a, n, -4, 4, 1);
    if (f32) round_f(a, n);
    want = copy_d(a, n);
    ref_act_forward(want, B, O, act);
    if (f32) {
        float *af = to_f(a, n);
        act_forward_f32(af, B, O, act);
        ok = guard_check("a", guards_ok_f(af, n), 1);
        from_f(a, af, n);
        ffree(af);
    } else {
        act_forward_f64(a, B, O, act);
        ok = guard_check("a", guards_ok_d(a, n), 0);
    }
    ok = compare("a", a, want, n, f32) && ok;
    record(ok);
    dfree(a);
    dfree(want);
}

static void test_act_backward(int f32, ptrdiff_t n, int act)
{
    double *d = dbuf(n), *a = dbuf(n), *want = dbuf(n);
    ptrdiff_t i;
    int ok;
    char name[128];
    snprintf(name, sizeof name, "act_backward %s n=%ld", ACT_NAMES[act], (long)n);
    current = name;
    fill(d, n, -2, 2, 0);
    fill(a, n, act == CMLP_SIGMOID ? 0 : -1, 1, 1);
    if (f32) {
        round_f(d, n);
        round_f(a, n);
    }
    for (i = 0; i < n; i++) want[i] = d[i] * ref_deriv(a[i], act);
    if (f32) {
        float *df = to_f(d, n), *af = to_f(a, n);
        act_backward_f32(df, af, n, act);
        ok = guard_check("d", guards_ok_f(df, n), 1);
        from_f(d, df, n);
        ffree(df);
        ffree(af);
    } else {
        act_backward_f64(d, a, n, act);
        ok = guard_check("d", guards_ok_d(d, n), 0);
    }
    ok = compare("d", d, want, n, f32) && ok;
    record(ok);
    dfree(d);
    dfree(a);
    dfree(want);
}

static void test_dense_forward(int f32, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act)
{
    double *x = dbuf(B * I), *W = dbuf(I * O), *b = dbuf(O), *a = dbuf(B * O),
           *want = dbuf(B * O);
    int ok;
    char name[128];
    snprintf(name, sizeof name, "dense_forward %s B=%ld I=%ld O=%ld", ACT_NAMES[act], (long)B,
             (long)I, (long)O);
    current = name;
    fill(x, B * I, -1, 1, 1);
    fill(W, I * O, -0.5, 0.5, 0);
    fill(b, O, -0.5, 0.5, 0);
    if (f32) {
        round_f(x, B * I);
        round_f(W, I * O);
        round_f(b, O);
    }
    ref_dense_forward(want, x, W, b, B, I, O, act);
    if (f32) {
        float *xf = to_f(x, B * I), *Wf = to_f(W, I * O), *bf = to_f(b, O), *af = fbuf(B * O);
        dense_forward_f32(af, xf, Wf, bf, B, I, O, act);
        ok = guard_check("a", guards_ok_f(af, B * O), 1);
        from_f(a, af, B * O);
        ffree(xf);
        ffree(Wf);
        ffree(bf);
        ffree(af);
    } else {
        dense_forward_f64(a, x, W, b, B, I, O, act);
        ok = guard_check("a", guards_ok_d(a, B * O), 0);
    }
    ok = compare("a", a, want, B * O, f32) && ok;
    record(ok);
    dfree(x);
    dfree(W);
    dfree(b);
    dfree(a);
    dfree(want);
}

static void test_dense_backward(int f32, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act_x,
                                int with_dx)
{
    double *dz = dbuf(B * O), *x = dbuf(B * I), *W = dbuf(I * O);
    double *dW = dbuf(I * O), *db = dbuf(O), *dx = dbuf(B * I);
    double *wdW = dbuf(I * O), *wdb = dbuf(O), *wdx = dbuf(B * I);
    ptrdiff_t r, j, k;
    int ok;
    char name[160];
    snprintf(name, sizeof name, "dense_backward %s B=%ld I=%ld O=%ld dx=%s", ACT_NAMES[act_x],
             (long)B, (long)I, (long)O, with_dx ? "yes" : "NULL");
    current = name;
    fill(dz, B * O, -1, 1, 0);
    fill(x, B * I, act_x == CMLP_SIGMOID ? 0 : -1, 1, 1);
    fill(W, I * O, -0.5, 0.5, 0);
    fill(dW, I * O, -0.1, 0.1, 0); /* accumulated into */
    fill(db, O, -0.1, 0.1, 0);
    if (f32) {
        round_f(dz, B * O);
        round_f(x, B * I);
        round_f(W, I * O);
        round_f(dW, I * O);
        round_f(db, O);
    }
    memcpy(wdW, dW, sizeof(double) * (size_t)(I * O));
    memcpy(wdb, db, sizeof(double) * (size_t)O);
    for (j = 0; j < O; j++)
        for (r = 0; r < B; r++) wdb[j] += dz[r * O + j];
    for (k = 0; k < I; k++)
        for (j = 0; j < O; j++)
            for (r = 0; r < B; r++) wdW[k * O + j] += x[r * I + k] * dz[r * O + j];
    for (r = 0; r < B; r++)
        for (k = 0; k < I; k++) {
            double s = 0;
            for (j = 0; j < O; j++) s += dz[r * O + j] * W[k * O + j];
            wdx[r * I + k] = s * ref_deriv(x[r * I + k], act_x);
        }
    if (f32) {
        float *dzf = to_f(dz, B * O), *xf = to_f(x, B * I), *Wf = to_f(W, I * O);
        float *dWf = to_f(dW, I * O), *dbf = to_f(db, O), *dxf = fbuf(B * I);
        dense_backward_f32(with_dx ? dxf : NULL, dWf, dbf, dzf, xf, Wf, B, I, O, act_x);
        ok = guard_check("dW", guards_ok_f(dWf, I * O), 1);
        ok = guard_check("db", guards_ok_f(dbf, O), 1) && ok;
        ok = guard_check("dx", guards_ok_f(dxf, B * I), 1) && ok;
        from_f(dW, dWf, I * O);
        from_f(db, dbf, O);
        from_f(dx, dxf, B * I);
        ffree(dzf);
        ffree(xf);
        ffree(Wf);
        ffree(dWf);
        ffree(dbf);
        ffree(dxf);
    } else {
        dense_backward_f64(with_dx ? dx : NULL, dW, db, dz, x, W, B, I, O, act_x);
        ok = guard_check("dW", guards_ok_d(dW, I * O), 0);
        ok = guard_check("db", guards_ok_d(db, O), 0) && ok;
        ok = guard_check("dx", guards_ok_d(dx, B * I), 0) && ok;
    }
    ok = compare("dW", dW, wdW, I * O, f32) && ok;
    ok = compare("db", db, wdb, O, f32) && ok;
    if (with_dx) ok = compare("dx", dx, wdx, B * I, f32) && ok;
    record(ok);
    dfree(dz);
    dfree(x);
    dfree(W);
    dfree(dW);
    dfree(db);
    dfree(dx);
    dfree(wdW);
    dfree(wdb);
    dfree(wdx);
}

static void test_dense_backward_sgd(int f32, ptrdiff_t I, ptrdiff_t O, int act_x, int with_dx)
{
    double *s = dbuf(O), *x = dbuf(I), *W = dbuf(I * O), *b = dbuf(O), *dx = dbuf(I);
    double *wW = dbuf(I * O), *wb = dbuf(O), *wdx = dbuf(I);
    const double lr = 0.375; /* exact in float */
    ptrdiff_t j, k;
    int ok;
    char name[160];
    snprintf(name, sizeof name, "dense_backward_sgd %s I=%ld O=%ld dx=%s", ACT_NAMES[act_x],
             (long)I, (long)O, with_dx ? "yes" : "NULL");
    current = name;
    fill(s, O, -1, 1, 0);
    fill(x, I, act_x == CMLP_SIGMOID ? 0 : -1, 1, 1);
    fill(W, I * O, -0.5, 0.5, 0);
    fill(b, O, -0.5, 0.5, 0);
    if (f32) {
        round_f(s, O);
        round_f(x, I);
        round_f(W, I * O);
        round_f(b, O);
    }
    for (k = 0; k < I; k++) { /* product with the old W, then the update */
        double acc = 0;
        for (j = 0; j < O; j++) acc += W[k * O + j] * s[j];
        wdx[k] = acc * ref_deriv(x[k], act_x);
        for (j = 0; j < O; j++) wW[k * O + j] = W[k * O + j] - lr * x[k] * s[j];
    }
    for (j = 0; j < O; j++) wb[j] = b[j] - lr * s[j];
    if (f32) {
        float *sf = to_f(s, O), *xf = to_f(x, I), *Wf = to_f(W, I * O), *bf = to_f(b, O),
              *dxf = fbuf(I);
        dense_backward_sgd_f32(with_dx ? dxf : NULL, Wf, bf, sf, xf, (float)lr, I, O, act_x);
        ok = guard_check("W", guards_ok_f(Wf, I * O), 1);
        ok = guard_check("b", guards_ok_f(bf, O), 1) && ok;
        ok = guard_check("dx", guards_ok_f(dxf, I), 1) && ok;
        from_f(W, Wf, I * O);
        from_f(b, bf, O);
        from_f(dx, dxf, I);
        ffree(sf);
        ffree(xf);
        ffree(Wf);
        ffree(bf);
        ffree(dxf);
    } else {
        dense_backward_sgd_f64(with_dx ? dx : NULL, W, b, s, x, lr, I, O, act_x);
        ok = guard_check("W", guards_ok_d(W, I * O), 0);
        ok = guard_check("b", guards_ok_d(b, O), 0) && ok;
        ok = guard_check("dx", guards_ok_d(dx, I), 0) && ok;
    }
    ok = compare("W", W, wW, I * O, f32) && ok;
    ok = compare("b", b, wb, O, f32) && ok;
    if (with_dx) ok = compare("dx", dx, wdx, I, f32) && ok;
    record(ok);
    dfree(s);
    dfree(x);
    dfree(W);
    dfree(b);
    dfree(dx);
    dfree(wW);
    dfree(wb);
    dfree(wdx);
}

/* outputs y as the output activation would produce them (softmax rows sum to one) */
static void make_outputs(double *y, double *t, ptrdiff_t B, ptrdiff_t K, int loss, int out_act)
{
    ptrdiff_t r;
    fill(y, B * K, -2, 2, 0);
    ref_act_forward(y, B, K, out_act);
    if (loss == CMLP_CROSS_ENTROPY && out_act == CMLP_SOFTMAX) {
        /* one-hot targets */
        memset(t, 0, sizeof(double) * (size_t)(B * K));
        if (K > 0)
            for (r = 0; r < B; r++) t[r * K + (ptrdiff_t)(urand() * (double)K) % K] = 1;
    } else {
        fill(t, B * K, 0, 1, 0);
        if (loss == CMLP_POISSON) /* counts of zero: the 0 log 0 = 0 term */
            for (r = 0; r < B * K; r += 3) t[r] = 0;
    }
}

static void test_loss(int f32, ptrdiff_t B, ptrdiff_t K, int loss, int out_act)
{
    double *y = dbuf(B * K), *t = dbuf(B * K), *S = dbuf(B * K), *wS = dbuf(B * K);
    double got, want;
    int ok;
    char name[160];
    snprintf(name, sizeof name, "loss_forward/output_delta %s+%s B=%ld K=%ld", LOSS_NAMES[loss],
             ACT_NAMES[out_act], (long)B, (long)K);
    current = name;
    make_outputs(y, t, B, K, loss, out_act);
    if (f32) {
        round_f(y, B * K);
        round_f(t, B * K);
    }
    want = ref_loss(y, t, B, K, loss, out_act, f32);
    ref_output_delta(wS, y, t, B, K, loss, out_act);
    if (f32) {
        float *yf = to_f(y, B * K), *tf = to_f(t, B * K), *Sf = fbuf(B * K);
        got = loss_forward_f32(yf, tf, B, K, loss, out_act);
        output_delta_f32(Sf, yf, tf, B, K, loss, out_act);
        ok = guard_check("S", guards_ok_f(Sf, B * K), 1);
        from_f(S, Sf, B * K);
        ffree(yf);
        ffree(tf);
        ffree(Sf);
    } else {
        got = loss_forward_f64(y, t, B, K, loss, out_act);
        output_delta_f64(S, y, t, B, K, loss, out_act);
        ok = guard_check("S", guards_ok_d(S, B * K), 0);
    }
    ok = compare("loss", &got, &want, 1, f32) && ok;
    ok = compare("S", S, wS, B * K, f32) && ok;
    record(ok);
    dfree(y);
    dfree(t);
    dfree(S);
    dfree(wS);
}

static void test_sgd_update(int f32, ptrdiff_t P)
{
    double *p = dbuf(P), *g = dbuf(P), *want = dbuf(P);
    const double lr = 0.125;
    ptrdiff_t i;
    int ok;
    char name[64];
    snprintf(name, sizeof name, "sgd_update P=%ld", (long)P);
    current = name;
    fill(p, P, -1, 1, 0);
    fill(g, P, -1, 1, 1);
    if (f32) {
        round_f(p, P);
        round_f(g, P);
    }
    for (i = 0; i < P; i++) want[i] = p[i] - lr * g[i];
    if (f32) {
        float *pf = to_f(p, P), *gf = to_f(g, P);
        sgd_update_f32(pf, gf, (float)lr, P);
        ok = guard_check("p", guards_ok_f(pf, P), 1);
        from_f(p, pf, P);
        ffree(pf);
        ffree(gf);
    } else {
        sgd_update_f64(p, g, lr, P);
        ok = guard_check("p", guards_ok_d(p, P), 0);
    }
    ok = compare("p", p, want, P, f32) && ok;
    record(ok);
    dfree(p);
    dfree(g);
    dfree(want);
}

/* ------------------------------------------------------------------ whole-network drivers */

typedef struct {
    ptrdiff_t L;
    ptrdiff_t sizes[5];
    int acts[4];
    int loss;
} net_case;

static ptrdiff_t ref_param_count(const net_case *nc)
{
    ptrdiff_t i, P = 0;
    for (i = 0; i < nc->L; i++) P += (nc->sizes[i] + 1) * nc->sizes[i + 1];
    return P;
}

/* activations of every layer for one row x; a[i] (sizes[i+1]) */
static void ref_row_forward(double **a, const double *params, const double *x,
                            const net_case *nc)
{
    const double *in = x, *p = params;
    ptrdiff_t i;
    for (i = 0; i < nc->L; i++) {
        const ptrdiff_t I = nc->sizes[i], O = nc->sizes[i + 1];
        ref_dense_forward(a[i], in, p, p + I * O, 1, I, O, nc->acts[i]);
        p += (I + 1) * O;
        in = a[i];
    }
}

/* grad += d loss(row)/d params with params unchanged (update == 0) or, with update != 0,
 * the notes' per-sample step params -= lr grad_row (every S from the old weights).
 * Returns the row's loss. */
static double ref_row_backward(double *grad_or_params, const double *params, const double *x,
                               const double *t, const net_case *nc, int f32, double lr,
                               int update)
{
    const ptrdiff_t L = nc->L, K = nc->sizes[L];
    double *a[4] = {NULL, NULL, NULL, NULL}, *S = dbuf(65 + 8), *Sprev = dbuf(65 + 8), *tmp, l;
    ptrdiff_t i, j, k, off = ref_param_count(nc);
    for (i = 0; i < L; i++) a[i] = dbuf(nc->sizes[i + 1]);
    ref_row_forward(a, params, x, nc);
    l = ref_loss(a[L - 1], t, 1, K, nc->loss, nc->acts[L - 1], f32);
    ref_output_delta(S, a[L - 1], t, 1, K, nc->loss, nc->acts[L - 1]);
    for (i = L; i >= 1; i--) {
        const ptrdiff_t I = nc->sizes[i - 1], O = nc->sizes[i];
        const double *xin = i == 1 ? x : a[i - 2];
        const double *W = params + off - (I + 1) * O;
        off -= (I + 1) * O;
        if (i > 1)
            for (k = 0; k < I; k++) {
                double s = 0;
                for (j = 0; j < O; j++) s += W[k * O + j] * S[j];
                Sprev[k] = s * ref_deriv(xin[k], nc->acts[i - 2]);
            }
        for (k = 0; k < I; k++)
            for (j = 0; j < O; j++)
                grad_or_params[off + k * O + j] += (update ? -lr : 1.0) * xin[k] * S[j];
        for (j = 0; j < O; j++) grad_or_params[off + I * O + j] += (update ? -lr : 1.0) * S[j];
        tmp = S;
        S = Sprev;
        Sprev = tmp;
    }
    for (i = 0; i < L; i++) dfree(a[i]);
    dfree(S);
    dfree(Sprev);
    return l;
}

/* Naive column-major GEMMs with the Fortran BLAS signature: the batched drivers' GEMM path
 * (arch.blas) runs on these in the tests, so it is checked without a BLAS library. */
static void naive_dgemm(char *ta, char *tb, int *m, int *n, int *k, double *alpha, double *a,
                        int *lda, double *b, int *ldb, double *beta, double *c, int *ldc)
{
    int i, j, p;
    for (j = 0; j < *n; j++)
        for (i = 0; i < *m; i++) {
            double acc = 0;
            for (p = 0; p < *k; p++)
                acc += (*ta == 'N' ? a[i + p * *lda] : a[p + i * *lda]) *
                       (*tb == 'N' ? b[p + j * *ldb] : b[j + p * *ldb]);
            c[i + j * *ldc] = *alpha * acc + (*beta == 0 ? 0 : *beta * c[i + j * *ldc]);
        }
}

static void naive_sgemm(char *ta, char *tb, int *m, int *n, int *k, float *alpha, float *a,
                        int *lda, float *b, int *ldb, float *beta, float *c, int *ldc)
{
    int i, j, p;
    for (j = 0; j < *n; j++)
        for (i = 0; i < *m; i++) {
            float acc = 0;
            for (p = 0; p < *k; p++)
                acc += (*ta == 'N' ? a[i + p * *lda] : a[p + i * *lda]) *
                       (*tb == 'N' ? b[p + j * *ldb] : b[j + p * *ldb]);
            c[i + j * *ldc] = *alpha * acc + (*beta == 0 ? 0 : *beta * c[i + j * *ldc]);
        }
}

static const cmlp_blas NAIVE_BLAS = {naive_dgemm, naive_sgemm};

/* mode 0: the own kernels (arch.blas NULL); 1: the GEMM path on dense inputs; 2: the GEMM
 * path with 80% zero inputs (the first layer takes the sparse kernels) */
static void test_net(int f32, const net_case *nc, ptrdiff_t N, const char *label, int mode)
{
    const ptrdiff_t L = nc->L, n0 = nc->sizes[0], K = nc->sizes[L];
    cmlp_arch arch;
    ptrdiff_t P, i, r, done = -1;
    double *params, *X, *T, *Y, *wY, *grad, *wgrad, *p2, *wp2, loss, wloss, lsum = 0, wlsum = 0;
    int64_t *perm;
    double *a[4] = {NULL, NULL, NULL, NULL};
    int ok, status;
    char name[200];
    snprintf(name, sizeof name, "net drivers %s N=%ld %s", label, (long)N,
             mode == 0 ? "own" : mode == 1 ? "gemm dense" : "gemm sparse");
    current = name;
    arch.n_layers = L;
    arch.sizes = nc->sizes;
    arch.acts = nc->acts;
    arch.loss = nc->loss;
    arch.blas = mode == 0 ? NULL : &NAIVE_BLAS;
    P = cmlp_param_count(&arch);
    ok = P == ref_param_count(nc);
    if (!ok && n_reports++ < MAX_REPORTS)
        printf("FAIL %s [%s]: cmlp_param_count = %ld, expected %ld\n", name, isa_label, (long)P,
               (long)ref_param_count(nc));
    params = dbuf(P);
    X = dbuf(N * n0);
    T = dbuf(N * K);
    Y = dbuf(N * K);
    wY = dbuf(N * K);
    grad = dbuf(P);
    wgrad = dbuf(P);
    perm = xmalloc(sizeof(int64_t) * (size_t)(N + 1));
    fill(params, P, -0.5, 0.5, 0);
    fill(X, N * n0, 0, 1, 1);
    if (mode == 2)
        for (i = 0; i < N * n0; i++)
            if (i % 5 != 0) X[i] = 0;
    for (r = 0; r < N; r++) { /* valid targets for the loss: one-hot rows */
        for (i = 0; i < K; i++) T[r * K + i] = 0;
        T[r * K + (r % K)] = 1;
    }
    if (f32) {
        round_f(params, P);
        round_f(X, N * n0);
    }
    for (i = 0; i < P; i++) grad[i] = wgrad[i] = 0.25; /* net_gradients accumulates */
    for (i = 0; i < L; i++) a[i] = dbuf(nc->sizes[i + 1]);
    wloss = 0;
    for (r = 0; r < N; r++) {
        ref_row_forward(a, params, X + r * n0, nc);
        for (i = 0; i < K; i++) wY[r * K + i] = a[L - 1][i];
        wloss += ref_row_backward(wgrad, params, X + r * n0, T + r * K, nc, f32, 0, 0);
    }
    for (i = 0; i < L; i++) dfree(a[i]);
    for (r = 0; r < N; r++) perm[r] = (r * 7 + 3) % N; /* a permutation when gcd(7, N) = 1 */
    p2 = copy_d(params, P);
    wp2 = copy_d(params, P);
    for (r = 0; r < N; r++)
        wlsum += ref_row_backward(wp2, wp2, X + perm[r] * n0, T + perm[r] * K, nc, f32, 0.03125, 1);

    if (f32) {
        float *pf = to_f(params, P), *Xf = to_f(X, N * n0), *Tf = to_f(T, N * K);
        float *Yf = fbuf(N * K), *gf = to_f(grad, P), *p2f = to_f(p2, P);
        float *wf = fbuf(cmlp_forward_work_size(&arch));
        float *gwf = fbuf(cmlp_gradient_work_size(&arch)), *swf = fbuf(cmlp_sgd_work_size(&arch));
        net_forward_f32(Yf, wf, pf, Xf, N, &arch);
        ok = guard_check("Y", guards_ok_f(Yf, N * K), 1) && ok;
        loss = net_loss_f32(wf, pf, Xf, Tf, NULL, N, &arch);
        ok = guard_check("forward work", guards_ok_f(wf, cmlp_forward_work_size(&arch)), 1) && ok;
        (void)net_gradients_f32(gf, gwf, pf, Xf, Tf, NULL, N, &arch);
        ok = guard_check("grad", guards_ok_f(gf, P), 1) && ok;
        ok = guard_check("gradient work", guards_ok_f(gwf, cmlp_gradient_work_size(&arch)), 1) &&
             ok;
        status = sgd_epoch_f32(p2f, swf, Xf, Tf, NULL, perm, N, &arch, 0.03125f, 1, &done,
                               &lsum);
        ok = guard_check("params", guards_ok_f(p2f, P), 1) && ok;
        ok = guard_check("sgd work", guards_ok_f(swf, cmlp_sgd_work_size(&arch)), 1) && ok;
        from_f(Y, Yf, N * K);
        from_f(grad, gf, P);
        from_f(p2, p2f, P);
        ffree(pf);
        ffree(Xf);
        ffree(Tf);
        ffree(Yf);
        ffree(gf);
        ffree(p2f);
        ffree(wf);
        ffree(gwf);
        ffree(swf);
    } else {
        double *wf = dbuf(cmlp_forward_work_size(&arch));
        double *gwf = dbuf(cmlp_gradient_work_size(&arch)), *swf = dbuf(cmlp_sgd_work_size(&arch));
        net_forward_f64(Y, wf, params, X, N, &arch);
        ok = guard_check("Y", guards_ok_d(Y, N * K), 0) && ok;
        loss = net_loss_f64(wf, params, X, T, NULL, N, &arch);
        ok = guard_check("forward work", guards_ok_d(wf, cmlp_forward_work_size(&arch)), 0) && ok;
        (void)net_gradients_f64(grad, gwf, params, X, T, NULL, N, &arch);
        ok = guard_check("grad", guards_ok_d(grad, P), 0) && ok;
        ok = guard_check("gradient work", guards_ok_d(gwf, cmlp_gradient_work_size(&arch)), 0) &&
             ok;
        status = sgd_epoch_f64(p2, swf, X, T, NULL, perm, N, &arch, 0.03125, 1, &done, &lsum);
        ok = guard_check("params", guards_ok_d(p2, P), 0) && ok;
        ok = guard_check("sgd work", guards_ok_d(swf, cmlp_sgd_work_size(&arch)), 0) && ok;
        dfree(wf);
        dfree(gwf);
        dfree(swf);
    }
    ok = compare("Y", Y, wY, N * K, f32) && ok;
    ok = compare("loss", &loss, &wloss, 1, f32) && ok;
    ok = compare("grad", grad, wgrad, P, f32) && ok;
    if (status != CMLP_OK || done != N) {
        if (n_reports++ < MAX_REPORTS)
            printf("FAIL %s [%s]: sgd_epoch status %d done %ld, expected 0 and %ld\n", name,
                   isa_label, status, (long)done, (long)N);
        ok = 0;
    }
    /* a per-sample run of N steps; short enough to stay well inside the tolerance */
    ok = compare("sgd params", p2, wp2, P, f32) && ok;
    ok = compare("sgd loss_sum", &lsum, &wlsum, 1, f32) && ok;
    record(ok);
    dfree(params);
    dfree(X);
    dfree(T);
    dfree(Y);
    dfree(wY);
    dfree(grad);
    dfree(wgrad);
    dfree(p2);
    dfree(wp2);
    free(perm);
}

/* The drivers with sample weights w_r = 0, 0.5, 1, 0, ...: net_loss is sum_r w_r l_r,
 * net_gradients sum_r w_r g_r, net_evaluate sums the weights of the correct rows, and
 * sgd_epoch skips the rows of weight 0 and leaves the others' updates unweighted. */
static void test_net_weighted(int f32, const net_case *nc, ptrdiff_t N, const char *label,
                              int mode)
{
    const ptrdiff_t L = nc->L, n0 = nc->sizes[0], K = nc->sizes[L];
    cmlp_arch arch;
    ptrdiff_t P, i, r, done = -1;
    double *params, *X, *T, *w, *grad, *wgrad, *tmp, *p2, *wp2;
    double loss, wloss = 0, ev, correct = -1, lsum = 0, wlsum = 0;
    int64_t *perm;
    int ok = 1, status;
    char name[200];
    snprintf(name, sizeof name, "weighted drivers %s N=%ld %s", label, (long)N,
             mode == 0 ? "own" : mode == 1 ? "gemm dense" : "gemm sparse");
    current = name;
    arch.n_layers = L;
    arch.sizes = nc->sizes;
    arch.acts = nc->acts;
    arch.loss = nc->loss;
    arch.blas = mode == 0 ? NULL : &NAIVE_BLAS;
    P = cmlp_param_count(&arch);
    params = dbuf(P);
    X = dbuf(N * n0);
    T = dbuf(N * K);
    w = dbuf(N);
    grad = dbuf(P);
    wgrad = dbuf(P);
    tmp = dbuf(P);
    perm = xmalloc(sizeof(int64_t) * (size_t)(N + 1));
    fill(params, P, -0.5, 0.5, 0);
    fill(X, N * n0, 0, 1, 1);
    if (mode == 2)
        for (i = 0; i < N * n0; i++)
            if (i % 5 != 0) X[i] = 0;
    for (r = 0; r < N; r++) {
        for (i = 0; i < K; i++) T[r * K + i] = 0;
        T[r * K + (r % K)] = 1;
        w[r] = 0.5 * (double)(r % 3);
        perm[r] = N - 1 - r;
    }
    if (f32) {
        round_f(params, P);
        round_f(X, N * n0);
    }
    for (i = 0; i < P; i++) grad[i] = wgrad[i] = 0.25;
    for (r = 0; r < N; r++) {
        double l;
        for (i = 0; i < P; i++) tmp[i] = 0;
        l = ref_row_backward(tmp, params, X + r * n0, T + r * K, nc, f32, 0, 0);
        wloss += w[r] * l;
        for (i = 0; i < P; i++) wgrad[i] += w[r] * tmp[i];
    }
    p2 = copy_d(params, P);
    wp2 = copy_d(params, P);
    for (r = 0; r < N; r++)
        if (w[perm[r]] != 0)
            wlsum += w[perm[r]] * ref_row_backward(wp2, wp2, X + perm[r] * n0,
                                                   T + perm[r] * K, nc, f32, 0.03125, 1);
    if (f32) {
        float *pf = to_f(params, P), *Xf = to_f(X, N * n0), *Tf = to_f(T, N * K);
        float *wtf = to_f(w, N), *gf = to_f(grad, P), *p2f = to_f(p2, P);
        float *wf = fbuf(cmlp_forward_work_size(&arch));
        float *gwf = fbuf(cmlp_gradient_work_size(&arch)), *swf = fbuf(cmlp_sgd_work_size(&arch));
        loss = net_loss_f32(wf, pf, Xf, Tf, wtf, N, &arch);
        ev = net_evaluate_f32(wf, pf, Xf, Tf, wtf, N, &arch, &correct);
        (void)net_gradients_f32(gf, gwf, pf, Xf, Tf, wtf, N, &arch);
        status = sgd_epoch_f32(p2f, swf, Xf, Tf, wtf, perm, N, &arch, 0.03125f, 1, &done, &lsum);
        from_f(grad, gf, P);
        from_f(p2, p2f, P);
        ffree(pf);
        ffree(Xf);
        ffree(Tf);
        ffree(wtf);
        ffree(gf);
        ffree(p2f);
        ffree(wf);
        ffree(gwf);
        ffree(swf);
    } else {
        double *wf = dbuf(cmlp_forward_work_size(&arch));
        double *gwf = dbuf(cmlp_gradient_work_size(&arch)), *swf = dbuf(cmlp_sgd_work_size(&arch));
        loss = net_loss_f64(wf, params, X, T, w, N, &arch);
        ev = net_evaluate_f64(wf, params, X, T, w, N, &arch, &correct);
        (void)net_gradients_f64(grad, gwf, params, X, T, w, N, &arch);
        status = sgd_epoch_f64(p2, swf, X, T, w, perm, N, &arch, 0.03125, 1, &done, &lsum);
        dfree(wf);
        dfree(gwf);
        dfree(swf);
    }
    ok = compare("weighted loss", &loss, &wloss, 1, f32) && ok;
    ok = compare("weighted evaluate loss", &ev, &loss, 1, f32) && ok;
    ok = compare("weighted grad", grad, wgrad, P, f32) && ok;
    if (status != CMLP_OK || done != N || correct < 0 || correct > 1.5 * (double)N) {
        if (n_reports++ < MAX_REPORTS)
            printf("FAIL %s [%s]: status %d done %ld correct %g\n", name, isa_label, status,
                   (long)done, correct);
        ok = 0;
    }
    ok = compare("weighted sgd params", p2, wp2, P, f32) && ok;
    ok = compare("weighted sgd loss_sum", &lsum, &wlsum, 1, f32) && ok;
    record(ok);
    dfree(params);
    dfree(X);
    dfree(T);
    dfree(w);
    dfree(grad);
    dfree(wgrad);
    dfree(tmp);
    dfree(p2);
    dfree(wp2);
    free(perm);
}

/* sgd_epoch with stop_nonfinite: a NaN target stops before that row's update */
static void test_sgd_stop(int f32)
{
    net_case nc = {2, {7, 5, 3, 0, 0}, {CMLP_SIGMOID, CMLP_IDENTITY, 0, 0}, CMLP_TSE};
    cmlp_arch arch;
    const ptrdiff_t N = 9, bad = 4, n0 = 7, K = 3;
    ptrdiff_t P, r, done = -1;
    double *params, *X, *T, *want, *got, lsum = 0, wlsum = 0;
    int64_t perm[9];
    int status, ok;
    current = "sgd_epoch stop_nonfinite";
    arch.n_layers = nc.L;
    arch.sizes = nc.sizes;
    arch.acts = nc.acts;
    arch.loss = nc.loss;
    arch.blas = NULL;
    P = cmlp_param_count(&arch);
    params = dbuf(P);
    X = dbuf(N * n0);
    T = dbuf(N * K);
    got = dbuf(P);
    fill(params, P, -0.5, 0.5, 0);
    fill(X, N * n0, 0, 1, 1);
    fill(T, N * K, 0, 1, 0);
    if (f32) {
        round_f(params, P);
        round_f(X, N * n0);
        round_f(T, N * K);
    }
    T[bad * K + 1] = NAN;
    for (r = 0; r < N; r++) perm[r] = r;
    want = copy_d(params, P);
    for (r = 0; r < bad; r++)
        wlsum += ref_row_backward(want, want, X + r * n0, T + r * K, &nc, f32, 0.5, 1);
    if (f32) {
        float *pf = to_f(params, P), *Xf = to_f(X, N * n0), *Tf = to_f(T, N * K);
        float *wf = fbuf(cmlp_sgd_work_size(&arch));
        status = sgd_epoch_f32(pf, wf, Xf, Tf, NULL, perm, N, &arch, 0.5f, 1, &done, &lsum);
        from_f(got, pf, P);
        ffree(pf);
        ffree(Xf);
        ffree(Tf);
        ffree(wf);
    } else {
        double *wf = dbuf(cmlp_sgd_work_size(&arch));
        memcpy(got, params, sizeof(double) * (size_t)P);
        status = sgd_epoch_f64(got, wf, X, T, NULL, perm, N, &arch, 0.5, 1, &done, &lsum);
        dfree(wf);
    }
    ok = status == CMLP_NONFINITE && done == bad;
    if (!ok && n_reports++ < MAX_REPORTS)
        printf("FAIL %s [%s, %s]: status %d done %ld, expected %d and %ld\n", current,
               f32 ? "f32" : "f64", isa_label, status, (long)done, CMLP_NONFINITE, (long)bad);
    ok = compare("params", got, want, P, f32) && ok;
    ok = compare("loss_sum", &lsum, &wlsum, 1, f32) && ok;
    record(ok);
    dfree(params);
    dfree(X);
    dfree(T);
    dfree(want);
    dfree(got);
}

static void run_all(void);

int main(void)
{
#ifdef CMLP_N_ISA
    int isa;
    for (isa = 0; isa < CMLP_N_ISA; isa++) {
        if (!cmlp_isa_available(isa)) {
            printf("skipping the %s kernels: not available on this CPU/build\n",
                   cmlp_isa_name(isa));
            continue;
        }
        if (cmlp_set_isa(isa) != 0) {
            printf("FAIL cmlp_set_isa(%s) refused an available variant\n", cmlp_isa_name(isa));
            n_failed++;
            continue;
        }
        isa_label = cmlp_isa_name(isa);
        printf("testing the %s kernels\n", isa_label);
        run_all();
    }
#else
    run_all();
#endif
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}

static void run_all(void)
{
    int f32, act, loss, i, j, k;
    static const ptrdiff_t B_SIZES[] = {0, 1, 3, 5};
    static const ptrdiff_t N_ROWS[] = {0,  1,  7,   CMLP_BLOCK - 1, CMLP_BLOCK, CMLP_BLOCK + 1,
                                       65, CMLP_GEMM_BLOCK - 1, CMLP_GEMM_BLOCK,
                                       CMLP_GEMM_BLOCK + 1};
    static const net_case NETS[] = {
        {1, {1, 1}, {CMLP_SIGMOID}, CMLP_TSE},
        {1, {7, 3}, {CMLP_SOFTMAX}, CMLP_CROSS_ENTROPY},
        {2, {7, 5, 1}, {CMLP_TANH, CMLP_SIGMOID}, CMLP_CROSS_ENTROPY},
        {2, {63, 7, 4}, {CMLP_RELU, CMLP_SOFTMAX}, CMLP_TSE},
        {3, {65, 7, 63, 3}, {CMLP_ELU, CMLP_LEAKY_RELU, CMLP_IDENTITY}, CMLP_MSE},
        {3, {1, 65, 1, 2}, {CMLP_SIGMOID, CMLP_TANH, CMLP_SOFTMAX}, CMLP_MSE},
        {2, {7, 5, 2}, {CMLP_TANH, CMLP_EXP}, CMLP_POISSON},
    };
    static const char *NET_LABELS[] = {"1-1 sigmoid tse", "7-3 softmax ce",
                                       "7-5-1 tanh/sigmoid ce", "63-7-4 relu/softmax tse",
                                       "65-7-63-3 elu/leaky/identity mse",
                                       "1-65-1-2 sigmoid/tanh/softmax mse",
                                       "7-5-2 tanh/exp poisson"};

    for (f32 = 0; f32 <= 1; f32++) {
        for (act = 0; act < CMLP_N_ACT; act++)
            for (i = 0; i < 4; i++)
                for (j = 0; j < N_SIZES; j++) test_act_forward(f32, B_SIZES[i], SIZES[j], act);
        for (act = 0; act < CMLP_N_ACT; act++)
            if (act != CMLP_SOFTMAX)
                for (j = 0; j < N_SIZES; j++) test_act_backward(f32, SIZES[j], act);
        for (act = 0; act < CMLP_N_ACT; act++)
            for (i = 0; i < 4; i++)
                for (j = 0; j < N_SIZES; j++)
                    for (k = 0; k < N_SIZES; k++)
                        test_dense_forward(f32, B_SIZES[i], SIZES[j], SIZES[k], act);
        for (act = 0; act < CMLP_SOFTMAX; act++)
            for (i = 0; i < 4; i++)
                for (j = 0; j < N_SIZES; j++)
                    for (k = 0; k < N_SIZES; k++) {
                        test_dense_backward(f32, B_SIZES[i], SIZES[j], SIZES[k], act, 1);
                        test_dense_backward(f32, B_SIZES[i], SIZES[j], SIZES[k], act, 0);
                    }
        for (act = 0; act < CMLP_SOFTMAX; act++)
            for (j = 0; j < N_SIZES; j++)
                for (k = 0; k < N_SIZES; k++) {
                    test_dense_backward_sgd(f32, SIZES[j], SIZES[k], act, 1);
                    test_dense_backward_sgd(f32, SIZES[j], SIZES[k], act, 0);
                }
        for (loss = 0; loss < CMLP_N_LOSS; loss++)
            for (act = 0; act < CMLP_N_ACT; act++) {
                if (loss == CMLP_CROSS_ENTROPY && act != CMLP_SOFTMAX && act != CMLP_SIGMOID)
                    continue;
                if ((loss == CMLP_POISSON) != (act == CMLP_EXP)) continue; /* exp: poisson */
                for (i = 0; i < 4; i++)
                    for (j = 0; j < N_SIZES; j++) test_loss(f32, B_SIZES[i], SIZES[j], loss, act);
            }
        for (j = 0; j < N_SIZES; j++) test_sgd_update(f32, SIZES[j]);
        test_sgd_update(f32, 1000);
        for (i = 0; i < (int)(sizeof(NETS) / sizeof(NETS[0])); i++)
            for (j = 0; j < (int)(sizeof(N_ROWS) / sizeof(N_ROWS[0])); j++) {
                if (N_ROWS[j] > 0 && N_ROWS[j] % 7 == 0) continue; /* perm needs gcd(7, N) = 1 */
                for (k = 0; k < 3; k++) test_net(f32, &NETS[i], N_ROWS[j], NET_LABELS[i], k);
            }
        for (i = 0; i < (int)(sizeof(NETS) / sizeof(NETS[0])); i++)
            for (k = 0; k < 3; k++) {
                test_net_weighted(f32, &NETS[i], 1, NET_LABELS[i], k);
                test_net_weighted(f32, &NETS[i], CMLP_GEMM_BLOCK + 3, NET_LABELS[i], k);
            }
        test_sgd_stop(f32);
    }
}
