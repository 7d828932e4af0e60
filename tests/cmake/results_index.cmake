# results_index (label cpu): bench/results/README.md lists every file of bench/results/, and every
# file it lists is there (scripts/check-results-index, python3, standard library only).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME results_index
           COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/check-results-index
                   ${PROJECT_SOURCE_DIR}/bench/results)
  set_tests_properties(results_index PROPERTIES LABELS cpu TIMEOUT 60)
else()
  message(STATUS "opara: no Python 3 interpreter, the results_index test is not registered")
endif()
