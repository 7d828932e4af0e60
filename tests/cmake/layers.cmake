# The layer check (label cpu): scripts/check-layers parses every #include <opara/...> in include/
# and fails, naming file:line, when an include goes up the floor plan's layers, names a header that
# does not exist, or when a forwarding header in compat/ is broken.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME layers COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/scripts/check-layers ${PROJECT_SOURCE_DIR})
  set_tests_properties(layers PROPERTIES LABELS cpu TIMEOUT 60)
else()
  message(STATUS "opara: no Python 3 interpreter found; the 'layers' test (scripts/check-layers) is not registered")
endif()
