! umat_shim.f90 -- a standard Abaqus UMAT subroutine that forwards to libdmn_umat.
!
! Link this object into a Fortran FE code that expects a compiled-in UMAT and link the code
! against libdmn_umat.so.  The call goes through ISO_C_BINDING to dmn_umat_t() of
! fortran_bridge/include/dmn_umat.h (with DTIME, TEMP, DTEMP and the explicit CMNAME length);
! no Python runs per call.  Layouts (PROPS, STATEV, model selection): docs/abi.md.
! The interface of Abaqus >= 2017 (and CalculiX): JSTEP(4) after KSPT, JSTEP(3) = 1 under NLGEOM;
! DFGRD1 and JSTEP(3) go to dmn_umat_nl (finite-strain phase laws; docs/abi.md, NLGEOM).
subroutine umat(stress, statev, ddsdde, sse, spd, scd, rpl, ddsddt, drplde, drpldt, &
                stran, dstran, time, dtime, temp, dtemp, predef, dpred, cmname, ndi, nshr, &
                ntens, nstatv, props, nprops, coords, drot, pnewdt, celent, dfgrd0, dfgrd1, &
                noel, npt, layer, kspt, jstep, kinc)
  use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_double, c_char
  implicit none
  character(len=*), intent(in) :: cmname
  integer, intent(in) :: ndi, nshr, ntens, nstatv, nprops, noel, npt, layer, kspt, jstep(4), kinc
  double precision, intent(inout) :: stress(ntens), statev(*), ddsdde(ntens, ntens)
  double precision, intent(inout) :: sse, spd, scd, rpl, ddsddt(ntens), drplde(ntens), drpldt, pnewdt
  double precision, intent(in) :: stran(ntens), dstran(ntens), time(2), dtime, temp, dtemp
  double precision, intent(in) :: predef(*), dpred(*), props(nprops), coords(3), drot(3, 3)
  double precision, intent(in) :: celent, dfgrd0(3, 3), dfgrd1(3, 3)

  interface
    function dmn_umat_nl(stress, statev, ddsdde, stran, dstran, dfgrd1, nlgeom, dtime, temp, dtemp, &
                         cmname, cmname_len, ndi, nshr, ntens, nstatv, props, nprops, pnewdt, noel, npt) &
                         result(status) bind(C, name="dmn_umat_nl")
      import :: c_int, c_int64_t, c_double, c_char
      real(c_double), intent(inout) :: stress(*), statev(*), ddsdde(*), pnewdt
      real(c_double), intent(in) :: stran(*), dstran(*), props(*), dfgrd1(*)
      real(c_double), value :: dtime, temp, dtemp
      character(kind=c_char), intent(in) :: cmname(*)
      integer(c_int64_t), value :: cmname_len
      integer(c_int), value :: nlgeom, ndi, nshr, ntens, nstatv, nprops, noel, npt
      integer(c_int) :: status
    end function dmn_umat_nl
  end interface

  integer(c_int) :: status

  status = dmn_umat_nl(stress, statev, ddsdde, stran, dstran, dfgrd1, int(jstep(3), c_int), &
                       real(dtime, c_double), &
                      real(temp, c_double), real(dtemp, c_double), cmname, int(len(cmname), c_int64_t), &
                    int(ndi, c_int), int(nshr, c_int), int(ntens, c_int), int(nstatv, c_int), props, &
                    int(nprops, c_int), pnewdt, int(noel, c_int), int(npt, c_int))
end subroutine umat
