/* openapi_merge.c - build tool: merges the OpenAPI fragments in
 * src/api/openapi/ (one per module, so modules add endpoints without
 * touching a shared file) into the one document the server embeds.
 * Usage: openapi_merge FILE... > openapi.json. Objects merge key by key;
 * the same path and method defined twice is an error. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int merge(json_t *into, json_t *from, const char *where) {
    const char *k;
    json_t *v;
    json_object_foreach(from, k, v) {
        json_t *have = json_object_get(into, k);
        if (json_is_object(have) && json_is_object(v)) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s/%s", where, k);
            if (merge(have, v, sub)) return 1;
        } else if (have && !json_equal(have, v)) {
            fprintf(stderr, "openapi_merge: %s/%s is defined twice, differently\n", where, k);
            return 1;
        } else {
            json_object_set(into, k, v);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    json_t *doc = json_object();
    for (int i = 1; i < argc; i++) {
        json_error_t e;
        json_t *f = json_load_file(argv[i], JSON_REJECT_DUPLICATES, &e);
        if (!f) {
            fprintf(stderr, "openapi_merge: %s:%d:%d: %s\n", argv[i], e.line, e.column, e.text);
            return 1;
        }
        if (merge(doc, f, "")) return 1;
        json_decref(f);
    }
    if (json_dumpf(doc, stdout, JSON_INDENT(1)) != 0) return 1;
    putchar('\n');
    json_decref(doc);
    return 0;
}
