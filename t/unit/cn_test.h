/* Shared scaffolding of the unit tests: one APR pool per test (created in a
 * checked fixture, so it lives in the forked child when CK_FORK is on) and a
 * main() that runs one suite and prints TAP on stdout, the plan last. */
#ifndef CN_TEST_H
#define CN_TEST_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <apr_general.h>
#include <apr_pools.h>

static apr_pool_t *pool;

static inline void cn_test_pool_setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static inline void cn_test_pool_teardown(void)
{
    apr_pool_destroy(pool);
    pool = NULL;
}

/* A test case with the per-test pool and a timeout generous enough for
 * valgrind and the sanitizers. */
static inline TCase *cn_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, cn_test_pool_setup, cn_test_pool_teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

/* A scratch directory of the test binary (databases, key files), made under
 * $TMPDIR by cn_test_tmpdir_make, emptied and removed by cn_test_tmpdir_remove. */
static inline char *cn_test_tmpdir(void)
{
    static char dir[4096];
    return dir;
}

static inline int cn_test_tmpdir_make(const char *name)
{
    const char *base = getenv("TMPDIR");
    snprintf(cn_test_tmpdir(), 4096, "%s/cn-%s-test.XXXXXX", base && *base ? base : "/tmp", name);
    if (!mkdtemp(cn_test_tmpdir())) {
        perror("mkdtemp");
        return 0;
    }
    return 1;
}

static inline void cn_test_tmpdir_remove(void)
{
    DIR *d = opendir(cn_test_tmpdir());
    struct dirent *e;
    if (d) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                unlinkat(dirfd(d), e->d_name, 0);
            }
        }
        closedir(d);
    }
    rmdir(cn_test_tmpdir());
}

/* Run SUITE; TAP goes to stdout ("-"), unless CK_TAP_LOG_FILE_NAME says
 * otherwise. Nothing else is printed on stdout, so the plan ("1..N") is the
 * last line. Exit status: 0 when every test passed. */
static inline int cn_test_main(Suite *suite)
{
    SRunner *sr;
    int failed;
    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "apr_initialize failed\n");
        return 2;
    }
    sr = srunner_create(suite);
    srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    fflush(stdout);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
