/* main.c - the hudong command line: serve, apikey, tick, and dispatch to the
 * other subcommands. Configuration comes from flags, then HUDONG_* variables. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "cli/cli.h"
#include "domain/apikeys.h"
#include "domain/brand.h"
#include "domain/ledger.h"
#include "domain/members.h"
#include "domain/users.h"

#define VERSION "0.1.0"

static void usage(FILE *f) {
    fputs("hudong " VERSION " - interactive-marketing engine (互动)\n"
          "\n"
          "usage: hudong COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  serve      run the HTTP API server\n"
          "  apikey     create API keys\n"
          "  user       add console users\n"
          "  tick       run scheduled jobs once (expiries, timeouts, closes)\n"
          "  demo       fill a store with realistic Chinese demo data\n"
          "  import     customers or orders from CSV files\n"
          "  export     customers or events as CSV or JSON lines\n"
          "  check      verify every ledger invariant over the store\n"
          "  brand      show or set the brand's calendar (its UTC offset)\n"
          "  analyze    analytics on CSV files: clv, rfm, rules, itemsets\n"
          "\n"
          "Every command that touches a store takes --db PATH|postgres://... (default\n"
          "$HUDONG_DB or ./hudong.db). 'hudong COMMAND --help' tells more.\n",
          f);
}

/* ---- serve ---- */

typedef struct sched {
    hd_domain *d;
    atomic_bool stop;
} sched;

