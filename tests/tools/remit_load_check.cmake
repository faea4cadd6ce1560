# ctest driver for remit-load. Runs REMIT_LOAD with ARGS (space-separated) and checks that it
# exits with EXPECT_RC; when that is 0, that the last line of its output is a JSON object
# with "conserved": true and "transfers" equal to TRANSFERS.
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND "${REMIT_LOAD}" ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "remit-load ${ARGS}: exit status ${rc}, expected ${EXPECT_RC}\n"
                      "stdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT EXPECT_RC EQUAL 0)
  message(STATUS "remit-load refused as expected: ${err}")
  return()
endif()

string(STRIP "${out}" out)
string(FIND "${out}" "\n" nl REVERSE)
if(nl EQUAL -1)
  set(last "${out}")
else()
  math(EXPR start "${nl} + 1")
  string(SUBSTRING "${out}" ${start} -1 last)
endif()
string(JSON conserved ERROR_VARIABLE json_err GET "${last}" conserved)
if(json_err)
  message(FATAL_ERROR "the last line is not the JSON report (${json_err}): ${last}\n"
                      "stdout:\n${out}\nstderr:\n${err}")
endif()
string(JSON transfers GET "${last}" transfers)
string(JSON p99 GET "${last}" latency_us p99)
string(JSON overloaded GET "${last}" overloaded)
if(NOT conserved STREQUAL "ON")
  message(FATAL_ERROR "money was not conserved: ${last}")
endif()
if(NOT transfers EQUAL TRANSFERS)
  message(FATAL_ERROR "${transfers} transfers answered, expected ${TRANSFERS}: ${last}")
endif()
message(STATUS "remit-load: ${transfers} transfers, conserved, p99 ${p99} us, "
               "${overloaded} overloaded: ${last}")
