# onnx.cmake: the ONNX import benchmark, resnet18 at 224x224 (bench_onnx.c against bench/torch_onnx.py, driven by
# bench/run_onnx.sh). Included from bench/CMakeLists.txt: include(${CMAKE_CURRENT_LIST_DIR}/onnx.cmake)
add_executable(bench_onnx ${CMAKE_CURRENT_LIST_DIR}/bench_onnx.c)
target_include_directories(bench_onnx PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(bench_onnx PRIVATE critnet_static)

# The short run (2 inputs, one repetition) checks that the export, the import and both sides still run and still
# agree on each input's lambda_0 (to 1e-3); it never fails on speed, which a shared machine cannot promise.
find_program(CN_BASH bash)
if(CN_BASH)
  add_test(NAME bench_onnx_short
           COMMAND ${CN_BASH} ${CMAKE_CURRENT_LIST_DIR}/run_onnx.sh --short --no-build
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(bench_onnx_short PROPERTIES
    ENVIRONMENT "BUILD_DIR=${CMAKE_BINARY_DIR};BENCH_BIN=$<TARGET_FILE:bench_onnx>;BENCH_OUT_DIR=${CMAKE_BINARY_DIR}/bench"
    LABELS bench TIMEOUT 180)
  # the old-against-new comparison (bench/ab_onnx.sh), run with the new binary on both sides: that it runs and
  # that the two agree on lambda_0; the real comparison builds an earlier revision and takes minutes
  add_test(NAME bench_ab_onnx_short
           COMMAND ${CN_BASH} ${CMAKE_CURRENT_LIST_DIR}/ab_onnx.sh --short --old-bin $<TARGET_FILE:bench_onnx>
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(bench_ab_onnx_short PROPERTIES
    ENVIRONMENT "BENCH_BIN=$<TARGET_FILE:bench_onnx>" LABELS bench TIMEOUT 180)
endif()

# K tangents at once against one at a time on imported models (bench/run_onnx_tangents.sh)
add_executable(bench_onnx_tangents ${CMAKE_CURRENT_LIST_DIR}/bench_onnx_tangents.c)
target_link_libraries(bench_onnx_tangents PRIVATE critnet_static)
if(CN_BASH)
  add_test(NAME bench_onnx_tangents_short
           COMMAND ${CN_BASH} ${CMAKE_CURRENT_LIST_DIR}/run_onnx_tangents.sh --short
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(bench_onnx_tangents_short PROPERTIES
    ENVIRONMENT "BENCH_BIN=$<TARGET_FILE:bench_onnx_tangents>" LABELS bench TIMEOUT 180)
endif()

# training steps of an imported model against PyTorch (bench/run_onnx_train.sh)
add_executable(bench_onnx_train ${CMAKE_CURRENT_LIST_DIR}/bench_onnx_train.c)
target_link_libraries(bench_onnx_train PRIVATE critnet_static)
if(CN_BASH)
  add_test(NAME bench_onnx_train_short
           COMMAND ${CN_BASH} ${CMAKE_CURRENT_LIST_DIR}/run_onnx_train.sh --short
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(bench_onnx_train_short PROPERTIES
    ENVIRONMENT "BENCH_BIN=$<TARGET_FILE:bench_onnx_train>" LABELS bench TIMEOUT 180)
endif()
