/* libdmn_umat: C side of the cffi-embedded library (see dmn_umat/abi/build.py, docs/abi.md).
 *
 * Python starts once (dmn_init or the first call), compiles or loads the numba cfuncs and
 * hands over their addresses; every later call jumps straight into machine code: no Python,
 * no GIL, so concurrent callers run in parallel.  The build prepends the DMN_BUILD_* constants
 * and cffi prepends Python.h and the prototypes of the Python-implemented functions
 * (_dmn_py_init, _dmn_py_open, _dmn_py_close).
 */
#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* implemented in Python (cffi embedding_api, dmn_umat/abi/build.py) */
int _dmn_py_init(void **kernels, char *err, int errlen);
int _dmn_py_open(const char *path, const char *name, const double *props, int nprops, int64_t *ints, void **ptrs,
                 char *err, int errlen);
int _dmn_py_close(int64_t key);

/* DMN_ST_* (statuses), DMN_INFO_* (info slots), DMN_RET_BASE: from the public header; a build
   without the source tree's header gets the same names as -D macros from dmn_umat/status.py */
#ifdef DMN_HAVE_HEADER
#include "dmn_umat.h"
#endif

/* the time-aware entry points (declared here too for a build without the header) */
int dmn_eval_batch_t(int handle, int n, double dt, double temp, double dtemp, const double *strain,
                     const double *state_old, double *stress, double *tangent, double *state_new, double *info);
int dmn_umat_t(double *stress, double *statev, double *ddsdde, const double *stran, const double *dstran,
               double dtime, double temp, double dtemp, const char *cmname, int64_t cmname_len, int ndi,
               int nshr, int ntens, int nstatv, const double *props, int nprops, double *pnewdt, int noel,
               int npt);
int dmn_umat_nl(double *stress, double *statev, double *ddsdde, const double *stran, const double *dstran,
                const double *dfgrd1, int nlgeom, double dtime, double temp, double dtemp, const char *cmname,
                int64_t cmname_len, int ndi, int nshr, int ntens, int nstatv, const double *props, int nprops,
                double *pnewdt, int noel, int npt);

#define DMN_MAX_ENTRIES 1024 /* slots; closed dmn_open slots are reused */
#define DMN_MAX_GEN (INT32_MAX / DMN_MAX_ENTRIES - 1)
#define DMN_NAME 96
#define DMN_ERR 2048
#define DMN_MAX_MESSAGES 20

/* the numba cfuncs of dmn_umat/abi/cfuncs.py; the last three: time increment, temperature at the
   start of the increment, temperature increment */
typedef int32_t (*dmn_point_fn)(const int64_t *, int64_t, const double *, int64_t, const double *, int64_t,
                                const double *, const double *, int64_t, double *, double *, double *,
                                double *, int64_t, double *, double, double, double);
typedef int32_t (*dmn_umat_fn)(const int64_t *, int64_t, const double *, int64_t, int64_t, const double *,
                               int64_t, const double *, const double *, int64_t, double *, double *,
                               double *, int64_t, double *, double *, int64_t, double *, double, double, double);
/* umat_nl_point of dmn_umat/abi/nlgeom.py: as dmn_umat_fn with DFGRD1 (3x3 column-major) instead of
   STRAN, DSTRAN and the NLGEOM convention (enum dmn_nlgeom) after NTENS */
typedef int32_t (*dmn_umat_nl_fn)(const int64_t *, int64_t, const double *, int64_t, int64_t, const double *,
                                  int64_t, const double *, int64_t, int64_t, double *, double *, double *,
                                  int64_t, double *, double *, int64_t, double *, double, double, double);

