/* dmn_umat.h — C API of libdmn_umat (Deep Material Network surrogate as a UMAT).
 *
 * Conventions (docs/abi.md):
 *  - C API: Mandel 6-vectors, order 11,22,33,23,13,12 with sqrt(2) on shear; tangents are
 *    6x6 row-major.  Strain is the TOTAL small strain at the end of the step.
 *  - UMAT: Abaqus argument list; Voigt order 11,22,33,12,13,23 with engineering shear strain;
 *    DDSDDE column-major NTENS x NTENS; NTENS = 6 (3D) or 4 (plane strain/axisymmetric).
 *  - PROPS: per phase (model phase order) the law id then its parameters:
 *      elastic 0,E,nu | aniso 1,C11..C66 (21 Mandel upper-triangle values) | j2 2,E,nu,sy,H,Q,b,Hk
 *      | vp 3,<j2's 7>,T0,dE,dsy,dH,dQ,dHk,eta,m,form | creep 4,<j2's 7>,T0,dE,dsy,dH,dQ,dHk,A,n,k
 *      | chaboche 5,<j2's 7>,T0,dE,dsy,dH,dQ,dHk,eta,m,form,C1,gamma1,dC1,C2,gamma2,dC2 (docs/laws.md)
 *  - Time and temperature: the UMAT passes DTIME, TEMP, DTEMP to the phase laws; the C API
 *    takes them in dmn_eval_batch_t (dmn_eval_batch: dt = 0, no temperature = rate independent).
 *  - Model of a UMAT material: $DMN_UMAT_MODEL_<KEY>, else $DMN_UMAT_MODEL (docs/abi.md).
 *  - Orientation-aware (version-2) models: the state of a point (STATEV of the UMAT, state_old /
 *    state_new of the C API) starts with the fibre orientation tensor A2 = a11, a22, a33, a23, a13,
 *    a12 (6 slots, read on every call, never changed), then the network's state; dmn_nstate counts
 *    the 6 slots.  A CalculiX/Abaqus deck sets them with *INITIAL CONDITIONS, TYPE=SOLUTION.
 * Thread safety: after dmn_init every function may be called concurrently (distinct outputs).
 */
#ifndef DMN_UMAT_H
#define DMN_UMAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status of one point (info[DMN_INFO_STATUS] of dmn_eval_batch) or of one UMAT call.
   ABI: the values never change (dmn_umat/status.py holds the same enum; a test compares). */
enum dmn_status {
    DMN_ST_OK = 0,        /* converged: stress, tangent, new state valid */
    DMN_ST_CUTBACK = 1,   /* step too large: retry with the ratio info[DMN_INFO_RATIO] < 1 */
    DMN_ST_FAILED = 2,    /* no convergence, non-finite strain/state, or a kernel error */
    DMN_ST_BADPROPS = 10, /* UMAT: PROPS do not match the model (configuration error) */
    DMN_ST_BADNTENS = 11, /* UMAT: unsupported NTENS (configuration error) */
    DMN_ST_WORK = 12      /* workspace too small (internal configuration error) */
};

/* Layout of the per-point info array of dmn_eval_batch (DMN_INFO_SIZE doubles per point). */
enum dmn_info_slot {
    DMN_INFO_RATIO = 0,      /* suggested step ratio: 1 after success, < 1 after a cut back */
    DMN_INFO_ITERATIONS = 1, /* Newton iterations of the call (all sub-steps) */
    DMN_INFO_STATUS = 2,     /* enum dmn_status of the point */
    DMN_INFO_RESIDUAL = 3,   /* final max residual / max(max leaf stress, stress floor) */
    DMN_INFO_SIZE = 4
};

/* UMAT convention under NLGEOM (docs/abi.md, NLGEOM), chosen by the material name. */
enum dmn_nlgeom {
    DMN_NL_SMALL = 0,         /* small strain (no NLGEOM) */
    DMN_NL_ABAQUS = 1,        /* Abaqus: STRESS Cauchy, DDSDDE Jaumann rate of Kirchhoff / J */
    DMN_NL_CALCULIX = 2,      /* CalculiX @ABAQUS_...: STRAN Green-Lagrange, STRESS PK2, DDSDDE dS/dE */
    DMN_NL_CALCULIX_COROT = 3 /* CalculiX @ABAQUSNL_...: STRESS R^T sigma R, DDSDDE U-pushed dS/dE */
};

/* Library internal: the kernels return DMN_RET_BASE + status (a smaller value = an escaped error). */
#define DMN_RET_BASE 100

/* Start the embedded Python once, compile/load the kernels.  0 on success, -1 on failure
   (message: dmn_last_error()).  Optional: every other entry point initializes lazily. */
int dmn_init(void);

/* Open a model file with the phase-law parameters in the PROPS layout above.
   Returns a handle >= 1, or -1 (message: dmn_last_error()).  At most 1024 models (UMAT
   materials included) are open at once; dmn_close frees a slot for the next dmn_open. */
int dmn_open(const char *model_path, const double *props, int nprops);

