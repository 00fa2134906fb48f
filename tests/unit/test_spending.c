/* test_spending.c - the pure parts of the spending modules: masked display
 * names (auctions, group buys, trials) and the trial lottery (seed parsing,
 * splitmix64, the shuffle) that anyone must be able to re-draw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "domain/auctions.h"
#include "domain/trials.h"

static void test_masks(void **state) {
    (void)state;
    char m[64];
    hd_mask_display("张伟", "+8613800138000", m, sizeof m);
    assert_string_equal(m, "张**");
    hd_mask_display("欧阳娜娜", NULL, m, sizeof m);
    assert_string_equal(m, "欧**");
    hd_mask_display("Alice", NULL, m, sizeof m);
    assert_string_equal(m, "A**");
    hd_mask_display("𠮷野家", NULL, m, sizeof m); /* a 4-byte character stays whole */
    assert_string_equal(m, "𠮷**");
    hd_mask_display("", "+8613800138000", m, sizeof m);
    assert_string_equal(m, "138****8000");
    hd_mask_display(NULL, "+14155550100", m, sizeof m);
    assert_string_equal(m, "141****0100");
    hd_mask_display(NULL, "+861234", m, sizeof m);
    assert_string_equal(m, "****34");
    hd_mask_display(NULL, NULL, m, sizeof m);
    assert_string_equal(m, "***");
    char tiny[4];
    hd_mask_display("张伟", NULL, tiny, sizeof tiny); /* truncated, still terminated */
    assert_true(strlen(tiny) < sizeof tiny);
}

static void test_seed_and_prng(void **state) {
    (void)state;
    uint64_t st;
    assert_false(hd_trial_seed_state("abc", &st));
    assert_false(hd_trial_seed_state("0123456789abcdef0123456789abcdeg", &st));
    assert_false(hd_trial_seed_state(NULL, &st));
    /* equal halves fold to 0; splitmix64 from 0 is a published sequence */
    assert_true(hd_trial_seed_state("0123456789abcdef0123456789ABCDEF", &st));
    assert_int_equal(st, 0);
    assert_true(hd_trial_next(&st) == 0xE220A8397B1DCDAFull);
    assert_true(hd_trial_next(&st) == 0x6E789E6AA1B965F4ull);
    assert_true(hd_trial_seed_state("00000000000000010000000000000002", &st));
    assert_true(st == 3);
}

static void test_shuffle(void **state) {
    (void)state;
    enum { N = 50 };
    int64_t a[N], b[N];
    for (int i = 0; i < N; i++) a[i] = b[i] = 1000 + i;
    const char *seed = "9f86d081884c7d659a2feaa0c55ad015";
    hd_trial_shuffle(a, N, seed);
    hd_trial_shuffle(b, N, seed);
    assert_memory_equal(a, b, sizeof a); /* the same seed, the same draw */
    int seen[N] = {0}, moved = 0;
    for (int i = 0; i < N; i++) {
        assert_true(a[i] >= 1000 && a[i] < 1000 + N);
        seen[a[i] - 1000]++;
        if (a[i] != 1000 + i) moved++;
    }
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1); /* a permutation */
    assert_true(moved > N / 2);
    for (int i = 0; i < N; i++) b[i] = 1000 + i;
    hd_trial_shuffle(b, N, "9f86d081884c7d659a2feaa0c55ad016");
    assert_true(memcmp(a, b, sizeof a) != 0); /* another seed, another draw */
    int64_t one = 7;
    hd_trial_shuffle(&one, 1, seed);
    assert_int_equal(one, 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_seed_and_prng),
        cmocka_unit_test(test_shuffle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
