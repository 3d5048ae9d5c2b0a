/*
 * install_paths.h — the one owner of where the server finds the files it
 * reads at run time when the configuration does not name them: relative to
 * the running binary, never a path compiled into it.
 *
 *   installed:  <prefix>/bin/dermaga      reads <prefix>/share/dermaga/…
 *                                          loads <prefix>/lib/dermaga/plugins
 *   build tree: <build>/dermaga            reads <build>/share/dermaga/…
 *                                          (links CMake makes into the source)
 *                                          loads <build>/plugins
 *
 * Each function returns a new string (NULL when out of memory): the first
 * candidate that exists, else the installed layout's path, so an error
 * names where the file was expected.
 */
#ifndef DM_APP_INSTALL_PATHS_H
#define DM_APP_INSTALL_PATHS_H

/* <share>/rel, e.g. rel "migrations" or "openapi.yaml". */
char *dm__install_share_path(const char *rel);
/* The bundled plugins' folder. */
char *dm__install_plugins_dir(void);

#endif /* DM_APP_INSTALL_PATHS_H */
