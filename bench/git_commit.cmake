# Writes the source tree's git commit and dirty flag into a header, at every
# build (not only at configure time), rewriting it only when they change so
# that an unchanged tree recompiles nothing. Run by the cobench_git_commit
# target: cmake -DSOURCE_DIR=... -DOUTPUT=... -P bench/git_commit.cmake
find_package(Git QUIET)
set(commit "unknown")
set(dirty "unknown")
if(GIT_FOUND)
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" rev-parse HEAD
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc EQUAL 0 AND out MATCHES "^[0-9a-f]+$")
    set(commit "${out}")
    # Tracked files only: a stray untracked file does not change the build.
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
                    OUTPUT_VARIABLE status RESULT_VARIABLE rc ERROR_QUIET)
    if(rc EQUAL 0)
      if(status STREQUAL "")
        set(dirty "false")
      else()
        set(dirty "true")
      endif()
    endif()
  endif()
endif()
set(text "// Generated at build time by bench/git_commit.cmake; do not edit.\n#pragma once\n#define COBENCH_GIT_COMMIT \"${commit}\"\n#define COBENCH_GIT_DIRTY \"${dirty}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
