/* test_text.c - src/text: UTF-8 validation and length, full-width folding,
 * phone and e-mail normalisation, and the CSV reader (quoting, line numbers,
 * BOM, CRLF, GBK detection, limits, recovery after a bad line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"

/* ---- UTF-8 ---- */

#define VALID(lit)   assert_true(hd_utf8_valid(lit, sizeof(lit) - 1))
#define INVALID(lit) assert_false(hd_utf8_valid(lit, sizeof(lit) - 1))

static void test_utf8_valid_accepts(void **state) {
    (void)state;
    VALID("");
    VALID("hello, world");
    VALID("\x00"); /* NUL is a code point; the length is explicit */
    VALID("张三");
    VALID("杭州市西湖区");
    VALID("\xE5\xBC\xA0\xE4\xB8\x89"); /* 张三 spelled out */
    VALID("😀");
    VALID("\xF0\x9F\x98\x80");
    VALID("a😀b张c");
    VALID("\xC2\x80");         /* U+0080, smallest two-byte */
    VALID("\xDF\xBF");         /* U+07FF */
    VALID("\xE0\xA0\x80");     /* U+0800, smallest three-byte */
    VALID("\xED\x9F\xBF");     /* U+D7FF, just below the surrogates */
    VALID("\xEE\x80\x80");     /* U+E000, just above them */
    VALID("\xEF\xBF\xBF");     /* U+FFFF */
    VALID("\xF0\x90\x80\x80"); /* U+10000, smallest four-byte */
    VALID("\xF4\x8F\xBF\xBF"); /* U+10FFFF, the last code point */
    VALID("\xEF\xBB\xBF");     /* a BOM is a valid character */
}

static void test_utf8_valid_rejects(void **state) {
    (void)state;
    /* overlong encodings */
    INVALID("\xC0\x80");
    INVALID("\xC0\xAF");
    INVALID("\xC1\xBF");
    INVALID("\xE0\x80\x80");
    INVALID("\xE0\x80\xAF");
    INVALID("\xE0\x9F\xBF");
    INVALID("\xF0\x80\x80\x80");
    INVALID("\xF0\x8F\xBF\xBF");
    /* UTF-16 surrogates */
    INVALID("\xED\xA0\x80");             /* U+D800 */
    INVALID("\xED\xAD\xBF");             /* U+DB7F */
    INVALID("\xED\xB0\x80");             /* U+DC00 */
    INVALID("\xED\xBF\xBF");             /* U+DFFF */
    INVALID("\xED\xA0\xBD\xED\xB8\x80"); /* CESU-8 pair for U+1F600 */
    /* beyond U+10FFFF */
    INVALID("\xF4\x90\x80\x80");
    INVALID("\xF5\x80\x80\x80");
    INVALID("\xF7\xBF\xBF\xBF");
    INVALID("\xF8\x88\x80\x80\x80");
    INVALID("\xFC\x84\x80\x80\x80\x80");
    /* bytes that never appear */
    INVALID("\xFE");
    INVALID("\xFF");
    INVALID("a\xFF"
            "b");
    /* lone continuation bytes */
    INVALID("\x80");
    INVALID("\xBF");
    INVALID("abc\x80");
    /* truncated sequences, at the end and before ASCII */
    INVALID("\xC3");
    INVALID("\xE5");
    INVALID("\xE5\xBC");
    INVALID("\xF0\x9F\x98");
    INVALID("\xF0\x9F");
    INVALID("\xE5\xBC"
            "A");
    INVALID("\xF0\x9F\x98"
            "A");
    INVALID("张\xE4\xB8");
    /* a valid string cut short by its length */
    assert_false(hd_utf8_valid("张", 2));
    assert_false(hd_utf8_valid("😀", 3));
    assert_true(hd_utf8_valid("张三", 3));
    assert_false(hd_utf8_valid("张三", 4));
    /* GBK "张三" */
    INVALID("\xD5\xC5\xC8\xFD");
}

static void test_utf8_len(void **state) {
    (void)state;
    assert_int_equal(hd_utf8_len("", 0), 0);
    assert_int_equal(hd_utf8_len("abc", 3), 3);
    assert_int_equal(hd_utf8_len("张三", strlen("张三")), 2);
    assert_int_equal(hd_utf8_len("杭州市西湖区", strlen("杭州市西湖区")), 6);
    assert_int_equal(hd_utf8_len("a😀b", strlen("a😀b")), 3);
    assert_int_equal(hd_utf8_len("\xC2\x80\xDF\xBF", 4), 2);
    assert_int_equal(hd_utf8_len("\xF4\x8F\xBF\xBF", 4), 1);
    assert_int_equal(hd_utf8_len("a\0b", 3), 3);
    assert_int_equal(hd_utf8_len("张三", 3), 1); /* only the bytes given count */
}

/* ---- full-width folding ---- */

static void fold_is(const char *in, const char *want) {
    char out[256];
    size_t n = strlen(in);
    assert_true(n < sizeof out);
    size_t got = hd_text_fold_width(in, n, out);
    assert_string_equal(out, want);
    assert_int_equal(got, strlen(want));
    assert_true(got <= n); /* folding never grows */
}

