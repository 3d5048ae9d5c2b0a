/*
 * kind_names.h — what a plugin's name must look like for its kind. A
 * payment gateway named x in the API ("gateway": "x",
 * /api/wallet/webhooks/x) is the plugin named payment-x, so a payment
 * plugin named otherwise could load yet offer no method and answer no
 * webhook: it is refused instead, at load and in `dermaga plugins`.
 */
#ifndef DM_PLUGIN_KIND_NAMES_H
#define DM_PLUGIN_KIND_NAMES_H

#include <stdint.h>

#include <dermaga/error.h>

#define DM_PAYMENT_PLUGIN_PREFIX "payment-"

/* 0 when name suits kind; DM_EINVAL with the reason in err otherwise
 * (a payment plugin's name is "payment-" and at least one more byte). */
int dm__plugin_name_fits_kind(const char *name, uint32_t kind, dm_err_t *err);

#endif