typedef struct {
    const int64_t *mi;
    const double *mf;
    const double *ptab;
    int64_t nmi, nmf, nphase, nsv, nwork, nwork_umat, key, nleaf;
    int is_material;
    int finite; /* finite-strain phase laws: served by umat_nl_point under NLGEOM */
    atomic_int open;
    atomic_int gen; /* generation of a dmn_open slot: handle = gen * DMN_MAX_ENTRIES + slot + 1 */
    size_t namelen;
    char name[DMN_NAME];
    /* an orientation-aware (version-2) model: its own kernels (point_a2, umat_point_a2 of
       dmn_umat/abi/cfuncs.py; state = [A2 (6) | kernel state]); NULL for a fixed network */
    dmn_point_fn point_a2;
    dmn_umat_fn umat_a2;
} dmn_entry;

static dmn_entry g_entries[DMN_MAX_ENTRIES];
static atomic_int g_nentries;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static atomic_int g_init_state; /* 0 not yet, 1 ok, -1 failed */
static char g_init_err[DMN_ERR];
static _Atomic(dmn_point_fn) g_point;
static _Atomic(dmn_umat_fn) g_umat;
static _Atomic(dmn_umat_nl_fn) g_umat_nl;
static atomic_int g_nmessages;
static atomic_long g_ncalls;

static __thread char tl_err[DMN_ERR];
static __thread long tl_calls; /* UMAT calls of this thread not yet added to g_ncalls */
static __thread double *tl_work;
static __thread int64_t tl_cap;
static __thread int tl_last = -1;
static __thread size_t tl_lastlen;
static __thread char tl_lastname[DMN_NAME];

static void set_err(const char *msg) {
    snprintf(tl_err, sizeof tl_err, "%s", msg ? msg : "");
}

/* ------------------------------------------------------------------ start-up */
static void reopen_libpython(void) {
    /* pitfall 1: hosts that dlopen us RTLD_LOCAL (CalculiX) hide libpython's symbols from
       Python extension modules: make them global before Python starts. */
    if (DMN_BUILD_LIBPYTHON[0]) (void)dlopen(DMN_BUILD_LIBPYTHON, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
}

__attribute__((constructor)) static void dmn_constructor(void) { reopen_libpython(); }

static int start_python(char *err, size_t n) {
    if (Py_IsInitialized()) return 0; /* loaded into a running interpreter: reuse it */
    const char *exe = getenv("DMN_UMAT_PYTHON");
    if (!exe || !*exe) exe = DMN_BUILD_PYTHON;
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config); /* pitfall 2: no PYTHONHOME/PYTHONPATH surprises */
    config.install_signal_handlers = 0;   /* the host owns the signals */
    config.parse_argv = 0;
    PyStatus st = PyConfig_SetBytesString(&config, &config.program_name, exe);
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        snprintf(err, n, "cannot start Python (program %s): %s%s%s", exe, st.func ? st.func : "",
                 st.func ? ": " : "", st.err_msg ? st.err_msg : "unknown error");
        return -1;
    }
    (void)PyEval_SaveThread(); /* release the GIL: cffi and numba take it when they need it */
    return 0;
}

static void do_init(void) {
    char err[DMN_ERR];
    err[0] = '\0';
    if (start_python(err, sizeof err) == 0) {
        void *k[3] = {NULL, NULL, NULL};
        /* pitfall 3: cffi returns 0 from a Python function that raised: 1 means success */
        int ok = _dmn_py_init(k, err, (int)sizeof err);
        if (ok == 1 && k[0] && k[1] && k[2]) {
            atomic_store_explicit(&g_point, (dmn_point_fn)k[0], memory_order_release);
            atomic_store_explicit(&g_umat, (dmn_umat_fn)k[1], memory_order_release);
            atomic_store_explicit(&g_umat_nl, (dmn_umat_nl_fn)k[2], memory_order_release);
            atomic_store_explicit(&g_init_state, 1, memory_order_release);
            return;
        }
        if (!err[0]) snprintf(err, sizeof err, "Python-side initialization failed (traceback above)");
    }
    snprintf(g_init_err, sizeof g_init_err, "dmn_umat: %.2000s", err);
    atomic_store_explicit(&g_init_state, -1, memory_order_release);
}

