# vq2d_add_library(NAME <target> DIR <folder> DEPS <targets...> [EXCLUDE <regex>])
# Every *.cpp under DIR (recursively) belongs to the library, so new files need no CMake edits;
# EXCLUDE drops the sources whose path matches the regex.
function(vq2d_add_library)
  cmake_parse_arguments(A "" "NAME;DIR;EXCLUDE" "DEPS" ${ARGN})
  file(GLOB_RECURSE _srcs CONFIGURE_DEPENDS ${A_DIR}/*.cpp)
  if(A_EXCLUDE)
    list(FILTER _srcs EXCLUDE REGEX "${A_EXCLUDE}")
  endif()
  if(NOT _srcs)  # a layer with no sources yet: headers only
    add_library(${A_NAME} INTERFACE)
    target_include_directories(${A_NAME} INTERFACE ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/generated)
    target_link_libraries(${A_NAME} INTERFACE ${A_DEPS})
    return()
  endif()
  add_library(${A_NAME} STATIC ${_srcs})
  target_include_directories(${A_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/generated
                                         PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${A_NAME} PUBLIC ${A_DEPS})
endfunction()

# vq2d_add_test_suite(NAME <exe> DIR <folder> DEPS <targets...> [PATTERN <glob>])
# One GoogleTest executable per layer, built from every *_test.cpp (or PATTERN) in DIR; each TEST
# is a CTest test.
function(vq2d_add_test_suite)
  cmake_parse_arguments(A "" "NAME;DIR;PATTERN" "DEPS" ${ARGN})
  if(NOT A_PATTERN)
    set(A_PATTERN "*_test.cpp")
  endif()
  file(GLOB_RECURSE _srcs CONFIGURE_DEPENDS ${A_DIR}/${A_PATTERN})
  if(NOT _srcs)
    return()
  endif()
  add_executable(${A_NAME} ${_srcs})
  target_include_directories(${A_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS} vq2d_test_support GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${A_NAME} DISCOVERY_TIMEOUT 60)
endfunction()
