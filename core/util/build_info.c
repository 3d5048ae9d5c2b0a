/*
 * build_info.c — the one file compiled with DM_COMMIT (CMakeLists.txt), so
 * a new commit recompiles only this file, not the core and every test.
 */
#include "util/build_info.h"

#ifndef DM_COMMIT
#define DM_COMMIT "unknown"
#endif

const char *dm__build_commit(void) { return DM_COMMIT; }
