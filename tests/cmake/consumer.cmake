# Packaging tests (label cpu): build and run tests/consumer/ against opara
#   consumer_find_package:         after `cmake --install` of this build tree into a temporary prefix;
#   consumer_find_package_no_cuda: the same install, seen from a machine without a CUDA toolkit
#                                  (only when this build has the CUDA targets);
#   consumer_cuda_only:            the scheduler linked with opara::cuda alone (no CUPTI);
#   consumer_add_subdirectory:     with add_subdirectory(<opara source tree>), exporting its own target.
# All use this build's generator and C++ compiler. Also: compile-fail checks that the errors a
# user meets for a non-graph are readable (diagnostic_*).
string(TOUPPER "${CMAKE_BUILD_TYPE}" _opara_consumer_config)
set(_opara_consumer_flags "${CMAKE_CXX_FLAGS_${_opara_consumer_config}}")
set(_opara_consumer_common
  -DOPARA_SOURCE_DIR=${PROJECT_SOURCE_DIR}
  -DOPARA_BUILD_DIR=${PROJECT_BINARY_DIR}
  "-DGENERATOR=${CMAKE_GENERATOR}"
  "-DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}"
  "-DCXX_COMPILER=${CMAKE_CXX_COMPILER}"
  "-DBUILD_TYPE=${CMAKE_BUILD_TYPE}"
  "-DCXX_FLAGS=${_opara_consumer_flags}"
  "-DENABLE_CUDA=${OPARA_HAS_CUDA}")
function(_opara_consumer_test name mode)
  add_test(NAME consumer_${name}
           COMMAND ${CMAKE_COMMAND} -DMODE=${mode} ${_opara_consumer_common} ${ARGN}
                   -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/consumer_${name}
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/consumer/run.cmake)
  set_tests_properties(consumer_${name} PROPERTIES LABELS cpu TIMEOUT 600)
endfunction()
# Where the CPU suites are off (scripts/test's second stage, after the first stage ran find_package
# from an install without CUDA), find_package from this CUDA build's install is left to the two
# CUDA cases below: consumer_cuda_only finds it with the toolkit (and its cuda component),
# consumer_find_package_no_cuda without.
if(OPARA_CPU_TESTS OR NOT OPARA_HAS_CUDA)
  _opara_consumer_test(find_package find_package)
endif()
_opara_consumer_test(add_subdirectory add_subdirectory)
if(OPARA_HAS_CUDA)
  _opara_consumer_test(find_package_no_cuda find_package -DHIDE_CUDA=ON)
  _opara_consumer_test(cuda_only cuda_only)
endif()

# Compile-fail checks: each snippet must fail to compile with a message naming the problem.
function(_opara_diagnostic name regex code)
  set(src ${CMAKE_CURRENT_BINARY_DIR}/diagnostics/${name}.cpp)
  file(WRITE ${src} "${code}\n")
  add_test(NAME diagnostic_${name}
           COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}/include ${ARGN} ${src})
  set_tests_properties(diagnostic_${name} PROPERTIES LABELS cpu WILL_FAIL OFF
                       PASS_REGULAR_EXPRESSION "${regex}" TIMEOUT 300)
endfunction()
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND OPARA_CPU_TESTS)
  _opara_diagnostic(make_plan_non_graph "operator_graph"
    "#include <opara/opara.hpp>\nstruct engine_net { int layers; };\nint main() { engine_net n{3}; (void)opara::make_plan(n); }")
  _opara_diagnostic(make_plan_order_as_streams "stream_allocation_policy"
    "#include <opara/opara.hpp>\nint main() { opara::graph_builder b; b.add_node(); auto g = b.build();\n  (void)opara::make_plan<opara::order::program_order>(g); }")
endif()
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  if(OPARA_HAS_CUDA)
    # scheduler<> needs the CUPTI profiler's definition: a program that includes only
    # opara/cuda/scheduler.hpp is told what to include or which profiler to name instead.
    _opara_diagnostic(scheduler_default_profiler_needs_cupti "include <opara/cuda.hpp> or <opara/cuda/profiler/cupti.hpp>"
      "#include <opara/cuda/scheduler.hpp>\nint main() { opara::cuda::task_graph g; (void)opara::scheduler<>{}.compile(g, nullptr); }"
      -I${CUDAToolkit_INCLUDE_DIRS})
  endif()
  if(Boost_FOUND AND OPARA_CPU_TESTS)
    _opara_diagnostic(boost_undirected "undirected boost::adjacency_list has no edge direction"
      "#include <opara/graph/boost.hpp>\n#include <opara/graph/graph.hpp>\nusing G = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS>;\nint main() { G g(2); (void)opara::to_graph(g); }"
      -I${Boost_INCLUDE_DIRS})
  endif()
endif()
