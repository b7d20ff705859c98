# Proves that a forgotten co_await is a compile error: for every runtime's
# context, each of the 8 operations in forgotten_await.cpp called without
# co_await must be diagnosed as a discarded [[nodiscard]] result, and the body
# with co_await must compile cleanly.
# Run by ctest as: cmake -DCXX=... -DSRC_DIR=... -DINCLUDES=... -P nodiscard_check.cmake
set(contexts cb::process_context cb::thread_context cb::pool_context cb::fiber_context cb::coro_context)
set(operations 8)
string(REPLACE " " ";" include_flags "${INCLUDES}")
set(common -std=c++20 -fsyntax-only -Wall -Wextra -Werror ${include_flags} ${SRC_DIR}/runtimes/tests/nodiscard/forgotten_await.cpp)
foreach(ctx IN LISTS contexts)
  execute_process(COMMAND ${CXX} ${common} "-DCOBENCH_CONTEXT=${ctx}" RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ctx}: the body WITH co_await does not compile:\n${err}")
  endif()
  execute_process(COMMAND ${CXX} ${common} "-DCOBENCH_CONTEXT=${ctx}" -DCOBENCH_FORGET_AWAIT
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