static void *scheduler_main(void *arg) {
    sched *s = arg;
    while (!atomic_load(&s->stop)) {
        hd_err err;
        if (hd_domain_run_jobs(s->d, &err)) fprintf(stderr, "scheduler: %s\n", err.msg);
        for (int i = 0; i < 10 && !atomic_load(&s->stop); i++) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* A whole-number option of serve, from min to max; false (said on stderr)
 * otherwise. what_min glosses the minimum, e.g. " (no cap)". */
static bool serve_number(const char *flag, const char *env, const char *s, long min, long max,
                         const char *what_min, long *out) {
    char *end = NULL;
    *out = strtol(s, &end, 10);
    if (*s && !*end && *out >= min && *out <= max) return true;
    fprintf(stderr, "hudong serve: %s (or %s) must be a whole number from %ld%s to %ld, got '%s'\n",
            flag, env, min, what_min, max, s);
    return false;
}

static int cmd_serve(int argc, char **argv) {
    const char *db = HD_CLI_DB();
    const char *listen = hd_cli_env("HUDONG_LISTEN", "127.0.0.1:8080");
    const char *level = hd_cli_env("HUDONG_LOG_LEVEL", "info");
    const char *conns_s = hd_cli_env("HUDONG_MAX_CONNECTIONS", "1024");
    const char *workers_s = hd_cli_env("HUDONG_WORKERS", "32");
    const char *otp_s = hd_cli_env("HUDONG_OTP_PER_CLIENT_HOUR", "60");
    bool test_clock = getenv("HUDONG_TEST_CLOCK") != NULL;
    bool demo = false;
    const char *web = hd_cli_env("HUDONG_WEB", "web");
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"web", required_argument, 0, 'w'},
                                         {"max-connections", required_argument, 0, 't'},
                                         {"workers", required_argument, 0, 'k'},
                                         {"otp-per-client-hour", required_argument, 0, 'o'},
                                         {"log-level", required_argument, 0, 'v'},
                                         {"test-clock", no_argument, 0, 'c'},
                                         {"demo", no_argument, 0, 'm'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'l': listen = optarg; break;
        case 'w': web = optarg; break;
        case 't': conns_s = optarg; break;
        case 'k': workers_s = optarg; break;
        case 'o': otp_s = optarg; break;
        case 'v': level = optarg; break;
        case 'c': test_clock = true; break;
        case 'm': demo = true; break;
        case 'h':
            puts("usage: hudong serve [--db PATH|postgres://...] [--listen HOST:PORT]\n"
                 "                    [--max-connections N] [--workers N]\n"
                 "                    [--log-level error|warn|info|debug]\n"
                 "                    [--otp-per-client-hour N] [--test-clock] [--demo] [--web "
                 "DIR]\n"
                 "\n"
                 "  --db               store (default $HUDONG_DB or ./hudong.db; SQLite unless\n"
                 "                     postgres://)\n"
                 "  --listen           address (default $HUDONG_LISTEN or 127.0.0.1:8080; port 0\n"
                 "                     picks one)\n"
                 "  --max-connections  connections open at once (default $HUDONG_MAX_CONNECTIONS\n"
                 "                     or 1024)\n"
                 "  --workers          embedded store: threads for requests that may wait on\n"
                 "                     it - reads, most writes (default $HUDONG_WORKERS or 32);\n"
                 "                     events need none. PostgreSQL: a thread per connection\n"
                 "  --log-level        info logs one line per request to stderr (default)\n"
                 "  --otp-per-client-hour\n"
                 "                     member sign-in codes one address may ask for in an hour\n"
                 "                     (default $HUDONG_OTP_PER_CLIENT_HOUR or 60; 0: no cap)\n"
                 "  --test-clock       time stands still until POST /v1/test/clock moves it\n"
                 "  --demo             load demo data when the store has no customers yet\n"
                 "  --web DIR          the console and member pages (default $HUDONG_WEB or "
                 "./web)");
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hudong serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    long conns, workers, otp;
    if (!serve_number("--max-connections", "HUDONG_MAX_CONNECTIONS", conns_s, 1, 100000, "",
                      &conns) ||
        !serve_number("--workers", "HUDONG_WORKERS", workers_s, 1, 1024, "", &workers) ||
        !serve_number("--otp-per-client-hour", "HUDONG_OTP_PER_CLIENT_HOUR", otp_s, 0, 1000000,
                      " (no cap)", &otp))
        return 2;
    hd_log_level lv;
    if (strcmp(level, "error") == 0)
        lv = HD_LOG_ERROR;
    else if (strcmp(level, "warn") == 0)
        lv = HD_LOG_WARN;
    else if (strcmp(level, "info") == 0)
        lv = HD_LOG_INFO;
    else if (strcmp(level, "debug") == 0)
        lv = HD_LOG_DEBUG;
    else {
        fprintf(stderr, "hudong serve: --log-level must be error, warn, info or debug\n");
        return 2;
    }
    /* block the stop signals in every thread; main waits for them below */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    hd_app a;
    if (hd_app_open(&a, db, test_clock, true)) return 1;
    hd_member_set_client_max(&a.d, (int)otp);
    hd_err err;
    if (demo) {
        if (hd_demo_fill(&a.d, 2000, 20260101u, stderr, &err)) {
            fprintf(stderr, "hudong serve: demo data: %s\n", err.msg);
            hd_app_close(&a);
            return 1;
        }
    }
    struct stat wst;
    hd_server_opts so = {.listen = listen,
                         .max_connections = (int)conns,
                         .workers = (int)workers,
                         .test_clock = test_clock,
                         .log = stderr,
                         .log_level = lv,
                         .web_root = stat(web, &wst) == 0 && S_ISDIR(wst.st_mode) ? web : NULL};
    hd_server *srv = hd_server_start(&a.d, &so, &err);
    if (!srv) {
        fprintf(stderr, "hudong serve: %s\n", err.msg);
        hd_app_close(&a);
        return 1;
    }
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(strrchr(listen, ':') - listen), listen);
    fprintf(stderr, "hudong %s serving on http://%s:%d (store: %s%s)\n", VERSION, host,
            hd_server_port(srv), strncmp(db, "postgres", 8) == 0 ? "postgres" : db,
            test_clock ? ", test clock" : "");
    fflush(stderr);
    sched sc = {&a.d, false};
    pthread_t sched_thread;
    bool sched_on = !test_clock && pthread_create(&sched_thread, NULL, scheduler_main, &sc) == 0;
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "hudong: %s received, finishing requests in flight\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    if (sched_on) {
        atomic_store(&sc.stop, true);
        pthread_join(sched_thread, NULL);
    }
    hd_server_stop(srv);
    hd_app_close(&a); /* flushes the write queue */
    fprintf(stderr, "hudong: stopped\n");
    return 0;
}

/* ---- apikey ---- */