static void test_fold_width(void **state) {
    (void)state;
    fold_is("", "");
    fold_is("plain ascii 123", "plain ascii 123");
    fold_is("１２３４５６７８９０", "1234567890");
    fold_is("ＡＢＣＸＹＺ", "ABCXYZ");
    fold_is("ａｂｃｘｙｚ", "abcxyz");
    fold_is("！", "!"); /* U+FF01, the first */
    fold_is("～", "~"); /* U+FF5E, the last */
    fold_is("＠", "@"); /* U+FF20 */
    fold_is("｀", "`"); /* U+FF40, first of the EF BD row */
    fold_is("＋（）－．，；：", "+()-.,;:");
    fold_is("＂＃＄％＆＇＊／＜＝＞？［＼］＾＿｛｜｝", "\"#$%&'*/<=>?[\\]^_{|}");
    fold_is("\xE3\x80\x80", " "); /* ideographic space */
    fold_is("张\xE3\x80\x80三", "张 三");
    fold_is("电话：１３８\xE3\x80\x80００１３\xE3\x80\x80８０００", "电话:138 0013 8000");
    fold_is("张三，你好。", "张三,你好。"); /* U+3002 is not in the block */
    /* neighbours of the block stay as they are */
    fold_is("\xEF\xBC\x80", "\xEF\xBC\x80"); /* U+FF00 */
    fold_is("\xEF\xBD\x9F", "\xEF\xBD\x9F"); /* U+FF5F ｟ */
    fold_is("\xEF\xBD\xA1", "\xEF\xBD\xA1"); /* U+FF61 halfwidth ideographic full stop */
    fold_is("\xE3\x80\x81", "\xE3\x80\x81"); /* U+3001 、 */
    /* broken sequences are copied, not folded */
    fold_is("\xEF\xBC", "\xEF\xBC");
    fold_is("a\xEF", "a\xEF");
    fold_is("\xE3\x80", "\xE3\x80");
    /* EF BC then an ASCII byte is broken UTF-8: folding it would swallow the
     * 'A' and turn invalid input into a valid '!' */
    fold_is("\xEF\xBC"
            "A",
            "\xEF\xBC"
            "A");
    fold_is("\xEF\xBD"
            "1x",
            "\xEF\xBD"
            "1x");
}

static void test_fold_width_explicit_length(void **state) {
    (void)state;
    char out[16];
    /* only the first n bytes are read; a sequence cut by n is copied */
    assert_int_equal(hd_text_fold_width("１２", 3, out), 1);
    assert_string_equal(out, "1");
    assert_int_equal(hd_text_fold_width("１２", 5, out), 3);
    assert_memory_equal(out, "1\xEF\xBC", 4);
    assert_int_equal(hd_text_fold_width("a\0b", 3, out), 3);
    assert_memory_equal(out, "a\0b", 4);
}

/* ---- phone ---- */

static void phone_ok(const char *in, const char *want) {
    char out[20];
    hd_err e;
    hd_err_clear(&e);
    hd_rc rc = hd_phone_normalize(in, out, &e);
    if (rc != HD_OK) fprintf(stderr, "phone '%s': %s: %s\n", in, e.field, e.msg);
    assert_int_equal(rc, HD_OK);
    assert_string_equal(out, want);
    /* what comes out goes back in unchanged */
    char again[20];
    rc = hd_phone_normalize(out, again, &e);
    if (rc != HD_OK) fprintf(stderr, "phone '%s' again: %s\n", out, e.msg);
    assert_int_equal(rc, HD_OK);
    assert_string_equal(again, want);
}

static void phone_bad(const char *in, const char *msg_part) {
    char out[20];
    hd_err e;
    hd_err_clear(&e);
    assert_int_equal(hd_phone_normalize(in, out, &e), HD_EINVAL);
    assert_int_equal(e.rc, HD_EINVAL);
    assert_string_equal(e.field, "phone");
    assert_true(strlen(e.msg) > 0);
    if (!strstr(e.msg, msg_part))
        fprintf(stderr, "phone '%s': message '%s' lacks '%s'\n", in, e.msg, msg_part);
    assert_non_null(strstr(e.msg, msg_part));
    assert_true(hd_utf8_valid(e.msg, strlen(e.msg))); /* it goes into JSON */
}

