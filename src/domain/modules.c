/* modules.c - the one place where domain modules plug their hooks and jobs
 * into a domain. Each module that needs to react to events, merges or time
 * adds a line here. */
#include "domain/analytics_api.h"
#include "domain/auctions.h"
#include "domain/brand.h"
#include "domain/catalog.h"
#include "domain/credit.h"
#include "domain/domain.h"
#include "domain/groupbuys.h"
#include "domain/instalments.h"
#include "domain/ledger.h"
#include "domain/members.h"
#include "domain/rules.h"
#include "domain/tiers.h"
#include "domain/trials.h"

hd_rc hd_domain_init(hd_domain *d, hd_store *st, hd_clock *clock, hd_idgen *ids, hd_err *err) {
    *d = (hd_domain){0};
    d->store = st;
    d->clock = clock;
    d->ids = ids;
    hd_rc rc = hd_brand_init(d, err); /* the calendar first: everything below may cut days */
    if (!rc) rc = hd_domain_add_job(d, "brand", hd_brand_job, NULL, err);
    if (!rc) rc = hd_rules_init(d, err);
    if (!rc) rc = hd_ledger_init(d, err);
    if (!rc) rc = hd_domain_add_hook(d, hd_rules_on_event, NULL, err);
    if (!rc) rc = hd_domain_add_merge_hook(d, hd_ledger_on_merge, NULL, err);
    if (!rc) rc = hd_domain_add_job(d, "ledger", hd_ledger_job, NULL, err);
    if (!rc) rc = hd_domain_add_merge_hook(d, hd_catalog_on_merge, NULL, err);
    if (!rc) rc = hd_domain_add_job(d, "tiers", hd_tier_job, NULL, err);
    if (!rc) rc = hd_domain_add_job(d, "auctions", hd_auction_job, NULL, err);
    if (!rc) rc = hd_domain_add_job(d, "groupbuys", hd_groupbuy_job, NULL, err);
    if (!rc) rc = hd_domain_add_job(d, "trials", hd_trial_job, NULL, err);
    if (!rc) rc = hd_domain_add_job(d, "instalments", hd_instalment_job, NULL, err);
    if (!rc) rc = hd_domain_add_job(d, "credit", hd_credit_job, NULL, err);
    if (!rc) rc = hd_domain_add_merge_hook(d, hd_instalment_on_merge, NULL, err);
    if (!rc) rc = hd_domain_add_merge_hook(d, hd_credit_on_merge, NULL, err);
    if (!rc) rc = hd_analytics_init(d, err);
    if (!rc) rc = hd_members_init(d, err);
    if (rc) hd_domain_close(d);
    return rc;
}

void hd_domain_close(hd_domain *d) {
    hd_analytics_close(d);
    hd_members_close(d);
    hd_rules_free(d);
    hd_ledger_free(d);
    hd_brand_free(d);
}
