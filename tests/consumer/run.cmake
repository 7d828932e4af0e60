# Driver for the consumer_* CTest cases (cmake -P). Installs opara (find_package and cuda_only
# modes) or points at its source tree (add_subdirectory mode), then configures, builds and runs
# tests/consumer/ with the same generator and compiler as the enclosing build.
#   -DMODE=find_package|cuda_only|add_subdirectory -DOPARA_SOURCE_DIR= -DOPARA_BUILD_DIR= -DWORK_DIR=
#   -DGENERATOR= -DMAKE_PROGRAM= -DCXX_COMPILER= -DBUILD_TYPE= [-DCXX_FLAGS=] -DENABLE_CUDA=
#   -DHIDE_CUDA=ON   configure the consumer as if the machine had no CUDA toolkit
foreach(v MODE OPARA_SOURCE_DIR OPARA_BUILD_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "consumer test: ${v} not set")
  endif()
endforeach()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE Release)
endif()

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "consumer test: step failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")

set(args -S "${OPARA_SOURCE_DIR}/tests/consumer" -B "${build}" -G "${GENERATOR}"
         "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
if(MAKE_PROGRAM)
  list(APPEND args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
# The build's own flags for its build type (scripts/test compiles at -O0 where nothing runs
# optimized code): the consumer is compiled as the tests around it are.
if(CXX_FLAGS)
  string(TOUPPER "${BUILD_TYPE}" _config)
  list(APPEND args "-DCMAKE_CXX_FLAGS_${_config}=${CXX_FLAGS}")
endif()

if(MODE STREQUAL "find_package" OR MODE STREQUAL "cuda_only")
  step(${CMAKE_COMMAND} --install "${OPARA_BUILD_DIR}" --prefix "${prefix}")
  if(NOT EXISTS "${prefix}/include/opara/opara.hpp")
    message(FATAL_ERROR "consumer test: install did not put the headers under ${prefix}/include")
  endif()
  # The forwarding headers of moved headers are installed too (compat/opara -> include/opara).
  file(GLOB_RECURSE compat_headers RELATIVE "${OPARA_SOURCE_DIR}/compat" "${OPARA_SOURCE_DIR}/compat/opara/*")
  foreach(h IN LISTS compat_headers)
    if(NOT EXISTS "${prefix}/include/${h}")
      message(FATAL_ERROR "consumer test: install did not put the forwarding header ${h} under ${prefix}/include")
    endif()
  endforeach()
  # Only the install prefix may provide opara (not the build tree, not the user package registry).
  list(APPEND args "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
       -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DOPARA_CONSUMER_MODE=${MODE})
  if(HIDE_CUDA)
    # As on a machine without nvcc: find_package(CUDAToolkit) finds nothing.
    list(APPEND args -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON)
  endif()
elseif(MODE STREQUAL "add_subdirectory")
  list(APPEND args -DOPARA_CONSUMER_MODE=add_subdirectory "-DOPARA_SOURCE_DIR=${OPARA_SOURCE_DIR}")
  if(DEFINED ENABLE_CUDA)
    list(APPEND args "-DOPARA_ENABLE_CUDA=${ENABLE_CUDA}")
  endif()
else()
  message(FATAL_ERROR "consumer test: unknown MODE '${MODE}'")
endif()

step(${CMAKE_COMMAND} ${args})
step(${CMAKE_COMMAND} --build "${build}" -j2)
find_program(exe consumer PATHS "${build}" "${build}/${BUILD_TYPE}" NO_DEFAULT_PATH REQUIRED)
step("${exe}")

if(MODE STREQUAL "add_subdirectory")
  # The consumer's export of its own target works, and installs opara beside it (its users need it).
  step(${CMAKE_COMMAND} --install "${build}" --prefix "${prefix}")
  foreach(f lib/cmake/consumer/consumer-targets.cmake include/opara/opara.hpp lib/cmake/opara/opara-config.cmake)
    if(NOT EXISTS "${prefix}/${f}")
      message(FATAL_ERROR "consumer test: installing the embedding project did not install ${f}")
    endif()
  endforeach()
endif()
