# dmn_umatConfig.cmake -- CMake package of libdmn_umat (docs/abi.md).
#
# `dmn abi build --out DIR` writes this file next to the library, the header and the shim;
# a project then uses
#     find_package(dmn_umat CONFIG REQUIRED PATHS DIR NO_DEFAULT_PATH)
#     target_link_libraries(my_c_code PRIVATE dmn_umat::dmn_umat)        # C API, umat_
#     target_link_libraries(my_fortran_fe PRIVATE dmn_umat::umat_shim)   # Abaqus-style UMAT
# dmn_umat::umat_shim (a static library of src/umat_shim.f90) exists when the project enables
# Fortran.  The source tree's CMakeLists.txt includes this file too, with the variables below
# pointing at its build and include folders.
if(TARGET dmn_umat::dmn_umat)
  return()
endif()
if(NOT DEFINED DMN_UMAT_LIBRARY_DIR)
  set(DMN_UMAT_LIBRARY_DIR "${CMAKE_CURRENT_LIST_DIR}")   # libdmn_umat.so
endif()
if(NOT DEFINED DMN_UMAT_INCLUDE_DIR)
  set(DMN_UMAT_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}")   # dmn_umat.h
endif()
set(DMN_UMAT_SHIM_SOURCE "${CMAKE_CURRENT_LIST_DIR}/src/umat_shim.f90")

add_library(dmn_umat::dmn_umat SHARED IMPORTED GLOBAL)
set_target_properties(dmn_umat::dmn_umat PROPERTIES
  IMPORTED_LOCATION "${DMN_UMAT_LIBRARY_DIR}/libdmn_umat.so"
  IMPORTED_NO_SONAME FALSE
  INTERFACE_INCLUDE_DIRECTORIES "${DMN_UMAT_INCLUDE_DIR}")

get_property(_dmn_languages GLOBAL PROPERTY ENABLED_LANGUAGES)
if("Fortran" IN_LIST _dmn_languages)
  add_library(dmn_umat_shim STATIC "${DMN_UMAT_SHIM_SOURCE}")
  target_link_libraries(dmn_umat_shim PUBLIC dmn_umat::dmn_umat)
  add_library(dmn_umat::umat_shim ALIAS dmn_umat_shim)
endif()
unset(_dmn_languages)
