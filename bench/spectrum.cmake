# spectrum.cmake: the Lyapunov-spectrum benchmark (bench_spectrum.c against bench/torch_spectrum.py, driven
# by bench/run_spectrum.sh). Included from bench/CMakeLists.txt: include(${CMAKE_CURRENT_LIST_DIR}/spectrum.cmake)
add_executable(bench_spectrum ${CMAKE_CURRENT_LIST_DIR}/bench_spectrum.c)
target_include_directories(bench_spectrum PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(bench_spectrum PRIVATE critnet_static)

# The short run (20 inputs) checks that the benchmark and its PyTorch peer still run and still agree on the
# spectrum (to 1e-3); it never fails on speed, which a shared machine cannot promise.
find_program(CN_BASH bash)
if(CN_BASH)
  add_test(NAME bench_spectrum_short
           COMMAND ${CN_BASH} ${CMAKE_CURRENT_LIST_DIR}/run_spectrum.sh --short --no-build
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(bench_spectrum_short PROPERTIES
    ENVIRONMENT "BUILD_DIR=${CMAKE_BINARY_DIR};BENCH_BIN=$<TARGET_FILE:bench_spectrum>;BENCH_OUT_DIR=${CMAKE_BINARY_DIR}/bench"
    LABELS bench TIMEOUT 120)
endif()
