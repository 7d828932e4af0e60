# Install rules and package config, so that find_package(opara) works after `cmake --install`.
# Two export sets: opara-targets (opara::opara, the CPU planner: needs nothing) and, when CUDA was
# found at build time, opara-cuda-targets (opara::cuda, opara::cupti: need the CUDA toolkit). The
# package config loads the second only where the toolkit is found, so a CPU-only consumer can use
# an install made on a machine with nvcc.
include(CMakePackageConfigHelpers)

install(DIRECTORY include/opara DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Forwarding headers at the old paths of moved headers, beside the real ones (no path is in both:
# scripts/check-layers checks). Installed over an older opara, they replace its headers there.
install(DIRECTORY compat/opara DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set(_opara_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/opara)
install(TARGETS opara EXPORT opara-targets)
install(EXPORT opara-targets NAMESPACE opara:: DESTINATION ${_opara_cmake_dir})
if(OPARA_HAS_CUDA)
  install(TARGETS opara_cuda opara_cupti EXPORT opara-cuda-targets)
  install(EXPORT opara-cuda-targets NAMESPACE opara:: DESTINATION ${_opara_cmake_dir})
endif()

configure_package_config_file(cmake/opara-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/opara-config.cmake
  INSTALL_DESTINATION ${_opara_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/opara-config-version.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/opara-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/opara-config-version.cmake
        DESTINATION ${_opara_cmake_dir})
