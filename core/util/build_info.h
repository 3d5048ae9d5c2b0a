/*
 * build_info.h — what this binary was built from, for `dermaga version`.
 */
#ifndef DM_BUILD_INFO_H
#define DM_BUILD_INFO_H

/* The commit (`git rev-parse --short=12 HEAD` when CMake configured the
 * build), or "unknown" for a build from outside a git checkout. Static. */
const char *dm__build_commit(void);

#endif