int dmn_init(void) {
    if (atomic_load_explicit(&g_init_state, memory_order_acquire) == 0) pthread_once(&g_once, do_init);
    if (atomic_load_explicit(&g_init_state, memory_order_acquire) == 1) return 0;
    set_err(g_init_err);
    return -1;
}

const char *dmn_last_error(void) {
    if (!tl_err[0] && atomic_load(&g_init_state) == -1) return g_init_err;
    return tl_err;
}

/* ------------------------------------------------------------------ models */
static int add_entry(const char *path, const char *name, size_t namelen, const double *props, int nprops) {
    /* call with g_lock held, after dmn_init succeeded.  Returns the slot, or -1.
       A model of the C API (path given) reuses the slot of a closed one; UMAT materials are
       never closed and always take a fresh slot (find_material reads them without the lock). */
    int n = atomic_load_explicit(&g_nentries, memory_order_acquire);
    int slot = n;
    if (path) {
        for (int i = 0; i < n; ++i) {
            if (!g_entries[i].is_material && !atomic_load(&g_entries[i].open)) {
                slot = i;
                break;
            }
        }
    }
    if (slot >= DMN_MAX_ENTRIES) {
        char msg[128];
        snprintf(msg, sizeof msg, "dmn_umat: too many open models (%d open at once; close some with dmn_close)",
                 DMN_MAX_ENTRIES);
        set_err(msg);
        return -1;
    }
    char cname[DMN_NAME];
    size_t l = namelen < DMN_NAME - 1 ? namelen : DMN_NAME - 1;
    if (name) memcpy(cname, name, l);
    cname[name ? l : 0] = '\0';
    int64_t ints[9] = {0};
    void *ptrs[5] = {NULL, NULL, NULL, NULL, NULL};
    char err[DMN_ERR];
    err[0] = '\0';
    int ok = _dmn_py_open(path, name ? cname : NULL, props, nprops, ints, ptrs, err, (int)sizeof err);
    if (ok != 1) {
        snprintf(tl_err, sizeof tl_err, "dmn_umat: %.2000s", err[0] ? err : "cannot open model (traceback above)");
        return -1;
    }
    dmn_entry *e = &g_entries[slot];
    e->nmi = ints[0];
    e->nmf = ints[1];
    e->nphase = ints[2];
    e->nsv = ints[3];
    e->nwork = ints[4];
    e->nwork_umat = ints[5];
    e->key = ints[6];
    e->nleaf = ints[7];
    e->finite = (int)ints[8];
    e->mi = (const int64_t *)ptrs[0];
    e->mf = (const double *)ptrs[1];
    e->ptab = (const double *)ptrs[2];
    e->point_a2 = (dmn_point_fn)ptrs[3];
    e->umat_a2 = (dmn_umat_fn)ptrs[4];
    e->is_material = name != NULL;
    e->namelen = name ? l : 0;
    memcpy(e->name, cname, sizeof cname);
    if (slot < n) { /* reused: a new generation, so the closed handle stays invalid */
        int g = atomic_load(&e->gen) + 1;
        atomic_store(&e->gen, g > DMN_MAX_GEN ? 0 : g);
    }
    atomic_store(&e->open, 1);
    if (slot == n) atomic_store_explicit(&g_nentries, n + 1, memory_order_release);
    return slot;
}

int dmn_open(const char *model_path, const double *props, int nprops) {
    if (!model_path || (nprops > 0 && !props) || nprops < 0) {
        set_err("dmn_open: null model path or props");
        return -1;
    }
    if (dmn_init() != 0) return -1;
    pthread_mutex_lock(&g_lock);
    int idx = add_entry(model_path, NULL, 0, props, nprops);
    int handle = idx < 0 ? -1 : atomic_load(&g_entries[idx].gen) * DMN_MAX_ENTRIES + idx + 1;
    pthread_mutex_unlock(&g_lock);
    return handle;
}

