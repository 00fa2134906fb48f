/* test_console_auth.c - console users over HTTP: sign-in with a session
 * cookie and a CSRF token, lockout after five failures, session expiry,
 * what each role may do (a route x role table), masked phones for agents
 * (revealing one is audited), API keys made from the console, the audit log and
 * its line written before each change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "api/harness.h"

static ht_server S;

typedef struct session {
    char cookie[160]; /* "Cookie: hd_session=…" */
    char csrf[80];    /* "X-CSRF-Token: …" */
} session;

static void add_user(const char *email, const char *role, const char *password) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "printf '%%s\\n' '%s' | %s user add --email %s --role %s --db '%s' >/dev/null",
             password, getenv("HUDONG_BIN") ? getenv("HUDONG_BIN") : "build/asan/hudong", email,
             role, S.db);
    int rc = system(cmd);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) fail_msg("user add %s failed", email);
}

static ht_resp login(const char *email, const char *password) {
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    return ht_req(&S, "POST", "/v1/auth/login", body, "", NULL);
}

static session sign_in(const char *email) {
    ht_resp r = login(email, "correct horse battery");
    if (r.status != 200) fail_msg("login %s: %ld %s", email, r.status, r.body);
    session s;
    /* Set-Cookie: hd_session=TOKEN; Path=/; HttpOnly; SameSite=Strict; ... */
    assert_non_null(strstr(r.set_cookie, "HttpOnly"));
    assert_non_null(strstr(r.set_cookie, "SameSite=Strict"));
    size_t n = strcspn(r.set_cookie, ";");
    snprintf(s.cookie, sizeof s.cookie, "Cookie: %.*s", (int)n, r.set_cookie);
    snprintf(s.csrf, sizeof s.csrf, "X-CSRF-Token: %s", ht_str(r.json, "csrf_token"));
    ht_free(&r);
    return s;
}

/* A request as a console user (with the CSRF token unless told not to). */
static ht_resp as(const session *s, const char *method, const char *path, const char *body,
                  bool csrf) {
    const char *h[] = {s->cookie, csrf ? s->csrf : NULL, NULL};
    return ht_req(&S, method, path, body, "", h);
}

static int setup(void **state) {
    (void)state;
    ht_start(&S, true);
    ht_resp r = ht_post(&S, "/v1/test/clock", "{\"now\":\"2026-04-01T09:00:00+08:00\"}");
    ht_free(&r);
    static const char *const roles[] = {"owner", "admin", "marketer", "agent", "analyst"};
    for (int i = 0; i < 5; i++) {
        char email[64];
        snprintf(email, sizeof email, "%s@brand.cn", roles[i]);
        add_user(email, roles[i], "correct horse battery");
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ht_stop(&S, false);
    return 0;
}

static void test_login_cookie_and_csrf(void **state) {
    (void)state;
    session s = sign_in("marketer@brand.cn");
    ht_resp r = as(&s, "GET", "/v1/auth/me", NULL, false);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "role"), "marketer");
    ht_free(&r);
    /* a change without the CSRF token is refused and writes nothing */
    r = as(&s, "POST", "/v1/customers", "{\"name\":\"无令牌\"}", false);
    ht_expect_problem(&r, 403, "X-CSRF-Token");
    ht_free(&r);
    r = ht_get(&S, "/v1/customers?q=%E6%97%A0%E4%BB%A4%E7%89%8C"); /* 无令牌 */
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
    ht_free(&r);
    r = as(&s, "POST", "/v1/customers", "{\"name\":\"有令牌\"}", true);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    /* a wrong token is as bad as none */
    const char *h[] = {s.cookie, "X-CSRF-Token: nope", NULL};
    r = ht_req(&S, "POST", "/v1/customers", "{\"name\":\"x\"}", "", h);
    ht_expect_problem(&r, 403, "X-CSRF-Token");
    ht_free(&r);
    r = as(&s, "POST", "/v1/auth/logout", NULL, true);
    assert_int_equal(r.status, 204);
    assert_non_null(strstr(r.set_cookie, "Max-Age=0"));
    ht_free(&r);
    r = as(&s, "GET", "/v1/auth/me", NULL, false);
    ht_expect_problem(&r, 401, "Cookie");
    ht_free(&r);
}

