/*
 * k8s_kubeconfig.c — see k8s_kubeconfig.h.
 */
#include <stdio.h>

#include <check.h>

#include "k8s_kubeconfig.h"

void dm_k8s_write_kubeconfig(const char *dir, const char *server, const char *token,
                             const char *ca_path, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/kubeconfig", dir);
    ck_assert_msg(n > 0 && (size_t)n < cap, "kubeconfig path too long");
    FILE *f = fopen(out, "w");
    ck_assert_msg(f != NULL, "cannot write %s", out);
    fprintf(f, "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
               "clusters:\n- name: fake\n  cluster:\n    server: %s\n", server);
    if (ca_path != NULL)
        fprintf(f, "    certificate-authority: %s\n", ca_path);
    fprintf(f, "users:\n- name: u\n  user:\n    token: %s\n"
               "contexts:\n- name: fake\n  context: {cluster: fake, user: u}\n", token);
    ck_assert_msg(fclose(f) == 0, "cannot write %s", out);
}
