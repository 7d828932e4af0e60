# Install rules and package config, so that find_package(opara) works after `cmake --install`.
include(CMakePackageConfigHelpers)

install(DIRECTORY include/opara DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set(_opara_targets opara)
if(OPARA_HAS_CUDA)
  list(APPEND _opara_targets opara_cuda opara_cupti)
endif()
install(TARGETS ${_opara_targets} EXPORT opara-targets)
install(EXPORT opara-targets NAMESPACE opara:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/opara)

configure_package_config_file(cmake/opara-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/opara-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/opara)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/opara-config-version.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/opara-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/opara-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/opara)
