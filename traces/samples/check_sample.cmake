# cmake -DNICSIM=... -DOUT=... -DWANT=... -DARGS="a;b;..." -P check_sample.cmake
# Runs `NICSIM gen ARGS -o OUT` and fails unless OUT equals WANT byte for byte.
string(REPLACE ";" " " shown "${ARGS}")
get_filename_component(dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
file(REMOVE ${OUT})
execute_process(COMMAND ${NICSIM} gen ${ARGS} -o ${OUT} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nicsim gen ${shown} failed (${rc}): ${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT} ${WANT} RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  file(SHA256 ${OUT} got)
  message(FATAL_ERROR "nicsim gen ${shown} wrote ${OUT} (sha256 ${got}), which differs from "
                      "${WANT}: regenerate the sample (traces/samples/README.md)")
endif()
file(REMOVE ${OUT})
message(STATUS "${WANT}: nicsim gen ${shown} writes the same bytes")
