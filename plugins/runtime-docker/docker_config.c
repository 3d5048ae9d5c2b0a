/*
 * docker_config.c — runtime-docker's configuration: the declared keys, and
 * init/fini, which check them and build the dk_state (engine address parsed
 * into a socket path or base URL, publish address, host port range, stop
 * timeout, request timeout).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

const dm_plugin_conf_key_t dk_conf_keys[] = {
    { "host", DM_CONF_STRING, 0, "\"unix:///var/run/docker.sock\"",
      "engine address: unix:///abs/path.sock, tcp://HOST:PORT or http://HOST:PORT" },
    { "publish_address", DM_CONF_STRING, 0, "\"127.0.0.1\"",
      "host IPv4 address public ports are published on" },
    { "port_min", DM_CONF_INT, 0, "20000",
      "lowest host port for published ports (port_min = port_max = 0: the engine picks)" },
    { "port_max", DM_CONF_INT, 0, "29999", "highest host port for published ports" },
    { "stop_timeout_s", DM_CONF_INT, 0, "10",
      "seconds a container gets to end after SIGTERM before SIGKILL; 0..300" },
    { "timeout_ms", DM_CONF_INT, 0, "30000",
      "overall timeout of one engine request (stop adds stop_timeout_s); 1000..600000" },
    DM_CONF_END
};

/* "unix:///abs", "tcp://h:p" or "http://h:p" into st. */
static int parse_host(dk_state *st, const char *h, dm_err_t *err)
{
    size_t n = h != NULL ? strlen(h) : 0;
    while (n > 0 && h[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof st->host_url)
        return dm_err_set(err, DM_EINVAL, "config: host must be a Docker host URL");
    memcpy(st->host_url, h, n);
    st->host_url[n] = '\0';
    if (strncmp(st->host_url, "unix://", 7) == 0) {
        const char *p = st->host_url + 7;
        if (p[0] != '/' || strlen(p) >= sizeof st->socket_path)
            return dm_err_set(err, DM_EINVAL, "config: host unix:// needs an absolute socket "
                                              "path under %zu bytes", sizeof st->socket_path);
        memcpy(st->socket_path, p, strlen(p) + 1);
        snprintf(st->base_url, sizeof st->base_url, "http://docker");
        return 0;
    }
    const char *rest = NULL;
    if (strncmp(st->host_url, "tcp://", 6) == 0)
        rest = st->host_url + 6;
    else if (strncmp(st->host_url, "http://", 7) == 0)
        rest = st->host_url + 7;
    if (rest == NULL || rest[0] == '\0' || strpbrk(rest, "/?# ") != NULL ||
        strlen(rest) + 8 > sizeof st->base_url)
        return dm_err_set(err, DM_EINVAL, "config: host must be unix:///path, tcp://HOST:PORT "
                                          "or http://HOST:PORT");
    snprintf(st->base_url, sizeof st->base_url, "http://%s", rest);
    return 0;
}

static int read_config(dk_state *st, dm_err_t *err)
{
    const json_t *cfg = st->host->config(st->ctx);
    int rc = parse_host(st, json_string_value(json_object_get(cfg, "host")), err);
    if (rc != 0)
        return rc;
    const char *pub = json_string_value(json_object_get(cfg, "publish_address"));
    struct in_addr a;
    if (pub == NULL || strlen(pub) >= sizeof st->publish_address || inet_pton(AF_INET, pub, &a) != 1)
        return dm_err_set(err, DM_EINVAL, "config: publish_address must be an IPv4 address");
    memcpy(st->publish_address, pub, strlen(pub) + 1);
    json_int_t lo = json_integer_value(json_object_get(cfg, "port_min"));
    json_int_t hi = json_integer_value(json_object_get(cfg, "port_max"));
    bool engine_picks = lo == 0 && hi == 0;
    if (!engine_picks && (lo < 1 || hi > 65535 || lo > hi))
        return dm_err_set(err, DM_EINVAL, "config: port_min..port_max must be a range within "
                                          "1..65535 (or both 0)");
    st->port_min = (int)lo;
    st->port_max = (int)hi;
    json_int_t stop = json_integer_value(json_object_get(cfg, "stop_timeout_s"));
    if (stop < 0 || stop > 300)
        return dm_err_set(err, DM_EINVAL, "config: stop_timeout_s must be between 0 and 300");
    st->stop_timeout_s = (int)stop;
    json_int_t to = json_integer_value(json_object_get(cfg, "timeout_ms"));
    if (to < 1000 || to > 600000)
        return dm_err_set(err, DM_EINVAL, "config: timeout_ms must be between 1000 and 600000");
    st->timeout_ms = (long)to;
    return 0;
}

void dk_fini(void *state)
{
    dk_state *st = state;
    if (st == NULL)
        return;
    pthread_mutex_destroy(&st->port_lock);
    free(st);
}

int dk_init(dm_plugin_ctx_t *ctx, const dm_host_t *host, void **state, dm_err_t *err)
{
    dk_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return dm_err_set(err, DM_ENOMEM, "out of memory");
    st->ctx = ctx;
    st->host = host;
    if (pthread_mutex_init(&st->port_lock, NULL) != 0) {
        free(st);
        return dm_err_set(err, DM_ENOMEM, "runtime-docker: cannot create a mutex");
    }
    int rc = read_config(st, err);
    if (rc != 0) {
        dk_fini(st);
        return rc;
    }
    /* No engine call here: an engine that is down at start must not refuse
     * the plugin; each op says DM_EUNAVAIL instead. */
    host->log(ctx, DM_HOST_LOG_INFO, "engine %s, ports published on %s:%d-%d, stop timeout %d s",
              st->host_url, st->publish_address, st->port_min, st->port_max, st->stop_timeout_s);
    *state = st;
    return 0;
}
