/* customers_int.h - shared by the customer sources only. */
#ifndef HD_CUSTOMERS_INT_H
#define HD_CUSTOMERS_INT_H

#include "domain/customers.h"

hd_rc hd__customer_insert(hd_conn *c, hd_domain *d, int64_t id, const json_t *in, hd_err *err);
hd_rc hd__ident_insert(hd_conn *c, int64_t cid, const hd_ident *i, int64_t now, hd_err *err);

#endif
