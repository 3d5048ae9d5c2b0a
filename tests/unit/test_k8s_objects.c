/*
 * test_k8s_objects.c — the Kubernetes objects runtime-kubernetes applies
 * for a workload spec (plugins/runtime-kubernetes/k8s_spec.c and
 * k8s_objects.c, compiled in here: they are pure): names within DNS-1123
 * limits, the three labels everywhere, the Secret's base64 env, PVC sizes
 * and class, the Deployment's strategy, resources, probes, security
 * context and envFrom, the Service, and the Ingress's host, class and TLS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_test.h"

#include "../../plugins/runtime-kubernetes/k8s_kubeconfig.c"
#include "../../plugins/runtime-kubernetes/k8s_spec.c"
#include "../../plugins/runtime-kubernetes/k8s_objects.c"

#define ID "3f2a9c1e-7b4d-4e21-9a0f-5c6d7e8f9a0b"
#define OWNER "inst-42"

static const char *SPEC =
    "{\"image\":\"docker.io/library/redis:7\", \"command\":[\"redis-server\"],"
    " \"env\":{\"REDIS_PASSWORD\":\"s3cret\"},"
    " \"ports\":[{\"name\":\"redis\",\"port\":6379,\"protocol\":\"tcp\",\"public\":false},"
    "            {\"name\":\"http_admin\",\"port\":8080,\"protocol\":\"tcp\",\"public\":true}],"
    " \"volumes\":[{\"name\":\"data\",\"mountPath\":\"/data\",\"sizeGb\":5}],"
    " \"health\":{\"type\":\"http\",\"port\":8080,\"path\":\"/healthz\",\"initialDelayS\":3,"
    "             \"periodS\":7},"
    " \"resources\":{\"cpuMillicores\":500,\"memoryMb\":256,\"storageGb\":2},"
    " \"owner\":\"" OWNER "\"}";

static k8s_objcfg cfg(void)
{
    k8s_objcfg c = { .ns = "dermaga", .ingress_class = "traefik",
                     .base_domain = "apps.example.com", .run_as_non_root = true };
    return c;
}

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ck_assert_msg(j != NULL, "fixture: %s", je.text);
    return j;
}

static void parse_ok(json_t *j, k8s_spec *s)
{
    dm_err_t e = { 0 };
    ck_assert_msg(k8s_spec_parse(j, s, &e) == 0, "spec: %s", e.msg);
}

/* The string at a '/'-separated path of object keys and array indexes. */
static const json_t *at(const json_t *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *p = strtok_r(buf, "/", &save); p != NULL && j != NULL;
         p = strtok_r(NULL, "/", &save)) {
        if (json_is_array(j))
            j = json_array_get(j, strtoul(p, NULL, 10));
        else
            j = json_object_get(j, p);
    }
    return j;
}

static const char *s_at(const json_t *j, const char *path)
{
    const char *s = json_string_value(at(j, path));
    ck_assert_msg(s != NULL, "no string at %s", path);
    return s;
}

static void expect_labels(const json_t *obj)
{
    const json_t *l = at(obj, "metadata/labels");
    ck_assert_str_eq(json_string_value(json_object_get(l, K8S_LBL_MANAGED)), "dermaga");
    ck_assert_str_eq(json_string_value(json_object_get(l, K8S_LBL_INSTANCE)), ID);
    ck_assert_str_eq(json_string_value(json_object_get(l, K8S_LBL_OWNER)), OWNER);
    ck_assert_str_eq(s_at(obj, "metadata/namespace"), "dermaga");
}

