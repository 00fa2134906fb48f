/* cli.h - the subcommands of the hudong binary. Each takes the arguments after
 * its own name (argv[0] is the subcommand) and returns the process exit code:
 * 0 success, 1 failure while working, 2 bad usage or bad input. */
#ifndef HD_CLI_H
#define HD_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "domain/domain.h"

/* An opened store with its clock, ids and domain. */
typedef struct hd_app {
    hd_store *store;
    hd_clock *clock;
    hd_idgen *ids;
    hd_domain d;
} hd_app;

/* Opens db (a path or postgres:// URL); prints the reason and returns 1 on failure. */
int hd_app_open(hd_app *a, const char *db, bool test_clock, bool migrate);
void hd_app_close(hd_app *a);
/* getenv with a default for unset or empty. */
const char *hd_cli_env(const char *name, const char *def);
static inline long getpid_portable(void) { return (long)getpid(); }

/* The default store: HUDONG_DB or ./hudong.db */
#define HD_CLI_DB() hd_cli_env("HUDONG_DB", "hudong.db")

/* hudong analyze clv|rfm ... (src/cli/analyze_orders.c) */
int hd_cli_analyze_orders(int argc, char **argv);
/* hudong analyze rules|itemsets ... (src/cli/analyze_baskets.c) */
int hd_cli_analyze_baskets(int argc, char **argv);

/* hudong import customers|orders FILE (src/cli/import.c) */
int hd_cli_import(int argc, char **argv);
/* hudong export customers|events (src/cli/export.c) */
int hd_cli_export(int argc, char **argv);
/* hudong demo (src/cli/demo.c) */
int hd_cli_demo(int argc, char **argv);
/* Fills an empty store with demo data; used by `demo` and `serve --demo`.
 * Progress goes to progress (may be NULL). */
hd_rc hd_demo_fill(hd_domain *d, int customers, unsigned seed, FILE *progress, hd_err *err);
/* The demo's points programme: tiers and rules before the events; the
 * catalog, a special, an auction, a group buy, a trial, coupons, instalment
 * plans and overdraft after them (src/cli/demo_points.c). */
hd_rc hd_demo_points_before(hd_domain *d, hd_err *err);
hd_rc hd_demo_points_after(hd_domain *d, hd_err *err);

#endif
