# Proves that a forgotten co_await is a compile error: for every runtime's
# context, each of the 8 operations in forgotten_await.cpp called without
# co_await must be diagnosed as a discarded [[nodiscard]] result, and the body
# with co_await must compile cleanly.
# Run by ctest as: cmake -DCXX=... -DSRC_DIR=... -DINCLUDES=... -P nodiscard_check.cmake
# Runtimes are taken by their index in runtimes/registry.hpp until the index
# runs past the end (the source's static_assert says NO_SUCH_RUNTIME).
set(operations 8)
string(REPLACE " " ";" include_flags "${INCLUDES}")
set(common -std=c++20 -fsyntax-only -Wall -Wextra -Werror ${include_flags} ${SRC_DIR}/runtimes/tests/nodiscard/forgotten_await.cpp)
set(checked 0)
foreach(index RANGE 0 63)
  set(ctx "runtime #${index} of the registry")
  execute_process(COMMAND ${CXX} ${common} "-DCOBENCH_RUNTIME_INDEX=${index}" RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 AND err MATCHES "NO_SUCH_RUNTIME")
    break()
  endif()
  math(EXPR checked "${checked} + 1")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ctx}: the body WITH co_await does not compile:\n${err}")
  endif()
  execute_process(COMMAND ${CXX} ${common} "-DCOBENCH_RUNTIME_INDEX=${index}" -DCOBENCH_FORGET_AWAIT
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${ctx}: operations without co_await compiled: their awaitables are not [[nodiscard]]")
  endif()
  string(REGEX MATCHALL "ignoring return(ed)? value[^\n]*nodiscard" hits "${err}")
  list(LENGTH hits n)
  if(NOT n EQUAL operations)
    message(FATAL_ERROR "${ctx}: ${n} of ${operations} operations without co_await were diagnosed as discarded:\n${err}")
  endif()
  message(STATUS "${ctx}: all ${operations} operations without co_await are compile errors")
endforeach()
if(checked LESS 5)
  message(FATAL_ERROR "only ${checked} runtimes were checked: the registry could not be read")
endif()
