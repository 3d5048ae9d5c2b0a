# install.cmake — what `cmake --install` puts where, and the same layout
# staged in the build tree, so the server finds its files relative to its
# own binary either way (core/app/install_paths.h):
#
#   bin/dermaga                        the server
#   lib/dermaga/plugins/*.so           the bundled plugins
#   share/dermaga/{migrations,openapi.yaml,catalog.json,services,web}
#                                      what the server reads at run time
#   include/dermaga/*.h                the plugin SDK (+ build_signature.h)
#   lib/pkgconfig/dermaga-sdk.pc       pkg-config
#   lib/cmake/DermagaSDK/              find_package(DermagaSDK) → Dermaga::sdk
#   share/dermaga/sdk-templates/       one plugin template per kind
#   share/dermaga/examples/            what an operator copies to /etc/dermaga
#                                      (config.json, dermaga.env.example) and
#                                      the systemd unit (docs/operators.md)

set(DM_ABI_VERSION "")
file(STRINGS ${CMAKE_SOURCE_DIR}/sdk/include/dermaga/plugin.h _dm_abi
     REGEX "^#define DM_PLUGIN_ABI_(MAJOR|MINOR) [0-9]+")
foreach(line ${_dm_abi})
  string(REGEX REPLACE ".* ([0-9]+)$" "\\1" n "${line}")
  if(DM_ABI_VERSION)
    set(DM_ABI_VERSION "${DM_ABI_VERSION}.${n}")
  else()
    set(DM_ABI_VERSION "${n}")
  endif()
endforeach()

# The data the server reads: source path -> name under share/dermaga.
set(DM_SHARE_ITEMS
  "migrations|migrations"
  "docs/openapi.yaml|openapi.yaml"
  "config/catalog.json|catalog.json"
  "config/services|services"
  "web|web")

# Build tree: share/dermaga/<name> links to the source, next to the binary.
set(DM_STAGE ${CMAKE_BINARY_DIR}/share/dermaga)
file(MAKE_DIRECTORY ${DM_STAGE})
foreach(item ${DM_SHARE_ITEMS})
  string(REPLACE "|" ";" pair "${item}")
  list(GET pair 0 src)
  list(GET pair 1 dst)
  if(NOT EXISTS ${DM_STAGE}/${dst})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${src} ${DM_STAGE}/${dst} SYMBOLIC)
  endif()
endforeach()

install(TARGETS dermaga RUNTIME DESTINATION bin)
foreach(item ${DM_SHARE_ITEMS})
  string(REPLACE "|" ";" pair "${item}")
  list(GET pair 0 src)
  list(GET pair 1 dst)
  if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/${src})
    install(DIRECTORY ${CMAKE_SOURCE_DIR}/${src}/ DESTINATION share/dermaga/${dst}
            PATTERN node_modules EXCLUDE PATTERN package*.json EXCLUDE)
  else()
    install(FILES ${CMAKE_SOURCE_DIR}/${src} DESTINATION share/dermaga RENAME ${dst})
  endif()
endforeach()

# Of web/node_modules (npm ci in web/) only the one browser build the log
# page loads; installed when present (run `npm ci` in web/ before
# installing, as scripts/run.sh does).
install(FILES ${CMAKE_SOURCE_DIR}/web/node_modules/socket.io-client/dist/socket.io.min.js
        DESTINATION share/dermaga/web/node_modules/socket.io-client/dist OPTIONAL)

# The SDK.
configure_file(${CMAKE_SOURCE_DIR}/cmake/build_signature.h.in
               ${CMAKE_BINARY_DIR}/sdk/dermaga/build_signature.h @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/cmake/dermaga-sdk.pc.in
               ${CMAKE_BINARY_DIR}/sdk/dermaga-sdk.pc @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/cmake/DermagaSDKConfig.cmake.in
               ${CMAKE_BINARY_DIR}/sdk/DermagaSDKConfig.cmake @ONLY)
include(CMakePackageConfigHelpers)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/sdk/DermagaSDKConfigVersion.cmake
  VERSION ${DM_ABI_VERSION} COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/sdk/include/dermaga DESTINATION include)
install(FILES ${CMAKE_BINARY_DIR}/sdk/dermaga/build_signature.h DESTINATION include/dermaga)
install(FILES ${CMAKE_BINARY_DIR}/sdk/dermaga-sdk.pc DESTINATION lib/pkgconfig)
install(FILES ${CMAKE_BINARY_DIR}/sdk/DermagaSDKConfig.cmake
              ${CMAKE_BINARY_DIR}/sdk/DermagaSDKConfigVersion.cmake
        DESTINATION lib/cmake/DermagaSDK)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/sdk/templates/ DESTINATION share/dermaga/sdk-templates)

# The licence travels with the binary.
install(FILES ${CMAKE_SOURCE_DIR}/LICENSE DESTINATION share/doc/dermaga)

# The operator's starting point (deploy/): examples only, never installed
# into etc/, so a reinstall cannot overwrite a configuration someone edited.
install(FILES ${CMAKE_SOURCE_DIR}/deploy/config.json ${CMAKE_SOURCE_DIR}/deploy/dermaga.env.example
              ${CMAKE_SOURCE_DIR}/deploy/systemd/dermaga.service
        DESTINATION share/dermaga/examples)