static void test_lockout_and_expiry(void **state) {
    (void)state;
    add_user("locked@brand.cn", "analyst", "correct horse battery");
    for (int i = 1; i <= 5; i++) {
        ht_resp r = login("locked@brand.cn", "wrong password!");
        ht_expect_problem(&r, i < 5 ? 401 : 409, NULL);
        ht_free(&r);
    }
    /* locked: even the right password is refused for 15 minutes */
    ht_resp r = login("locked@brand.cn", "correct horse battery");
    ht_expect_problem(&r, 409, "email");
    assert_non_null(strstr(ht_str(r.json, "detail"), "locked until"));
    ht_free(&r);
    r = ht_post(&S, "/v1/test/clock", "{\"advance_s\":901}");
    ht_free(&r);
    session s = sign_in("locked@brand.cn");
    r = as(&s, "GET", "/v1/auth/me", NULL, false);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    /* two idle hours end the session */
    r = ht_post(&S, "/v1/test/clock", "{\"advance_s\":7300}");
    ht_free(&r);
    r = as(&s, "GET", "/v1/auth/me", NULL, false);
    ht_expect_problem(&r, 401, "Cookie");
    assert_non_null(strstr(ht_str(r.json, "detail"), "expired"));
    ht_free(&r);
    r = login("nobody@brand.cn", "whatever password");
    ht_expect_problem(&r, 401, NULL);
    ht_free(&r);
}

/* route x role: 1 = allowed (anything but 401/403), 0 = 403 */
static void test_route_role_table(void **state) {
    (void)state;
    static const char *const roles[] = {"owner", "admin", "marketer", "agent", "analyst"};
    static const struct {
        const char *method, *path, *body;
        int allowed[5]; /* owner admin marketer agent analyst */
    } table[] = {
        {"GET", "/v1/customers", NULL, {1, 1, 1, 1, 1}},
        {"POST", "/v1/customers", "{\"name\":\"t\"}", {1, 1, 1, 1, 0}},
        {"POST",
         "/v1/events",
         "{\"type\":\"x\",\"customer\":{\"phone\":\"13500000001\"}}",
         {1, 1, 1, 1, 0}},
        {"GET", "/v1/rules", NULL, {1, 1, 1, 1, 1}},
        {"POST",
         "/v1/rules",
         "{\"name\":\"r\",\"event_type\":\"x\",\"formula\":\"1\"}",
         {1, 1, 1, 0, 0}},
        {"PATCH", "/v1/program", "{\"tier_window_months\":12}", {1, 1, 1, 0, 0}},
        {"GET", "/v1/touchpoints", NULL, {1, 1, 1, 1, 1}},
        {"POST",
         "/v1/touchpoints",
         "{\"code\":\"c%d\",\"name\":\"n\",\"channel\":\"web\",\"purpose\":\"service\"}",
         {1, 1, 1, 0, 0}},
        {"GET", "/v1/users", NULL, {1, 1, 0, 0, 0}},
        {"GET", "/v1/apikeys", NULL, {1, 1, 0, 0, 0}},
        {"GET", "/v1/audit", NULL, {1, 1, 0, 0, 0}},
        {"POST", "/v1/apikeys", "{\"name\":\"k\"}", {1, 1, 0, 0, 0}},
    };
    for (int ro = 0; ro < 5; ro++) {
        char email[64];
        snprintf(email, sizeof email, "%s@brand.cn", roles[ro]);
        session s = sign_in(email);
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
            char body[300] = "";
            if (table[i].body) snprintf(body, sizeof body, table[i].body, ro * 100 + (int)i);
            ht_resp r = as(&s, table[i].method, table[i].path, table[i].body ? body : NULL, true);
            bool forbidden = r.status == 403 || r.status == 401;
            if (forbidden == (bool)table[i].allowed[ro])
                fail_msg("%s %s as %s: got %ld %s", table[i].method, table[i].path, roles[ro],
                         r.status, r.body);
            ht_free(&r);
        }
    }
}

