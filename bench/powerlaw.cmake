# powerlaw.cmake: the power-law fit benchmark (critnet powerlaw against tests/powerlaw_ref.py, driven by
# bench/run_powerlaw.sh). Included from bench/CMakeLists.txt.
# The short run (5000 samples) checks that both still run and that critnet's full scan finds the reference's
# x_min and alpha; it never fails on speed, which a shared machine cannot promise.
find_program(CN_BASH bash)
if(CN_BASH)
  add_test(NAME bench_powerlaw_short
           COMMAND ${CN_BASH} ${CMAKE_CURRENT_LIST_DIR}/run_powerlaw.sh --short --no-build
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(bench_powerlaw_short PROPERTIES
    ENVIRONMENT "BUILD_DIR=${CMAKE_BINARY_DIR};BENCH_OUT_DIR=${CMAKE_BINARY_DIR}/bench"
    LABELS bench TIMEOUT 120)
endif()