static dmn_entry *get_handle(int handle) {
    int n = atomic_load_explicit(&g_nentries, memory_order_acquire);
    int slot = handle >= 1 ? (handle - 1) % DMN_MAX_ENTRIES : -1;
    dmn_entry *e = slot >= 0 && slot < n ? &g_entries[slot] : NULL;
    if (!e || e->is_material || !atomic_load(&e->open) || atomic_load(&e->gen) != (handle - 1) / DMN_MAX_ENTRIES) {
        set_err("dmn_umat: invalid or closed handle");
        return NULL;
    }
    return e;
}

int dmn_close(int handle) {
    pthread_mutex_lock(&g_lock);
    dmn_entry *e = get_handle(handle);
    int rc = -1;
    if (e) {
        atomic_store(&e->open, 0);
        (void)_dmn_py_close(e->key);
        rc = 0;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

int dmn_nstate(int handle) {
    dmn_entry *e = get_handle(handle);
    return e ? (int)e->nsv : -1;
}

int dmn_nphase(int handle) {
    dmn_entry *e = get_handle(handle);
    return e ? (int)e->nphase : -1;
}

static void free_work(void *p) { free(p); }
static pthread_key_t g_work_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static void make_key(void) { (void)pthread_key_create(&g_work_key, free_work); }

static double *thread_work(int64_t n) {
    /* pitfall 5: no allocation per call; one buffer per thread, grown once if needed */
    if (tl_cap >= n) return tl_work;
    pthread_once(&g_key_once, make_key);
    double *w = (double *)realloc(tl_work, (size_t)(n > 64 ? n : 64) * sizeof(double));
    if (!w) return NULL;
    tl_work = w;
    tl_cap = n > 64 ? n : 64;
    (void)pthread_setspecific(g_work_key, w);
    return w;
}

static int all_finite(const double *v, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!(v[i] - v[i] == 0.0)) return 0; /* NaN and inf give NaN */
    return 1;
}

/* A2 = (a11, a22, a33, a23, a13, a12) is a fibre orientation tensor: finite, trace 1 (+-1e-6), eigenvalues
   >= -1e-8 (every principal minor of A2 + 1e-8 I non-negative): the test of dmn_umat/online/parametric.py */
static int a2_ok(const double *a) {
    if (!all_finite(a, 6)) return 0;
    double t = a[0] + a[1] + a[2] - 1.0, s = 1e-8;
    double d0 = a[0] + s, d1 = a[1] + s, d2 = a[2] + s;
    if (t > 1e-6 || t < -1e-6 || d0 < 0.0 || d1 < 0.0 || d2 < 0.0) return 0;
    double m0 = d1 * d2 - a[3] * a[3], m1 = d0 * d2 - a[4] * a[4], m2 = d0 * d1 - a[5] * a[5];
    if (m0 < 0.0 || m1 < 0.0 || m2 < 0.0) return 0;
    return d0 * m0 - a[5] * (a[5] * d2 - a[3] * a[4]) + a[4] * (a[5] * a[3] - d1 * a[4]) >= 0.0;
}

/* dmn_last_error() after a batch with failed points: how many, and why the first one failed */
static void batch_error(int nfail, int n, int i, int st, double ratio, const double *strain, const double *sold,
                        int64_t nsv) {
    char why[160];
    if (!all_finite(strain, 6))
        snprintf(why, sizeof why, "non-finite (NaN/inf) strain");
    else if (sold && !all_finite(sold, nsv))
        snprintf(why, sizeof why, "non-finite (NaN/inf) state_old");
    else if (st == DMN_ST_CUTBACK)
        snprintf(why, sizeof why, "step too large, retry with a step ratio of %.3g (info[0])", ratio);
    else
        snprintf(why, sizeof why, "no convergence of the network kernel");
    snprintf(tl_err, sizeof tl_err, "dmn_eval_batch: %d of %d points failed; first: point %d (0-based): %s",
             nfail, n, i, why);
}

int dmn_eval_batch(int handle, int n, const double *strain, const double *state_old, double *stress,
                   double *tangent, double *state_new, double *info) {
    return dmn_eval_batch_t(handle, n, 0.0, 0.0, 0.0, strain, state_old, stress, tangent, state_new, info);
}

int dmn_eval_batch_t(int handle, int n, double dt, double temp, double dtemp, const double *strain,
                     const double *state_old, double *stress, double *tangent, double *state_new, double *info) {
    dmn_entry *e = get_handle(handle);
    if (!e) return -1;
    if (n < 0 || (n > 0 && (!strain || !stress || !tangent || (e->nsv > 0 && (!state_old || !state_new))))) {
        set_err("dmn_eval_batch: bad arguments");
        return -1;
    }
    if (!(dt >= 0.0 && dt - dt == 0.0 && temp - temp == 0.0 && dtemp - dtemp == 0.0)) {
        set_err("dmn_eval_batch_t: dt must be finite and >= 0, temp and dtemp finite");
        return -1;
    }
    dmn_point_fn f = e->point_a2 ? e->point_a2 : atomic_load_explicit(&g_point, memory_order_acquire);
    double *w = thread_work(e->nwork);
    if (!w) {
        set_err("dmn_eval_batch: out of memory");
        return -1;
    }
    const int64_t nsv = e->nsv;
    double loc[DMN_INFO_SIZE];
    int nfail = 0, first = -1, first_st = 0;
    double first_ratio = 0.0;
    for (int i = 0; i < n; ++i) {
        double *inf = info ? info + DMN_INFO_SIZE * (size_t)i : loc;
        int32_t r = f(e->mi, e->nmi, e->mf, e->nmf, e->ptab, e->nphase, strain + 6 * (size_t)i,
                      state_old + nsv * (size_t)i, nsv, stress + 6 * (size_t)i, tangent + 36 * (size_t)i,
                      state_new + nsv * (size_t)i, w, e->nwork, inf, dt, temp, dtemp);
        int st = r >= DMN_RET_BASE ? r - DMN_RET_BASE : DMN_ST_FAILED;
        inf[DMN_INFO_STATUS] = (double)st;
        if (st != DMN_ST_OK && nfail++ == 0) {
            first = i;
            first_st = st;
            first_ratio = inf[DMN_INFO_RATIO];
        }
    }
    if (nfail) batch_error(nfail, n, first, first_st, first_ratio, strain + 6 * (size_t)first,
                           nsv ? state_old + nsv * (size_t)first : NULL, nsv);
    if (nfail && e->point_a2 && !a2_ok(state_old + nsv * (size_t)first))
        snprintf(tl_err, sizeof tl_err, "dmn_eval_batch: %d of %d points failed; first: point %d (0-based): its A2 "
                 "(state_old[0..5] = a11, a22, a33, a23, a13, a12) is not a fibre orientation tensor (finite, "
                 "trace 1, eigenvalues >= 0)", nfail, n, first);
    return nfail;
}

/* Exact for the calling thread; other threads' calls are published in batches of 256 so that
   concurrent callers do not fight over one cache line on every call. */
long dmn_call_count(void) { return atomic_load(&g_ncalls) + tl_calls; }

/* ------------------------------------------------------------------ UMAT */
static void fatal(const char *msg) {
    fprintf(stderr, "%s\n*** dmn_umat: stopping the analysis (configuration error) ***\n", msg);
    fflush(NULL);
    _exit(3);
}

static void note(const char *fmt, const char *name, int noel, int npt, double r) {
    int k = atomic_fetch_add(&g_nmessages, 1);
    if (k < DMN_MAX_MESSAGES) {
        fprintf(stderr, fmt, name, noel, npt, r);
        if (k == DMN_MAX_MESSAGES - 1) fprintf(stderr, "dmn_umat: further messages suppressed\n");
    }
}

static int find_material(const char *raw, size_t len) {
    if (tl_last >= 0 && tl_lastlen == len && memcmp(tl_lastname, raw, len) == 0) return tl_last;
    int n = atomic_load_explicit(&g_nentries, memory_order_acquire);
    for (int i = 0; i < n; ++i) {
        dmn_entry *e = &g_entries[i];
        if (e->is_material && e->namelen == len && memcmp(e->name, raw, len) == 0) return i;
    }
    return -1;
}

int dmn_umat(double *stress, double *statev, double *ddsdde, const double *stran, const double *dstran,
             const char *cmname, int64_t cmname_len, int ndi, int nshr, int ntens, int nstatv,
             const double *props, int nprops, double *pnewdt, int noel, int npt) {
    return dmn_umat_t(stress, statev, ddsdde, stran, dstran, 0.0, 0.0, 0.0, cmname, cmname_len, ndi, nshr, ntens,
                      nstatv, props, nprops, pnewdt, noel, npt);
}

static int umat_call(double *stress, double *statev, double *ddsdde, const double *stran, const double *dstran,
                     const double *dfgrd1, const int *jstep, int nlgeom, double dtime, double temp, double dtemp,
                     const char *cmname, int64_t cmname_len, int ndi, int nshr, int ntens, int nstatv,
                     const double *props, int nprops, double *pnewdt, int noel, int npt);

int dmn_umat_t(double *stress, double *statev, double *ddsdde, const double *stran, const double *dstran,
               double dtime, double temp, double dtemp, const char *cmname, int64_t cmname_len, int ndi,
               int nshr, int ntens, int nstatv, const double *props, int nprops, double *pnewdt, int noel,
               int npt) {
    return umat_call(stress, statev, ddsdde, stran, dstran, NULL, NULL, 0, dtime, temp, dtemp, cmname, cmname_len,
                     ndi, nshr, ntens, nstatv, props, nprops, pnewdt, noel, npt);
}

/* NLGEOM convention of a material name (docs/abi.md): CalculiX's @ABAQUSNL_ (corotational),
   CalculiX's @ABAQUS_ (total Lagrangian), else Abaqus (Cauchy stress, Jaumann tangent) */
static int nl_convention(const char *name) {
    if (strncmp(name, "@ABAQUSNL", 9) == 0) return DMN_NL_CALCULIX_COROT;
    if (name[0] == '@') return DMN_NL_CALCULIX;
    return DMN_NL_ABAQUS;
}

/* the UMAT body; jstep (JSTEP(4) of umat_, or NULL): NLGEOM = jstep[2], read only for CalculiX names
   (@...) and finite-strain materials, whose hosts pass JSTEP(4); else the flag nlgeom */
static int umat_call(double *stress, double *statev, double *ddsdde, const double *stran, const double *dstran,
                     const double *dfgrd1, const int *jstep, int nlgeom, double dtime, double temp, double dtemp,
                     const char *cmname, int64_t cmname_len, int ndi, int nshr, int ntens, int nstatv,
                     const double *props, int nprops, double *pnewdt, int noel, int npt) {
    if (++tl_calls == 256) {
        atomic_fetch_add_explicit(&g_ncalls, tl_calls, memory_order_relaxed);
        tl_calls = 0;
    }
    if (dmn_init() != 0) fatal(g_init_err);
    /* CMNAME: blank padded; the hidden length may arrive as a 32-bit int in a 64-bit slot */
    size_t len = (size_t)(uint32_t)cmname_len;
    if (len > DMN_NAME - 1) len = DMN_NAME - 1;
    size_t l = 0;
    while (l < len && cmname[l] != '\0') ++l;
    while (l > 0 && cmname[l - 1] == ' ') --l;
    int idx = find_material(cmname, l);
    if (idx < 0) {
        pthread_mutex_lock(&g_lock);
        idx = find_material(cmname, l);
        if (idx < 0) idx = add_entry(NULL, cmname, l, props, nprops);
        pthread_mutex_unlock(&g_lock);
        if (idx < 0) fatal(tl_err);
    }
    if (idx != tl_last) {
        tl_last = idx;
        tl_lastlen = l;
        memcpy(tl_lastname, cmname, l);
    }
    dmn_entry *e = &g_entries[idx];
    char msg[512];
    if (ndi != 3 || !((ntens == 6 && nshr == 3) || (ntens == 4 && nshr == 1))) {
        snprintf(msg, sizeof msg, "dmn_umat: material %s: NDI=%d NSHR=%d NTENS=%d not supported "
                 "(3D NTENS=6 or plane strain/axisymmetric NTENS=4)", e->name, ndi, nshr, ntens);
        fatal(msg);
    }
    if (nstatv < e->nsv) {
        snprintf(msg, sizeof msg, "dmn_umat: material %s: NSTATV=%d but the model needs %lld state "
                 "variables (*DEPVAR %lld)", e->name, nstatv, (long long)e->nsv, (long long)e->nsv);
        fatal(msg);
    }
    int conv = nl_convention(e->name);
    if (jstep && (e->name[0] == '@' || e->finite)) nlgeom = jstep[2] == 1;
    /* CalculiX computes DFGRD1 for every user material, and its first pass of an increment runs
       with JSTEP(3) = 0 even under NLGEOM (nonlingeo.c: elastic predictor): its NLGEOM flag is not
       required; Abaqus's is */
    if (e->finite && (!dfgrd1 || (!nlgeom && conv == DMN_NL_ABAQUS))) {
        snprintf(msg, sizeof msg, "dmn_umat: material %s: finite-strain phase laws (ids 6-8) need a geometrically "
                 "nonlinear step (NLGEOM) and DFGRD1", e->name);
        fatal(msg);
    }
    if (!e->finite && nlgeom && conv != DMN_NL_CALCULIX) {
        snprintf(msg, sizeof msg, "dmn_umat: material %s: a small-strain model under NLGEOM in the %s interface is "
                 "refused (its tensor state would not follow the rotations): use finite-strain phase laws "
                 "(ids 6-8)%s", e->name, conv == DMN_NL_ABAQUS ? "Abaqus" : "CalculiX @ABAQUSNL",
                 conv == DMN_NL_ABAQUS ? "" : " or the @ABAQUS_ interface (exact: strain E, stress S)");
        fatal(msg);
    }
    if (e->umat_a2 && !a2_ok(statev)) {
        int zero = 1;
        for (int i = 0; i < 6; ++i) zero = zero && statev[i] == 0.0;
        snprintf(msg, sizeof msg, "dmn_umat: material %s element %d point %d: STATEV(1..6) = %g, %g, %g, %g, %g, %g "
                 "is not a fibre orientation tensor A2 (a11, a22, a33, a23, a13, a12: trace 1, eigenvalues >= 0)%s",
                 e->name, noel, npt, statev[0], statev[1], statev[2], statev[3], statev[4], statev[5],
                 zero ? "; the model is orientation-aware: give every element and integration point its A2 with "
                        "*INITIAL CONDITIONS, TYPE=SOLUTION (docs/abi.md)" : "");
        fatal(msg);
    }
    double *w = thread_work(e->nwork_umat);
    if (!w) fatal("dmn_umat: out of memory");
    double info[DMN_INFO_SIZE];
    dmn_umat_fn f = e->umat_a2 ? e->umat_a2 : atomic_load_explicit(&g_umat, memory_order_acquire);
    dmn_umat_nl_fn fnl = atomic_load_explicit(&g_umat_nl, memory_order_acquire);
    /* CalculiX's elastic predictor pass (JSTEP(3) = 0): DDSDDE = the elastic tangent (nlgeom.PREDICTOR = 8) */
    int fconv = conv + (conv != DMN_NL_ABAQUS && !nlgeom ? 8 : 0);
    int32_t r = e->finite ? fnl(e->mi, e->nmi, e->mf, e->nmf, e->nphase, props, nprops, dfgrd1, ntens, fconv,
                                stress, ddsdde, statev, e->nsv, pnewdt, w, e->nwork_umat, info, dtime, temp, dtemp)
                          : f(e->mi, e->nmi, e->mf, e->nmf, e->nphase, props, nprops, stran, dstran, ntens, stress,
                              ddsdde, statev, e->nsv, pnewdt, w, e->nwork_umat, info, dtime, temp, dtemp);
    int st = r >= DMN_RET_BASE ? r - DMN_RET_BASE : -1;
    if (st == DMN_ST_OK) return DMN_ST_OK;
    if (st == DMN_ST_BADPROPS) {
        snprintf(msg, sizeof msg, "dmn_umat: material %s: PROPS (NPROPS=%d) do not match the model's %lld "
                 "phases (per phase: law id, parameters; see docs/abi.md)", e->name, nprops,
                 (long long)e->nphase);
        fatal(msg);
    }
    if (st == DMN_ST_BADNTENS || st == DMN_ST_WORK) {
        snprintf(msg, sizeof msg, "dmn_umat: material %s: internal configuration error %d", e->name, st);
        fatal(msg);
    }
    if (st < 0) {
        /* an exception escaped the kernel (printed above): outputs are not trustworthy */
        for (int i = 0; i < ntens; ++i) stress[i] = stress[i] == stress[i] ? stress[i] : 0.0;
        for (int i = 0; i < ntens * ntens; ++i) ddsdde[i] = 0.0;
        for (int i = 0; i < ntens; ++i) ddsdde[i * ntens + i] = 1.0;
        *pnewdt = 0.25;
        note("dmn_umat: material %s element %d point %d: kernel error, PNEWDT=%g\n", e->name, noel, npt, 0.25);
        return DMN_ST_FAILED;
    }
    note(st == DMN_ST_CUTBACK ? "dmn_umat: material %s element %d point %d: step too large, PNEWDT=%g\n"
                              : "dmn_umat: material %s element %d point %d: no convergence or non-finite "
                                "strain, PNEWDT=%g\n",
         e->name, noel, npt, *pnewdt);
    return st;
}

int dmn_umat_nl(double *stress, double *statev, double *ddsdde, const double *stran, const double *dstran,
                const double *dfgrd1, int nlgeom, double dtime, double temp, double dtemp, const char *cmname,
                int64_t cmname_len, int ndi, int nshr, int ntens, int nstatv, const double *props, int nprops,
                double *pnewdt, int noel, int npt) {
    return umat_call(stress, statev, ddsdde, stran, dstran, dfgrd1, NULL, nlgeom != 0, dtime, temp, dtemp, cmname,
                     cmname_len, ndi, nshr, ntens, nstatv, props, nprops, pnewdt, noel, npt);
}

void umat_(double *stress, double *statev, double *ddsdde, double *sse, double *spd, double *scd, double *rpl,
           double *ddsddt, double *drplde, double *drpldt, const double *stran, const double *dstran,
           const double *time, const double *dtime, const double *temp, const double *dtemp,
           const double *predef, const double *dpred, const char *cmname, const int *ndi, const int *nshr,
           const int *ntens, const int *nstatv, const double *props, const int *nprops, const double *coords,
           const double *drot, double *pnewdt, const double *celent, const double *dfgrd0,
           const double *dfgrd1, const int *noel, const int *npt, const int *layer, const int *kspt,
           const int *kstep, const int *kinc, size_t cmname_len) {
    (void)sse; (void)spd; (void)scd; (void)rpl; (void)ddsddt; (void)drplde; (void)drpldt; (void)time;
    (void)predef; (void)dpred; (void)coords; (void)drot;
    (void)celent; (void)dfgrd0; (void)layer; (void)kspt; (void)kinc;
    /* KSTEP is JSTEP(4) in CalculiX and Abaqus >= 2017: NLGEOM = JSTEP(3) (docs/abi.md, NLGEOM) */
    (void)umat_call(stress, statev, ddsdde, stran, dstran, dfgrd1, kstep, 0, dtime ? *dtime : 0.0,
                    temp ? *temp : 0.0, dtemp ? *dtemp : 0.0, cmname, (int64_t)cmname_len, *ndi, *nshr, *ntens,
                    *nstatv, props, *nprops, pnewdt, noel ? *noel : 0, npt ? *npt : 0);
}