/* Number of state variables per point (state_old/state_new stride), or -1 for a bad handle.
   An orientation-aware model: 6 (A2 in state_old[0..5], copied to state_new) + the network's. */
int dmn_nstate(int handle);

/* Number of phases of the model, or -1 for a bad handle. */
int dmn_nphase(int handle);

/* Evaluate n points: strain (n,6) Mandel total strain, state_old (n,nstate) -> stress (n,6),
   tangent (n,6,6) row-major, state_new (n,nstate).  info (n,DMN_INFO_SIZE) may be NULL; per
   point: the slots of enum dmn_info_slot (ratio, Newton iterations, status, residual).
   Returns the number of points that did not succeed (0 = all ok; else dmn_last_error() says how
   many and why the first failed), -1 on bad arguments. */
int dmn_eval_batch(int handle, int n, const double *strain, const double *state_old, double *stress,
                   double *tangent, double *state_new, double *info);

/* dmn_eval_batch over a time increment dt >= 0 (rate-dependent laws), from temperature temp by
   dtemp (temperature-dependent laws), the same for every point; -1 also for a negative or
   non-finite dt or a non-finite temperature.  dmn_eval_batch = dmn_eval_batch_t with zeros. */
int dmn_eval_batch_t(int handle, int n, double dt, double temp, double dtemp, const double *strain,
                     const double *state_old, double *stress, double *tangent, double *state_new, double *info);

/* Release a model (no call may be using the handle). 0 ok, -1 bad handle.  The handle stays
   invalid afterwards, also when its slot serves a later dmn_open (new handle value). */
int dmn_close(int handle);

/* Message of the last failure in this thread (or of a failed initialization); never NULL. */
const char *dmn_last_error(void);

/* Number of UMAT calls served by this process (diagnostics): exact for the calling thread's own
   calls; other threads' calls are included in batches of 256. */
long dmn_call_count(void);

/* The UMAT with an explicit CMNAME length (what the Fortran shim calls).  Returns DMN_ST_OK,
   or DMN_ST_CUTBACK / DMN_ST_FAILED when PNEWDT was reduced; configuration errors (DMN_ST_BADPROPS,
   DMN_ST_BADNTENS, DMN_ST_WORK, ...) stop the process with a message. */
int dmn_umat(double *stress, double *statev, double *ddsdde, const double *stran, const double *dstran,
             const char *cmname, int64_t cmname_len, int ndi, int nshr, int ntens, int nstatv,
             const double *props, int nprops, double *pnewdt, int noel, int npt);

/* dmn_umat with the increment's DTIME, TEMP, DTEMP (what umat_ and the Fortran shim call);
   dmn_umat = dmn_umat_t with zeros (rate independent, no temperature). */
int dmn_umat_t(double *stress, double *statev, double *ddsdde, const double *stran, const double *dstran,
               double dtime, double temp, double dtemp, const char *cmname, int64_t cmname_len, int ndi,
               int nshr, int ntens, int nstatv, const double *props, int nprops, double *pnewdt, int noel,
               int npt);

/* dmn_umat_t under large deformations: dfgrd1 = DFGRD1 (3x3, column-major), nlgeom = 1 for a
   geometrically nonlinear step (Abaqus/CalculiX JSTEP(3)).  A model with finite-strain phase
   laws (ids 6-8) needs nlgeom = 1 and dfgrd1; it returns STRESS and DDSDDE in the convention
   of the material name (enum dmn_nlgeom: CMNAME @ABAQUSNL... CalculiX corotational, @...
   CalculiX total Lagrangian, else Abaqus).  A small-strain model with nlgeom = 1 is refused
   (configuration error) except in the CalculiX @ABAQUS_ interface (strain E, stress S: exact
   under rotations); with nlgeom = 0 it is dmn_umat_t. */
int dmn_umat_nl(double *stress, double *statev, double *ddsdde, const double *stran, const double *dstran,
                const double *dfgrd1, int nlgeom, double dtime, double temp, double dtemp, const char *cmname,
                int64_t cmname_len, int ndi, int nshr, int ntens, int nstatv, const double *props, int nprops,
                double *pnewdt, int noel, int npt);

/* Abaqus UMAT, Fortran calling convention (all by reference, hidden CMNAME length last). */
void umat_(double *stress, double *statev, double *ddsdde, double *sse, double *spd, double *scd, double *rpl,
           double *ddsddt, double *drplde, double *drpldt, const double *stran, const double *dstran,
           const double *time, const double *dtime, const double *temp, const double *dtemp,
           const double *predef, const double *dpred, const char *cmname, const int *ndi, const int *nshr,
           const int *ntens, const int *nstatv, const double *props, const int *nprops, const double *coords,
           const double *drot, double *pnewdt, const double *celent, const double *dfgrd0,
           const double *dfgrd1, const int *noel, const int *npt, const int *layer, const int *kspt,
           const int *kstep, const int *kinc, size_t cmname_len);

#ifdef __cplusplus
}
#endif
#endif /* DMN_UMAT_H */
