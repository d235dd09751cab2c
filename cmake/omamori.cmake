# Shared build helpers for omamori components.

function(omamori_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror
    # GCC 12 reports false -Wrestrict positives inside std::string at -O3 (GCC bug 105329).
    $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
endfunction()

if(OMAMORI_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()

if(OMAMORI_FUZZ)
  # Instrument everything for coverage; the fuzz targets add the libFuzzer driver.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# omamori_test(NAME SOURCES...) — a GoogleTest binary registered with CTest.
# Tests run from the source dir of the component so that testdata/ is at hand;
# OMAMORI_SHARED_DATA points at ../shared/data.
function(omamori_test name)
  if(NOT OMAMORI_TESTS OR OMAMORI_FUZZ)
    return()
  endif()
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE omamori_core GTest::gtest_main GTest::gmock)
  omamori_warnings(${name})
  target_compile_definitions(${name} PRIVATE
    OMAMORI_SHARED_DATA="${OMAMORI_SHARED_DATA}"
    OMAMORI_TESTDATA="${CMAKE_CURRENT_SOURCE_DIR}/testdata"
    OMAMORI_BINARY="$<TARGET_FILE:omamori>")
  include(GoogleTest)
  gtest_discover_tests(${name} WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "OMAMORI_SHARED_DATA=${OMAMORI_SHARED_DATA}")
endfunction()

# omamori_fuzz(NAME SOURCE) — a libFuzzer target, built only with -DOMAMORI_FUZZ=ON (clang).
function(omamori_fuzz name src)
  if(NOT OMAMORI_FUZZ)
    return()
  endif()
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE omamori_core)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set_property(GLOBAL APPEND PROPERTY OMAMORI_FUZZ_TARGETS ${name})
endfunction()

if(NOT DEFINED OMAMORI_SHARED_DATA)
  get_filename_component(OMAMORI_SHARED_DATA "${CMAKE_SOURCE_DIR}/../shared/data" ABSOLUTE)
endif()
