/*
 * k8s_kubeconfig.h — a one-cluster kubeconfig file for the
 * runtime-kubernetes tests (the unit test's scripted responder and the
 * lifecycle test's fake API server both need the same shape).
 */
#ifndef DM_TEST_K8S_KUBECONFIG_H
#define DM_TEST_K8S_KUBECONFIG_H

/*
 * Write <dir>/kubeconfig: one cluster at server (e.g. "http://127.0.0.1:PORT"),
 * one user with the bearer token, one current context "fake". ca_path, when
 * not NULL, becomes the cluster's certificate-authority. Fails the test
 * when the file cannot be written; the path goes to out (cap bytes).
 */
void dm_k8s_write_kubeconfig(const char *dir, const char *server, const char *token,
                             const char *ca_path, char *out, size_t cap);

#endif
