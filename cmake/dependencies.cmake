# Third-party dependencies, all from Debian packages (tools/deps installs them).
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

if(REMIT_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(REMIT_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
find_package(CLI11 QUIET)
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(mimalloc REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(fmt REQUIRED)

include(${CMAKE_CURRENT_LIST_DIR}/remit_find_caf.cmake)
