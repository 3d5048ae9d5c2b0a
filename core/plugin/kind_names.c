/*
 * kind_names.c — the naming rule of each plugin kind (kind_names.h).
 */
#include "plugin/kind_names.h"

#include <string.h>

#include <dermaga/plugin.h>

int dm__plugin_name_fits_kind(const char *name, uint32_t kind, dm_err_t *err)
{
    const size_t n = strlen(DM_PAYMENT_PLUGIN_PREFIX);
    if (kind == DM_PLUGIN_PAYMENT && (strncmp(name, DM_PAYMENT_PLUGIN_PREFIX, n) != 0 || name[n] == '\0'))
        return dm_err_set(err, DM_EINVAL,
                          "payment plugin name '%.63s' lacks the '" DM_PAYMENT_PLUGIN_PREFIX "' prefix "
                          "(gateway x is the plugin " DM_PAYMENT_PLUGIN_PREFIX "x; as named it would offer "
                          "no method and receive no webhook)", name);
    return 0;
}