static void test_phone_accepts(void **state) {
    (void)state;
    phone_ok("13800138000", "+8613800138000");
    phone_ok("138 0013 8000", "+8613800138000");
    phone_ok("138-0013-8000", "+8613800138000");
    phone_ok("+86-138-0013-8000", "+8613800138000");
    phone_ok("+86 138 0013 8000", "+8613800138000");
    phone_ok("(+86) 138.0013.8000", "+8613800138000");
    phone_ok("+86(138)00138000", "+8613800138000");
    phone_ok("１３８００１３８０００", "+8613800138000");
    phone_ok("＋８６ １３８ ００１３ ８０００", "+8613800138000");
    phone_ok("（＋８６）１３８－００１３－８０００", "+8613800138000");
    phone_ok("１３８\xE3\x80\x80００１３\xE3\x80\x80８０００", "+8613800138000");
    phone_ok("0086 13800138000", "+8613800138000");
    phone_ok("008613800138000", "+8613800138000");
    phone_ok("\t13800138000", "+8613800138000");
    phone_ok("19912345678", "+8619912345678");
    /* landlines with the trunk 0 */
    phone_ok("010-12345678", "+861012345678");
    phone_ok("(010) 1234 5678", "+861012345678");
    phone_ok("0571-88888888", "+8657188888888");
    phone_ok("021 6666 7777", "+862166667777");
    phone_ok("+86 10 1234 5678", "+861012345678"); /* Beijing in E.164: 10 digits */
    phone_ok("+86 010 1234 5678", "+861012345678");
    phone_ok("0086 010 12345678", "+861012345678");
    phone_ok("+86 571 8888 8888", "+8657188888888");
    /* a mobile dialled with a leading 0 */
    phone_ok("013800138000", "+8613800138000");
    /* elsewhere */
    phone_ok("+1 415 555 2671", "+14155552671");
    phone_ok("+1 (415) 555-2671", "+14155552671");
    phone_ok("001 415 555 2671", "+14155552671");
    phone_ok("+44 20 7946 0958", "+442079460958");
    phone_ok("+852 2123 4567", "+85221234567");
    phone_ok("+12345678", "+12345678");               /* 8 digits, the fewest */
    phone_ok("+123456789012345", "+123456789012345"); /* 15, the most */
}

static void test_phone_rejects(void **state) {
    (void)state;
    phone_bad("", "empty");
    phone_bad(NULL, "empty");
    phone_bad("abc", "got 'a'");
    phone_bad("138-0013-800O", "got 'O'");
    phone_bad("tel:13800138000", "got 't'");
    phone_bad("138 0013 8000 ext 5", "got 'e'");
    phone_bad("13800138000#", "got '#'");
    phone_bad("+86+13800138000", "got '+'");
    phone_bad("138+00138000", "got '+'");
    phone_bad("12345", "not a mainland number");
    phone_bad("1380013800", "not a mainland number");      /* 10 digits */
    phone_bad("138001380001", "not a mainland number");    /* 12 digits */
    phone_bad("23800138000", "not a mainland number");     /* 11, not starting with 1 */
    phone_bad("4155552671", "not a mainland number");      /* US without +1 */
    phone_bad("+1234567", "8 to 15 digits");               /* too short */
    phone_bad("+1234567890123456", "8 to 15 digits");      /* 16 digits */
    phone_bad("+0123456789", "no leading 0");              /* +0 */
    phone_bad("00", "not a mainland number");              /* only the prefix */
    phone_bad("+", "8 to 15 digits");                      /* no digits */
    phone_bad("- -", "not a mainland number");             /* only separators */
    phone_bad("123456789012345678901", "too many digits"); /* 21 digits */
    phone_bad("+86 138 0013 800", "11 digits");            /* +86 mobile with 10 */
    phone_bad("+86 138 0013 80000", "11 digits");          /* and with 12 */
    phone_bad("0086 1380013800", "11 digits");
    phone_bad("01380013800", "11 digits");        /* 0 + a 10-digit "mobile" */
    phone_bad("+86 00 1234 5678", "too many 0s"); /* would come out as +86012345678 */
    phone_bad("+86012345678", "11 digits");
    phone_bad("0086038001", "9 to 11 digits"); /* came out as +8638001, too short for E.164 */
    phone_bad("+86 2345 6789", "9 to 11 digits");
    phone_bad("+86 571 8888 88888", "9 to 11 digits");
    char longest[128];
    memset(longest, '1', 65);
    longest[65] = '\0';
    phone_bad(longest, "too long");
    memset(longest, ' ', 70);
    memcpy(longest + 70, "13800138000", 12);
    phone_bad(longest, "too long");
}

static void test_phone_message_names_character(void **state) {
    (void)state;
    /* a Chinese character is quoted whole, not as a stray lead byte */
    phone_bad("电话13800138000", "got '电'");
    phone_bad("138😀", "got '😀'");
    phone_bad("138\x01", "byte 0x01");
    phone_bad("138\xFF", "byte 0xFF");
    phone_bad("138\xE7\x94", "byte 0xE7"); /* truncated: named as a byte */
    hd_err e;
    hd_err_clear(&e);
    char out[20];
    assert_int_equal(hd_phone_normalize("x", out, NULL), HD_EINVAL); /* err may be NULL */
}

/* ---- e-mail ---- */

static void email_ok(const char *in, const char *want) {
    char out[255];
    hd_err e;
    hd_err_clear(&e);
    hd_rc rc = hd_email_normalize(in, out, &e);
    if (rc != HD_OK) fprintf(stderr, "email '%s': %s\n", in, e.msg);
    assert_int_equal(rc, HD_OK);
    assert_string_equal(out, want);
    char again[255];
    assert_int_equal(hd_email_normalize(out, again, &e), HD_OK);
    assert_string_equal(again, want);
}