static int cmd_apikey(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "create") != 0) {
        fputs("usage: hudong apikey create --name NAME [--scope AREA:read|AREA:write|*]... [--db "
              "DB]\n"
              "Prints the new key as the last line; only its hash is stored.\n"
              "AREA: customers, events, touchpoints, points, analytics, admin.\n"
              "With no --scope the key has every scope.\n",
              argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    const char *db = HD_CLI_DB(), *name = NULL;
    const char *scopes[32];
    int ns = 0;
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"name", required_argument, 0, 'n'},
                                         {"scope", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'n': name = optarg; break;
        case 's':
            if (ns == 32) {
                fprintf(stderr, "hudong apikey: at most 32 scopes\n");
                return 2;
            }
            scopes[ns++] = optarg;
            break;
        case 'h':
            puts("usage: hudong apikey create --name NAME [--scope S]... [--db DB]");
            return 0;
        default: return 2;
        }
    }
    if (!name) {
        fprintf(stderr, "hudong apikey create: --name is required\n");
        return 2;
    }
    hd_app a;
    if (hd_app_open(&a, db, false, true)) return 1;
    hd_err err;
    int64_t id;
    char *secret = NULL;
    hd_rc rc = hd_apikey_create(&a.d, name, scopes, ns, &id, &secret, &err);
    hd_app_close(&a);
    if (rc) {
        fprintf(stderr, "hudong apikey create: %s%s%s\n", err.field, err.field[0] ? ": " : "",
                err.msg);
        return rc == HD_EINVAL ? 2 : 1;
    }
    printf("created API key %lld '%s' (store only the key below; it is not shown again)\n%s\n",
           (long long)id, name, secret);
    free(secret);
    return 0;
}

/* ---- user ---- */

/* Reads a password: from the terminal without echo, or the first line of stdin. */
static bool read_password(char *buf, size_t cap) {
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fputs("password: ", stderr);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    bool ok = fgets(buf, (int)cap, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fputc('\n', stderr);
    }
    if (!ok) return false;
    buf[strcspn(buf, "\r\n")] = '\0';
    return true;
}

static int cmd_user(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "add") != 0) {
        bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;
        fputs(
            "usage: hudong user add --email E --role owner|admin|marketer|agent|analyst [--name N] "
            "[--db DB]\nAsks for the password on a terminal, or reads it from the first line of "
            "stdin (at least 10 characters).\n",
            help ? stdout : stderr);
        return help ? 0 : 2;
    }
    const char *db = HD_CLI_DB(), *email = NULL, *role = NULL, *name = "";
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'},   {"email", required_argument, 0, 'e'},
        {"role", required_argument, 0, 'r'}, {"name", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'e': email = optarg; break;
        case 'r': role = optarg; break;
        case 'n': name = optarg; break;
        case 'h': puts("usage: hudong user add --email E --role R [--name N] [--db DB]"); return 0;
        default: return 2;
        }
    }
    if (!email || !role) {
        fprintf(stderr, "hudong user add: --email and --role are required\n");
        return 2;
    }
    if (!hd_role_valid(role)) {
        fprintf(stderr,
                "hudong user add: --role must be owner, admin, marketer, agent or analyst\n");
        return 2;
    }
    char pw[256];
    if (!read_password(pw, sizeof pw)) {
        fprintf(stderr, "hudong user add: no password given\n");
        return 2;
    }
    hd_app a;
    if (hd_app_open(&a, db, false, true)) return 1;
    hd_err err;
    int64_t id;
    hd_rc rc = hd_user_add(&a.d, email, name, role, pw, &id, &err);
    sodium_memzero(pw, sizeof pw);
    hd_app_close(&a);
    if (rc) {
        fprintf(stderr, "hudong user add: %s%s%s\n", err.field, err.field[0] ? ": " : "", err.msg);
        return rc == HD_EINVAL || rc == HD_ECONFLICT ? 2 : 1;
    }
    printf("created user %lld %s (%s)\n", (long long)id, email, role);
    return 0;
}

/* ---- tick ---- */