static void test_agent_masks_and_audit(void **state) {
    (void)state;
    ht_resp r = ht_post(&S, "/v1/customers", "{\"name\":\"王芳\",\"phone\":\"13800138000\"}");
    char path[96];
    snprintf(path, sizeof path, "/v1/customers/%s", ht_str(r.json, "id"));
    ht_free(&r);
    session agent = sign_in("agent@brand.cn");
    r = as(&agent, "GET", path, NULL, false);
    assert_string_equal(ht_str(r.json, "phone"), "138****8000");
    ht_free(&r);
    r = as(&agent, "GET", "/v1/customers?phone=13800138000", NULL, false);
    assert_string_equal(ht_str(json_array_get(json_object_get(r.json, "data"), 0), "phone"),
                        "138****8000");
    ht_free(&r);
    char reveal[128];
    snprintf(reveal, sizeof reveal, "%s?reveal=1", path);
    r = as(&agent, "GET", reveal, NULL, false);
    assert_string_equal(ht_str(r.json, "phone"), "+8613800138000");
    ht_free(&r);
    /* a marketer sees numbers */
    session m = sign_in("marketer@brand.cn");
    r = as(&m, "GET", path, NULL, false);
    assert_string_equal(ht_str(r.json, "phone"), "+8613800138000");
    ht_free(&r);
    /* the marketer changes the customer: the audit has before and after */
    r = as(&m, "PATCH", path, "{\"city\":\"苏州\"}", true);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    session admin = sign_in("admin@brand.cn");
    char q[200];
    snprintf(q, sizeof q, "/v1/audit?path_prefix=%s", path);
    r = as(&admin, "GET", q, NULL, false);
    assert_int_equal(r.status, 200);
    json_t *data = json_object_get(r.json, "data");
    bool saw_patch = false, saw_reveal = false;
    size_t i;
    json_t *e;
    json_array_foreach(data, i, e) {
        const char *action = ht_str(e, "action");
        if (strcmp(action, "PATCH") == 0) {
            saw_patch = true;
            assert_string_equal(ht_str(json_object_get(e, "actor"), "name"), "marketer@brand.cn");
            assert_string_equal(ht_str(json_object_get(e, "before"), "city"), "");
            assert_string_equal(ht_str(json_object_get(e, "after"), "city"), "苏州");
        }
        if (strcmp(action, "REVEAL") == 0) {
            saw_reveal = true;
            assert_string_equal(ht_str(json_object_get(e, "actor"), "name"), "agent@brand.cn");
        }
    }
    assert_true(saw_patch);
    assert_true(saw_reveal);
    ht_free(&r);
    /* API keys from the console: the secret once, never again */
    r = as(&admin, "POST", "/v1/apikeys", "{\"name\":\"shop\",\"scopes\":[\"events:write\"]}",
           true);
    assert_int_equal(r.status, 201);
    char secret[128], kid[32];
    snprintf(secret, sizeof secret, "%s", ht_str(r.json, "secret"));
    snprintf(kid, sizeof kid, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    r = as(&admin, "GET", "/v1/apikeys", NULL, false);
    assert_null(strstr(r.body, secret));
    ht_free(&r);
    r = ht_req(&S, "POST", "/v1/events",
               "{\"type\":\"x\",\"customer\":{\"phone\":\"13500000009\"}}", secret, NULL);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    char kp[64];
    snprintf(kp, sizeof kp, "/v1/apikeys/%s", kid);
    r = as(&admin, "DELETE", kp, NULL, true);
    assert_int_equal(r.status, 204);
    ht_free(&r);
    /* the audit of the key's creation keeps no secret */
    r = as(&admin, "GET", "/v1/audit?path_prefix=/v1/apikeys", NULL, false);
    assert_null(strstr(r.body, secret));
    ht_free(&r);
    /* an analyst reads but cannot see the audit */
    session an = sign_in("analyst@brand.cn");
    r = as(&an, "GET", "/v1/audit", NULL, false);
    ht_expect_problem(&r, 403, "role");
    ht_free(&r);
}

/* The audit line of a change is written before the change: a server that
 * dies between the change and its outcome leaves the line (status 0, with
 * what the resource was before); a refused request leaves none; a server
 * that cannot write the line makes no change. Faults: the ASan build. */
static json_t *audit_lines(const ht_server *s, const char *path) {
    char q[200];
    snprintf(q, sizeof q, "/v1/audit?path_prefix=%s", path);
    ht_resp r = ht_get(s, q);
    assert_int_equal(r.status, 200);
    json_t *data = json_incref(json_object_get(r.json, "data"));
    ht_free(&r);
    return data;
}

static void with_fault(ht_server *s, const ht_server *same, const char *fault) {
    setenv("HUDONG_FAULT", fault, 1);
    ht_start_on(s, same, false);
    unsetenv("HUDONG_FAULT");
}

static void test_audit_line_before_the_change(void **state) {
    (void)state;
    ht_server a;
    ht_start(&a, false);
    ht_resp r = ht_post(&a, "/v1/customers", "{\"name\":\"赵敏\",\"city\":\"杭州\"}");
    assert_int_equal(r.status, 201);
    char path[96];
    snprintf(path, sizeof path, "/v1/customers/%s", ht_str(r.json, "id"));
    ht_free(&r);
    /* refused: nothing changed, no line */
    r = ht_patch(&a, path, "{\"city\":42}");
    ht_expect_problem(&r, 422, "city");
    ht_free(&r);
    json_t *lines = audit_lines(&a, path);
    assert_int_equal(json_array_size(lines), 0);
    json_decref(lines);
    ht_stop(&a, true);

    /* the audit log cannot be written: 503, and the customer is unchanged */
    ht_server b;
    with_fault(&b, &a, "audit-begin");
    r = ht_patch(&b, path, "{\"city\":\"苏州\"}");
    ht_expect_problem(&r, 503, NULL);
    ht_free(&r);
    r = ht_get(&b, path);
    assert_string_equal(ht_str(r.json, "city"), "杭州");
    ht_free(&r);
    ht_stop(&b, true);

    /* the server dies after the change, before its outcome is written */
    ht_server c;
    with_fault(&c, &a, "crash-before-audit-outcome");
    r = ht_req_soft(&c, "PATCH", path, "{\"city\":\"苏州\"}");
    assert_int_equal(r.status, 0); /* no answer: the process is gone */
    ht_free(&r);
    ht_kill(&c);
    ht_server d;
    ht_start_on(&d, &a, false);
    r = ht_get(&d, path);
    assert_string_equal(ht_str(r.json, "city"), "苏州");
    ht_free(&r);
    lines = audit_lines(&d, path);
    assert_int_equal(json_array_size(lines), 1);
    json_t *e = json_array_get(lines, 0);
    assert_string_equal(ht_str(e, "action"), "PATCH");
    assert_int_equal(ht_int(e, "status"), 0);
    assert_string_equal(ht_str(json_object_get(e, "before"), "city"), "杭州");
    assert_true(json_is_null(json_object_get(e, "after")));
    json_decref(lines);
    /* a create goes through the idempotent write, which completes its line
     * in the transaction that makes the change: dying after it loses nothing */
    ht_server c2;
    with_fault(&c2, &d, "crash-before-audit-outcome");
    r = ht_req_soft(&c2, "POST", "/v1/customers",
                    "{\"name\":\"周芷若\",\"phone\":\"13900001111\"}");
    assert_int_equal(r.status, 0);
    ht_free(&r);
    ht_kill(&c2);
    ht_stop(&d, true);
    ht_start_on(&d, &a, false);
    r = ht_get(&d, "/v1/customers?phone=13900001111");
    json_t *made = json_array_get(json_object_get(r.json, "data"), 0);
    assert_non_null(made);
    char made_id[32];
    snprintf(made_id, sizeof made_id, "%s", ht_str(made, "id"));
    ht_free(&r);
    lines = audit_lines(&d, "/v1/customers");
    bool found = false;
    for (size_t i = 0; i < json_array_size(lines); i++) {
        e = json_array_get(lines, i);
        if (strcmp(ht_str(e, "action"), "POST") != 0) continue;
        if (strcmp(ht_str(json_object_get(e, "after"), "id"), made_id) != 0) continue;
        assert_int_equal(ht_int(e, "status"), 201);
        found = true;
    }
    assert_true(found);
    json_decref(lines);
    /* and a change that completes has its outcome */
    r = ht_patch(&d, path, "{\"city\":\"宁波\"}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    lines = audit_lines(&d, path);
    assert_int_equal(json_array_size(lines), 2);
    e = json_array_get(lines, 0); /* newest first */
    assert_int_equal(ht_int(e, "status"), 200);
    assert_string_equal(ht_str(json_object_get(e, "before"), "city"), "苏州");
    assert_string_equal(ht_str(json_object_get(e, "after"), "city"), "宁波");
    json_decref(lines);
    ht_stop(&d, false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_cookie_and_csrf),
        cmocka_unit_test(test_lockout_and_expiry),
        cmocka_unit_test(test_route_role_table),
        cmocka_unit_test(test_agent_masks_and_audit),
        cmocka_unit_test(test_audit_line_before_the_change),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, setup, teardown);
}
