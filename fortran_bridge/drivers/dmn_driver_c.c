/* dmn_driver_c — strain-driven material point through libdmn_umat's umat_ (or the C API).
 *
 *   dmn_driver_c [options] PROPS_FILE PATH_FILE
 *     PROPS_FILE  the PROPS values (whitespace/comma separated; layout: docs/abi.md)
 *     PATH_FILE   one step per line: total strain e11,e22,e33,e23,e13,e12 (tensor components,
 *                 the CSV of `dmn drive --path`); lines that do not start with a number are skipped
 *   options: --material NAME  CMNAME passed to umat_ (default DMN; model from $DMN_UMAT_MODEL...)
 *            --ntens 6|4      UMAT dimension (4: plane strain, e13 = e23 = 0 are dropped)
 *            --nstatv N       STATEV size (default: the model's, via dmn_open($DMN_UMAT_MODEL))
 *            --bench N        instead of the path: N calls per thread at the last path strain
 *            --threads T      threads for --bench (default 1)
 *            --api            --bench through dmn_eval_batch (C API) instead of umat_
 *   output (path mode): one line per step, STRESS(1..NTENS) in Voigt order, %.17e; then the
 *   number of UMAT calls served on stderr.  Exit code 0, or 1 on errors.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmn_umat.h"

#define MAXV 100000

static int read_numbers(const char *path, double *v, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    char tok[128];
    while (n < max && fscanf(f, " %127[^ \t\r\n,]", tok) == 1) {
        char *end;
        double x = strtod(tok, &end);
        if (end != tok) v[n++] = x;
        int c = fgetc(f);
        if (c != ',' && c != EOF) ungetc(c, f);
    }
    fclose(f);
    return n;
}

static int read_path(const char *path, double (*e)[6], int max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[1024];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t') ++p;
        if (!((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.')) continue;
        int k = 0;
        while (k < 6) {
            char *end;
            double x = strtod(p, &end);
            if (end == p) break;
            e[n][k++] = x;
            p = end;
            while (*p == ',' || *p == ' ' || *p == '\t') ++p;
        }
        if (k != 6) {
            fclose(f);
            return -2;
        }
        ++n;
    }
    fclose(f);
    return n;
}

/* tensor components (11,22,33,23,13,12) -> Abaqus Voigt (11,22,33,12,13,23), engineering shear */
static void to_voigt(const double *t, int ntens, double *v) {
    v[0] = t[0];
    v[1] = t[1];
    v[2] = t[2];
    v[3] = 2.0 * t[5];
    if (ntens == 6) {
        v[4] = 2.0 * t[4];
        v[5] = 2.0 * t[3];
    }
}

typedef struct {
    const char *material;
    const double *props;
    int nprops, ntens, nstatv, handle, api;
    long ncalls;
    const double *strain_voigt;
    const double *strain_mandel;
    double seconds;
} bench_arg;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void *bench_thread(void *p) {
    bench_arg *a = (bench_arg *)p;
    double *statev = calloc((size_t)a->nstatv + 1, sizeof(double));
    double *snew = calloc((size_t)a->nstatv + 1, sizeof(double));
    double stress[6] = {0}, ddsdde[36], zero[6] = {0}, pnewdt, tang[36], info[4], dum = 0.0;
    int ndi = 3, nshr = a->ntens - 3, one = 1, jstep[4] = {1, 1, 0, 0}; /* JSTEP(3) = 0: no NLGEOM */
    double t0 = now();
    if (a->api) {
        for (long i = 0; i < a->ncalls; ++i)
            dmn_eval_batch(a->handle, 1, a->strain_mandel, statev, stress, tang, snew, info);
    } else {
        for (long i = 0; i < a->ncalls; ++i) {
            pnewdt = -1.0;
            umat_(stress, statev, ddsdde, &dum, &dum, &dum, &dum, &dum, &dum, &dum, zero, a->strain_voigt, &dum,
                  &dum, &dum, &dum, &dum, &dum, a->material, &ndi, &nshr, &a->ntens, &a->nstatv, a->props,
                  &a->nprops, &dum, &dum, &pnewdt, &dum, &dum, &dum, &one, &one, &one, &one, jstep, &one,
                  strlen(a->material));
            for (int k = 0; k < a->nstatv; ++k) statev[k] = 0.0; /* same work every call */
        }
    }
    a->seconds = now() - t0;
    free(statev);
    free(snew);
    return NULL;
}