static void email_bad(const char *in, const char *msg_part) {
    char out[255];
    hd_err e;
    hd_err_clear(&e);
    assert_int_equal(hd_email_normalize(in, out, &e), HD_EINVAL);
    assert_string_equal(e.field, "email");
    if (!strstr(e.msg, msg_part))
        fprintf(stderr, "email '%s': message '%s' lacks '%s'\n", in, e.msg, msg_part);
    assert_non_null(strstr(e.msg, msg_part));
}

static void test_email_accepts(void **state) {
    (void)state;
    email_ok("alice@example.com", "alice@example.com");
    email_ok("  Alice@Example.COM  ", "alice@example.com");
    email_ok("\tBOB@EXAMPLE.CN\r\n", "bob@example.cn");
    email_ok("ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "alice@example.com");
    email_ok("alice＠example.com", "alice@example.com");
    email_ok("\xE3\x80\x80zhang.san@qq.com\xE3\x80\x80", "zhang.san@qq.com");
    email_ok("first.last+tag@mail.example.co.uk", "first.last+tag@mail.example.co.uk");
    email_ok("张三@例子.中国", "张三@例子.中国");       /* internationalised: kept as is */
    email_ok("ÉLODIE@example.fr", "Élodie@example.fr"); /* only ASCII is lower-cased */
    email_ok("a@b.c", "a@b.c");
    char big[300];
    /* 254 bytes: the most an address may have */
    memset(big, 'a', 242);
    memcpy(big + 242, "@example.com", 13);
    assert_int_equal(strlen(big), 254);
    email_ok(big, big);
}

static void test_email_rejects(void **state) {
    (void)state;
    email_bad("", "empty");
    email_bad(NULL, "empty");
    email_bad("alice.example.com", "@");
    email_bad("   ", "@");
    email_bad("a@b@example.com", "more than one @");
    email_bad("a＠b@example.com", "more than one @");
    email_bad("@example.com", "name before @");
    email_bad("alice@", "domain");
    email_bad("alice@localhost", "domain");
    email_bad("alice@.com", "domain");
    email_bad("alice@.example.com", "domain");
    email_bad("alice@example.", "domain");
    email_bad("alice@example..com", "domain");
    email_bad("ali ce@example.com", "not allowed");
    email_bad("alice@exa mple.com", "not allowed");
    email_bad("alice\xE3\x80\x80smith@example.com", "not allowed"); /* ideographic space */
    email_bad("a\tb@example.com", "not allowed");
    email_bad("alice,bob@example.com", "not allowed");
    email_bad("Alice <alice@example.com>", "not allowed");
    email_bad("\"alice\"@example.com", "not allowed");
    email_bad("alice@example.com;", "not allowed");
    email_bad("a\x7F@example.com", "not allowed");
    email_bad("alice\xFF@example.com", "UTF-8");
    email_bad("\xEF\xBC"
              "A@example.com",
              "UTF-8"); /* broken full-width sequence is not folded into '!' */
    char big[1024];
    memset(big, 'a', 243);
    memcpy(big + 243, "@example.com", 13); /* 255 bytes */
    email_bad(big, "254");
    memset(big, 'a', 1000);
    big[1000] = '\0';
    email_bad(big, "254");
    /* padding does not count, but 255 bytes of address inside it do */
    memset(big, ' ', 300);
    memset(big + 300, 'b', 243);
    memcpy(big + 543, "@example.com", 13);
    email_bad(big, "254");
}

/* ---- CSV ---- */

typedef struct csv_src {
    FILE *f;
    hd_csv *c;
} csv_src;

/* Opens a reader over n bytes of s (n may be 0). */
static csv_src csv_open_n(const char *s, size_t n, char sep) {
    csv_src r;
    r.f = n ? fmemopen((void *)s, n, "r") : fopen("/dev/null", "r");
    assert_non_null(r.f);
    r.c = hd_csv_new(r.f, sep);
    assert_non_null(r.c);
    return r;
}

static csv_src csv_open(const char *s) { return csv_open_n(s, strlen(s), ','); }

static void csv_close(csv_src *r) {
    hd_csv_free(r->c);
    fclose(r->f);
}

/* Reads the next record and checks it started on line and has exactly the
 * fields in want (NULL-terminated). */
static void expect_record_v(hd_csv *c, int64_t line, const char *const *want) {
    hd_err e;
    hd_err_clear(&e);
    int got = hd_csv_next(c, &e);
    if (got != 1) fprintf(stderr, "csv: %d %s\n", got, e.msg);
    assert_int_equal(got, 1);
    assert_int_equal(hd_csv_line(c), line);
    int i = 0;
    for (; want[i]; i++) {
        size_t len;
        const char *f = hd_csv_field(c, i, &len);
        assert_string_equal(f, want[i]);
        assert_int_equal(len, strlen(want[i]));
    }
    assert_int_equal(hd_csv_nfields(c), i);
}
#define EXPECT_RECORD(c, line, ...)                                                                \
    expect_record_v(c, line, (const char *const[]){__VA_ARGS__, NULL})

/* Reads the next record and checks it fails with rc and a message holding
 * each of parts (NULL-terminated). */
static void expect_error_v(hd_csv *c, hd_rc rc, const char *const *parts) {
    hd_err e;
    hd_err_clear(&e);
    assert_int_equal(hd_csv_next(c, &e), -1);
    assert_int_equal(e.rc, rc);
    for (int i = 0; parts[i]; i++) {
        if (!strstr(e.msg, parts[i])) fprintf(stderr, "csv: '%s' lacks '%s'\n", e.msg, parts[i]);
        assert_non_null(strstr(e.msg, parts[i]));
    }
}
#define EXPECT_ERROR(c, rc, ...) expect_error_v(c, rc, (const char *const[]){__VA_ARGS__, NULL})

static void expect_end(hd_csv *c) {
    hd_err e;
    hd_err_clear(&e);
    assert_int_equal(hd_csv_next(c, &e), 0);
    assert_int_equal(hd_csv_next(c, &e), 0); /* and stays there */
}

static void test_csv_simple(void **state) {
    (void)state;
    csv_src r = csv_open("name,city,phone\n张三,杭州,13800138000\n李四,上海,+8613900139000\n");
    EXPECT_RECORD(r.c, 1, "name", "city", "phone");
    EXPECT_RECORD(r.c, 2, "张三", "杭州", "13800138000");
    EXPECT_RECORD(r.c, 3, "李四", "上海", "+8613900139000");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_trailing_newline_or_not(void **state) {
    (void)state;
    csv_src r = csv_open("a,b\n1,2");
    EXPECT_RECORD(r.c, 1, "a", "b");
    EXPECT_RECORD(r.c, 2, "1", "2");
    expect_end(r.c);
    csv_close(&r);

    r = csv_open("a,b\n1,2\n");
    EXPECT_RECORD(r.c, 1, "a", "b");
    EXPECT_RECORD(r.c, 2, "1", "2");
    expect_end(r.c);
    csv_close(&r);

    r = csv_open("only");
    EXPECT_RECORD(r.c, 1, "only");
    expect_end(r.c);
    csv_close(&r);

    r = csv_open("\"quoted at the end\"");
    EXPECT_RECORD(r.c, 1, "quoted at the end");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_empty_input(void **state) {
    (void)state;
    csv_src r = csv_open_n("", 0, ',');
    expect_end(r.c);
    assert_int_equal(hd_csv_nfields(r.c), 0);
    assert_int_equal(hd_csv_offset(r.c), 0);
    csv_close(&r);
}

static void test_csv_empty_fields(void **state) {
    (void)state;
    csv_src r = csv_open(",,\na,,b\n\"\",x,\"\"\n,\n");
    EXPECT_RECORD(r.c, 1, "", "", "");
    EXPECT_RECORD(r.c, 2, "a", "", "b");
    EXPECT_RECORD(r.c, 3, "", "x", "");
    EXPECT_RECORD(r.c, 4, "", "");
    expect_end(r.c);
    csv_close(&r);

    /* a blank line is a record of one empty field */
    r = csv_open("a\n\nb\n");
    EXPECT_RECORD(r.c, 1, "a");
    EXPECT_RECORD(r.c, 2, "");
    EXPECT_RECORD(r.c, 3, "b");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_quotes(void **state) {
    (void)state;
    csv_src r = csv_open("\"a,b\",\"say \"\"hi\"\"\",\"\"\"\",plain\n"
                         "\"张三, 李四\",\"杭州\"\n");
    EXPECT_RECORD(r.c, 1, "a,b", "say \"hi\"", "\"", "plain");
    EXPECT_RECORD(r.c, 2, "张三, 李四", "杭州");
    expect_end(r.c);
    csv_close(&r);

    /* a quote inside an unquoted field is taken literally */
    r = csv_open("ab\"c,5\"\n");
    EXPECT_RECORD(r.c, 1, "ab\"c", "5\"");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_embedded_newlines(void **state) {
    (void)state;
    csv_src r = csv_open("id,note\n"
                         "1,\"line one\nline two\nline three\"\n"
                         "2,\"single\"\n"
                         "3,\"a\r\nb\"\n"
                         "4,end\n");
    EXPECT_RECORD(r.c, 1, "id", "note");
    EXPECT_RECORD(r.c, 2, "1", "line one\nline two\nline three");
    EXPECT_RECORD(r.c, 5, "2", "single"); /* the record after starts on line 5 */
    EXPECT_RECORD(r.c, 6, "3", "a\r\nb"); /* CRLF inside quotes is kept */
    EXPECT_RECORD(r.c, 8, "4", "end");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_crlf(void **state) {
    (void)state;
    csv_src r = csv_open("a,b\r\nc,d\r\n\"e\r\nf\",g\r\nh,i");
    EXPECT_RECORD(r.c, 1, "a", "b");
    EXPECT_RECORD(r.c, 2, "c", "d");
    EXPECT_RECORD(r.c, 3, "e\r\nf", "g");
    EXPECT_RECORD(r.c, 5, "h", "i");
    expect_end(r.c);
    csv_close(&r);

    /* bare CR ends a line too */
    r = csv_open("a,b\rc,d\r");
    EXPECT_RECORD(r.c, 1, "a", "b");
    EXPECT_RECORD(r.c, 2, "c", "d");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_bom(void **state) {
    (void)state;
    csv_src r = csv_open("\xEF\xBB\xBFname,phone\n张三,13800138000\n");
    EXPECT_RECORD(r.c, 1, "name", "phone");
    EXPECT_RECORD(r.c, 2, "张三", "13800138000");
    expect_end(r.c);
    assert_int_equal(hd_csv_offset(r.c),
                     (int64_t)strlen("\xEF\xBB\xBFname,phone\n张三,13800138000\n"));
    csv_close(&r);

    /* a BOM and nothing else */
    r = csv_open("\xEF\xBB\xBF");
    expect_end(r.c);
    csv_close(&r);

    /* only the first BOM is skipped */
    r = csv_open("\xEF\xBB\xBF\xEF\xBB\xBF"
                 "a\n");
    EXPECT_RECORD(r.c, 1,
                  "\xEF\xBB\xBF"
                  "a");
    expect_end(r.c);
    csv_close(&r);

    /* a leading EF that is not a BOM is data */
    r = csv_open("\xEF\xBC\x91,２\n");
    EXPECT_RECORD(r.c, 1, "１", "２");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_short_file_starting_with_ef(void **state) {
    (void)state;
    /* Files of one or two bytes starting like a BOM: the reader used to
     * rewind three bytes it had not read. */
    csv_src r = csv_open("\xEF");
    EXPECT_ERROR(r.c, HD_EINVAL, "line 1", "UTF-8");
    expect_end(r.c);
    csv_close(&r);

    r = csv_open("\xEF\xBB");
    EXPECT_ERROR(r.c, HD_EINVAL, "line 1");
    expect_end(r.c);
    csv_close(&r);

    r = csv_open("\xEF\xBB\xBF\n");
    EXPECT_RECORD(r.c, 1, "");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_unterminated_quote(void **state) {
    (void)state;
    csv_src r = csv_open("a,b\n1,2\n3,\"open\n4,5\n6,7\n");
    EXPECT_RECORD(r.c, 1, "a", "b");
    EXPECT_RECORD(r.c, 2, "1", "2");
    EXPECT_ERROR(r.c, HD_ESYNTAX, "line 3", "never closed");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_text_after_quote(void **state) {
    (void)state;
    csv_src r = csv_open("a,b\n\"x\"y,2\nok,3\n\"p\" ,4\n\"q\"\"\"r\nlast,5");
    EXPECT_RECORD(r.c, 1, "a", "b");
    EXPECT_ERROR(r.c, HD_ESYNTAX, "line 2", "closing quote", "field 1");
    EXPECT_RECORD(r.c, 3, "ok", "3"); /* the reader goes on */
    EXPECT_ERROR(r.c, HD_ESYNTAX, "line 4", "closing quote");
    EXPECT_ERROR(r.c, HD_ESYNTAX, "line 5", "closing quote");
    EXPECT_RECORD(r.c, 6, "last", "5");
    expect_end(r.c);
    csv_close(&r);

    /* in a later field, after a multi-line quoted one */
    r = csv_open("1,\"a\nb\",\"c\"d\n2,e\n");
    EXPECT_ERROR(r.c, HD_ESYNTAX, "line 1", "field 3");
    EXPECT_RECORD(r.c, 3, "2", "e");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_gbk(void **state) {
    (void)state;
    /* "张三" and "杭州" in GBK */
    csv_src r = csv_open("name,city\n\xD5\xC5\xC8\xFD,\xBA\xBC\xD6\xDD\n张三,杭州\n");
    EXPECT_RECORD(r.c, 1, "name", "city");
    EXPECT_ERROR(r.c, HD_EINVAL, "line 2", "GBK", "UTF-8");
    EXPECT_RECORD(r.c, 3, "张三", "杭州");
    expect_end(r.c);
    csv_close(&r);

    /* GBK on the first line too */
    r = csv_open("\xD0\xD5\xC3\xFB,\xB5\xE7\xBB\xB0\r\n");
    EXPECT_ERROR(r.c, HD_EINVAL, "line 1", "GBK");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_invalid_utf8(void **state) {
    (void)state;
    csv_src r = csv_open("ok,1\nbad,a\x80z\nbad\xFF,2\n\xED\xA0\x80\nok,3\n");
    EXPECT_RECORD(r.c, 1, "ok", "1");
    EXPECT_ERROR(r.c, HD_EINVAL, "line 2", "field 2", "not valid UTF-8");
    EXPECT_ERROR(r.c, HD_EINVAL, "line 3", "field 1");
    EXPECT_ERROR(r.c, HD_EINVAL, "line 4"); /* a surrogate */
    EXPECT_RECORD(r.c, 5, "ok", "3");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_field_count_limit(void **state) {
    (void)state;
    size_t cap = (HD_CSV_FIELDS_MAX + 2) * 2 * 3 + 64;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n = 0;
    /* line 1: exactly the limit; line 2: one more; line 3: fine */
    for (int i = 0; i < HD_CSV_FIELDS_MAX; i++) {
        s[n++] = 'x';
        s[n++] = i + 1 < HD_CSV_FIELDS_MAX ? ',' : '\n';
    }
    for (int i = 0; i < HD_CSV_FIELDS_MAX + 1; i++) {
        s[n++] = 'y';
        s[n++] = i + 1 < HD_CSV_FIELDS_MAX + 1 ? ',' : '\n';
    }
    for (int i = 0; i < HD_CSV_FIELDS_MAX + 2; i++) { /* over, and ending at EOF */
        s[n++] = 'w';
        s[n++] = ',';
    }
    s[n++] = '\n';
    memcpy(s + n, "z,1\n", 4);
    n += 4;
    csv_src r = csv_open_n(s, n, ',');
    hd_err e;
    hd_err_clear(&e);
    assert_int_equal(hd_csv_next(r.c, &e), 1);
    assert_int_equal(hd_csv_nfields(r.c), HD_CSV_FIELDS_MAX);
    assert_int_equal(hd_csv_line(r.c), 1);
    EXPECT_ERROR(r.c, HD_ETOOBIG, "line 2", "more than 1024 fields");
    EXPECT_ERROR(r.c, HD_ETOOBIG, "line 3", "fields");
    EXPECT_RECORD(r.c, 4, "z", "1");
    expect_end(r.c);
    csv_close(&r);
    free(s);

    /* the extra field at the very end of the input */
    n = 0;
    s = malloc(cap);
    for (int i = 0; i < HD_CSV_FIELDS_MAX + 1; i++) {
        s[n++] = 'v';
        if (i + 1 < HD_CSV_FIELDS_MAX + 1) s[n++] = ',';
    }
    r = csv_open_n(s, n, ',');
    EXPECT_ERROR(r.c, HD_ETOOBIG, "line 1");
    expect_end(r.c);
    csv_close(&r);
    free(s);
}

static void test_csv_field_length_limit(void **state) {
    (void)state;
    size_t big = HD_CSV_FIELD_MAX;
    size_t cap = 3 * big + 256;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n = 0;
    /* line 1: a field of exactly the limit */
    memset(s + n, 'a', big);
    n += big;
    memcpy(s + n, ",1\n", 3);
    n += 3;
    /* line 2: one byte over, unquoted */
    memset(s + n, 'b', big + 1);
    n += big + 1;
    memcpy(s + n, ",2\n", 3);
    n += 3;
    /* line 3: over, quoted, spanning two lines */
    s[n++] = '"';
    memset(s + n, 'c', big / 2);
    n += big / 2;
    s[n++] = '\n';
    memset(s + n, 'c', big / 2 + 10);
    n += big / 2 + 10;
    memcpy(s + n, "\",3\n", 4);
    n += 4;
    memcpy(s + n, "ok,4\n", 5);
    n += 5;
    csv_src r = csv_open_n(s, n, ',');
    hd_err e;
    hd_err_clear(&e);
    assert_int_equal(hd_csv_next(r.c, &e), 1);
    size_t len;
    hd_csv_field(r.c, 0, &len);
    assert_int_equal(len, big);
    EXPECT_ERROR(r.c, HD_ETOOBIG, "line 2", "field 1", "longer than");
    EXPECT_ERROR(r.c, HD_ETOOBIG, "line 3", "field 1");
    EXPECT_RECORD(r.c, 5, "ok", "4");
    expect_end(r.c);
    assert_int_equal(hd_csv_offset(r.c), (int64_t)n);
    csv_close(&r);
    free(s);
}

static void test_csv_separator(void **state) {
    (void)state;
    const char *in = "a;b;\"c;d\"\n张三;;1,5\n";
    csv_src r = csv_open_n(in, strlen(in), ';');
    EXPECT_RECORD(r.c, 1, "a", "b", "c;d");
    EXPECT_RECORD(r.c, 2, "张三", "", "1,5");
    expect_end(r.c);
    csv_close(&r);

    in = "a\tb\n1\t2\n";
    r = csv_open_n(in, strlen(in), '\t');
    EXPECT_RECORD(r.c, 1, "a", "b");
    EXPECT_RECORD(r.c, 2, "1", "2");
    expect_end(r.c);
    csv_close(&r);
}

static void test_csv_field_accessors(void **state) {
    (void)state;
    csv_src r = csv_open("a,bc\n");
    hd_err e;
    assert_int_equal(hd_csv_next(r.c, &e), 1);
    size_t len = 99;
    assert_string_equal(hd_csv_field(r.c, 2, &len), "");
    assert_int_equal(len, 0);
    len = 99;
    assert_string_equal(hd_csv_field(r.c, -1, &len), "");
    assert_int_equal(len, 0);
    assert_string_equal(hd_csv_field(r.c, 1, NULL), "bc");
    assert_int_equal(hd_csv_offset(r.c), 5);
    csv_close(&r);
    hd_csv_free(NULL);
}

static void test_csv_nul_and_utf16(void **state) {
    (void)state;
    /* a NUL would cut a field short for every caller that takes C strings */
    csv_src r = csv_open_n("a\0b,c\nok,1\n", 11, ',');
    EXPECT_ERROR(r.c, HD_EINVAL, "line 1", "field 1", "NUL", "UTF-16");
    EXPECT_RECORD(r.c, 2, "ok", "1");
    expect_end(r.c);
    csv_close(&r);

    /* "name,phone" in UTF-16LE with its BOM, as Excel's "Unicode text" saves */
    static const char utf16[] = "\xFF\xFEn\0a\0m\0e\0,\0p\0h\0o\0n\0e\0\r\0\n\0";
    r = csv_open_n(utf16, sizeof utf16 - 1, ',');
    EXPECT_ERROR(r.c, HD_EINVAL, "line 1", "UTF-16");
    csv_close(&r);

    /* and without a BOM */
    static const char utf16_nobom[] = "1\0"
                                      "2\0,\0x\0\n\0";
    r = csv_open_n(utf16_nobom, sizeof utf16_nobom - 1, ',');
    EXPECT_ERROR(r.c, HD_EINVAL, "line 1", "UTF-16");
    csv_close(&r);
}

static void test_csv_large_file_crosses_buffers(void **state) {
    (void)state;
    /* well past the 64 KiB read buffer, with quotes and newlines straddling
     * its edges */
    const char *row = "张三,\"杭州, 西湖\",13800138000,\"say \"\"hi\"\"\nthere\"\r\n";
    size_t rl = strlen(row);
    int rows = 5000;
    char *s = malloc(rl * (size_t)rows + 1);
    assert_non_null(s);
    for (int i = 0; i < rows; i++) memcpy(s + rl * (size_t)i, row, rl);
    csv_src r = csv_open_n(s, rl * (size_t)rows, ',');
    for (int i = 0; i < rows; i++)
        EXPECT_RECORD(r.c, 1 + 2 * (int64_t)i, "张三", "杭州, 西湖", "13800138000",
                      "say \"hi\"\nthere");
    expect_end(r.c);
    assert_int_equal(hd_csv_offset(r.c), (int64_t)(rl * (size_t)rows));
    csv_close(&r);
    free(s);
}

static void test_csv_fields_feed_normalisers(void **state) {
    (void)state;
    /* the import path: CSV fields straight into the normalisers */
    csv_src r = csv_open("name,phone,email\n"
                         "张三,１３８ ００１３ ８０００, ZHANG@Example.com \n"
                         "\"李, 四\",\"+86-139-0013-9000\",\"li＠example.cn\"\n");
    EXPECT_RECORD(r.c, 1, "name", "phone", "email");
    const char *want_phone[] = {"+8613800138000", "+8613900139000"};
    const char *want_email[] = {"zhang@example.com", "li@example.cn"};
    for (int i = 0; i < 2; i++) {
        hd_err e;
        hd_err_clear(&e);
        assert_int_equal(hd_csv_next(r.c, &e), 1);
        char phone[20], email[255];
        assert_int_equal(hd_phone_normalize(hd_csv_field(r.c, 1, NULL), phone, &e), HD_OK);
        assert_string_equal(phone, want_phone[i]);
        assert_int_equal(hd_email_normalize(hd_csv_field(r.c, 2, NULL), email, &e), HD_OK);
        assert_string_equal(email, want_email[i]);
    }
    expect_end(r.c);
    csv_close(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid_accepts),
        cmocka_unit_test(test_utf8_valid_rejects),
        cmocka_unit_test(test_utf8_len),
        cmocka_unit_test(test_fold_width),
        cmocka_unit_test(test_fold_width_explicit_length),
        cmocka_unit_test(test_phone_accepts),
        cmocka_unit_test(test_phone_rejects),
        cmocka_unit_test(test_phone_message_names_character),
        cmocka_unit_test(test_email_accepts),
        cmocka_unit_test(test_email_rejects),
        cmocka_unit_test(test_csv_simple),
        cmocka_unit_test(test_csv_trailing_newline_or_not),
        cmocka_unit_test(test_csv_empty_input),
        cmocka_unit_test(test_csv_empty_fields),
        cmocka_unit_test(test_csv_quotes),
        cmocka_unit_test(test_csv_embedded_newlines),
        cmocka_unit_test(test_csv_crlf),
        cmocka_unit_test(test_csv_bom),
        cmocka_unit_test(test_csv_short_file_starting_with_ef),
        cmocka_unit_test(test_csv_unterminated_quote),
        cmocka_unit_test(test_csv_text_after_quote),
        cmocka_unit_test(test_csv_gbk),
        cmocka_unit_test(test_csv_invalid_utf8),
        cmocka_unit_test(test_csv_field_count_limit),
        cmocka_unit_test(test_csv_field_length_limit),
        cmocka_unit_test(test_csv_separator),
        cmocka_unit_test(test_csv_field_accessors),
        cmocka_unit_test(test_csv_nul_and_utf16),
        cmocka_unit_test(test_csv_large_file_crosses_buffers),
        cmocka_unit_test(test_csv_fields_feed_normalisers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