static int cmd_tick(int argc, char **argv) {
    const char *db = HD_CLI_DB();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strncmp(argv[i], "--db=", 5) == 0)
            db = argv[i] + 5;
        else if (strcmp(argv[i], "--help") == 0) {
            puts("usage: hudong tick [--db DB]\nRuns every scheduled job once: point expiry, "
                 "pending-transfer timeouts, auction and group-buy closes.");
            return 0;
        } else {
            fprintf(stderr, "hudong tick: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    hd_app a;
    if (hd_app_open(&a, db, false, true)) return 1;
    hd_err err;
    hd_rc rc = hd_domain_run_jobs(&a.d, &err);
    hd_app_close(&a);
    if (rc) {
        fprintf(stderr, "hudong tick: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* ---- brand ---- */

static int cmd_brand(int argc, char **argv) {
    const char *db = HD_CLI_DB(), *offset = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strncmp(argv[i], "--db=", 5) == 0)
            db = argv[i] + 5;
        else if (strcmp(argv[i], "--utc-offset") == 0 && i + 1 < argc)
            offset = argv[++i];
        else if (strncmp(argv[i], "--utc-offset=", 13) == 0)
            offset = argv[i] + 13;
        else if (strcmp(argv[i], "--help") == 0) {
            puts("usage: hudong brand [--db DB] [--utc-offset +HH:MM]\n"
                 "Shows the brand's calendar, or sets it: the offset from UTC at which its days\n"
                 "and months begin - per-day and per-month caps and limits, month-end expiry,\n"
                 "instalment due dates, monthly specials, daily reports. +08:00 unless set.\n"
                 "Running servers pick a change up within a second or two (their next tick).");
            return 0;
        } else {
            fprintf(stderr, "hudong brand: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    int minutes = 0;
    if (offset && !hd_utc_offset_parse(offset, &minutes)) {
        fprintf(stderr,
                "hudong brand: --utc-offset must be like +08:00 or -05:30, within -14:00 and "
                "+14:00; got '%s'\n",
                offset);
        return 2;
    }
    hd_app a;
    if (hd_app_open(&a, db, false, true)) return 1;
    hd_err err;
    hd_rc rc = offset ? hd_brand_set_utc_offset(&a.d, minutes, &err) : HD_OK;
    char out[8];
    hd_utc_offset_format(hd_clock_utc_offset(a.clock), out);
    hd_app_close(&a);
    if (rc) {
        fprintf(stderr, "hudong brand: %s\n", err.msg);
        return 1;
    }
    printf("utc_offset %s\n", out);
    return 0;
}

/* ---- check ---- */

static int cmd_check(int argc, char **argv) {
    const char *db = HD_CLI_DB();
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strncmp(argv[i], "--db=", 5) == 0)
            db = argv[i] + 5;
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--help") == 0) {
            puts(
                "usage: hudong check [--db DB] [--json]\n"
                "Verifies every ledger invariant over the whole store: balances equal the sum\n"
                "of transfers, each currency sums to zero, no account beyond its limit, lots hold\n"
                "the positive balance. Exits 1 naming each violation.");
            return 0;
        } else {
            fprintf(stderr, "hudong check: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    hd_app a;
    if (hd_app_open(&a, db, false, true)) return 1;
    hd_err err;
    json_t *report = NULL;
    hd_rc rc = hd_ledger_check(&a.d, &report, &err);
    hd_app_close(&a);
    if (!report) {
        fprintf(stderr, "hudong check: %s\n", err.msg);
        return 1;
    }
    if (json) {
        char *s = json_dumps(report, JSON_INDENT(2));
        puts(s);
        free(s);
    } else {
        printf("checked %lld accounts, %lld transfers: %s\n",
               (long long)json_integer_value(json_object_get(report, "accounts")),
               (long long)json_integer_value(json_object_get(report, "transfers")),
               rc ? "VIOLATIONS" : "ok");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(report, "violations"), i, v)
            fprintf(stderr, "violation: %s\n", json_string_value(v));
    }
    json_decref(report);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    /* libsodium's random numbers are thread-safe only after this */
    if (sodium_init() < 0) {
        fputs("hudong: libsodium failed to initialise\n", stderr);
        return 1;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        puts("hudong " VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "apikey") == 0) return cmd_apikey(argc - 1, argv + 1);
    if (strcmp(cmd, "tick") == 0) return cmd_tick(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0) return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "brand") == 0) return cmd_brand(argc - 1, argv + 1);
    if (strcmp(cmd, "user") == 0) return cmd_user(argc - 1, argv + 1);
    if (strcmp(cmd, "demo") == 0) return hd_cli_demo(argc - 1, argv + 1);
    if (strcmp(cmd, "import") == 0) return hd_cli_import(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0) return hd_cli_export(argc - 1, argv + 1);
    if (strcmp(cmd, "analyze") == 0) {
        const char *what = argc > 2 ? argv[2] : "";
        if (strcmp(what, "clv") == 0 || strcmp(what, "rfm") == 0)
            return hd_cli_analyze_orders(argc - 2, argv + 2);
        if (strcmp(what, "rules") == 0 || strcmp(what, "itemsets") == 0)
            return hd_cli_analyze_baskets(argc - 2, argv + 2);
        FILE *f = strcmp(what, "--help") == 0 ? stdout : stderr;
        fputs("usage: hudong analyze clv|rfm|rules|itemsets [OPTIONS]  (on CSV files, no server)\n"
              "  clv       BG/NBD + Gamma-Gamma customer lifetime value from an order log\n"
              "  rfm       recency/frequency/monetary scores and segments, Pareto curve\n"
              "  rules     association rules (FP-growth) from baskets\n"
              "  itemsets  frequent itemsets from baskets\n"
              "'hudong analyze COMMAND --help' tells more.\n",
              f);
        return f == stdout ? 0 : 2;
    }
    fprintf(stderr, "hudong: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