int main(int argc, char **argv) {
    const char *material = "DMN";
    int ntens = 6, nstatv = -1, threads = 1, api = 0;
    long bench = 0;
    const char *files[2] = {NULL, NULL};
    int nf = 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--material") && i + 1 < argc) material = argv[++i];
        else if (!strcmp(argv[i], "--ntens") && i + 1 < argc) ntens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--nstatv") && i + 1 < argc) nstatv = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bench") && i + 1 < argc) bench = atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--api")) api = 1;
        else if (nf < 2) files[nf++] = argv[i];
        else {
            fprintf(stderr, "dmn_driver_c: unexpected argument %s\n", argv[i]);
            return 1;
        }
    }
    if (nf != 2 || (ntens != 6 && ntens != 4) || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: dmn_driver_c [--material NAME] [--ntens 6|4] [--nstatv N] "
                        "[--bench N [--threads T] [--api]] PROPS_FILE PATH_FILE\n");
        return 1;
    }
    static double props[MAXV];
    int nprops = read_numbers(files[0], props, MAXV);
    if (nprops <= 0) {
        fprintf(stderr, "dmn_driver_c: cannot read PROPS from %s\n", files[0]);
        return 1;
    }
    static double path[MAXV][6];
    int nsteps = read_path(files[1], path, MAXV);
    if (nsteps <= 0) {
        fprintf(stderr, "dmn_driver_c: cannot read a path (6 values per line) from %s\n", files[1]);
        return 1;
    }
    if (dmn_init() != 0) {
        fprintf(stderr, "dmn_driver_c: %s\n", dmn_last_error());
        return 1;
    }
    int handle = -1;
    const char *model = getenv("DMN_UMAT_MODEL");
    if (nstatv < 0 || api) {
        if (!model) {
            fprintf(stderr, "dmn_driver_c: set DMN_UMAT_MODEL (or pass --nstatv)\n");
            return 1;
        }
        handle = dmn_open(model, props, nprops);
        if (handle < 0) {
            fprintf(stderr, "dmn_driver_c: %s\n", dmn_last_error());
            return 1;
        }
        if (nstatv < 0) nstatv = dmn_nstate(handle);
    }
    if (bench > 0) {
        double ev[6], em[6];
        const double r2 = 1.4142135623730951;
        to_voigt(path[nsteps - 1], ntens, ev);
        const double *t = path[nsteps - 1];
        em[0] = t[0]; em[1] = t[1]; em[2] = t[2]; em[3] = r2 * t[3]; em[4] = r2 * t[4]; em[5] = r2 * t[5];
        pthread_t tid[64];
        bench_arg a[64];
        /* warm-up (first call opens the material) */
        bench_arg w = {material, props, nprops, ntens, nstatv, handle, api, 10, ev, em, 0.0};
        bench_thread(&w);
        double t0 = now();
        for (int i = 0; i < threads; ++i) {
            a[i] = w;
            a[i].ncalls = bench;
            pthread_create(&tid[i], NULL, bench_thread, &a[i]);
        }
        for (int i = 0; i < threads; ++i) pthread_join(tid[i], NULL);
        double wall = now() - t0;
        double total = (double)bench * threads;
        printf("{\"threads\": %d, \"calls\": %.0f, \"wall_s\": %.6f, \"calls_per_s\": %.1f, \"ns_per_call\": %.2f, "
               "\"api\": \"%s\"}\n", threads, total, wall, total / wall, 1e9 * wall / bench,
               api ? "dmn_eval_batch" : "umat_");
        return 0;
    }
    double *statev = calloc((size_t)nstatv + 1, sizeof(double));
    double stress[6] = {0}, ddsdde[36], stran[6] = {0}, dstran[6], cur[6], dum = 0.0, pnewdt;
    double tm[2] = {0.0, 0.0}, dtime = 1.0;
    int ndi = 3, nshr = ntens - 3, one = 1, jstep[4] = {1, 1, 0, 0}; /* JSTEP(3) = 0: no NLGEOM */
    for (int s = 0; s < nsteps; ++s) {
        to_voigt(path[s], ntens, cur);
        for (int i = 0; i < ntens; ++i) dstran[i] = cur[i] - stran[i];
        pnewdt = -1.0;
        int noel = 1, npt = 1, kinc = s + 1;
        umat_(stress, statev, ddsdde, &dum, &dum, &dum, &dum, &dum, &dum, &dum, stran, dstran, tm, &dtime,
              &dum, &dum, &dum, &dum, material, &ndi, &nshr, &ntens, &nstatv, props, &nprops, &dum, &dum, &pnewdt,
              &dum, &dum, &dum, &noel, &npt, &one, &one, jstep, &kinc, strlen(material));
        if (pnewdt > 0.0 && pnewdt < 1.0) {
            fprintf(stderr, "dmn_driver_c: step %d not accepted (PNEWDT=%g)\n", s + 1, pnewdt);
            return 1;
        }
        for (int i = 0; i < ntens; ++i) stran[i] = cur[i];
        for (int i = 0; i < ntens; ++i) printf(i ? " %.17e" : "%.17e", stress[i]);
        printf("\n");
    }
    fprintf(stderr, "dmn_driver_c: %ld UMAT calls served\n", dmn_call_count());
    free(statev);
    if (handle > 0) dmn_close(handle);
    return 0;
}
