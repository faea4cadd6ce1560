# Runs PROGRAM MODE under ThreadSanitizer (TSAN_OPTIONS comes from the test) and checks what
# ThreadSanitizer said.
#   EXPECT=report  a data race is reported (non-zero exit, "WARNING: ThreadSanitizer: data
#                  race") and the report names every function in NAMES
#   EXPECT=clean   the program exits 0 and ThreadSanitizer says nothing
execute_process(COMMAND ${PROGRAM} ${MODE} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE out)
message("${out}")
message("exit status: ${rc}, TSAN_OPTIONS: $ENV{TSAN_OPTIONS}")
if(EXPECT STREQUAL "report")
  if(rc EQUAL 0)
    message(FATAL_ERROR "expected ThreadSanitizer to report the planted race; it exited 0")
  endif()
  if(NOT out MATCHES "WARNING: ThreadSanitizer: data race")
    message(FATAL_ERROR "expected a data race report; none in the output")
  endif()
  foreach(name IN LISTS NAMES)
    if(NOT out MATCHES "${name}")
      message(FATAL_ERROR "the race report does not name ${name}")
    endif()
  endforeach()
elseif(EXPECT STREQUAL "clean")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "expected a clean run; exit status ${rc}")
  endif()
  if(out MATCHES "ThreadSanitizer")
    message(FATAL_ERROR "expected ThreadSanitizer to say nothing")
  endif()
else()
  message(FATAL_ERROR "EXPECT must be report or clean, not '${EXPECT}'")
endif()
