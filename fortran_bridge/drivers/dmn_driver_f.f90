! dmn_driver_f -- strain-driven material point through the Fortran UMAT shim (umat_shim.f90).
!
!   dmn_driver_f PROPS_FILE PATH_FILE NSTATV [NTENS [MATERIAL]]
!
! Same files and output as dmn_driver_c: PROPS values; one step per line with the total strain
! e11,e22,e33,e23,e13,e12 (tensor components; lines not starting with a number are skipped);
! output one line per step with STRESS(1..NTENS) (Voigt order).  Model: $DMN_UMAT_MODEL...
program dmn_driver_f
  implicit none
  integer, parameter :: maxp = 10000, maxs = 100000
  character(len=4096) :: fprops, fpath, arg, line
  character(len=80) :: material
  double precision, allocatable :: props(:), statev(:), path(:, :)
  double precision :: stress(6), ddsdde(6, 6), stran(6), dstran(6), cur(6), e(6)
  double precision :: sse, spd, scd, rpl, ddsddt(6), drplde(6), drpldt, pnewdt
  double precision :: tm(2), dtime, temp, dtemp, predef(1), dpred(1), coords(3), drot(3, 3)
  double precision :: celent, dfgrd0(3, 3), dfgrd1(3, 3), buf(maxp)
  integer :: nprops, nstatv, ntens, nsteps, ios, u, i, s, c

  if (command_argument_count() < 3) then
    write (0, '(a)') 'usage: dmn_driver_f PROPS_FILE PATH_FILE NSTATV [NTENS [MATERIAL]]'
    stop 1
  end if
  call get_command_argument(1, fprops)
  call get_command_argument(2, fpath)
  call get_command_argument(3, arg)
  read (arg, *) nstatv
  ntens = 6
  if (command_argument_count() >= 4) then
    call get_command_argument(4, arg)
    read (arg, *) ntens
  end if
  material = 'DMN'
  if (command_argument_count() >= 5) call get_command_argument(5, material)
  if (ntens /= 6 .and. ntens /= 4) then
    write (0, '(a)') 'dmn_driver_f: NTENS must be 6 or 4'
    stop 1
  end if

  ! PROPS: every number in the file
  nprops = 0
  open (newunit=u, file=fprops, status='old', action='read', iostat=ios)
  if (ios /= 0) then
    write (0, '(a)') 'dmn_driver_f: cannot open '//trim(fprops)
    stop 1
  end if
  do
    read (u, '(a)', iostat=ios) line
    if (ios /= 0) exit
    do c = 1, len_trim(line)
      if (line(c:c) == ',') line(c:c) = ' '
    end do
    do while (len_trim(line) > 0)
      line = adjustl(line)
      i = index(line, ' ')
      nprops = nprops + 1
      read (line(1:i - 1), *) buf(nprops)
      line = line(i:)
    end do
  end do
  close (u)
  allocate (props(nprops), statev(max(nstatv, 1)))
  props = buf(1:nprops)

  ! path
  allocate (path(6, maxs))
  nsteps = 0
  open (newunit=u, file=fpath, status='old', action='read', iostat=ios)
  if (ios /= 0) then
    write (0, '(a)') 'dmn_driver_f: cannot open '//trim(fpath)
    stop 1
  end if
  do
    read (u, '(a)', iostat=ios) line
    if (ios /= 0) exit
    line = adjustl(line)
    if (len_trim(line) == 0) cycle
    if (index('0123456789+-.', line(1:1)) == 0) cycle
    read (line, *) e
    nsteps = nsteps + 1
    path(:, nsteps) = e
  end do
  close (u)

  statev = 0d0
  stress = 0d0
  stran = 0d0
  tm = 0d0
  dtime = 1d0
  do s = 1, nsteps
    e = path(:, s)
    cur(1:3) = e(1:3)
    cur(4) = 2d0*e(6)
    cur(5) = 2d0*e(5)
    cur(6) = 2d0*e(4)
    dstran(1:ntens) = cur(1:ntens) - stran(1:ntens)
    pnewdt = -1d0
    call umat(stress, statev, ddsdde, sse, spd, scd, rpl, ddsddt, drplde, drpldt, &
              stran, dstran, tm, dtime, temp, dtemp, predef, dpred, trim(material), 3, ntens - 3, &
              ntens, nstatv, props, nprops, coords, drot, pnewdt, celent, dfgrd0, dfgrd1, &
              1, 1, 1, 1, [1, 1, 0, 0], s)
    if (pnewdt > 0d0 .and. pnewdt < 1d0) then
      write (0, '(a,i0,a,es12.4)') 'dmn_driver_f: step ', s, ' not accepted, PNEWDT=', pnewdt
      stop 1
    end if
    stran(1:ntens) = cur(1:ntens)
    write (*, '(*(1x,es25.17e3))') stress(1:ntens)
  end do
end program dmn_driver_f