START_TEST(names)
{
    char n[64];
    k8s_object_name(ID, n, sizeof n);
    ck_assert_str_eq(n, "dm-" ID); /* a UUID is already a DNS label */
    k8s_object_name("Abc_1", n, sizeof n);
    ck_assert_msg(strncmp(n, "dm-abc-1-", 9) == 0 && strlen(n) == 17, "%s", n);
    char other[64];
    k8s_object_name("abc-1", other, sizeof other);
    ck_assert_str_ne(n, other); /* not merged with the id it folds onto */
    char longid[64];
    memset(longid, 'a', 63);
    longid[63] = '\0';
    k8s_object_name(longid, n, sizeof n);
    ck_assert_uint_le(strlen(n), 63);
    for (const char *p = n; *p != '\0'; p++)
        ck_assert((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
    ck_assert(k8s_id_ok(ID));
    ck_assert(!k8s_id_ok("-x"));
    ck_assert(!k8s_id_ok("a/b"));
    ck_assert(!k8s_id_ok(""));
}
END_TEST

START_TEST(secret_and_pvc)
{
    json_t *j = load(SPEC);
    k8s_spec s;
    parse_ok(j, &s);
    k8s_objcfg c = cfg();
    json_t *sec = k8s_secret_object(&c, ID, &s);
    expect_labels(sec);
    ck_assert_str_eq(s_at(sec, "kind"), "Secret");
    ck_assert_str_eq(s_at(sec, "metadata/name"), "dm-" ID);
    ck_assert_str_eq(s_at(sec, "data/REDIS_PASSWORD"), "czNjcmV0");
    json_t *pvc = k8s_pvc_object(&c, ID, &s, 0);
    expect_labels(pvc);
    ck_assert_str_eq(s_at(pvc, "metadata/name"), "dm-" ID "-data");
    ck_assert_str_eq(s_at(pvc, "spec/resources/requests/storage"), "5Gi");
    ck_assert_str_eq(s_at(pvc, "spec/accessModes/0"), "ReadWriteOnce");
    ck_assert_ptr_null(at(pvc, "spec/storageClassName"));
    json_decref(pvc);
    snprintf(c.storage_class, sizeof c.storage_class, "fast-ssd");
    pvc = k8s_pvc_object(&c, ID, &s, 0);
    ck_assert_str_eq(s_at(pvc, "spec/storageClassName"), "fast-ssd");
    json_decref(pvc);
    json_decref(sec);
    json_decref(j);
    /* A volume without sizeGb takes the plan's storageGb; 0 becomes 1Gi. */
    j = load("{\"image\":\"x\",\"resources\":{\"storageGb\":0},"
             "\"volumes\":[{\"name\":\"d\",\"mountPath\":\"/d\"}]}");
    parse_ok(j, &s);
    pvc = k8s_pvc_object(&c, ID, &s, 0);
    ck_assert_str_eq(s_at(pvc, "spec/resources/requests/storage"), "1Gi");
    json_decref(pvc);
    json_decref(j);
}
END_TEST

START_TEST(deployment)
{
    json_t *j = load(SPEC);
    k8s_spec s;
    parse_ok(j, &s);
    k8s_objcfg c = cfg();
    json_t *d = k8s_deployment_object(&c, ID, &s);
    expect_labels(d);
    ck_assert_str_eq(s_at(d, "apiVersion"), "apps/v1");
    ck_assert_int_eq(json_integer_value(at(d, "spec/replicas")), 1);
    ck_assert_str_eq(s_at(d, "spec/strategy/type"), "Recreate");
    ck_assert_str_eq(json_string_value(json_object_get(at(d, "spec/selector/matchLabels"),
                                                       K8S_LBL_INSTANCE)), ID);
    ck_assert_str_eq(json_string_value(json_object_get(at(d, "spec/template/metadata/labels"),
                                                       K8S_LBL_INSTANCE)), ID);
    const json_t *ctr = at(d, "spec/template/spec/containers/0");
    ck_assert_str_eq(s_at(ctr, "name"), "app");
    ck_assert_str_eq(s_at(ctr, "image"), "docker.io/library/redis:7");
    /* The spec's command is Docker's Cmd: the container's args. */
    ck_assert_str_eq(s_at(ctr, "args/0"), "redis-server");
    ck_assert_ptr_null(json_object_get(ctr, "command"));
    ck_assert_str_eq(s_at(ctr, "resources/limits/cpu"), "500m");
    ck_assert_str_eq(s_at(ctr, "resources/limits/memory"), "256Mi");
    ck_assert_str_eq(s_at(ctr, "resources/requests/cpu"), "500m");
    ck_assert_str_eq(s_at(ctr, "resources/requests/memory"), "256Mi");
    ck_assert_str_eq(s_at(ctr, "envFrom/0/secretRef/name"), "dm-" ID);
    ck_assert_str_eq(s_at(ctr, "ports/0/name"), "redis");
    ck_assert_str_eq(s_at(ctr, "ports/1/name"), "p8080"); /* "http_admin" is no port name */
    ck_assert_str_eq(s_at(ctr, "volumeMounts/0/mountPath"), "/data");
    ck_assert_str_eq(s_at(d, "spec/template/spec/volumes/0/persistentVolumeClaim/claimName"),
                     "dm-" ID "-data");
    /* Probes from the template's http health. */
    ck_assert_str_eq(s_at(ctr, "readinessProbe/httpGet/path"), "/healthz");
    ck_assert_int_eq(json_integer_value(at(ctr, "readinessProbe/httpGet/port")), 8080);
    ck_assert_int_eq(json_integer_value(at(ctr, "readinessProbe/initialDelaySeconds")), 3);
    ck_assert_int_eq(json_integer_value(at(ctr, "livenessProbe/periodSeconds")), 7);
    /* The restricted security context. */
    ck_assert(json_is_false(at(ctr, "securityContext/allowPrivilegeEscalation")));
    ck_assert(json_is_true(at(ctr, "securityContext/runAsNonRoot")));
    ck_assert_str_eq(s_at(ctr, "securityContext/capabilities/drop/0"), "ALL");
    ck_assert_str_eq(s_at(ctr, "securityContext/seccompProfile/type"), "RuntimeDefault");
    ck_assert_str_eq(s_at(d, "spec/template/spec/securityContext/seccompProfile/type"),
                     "RuntimeDefault");
    json_decref(d);
    json_decref(j);

    /* No volume: a rolling update; tcp health; no env: no envFrom;
     * run_as_non_root off: the field is absent, not false. */
    j = load("{\"image\":\"x\",\"ports\":[{\"name\":\"pg\",\"port\":5432}],"
             "\"health\":{\"type\":\"tcp\",\"port\":5432}}");
    parse_ok(j, &s);
    c.run_as_non_root = false;
    d = k8s_deployment_object(&c, ID, &s);
    ctr = at(d, "spec/template/spec/containers/0");
    ck_assert_str_eq(s_at(d, "spec/strategy/type"), "RollingUpdate");
    ck_assert_int_eq(json_integer_value(at(ctr, "livenessProbe/tcpSocket/port")), 5432);
    ck_assert_ptr_null(at(ctr, "envFrom"));
    ck_assert_ptr_null(at(ctr, "securityContext/runAsNonRoot"));
    ck_assert_ptr_null(at(ctr, "resources/limits/cpu"));
    json_decref(d);
    json_decref(j);
}
END_TEST

START_TEST(service_and_ingress)
{
    json_t *j = load(SPEC);
    k8s_spec s;
    parse_ok(j, &s);
    k8s_objcfg c = cfg();
    json_t *svc = k8s_service_object(&c, ID, &s);
    expect_labels(svc);
    ck_assert_str_eq(s_at(svc, "spec/type"), "ClusterIP");
    ck_assert_int_eq(json_integer_value(at(svc, "spec/ports/1/port")), 8080);
    ck_assert_str_eq(s_at(svc, "spec/ports/1/targetPort"), "p8080");
    ck_assert_str_eq(json_string_value(json_object_get(at(svc, "spec/selector"),
                                                       K8S_LBL_INSTANCE)), ID);
    json_t *ing = k8s_ingress_object(&c, ID, &s);
    expect_labels(ing);
    ck_assert_str_eq(s_at(ing, "spec/ingressClassName"), "traefik");
    ck_assert_str_eq(s_at(ing, "spec/rules/0/host"), "redis-3f2a9c1e.apps.example.com");
    ck_assert_int_eq(json_integer_value(at(ing, "spec/rules/0/http/paths/0/backend/service/port/"
                                                "number")), 8080);
    ck_assert_str_eq(s_at(ing, "spec/rules/0/http/paths/0/backend/service/name"), "dm-" ID);
    ck_assert_ptr_null(at(ing, "spec/tls"));
    ck_assert_str_eq(json_string_value(json_object_get(at(ing, "metadata/annotations"),
                                                       K8S_ANN_PORT)), "http_admin");
    ck_assert_ptr_null(json_object_get(at(ing, "metadata/annotations"),
                                       "cert-manager.io/cluster-issuer"));
    json_decref(ing);
    /* A fixed TLS secret. */
    snprintf(c.tls_secret, sizeof c.tls_secret, "wildcard-tls");
    ing = k8s_ingress_object(&c, ID, &s);
    ck_assert_str_eq(s_at(ing, "spec/tls/0/secretName"), "wildcard-tls");
    ck_assert_str_eq(s_at(ing, "spec/tls/0/hosts/0"), "redis-3f2a9c1e.apps.example.com");
    json_decref(ing);
    /* cert-manager: the annotation and a per-instance secret. */
    c.tls_secret[0] = '\0';
    snprintf(c.issuer, sizeof c.issuer, "letsencrypt");
    snprintf(c.ingress_class, sizeof c.ingress_class, "nginx");
    ing = k8s_ingress_object(&c, ID, &s);
    ck_assert_str_eq(json_string_value(json_object_get(at(ing, "metadata/annotations"),
                                                       "cert-manager.io/cluster-issuer")),
                     "letsencrypt");
    ck_assert_str_eq(s_at(ing, "spec/tls/0/secretName"), "dm-" ID "-tls");
    ck_assert_str_eq(s_at(ing, "spec/ingressClassName"), "nginx");
    json_decref(ing);
    /* No base domain: no Ingress. */
    c.base_domain[0] = '\0';
    ck_assert_ptr_null(k8s_ingress_object(&c, ID, &s));
    json_decref(svc);
    json_decref(j);
    /* No public port: no Ingress; no port: no Service. */
    c = cfg();
    j = load("{\"image\":\"x\"}");
    parse_ok(j, &s);
    ck_assert_ptr_null(k8s_service_object(&c, ID, &s));
    ck_assert_ptr_null(k8s_ingress_object(&c, ID, &s));
    json_decref(j);
}
END_TEST

/* The spec's entrypoint (Docker's Entrypoint) is the container's command,
 * its command the args. */
START_TEST(entrypoint_is_the_container_command)
{
    json_t *j = load("{\"image\":\"x\",\"entrypoint\":[\"/bin/sh\",\"-c\"],\"command\":[\"echo hi\"]}");
    k8s_spec s;
    parse_ok(j, &s);
    k8s_objcfg c = cfg();
    json_t *d = k8s_deployment_object(&c, ID, &s);
    const json_t *ctr = at(d, "spec/template/spec/containers/0");
    ck_assert_str_eq(s_at(ctr, "command/0"), "/bin/sh");
    ck_assert_str_eq(s_at(ctr, "command/1"), "-c");
    ck_assert_str_eq(s_at(ctr, "args/0"), "echo hi");
    json_decref(d);
    json_decref(j);
}
END_TEST

START_TEST(spec_refusals)
{
    struct { const char *spec, *msg; } cases[] = {
        { "{}", "spec.image must be a non-empty string" },
        { "{\"image\":\"x\",\"env\":{\"A=B\":\"v\"}}", "spec.env.A=B must be a string" },
        { "{\"image\":\"x\",\"owner\":\"not ok!\"}", "spec.owner must be a label value" },
        { "{\"image\":\"x\",\"ports\":[{\"name\":\"a\",\"port\":70000}]}",
          "spec.ports[0].port must be 1..65535" },
        { "{\"image\":\"x\",\"volumes\":[{\"name\":\"Data\",\"mountPath\":\"/d\"}]}",
          "spec.volumes[0].name must be" },
        { "{\"image\":\"x\",\"health\":{\"type\":\"http\"}}",
          "spec.health.port is required for type http" },
        { "{\"image\":\"x\",\"resources\":{\"memoryMb\":-1}}",
          "spec.resources.memoryMb must be an integer" },
        { "{\"image\":\"x\",\"entrypoint\":[]}", "spec.entrypoint must be a non-empty array of strings" },
        { "{\"image\":\"x\",\"entrypoint\":[\"sh\",1]}", "spec.entrypoint[1] must be a string" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = load(cases[i].spec);
        k8s_spec s;
        dm_err_t e = { 0 };
        ck_assert_int_eq(k8s_spec_parse(j, &s, &e), DM_EINVAL);
        ck_assert_msg(strstr(e.msg, cases[i].msg) != NULL, "case %zu: %s", i, e.msg);
        json_decref(j);
    }
}
END_TEST

START_TEST(service_name_for_host)
{
    json_t *j = load("{\"image\":\"ghcr.io/Org/My_App:1.2@sha256:ab\"}");
    k8s_spec s;
    parse_ok(j, &s);
    ck_assert_str_eq(s.service, "my-app");
    json_decref(j);
    j = load("{\"image\":\"x\",\"service\":\"n8n\"}");
    parse_ok(j, &s);
    ck_assert_str_eq(s.service, "n8n");
    json_decref(j);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("k8s_objects");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, names);
    tcase_add_test(tc, secret_and_pvc);
    tcase_add_test(tc, deployment);
    tcase_add_test(tc, service_and_ingress);
    tcase_add_test(tc, spec_refusals);
    tcase_add_test(tc, entrypoint_is_the_container_command);
    tcase_add_test(tc, service_name_for_host);
    suite_add_tcase(s, tc);
    return s;
}

DM_TEST_MAIN(make_suite)
