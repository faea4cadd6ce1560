# Installs remit as a CMake package: find_package(remit) then
# target_link_libraries(app remit::engine) gives a program the embedding API.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS remit_model remit_engine remit_actors remit_embedding EXPORT remit-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES engine/types.hpp engine/rules.hpp engine/assert.hpp engine/id_map.hpp
              engine/reference_ledger.hpp engine/journal_format.hpp engine/crc32c.hpp
              engine/terms.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/remit/engine)
install(FILES actors/engine.hpp actors/storage.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/remit/actors)
install(EXPORT remit-targets NAMESPACE remit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/remit)
configure_package_config_file(cmake/remitConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/remitConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/remit)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/remitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/remitConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/remitConfigVersion.cmake
              cmake/remit_find_caf.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/remit)
