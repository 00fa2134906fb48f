/* test_openapi.c - the OpenAPI document and the route table agree: every
 * route the server registers is documented, and every documented operation
 * is served. */
#include <ctype.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "api/api.h"

static void lower(const char *s, char *out) {
    while (*s) *out++ = (char)tolower((unsigned char)*s++);
    *out = '\0';
}

static void test_routes_match_document(void **state) {
    (void)state;
    size_t n;
    const char *doc = hd_api_openapi(&n);
    json_error_t je;
    json_t *d = json_loadb(doc, n, 0, &je);
    if (!d) fail_msg("openapi.json does not parse: line %d: %s", je.line, je.text);
    assert_string_equal(json_string_value(json_object_get(d, "openapi")), "3.1.0");
    json_t *paths = json_object_get(d, "paths");
    assert_non_null(paths);
    int routes = hd_api_route_count();
    for (int i = 0; i < routes; i++) {
        char m[16];
        lower(hd_api_route_method(i), m);
        json_t *p = json_object_get(paths, hd_api_route_path(i));
        if (!p || !json_object_get(p, m))
            fail_msg("route %s %s is not in openapi.json", hd_api_route_method(i),
                     hd_api_route_path(i));
    }
    const char *path;
    json_t *item;
    int documented = 0;
    json_object_foreach(paths, path, item) {
        const char *method;
        json_t *opv;
        json_object_foreach(item, method, opv) {
            documented++;
            bool found = false;
            for (int i = 0; i < routes; i++) {
                char m[16];
                lower(hd_api_route_method(i), m);
                if (strcmp(m, method) == 0 && strcmp(hd_api_route_path(i), path) == 0) found = true;
            }
            if (!found)
                fail_msg("openapi.json documents %s %s, which no route serves", method, path);
            if (!json_object_get(opv, "responses"))
                fail_msg("%s %s has no responses", method, path);
        }
    }
    assert_int_equal(documented, routes);
    json_decref(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_routes_match_document)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
