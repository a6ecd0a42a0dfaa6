/* Full hosted flows, driven like a browser would, with libcurl (the benchmark's
 * load generator; not part of the module). Each thread: POST /auth as the
 * application, GET /login (keeps the session cookie), GET the provider's
 * authorize URL, GET /callback; a flow counts when the last redirect says
 * success=true. Prints one JSON line: flows, errors, flows_per_s, p50_ms, p99_ms.
 *   flowdrive PORT CA_FILE SECRET_FILE APP DURATION_S THREADS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>

static int port, duration, nthreads;
static const char *ca_file, *app;
static char secret[256];

typedef struct {
    int id, flows, errors, nlat, cap;
    double *lat;
} worker_t;

typedef struct {
    char *data;
    size_t len;
} buf_t;

static size_t collect(char *p, size_t s, size_t n, void *u)
{
    buf_t *b = u;
    char *nd = realloc(b->data, b->len + s * n + 1);
    if (!nd) {
        return 0;
    }
    b->data = nd;
    memcpy(b->data + b->len, p, s * n);
    b->len += s * n;
    b->data[b->len] = 0;
    return s * n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* GET URL on handle C; the Location of the answer into LOC (or "" ). */
static int get_redirect(CURL *c, const char *url, char *loc, size_t loclen)
{
    char *r = NULL;
    buf_t b = {0};
    long code = 0;
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(c) != CURLE_OK) {
        free(b.data);
        return -1;
    }
    free(b.data);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &r);
    if (code != 302 || !r) {
        return -1;
    }
    snprintf(loc, loclen, "%s", r);
    return 0;
}

static int flow(CURL *api, CURL *fake, int wid, int n)
{
    char url[512], body[256], loc[4096], loc2[4096];
    buf_t b = {0};
    long code = 0;
    json_t *j;
    const char *login;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

    snprintf(url, sizeof url, "http://127.0.0.1:%d/connect/auth", port);
    snprintf(body, sizeof body,
             "{\"provider\":\"google\",\"redirect_uri\":\"https://app.example/cb\","
             "\"state\":\"s\",\"login_hint\":\"d%d-%d@example.com\"}", wid, n);
    curl_easy_setopt(api, CURLOPT_COOKIELIST, "ALL");
    curl_easy_setopt(api, CURLOPT_URL, url);
    curl_easy_setopt(api, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(api, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(api, CURLOPT_USERNAME, app);
    curl_easy_setopt(api, CURLOPT_PASSWORD, secret);
    curl_easy_setopt(api, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(api, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(api) != CURLE_OK) {
        curl_slist_free_all(h);
        free(b.data);
        return -1;
    }
    curl_slist_free_all(h);
    curl_easy_setopt(api, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(api, CURLOPT_USERNAME, NULL);
    curl_easy_setopt(api, CURLOPT_PASSWORD, NULL);
    curl_easy_getinfo(api, CURLINFO_RESPONSE_CODE, &code);
    j = code == 200 && b.data ? json_loads(b.data, 0, NULL) : NULL;
    free(b.data);
    login = j ? json_string_value(json_object_get(json_object_get(j, "data"), "url")) : NULL;
    if (!login) {
        json_decref(j);
        return -1;
    }
    snprintf(url, sizeof url, "%s", login);
    json_decref(j);
    if (get_redirect(api, url, loc, sizeof loc)          /* /login → provider */
        || get_redirect(fake, loc, loc2, sizeof loc2)    /* provider → /callback */
        || get_redirect(api, loc2, loc, sizeof loc)) {   /* /callback → application */
        return -1;
    }
    return strstr(loc, "success=true") ? 0 : -1;
}

static void *run(void *arg)
{
    worker_t *w = arg;
    CURL *api = curl_easy_init(), *fake = curl_easy_init();
    double end = now() + duration;
    curl_easy_setopt(api, CURLOPT_COOKIEFILE, "");
    curl_easy_setopt(fake, CURLOPT_CAINFO, ca_file);
    while (now() < end) {
        double t0 = now();
        if (flow(api, fake, w->id, w->flows + w->errors)) {
            w->errors++;
        }
        else {
            w->flows++;
        }
        if (w->nlat == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 1024;
            w->lat = realloc(w->lat, w->cap * sizeof(double));
        }
        w->lat[w->nlat++] = now() - t0;
    }
    curl_easy_cleanup(api);
    curl_easy_cleanup(fake);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    FILE *f;
    pthread_t *t;
    worker_t *w;
    double t0, elapsed, *all;
    int i, total = 0, flows = 0, errors = 0, k = 0;
    if (argc != 7) {
        fprintf(stderr, "usage: %s PORT CA_FILE SECRET_FILE APP DURATION_S THREADS\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    ca_file = argv[2];
    app = argv[4];
    duration = atoi(argv[5]);
    nthreads = atoi(argv[6]);
    if (!(f = fopen(argv[3], "r")) || !fgets(secret, sizeof secret, f)) {
        perror(argv[3]);
        return 2;
    }
    fclose(f);
    secret[strcspn(secret, "\r\n")] = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    t = calloc(nthreads, sizeof *t);
    w = calloc(nthreads, sizeof *w);
    t0 = now();
    for (i = 0; i < nthreads; ++i) {
        w[i].id = i;
        pthread_create(&t[i], NULL, run, &w[i]);
    }
    for (i = 0; i < nthreads; ++i) {
        pthread_join(t[i], NULL);
        total += w[i].nlat;
        flows += w[i].flows;
        errors += w[i].errors;
    }
    elapsed = now() - t0;
    all = malloc((total ? total : 1) * sizeof(double));
    for (i = 0; i < nthreads; ++i) {
        memcpy(all + k, w[i].lat, w[i].nlat * sizeof(double));
        k += w[i].nlat;
    }
    qsort(all, total, sizeof(double), cmp);
    printf("{\"flows\": %d, \"errors\": %d, \"flows_per_s\": %.1f, \"p50_ms\": %.2f, \"p99_ms\": %.2f}\n",
           flows, errors, flows / elapsed, total ? all[total / 2] * 1000 : 0,
           total ? all[(int)(total * 0.99)] * 1000 : 0);
    return 0;
}
