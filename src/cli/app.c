/* app.c - what every command that touches a store shares: option parsing
 * helpers and opening the store, clock, ids and domain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char *hd_cli_env(const char *name, const char *def) {
    const char *v = getenv(name);
    return v && *v ? v : def;
}

int hd_app_open(hd_app *a, const char *db, bool test_clock, bool migrate) {
    memset(a, 0, sizeof *a);
    hd_err err;
    hd_err_clear(&err);
    long node = strtol(hd_cli_env("HUDONG_NODE_ID", "-1"), NULL, 10);
    if (node < 0 || node > 1023) {
        /* different processes on one PostgreSQL need different node numbers:
         * derive one from the pid unless told */
        node = (long)(getpid_portable() % 1024);
    }
    a->ids = hd_idgen_new((unsigned)node);
    a->clock = hd_clock_new(test_clock, hd_clock_now_ms(NULL));
    hd_store_opts so = {.url = db, .migrate = migrate};
    a->store = hd_store_open(&so, &err);
    if (!a->store) {
        fprintf(stderr, "hudong: %s\n", err.msg);
        hd_app_close(a);
        return 1;
    }
    if (hd_domain_init(&a->d, a->store, a->clock, a->ids, &err)) {
        fprintf(stderr, "hudong: %s\n", err.msg);
        hd_app_close(a);
        return 1;
    }
    return 0;
}

void hd_app_close(hd_app *a) {
    hd_domain_close(&a->d);
    hd_store_close(a->store);
    hd_clock_free(a->clock);
    hd_idgen_free(a->ids);
    memset(a, 0, sizeof *a);
}
