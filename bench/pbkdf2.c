/* What one mod_session_crypto cookie costs on this machine: the key it
 * derives from SessionCryptoPassphrase for every encryption and decryption
 * (apr_crypto_passphrase: PBKDF2, 4,096 rounds of HMAC-SHA1, fixed in
 * httpd 2.4's mod_session_crypto). Prints milliseconds per derivation. */
#include <stdio.h>
#include <time.h>
#include <openssl/evp.h>

int main(void)
{
    static const char pass[] = "bench-passphrase";
    static const unsigned char salt[16] = "0123456789abcdef";
    unsigned char key[32];
    struct timespec a, b;
    int i, n = 200;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < n; ++i) {
        if (!PKCS5_PBKDF2_HMAC_SHA1(pass, (int)sizeof(pass) - 1, salt, (int)sizeof(salt), 4096,
                                    (int)sizeof(key), key)) {
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f\n", ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / n);
    return 0;
}
